"""Every environment variable envstore reads, declared once with its meaning.
Nothing else in the package reads os.environ for configuration."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class EnvVar:
    name: str
    doc: str

    def get(self) -> str | None:
        value = os.environ.get(self.name)
        return value if value else None


STORE_ROOT = EnvVar("ENVSTORE_ROOT", "Store directory used when --store is not given.")
FSYNC = EnvVar(
    "ENVSTORE_FSYNC",
    "Set to 0 to skip fsync when publishing (throwaway stores only: a crash can then leave "
    "truncated blobs).",
)
XDG_DATA_HOME = EnvVar("XDG_DATA_HOME", "Base of the default store (~/.local/share if unset).")

ALL = (STORE_ROOT, FSYNC, XDG_DATA_HOME)


def fsync_enabled() -> bool:
    return FSYNC.get() not in ("0", "false", "no", "off")
