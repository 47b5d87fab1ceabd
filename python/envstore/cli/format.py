"""Shared output helpers: sizes and versioned JSON documents."""

from __future__ import annotations

import json
from typing import Any

JSON_VERSION = 1


def human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"


def json_document(data: Any) -> str:
    return json.dumps({"version": JSON_VERSION, "data": data}, indent=2, sort_keys=True)
