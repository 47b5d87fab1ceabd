"""Wheel-level checks the core leaves to Python because they need packaging's rules:
the file name must parse, and the .dist-info directory must name the same project and version."""

from __future__ import annotations

import json
from pathlib import Path

from packaging.utils import (
    InvalidWheelFilename,
    canonicalize_name,
    canonicalize_version,
    parse_wheel_filename,
)

from envstore._core import IngestResult, Store
from envstore.errors import ArchiveError


def ingest_wheel(store: Store, path: Path) -> IngestResult:
    """Ingest a wheel after checking that its name agrees with its metadata directory."""
    try:
        name, version, _build, _tags = parse_wheel_filename(path.name)
    except InvalidWheelFilename as e:
        raise ArchiveError(f"invalid wheel file name {path.name}: {e}") from None
    result = store.ingest_wheel(path)
    entries = json.loads(store.manifest_json(result.manifest_id))["entries"]
    dist_info = next(p.split("/", 1)[0] for p in entries if p.split("/", 1)[0].endswith(".dist-info"))
    di_name, _, di_version = dist_info[: -len(".dist-info")].rpartition("-")
    if canonicalize_name(di_name) != name or canonicalize_version(di_version) != canonicalize_version(version):
        # The blobs are content-addressed and harmless; the manifest is simply never used.
        raise ArchiveError(
            f"{dist_info} does not match {name} {version} from the wheel file name {path.name}"
        )
    return result
