"""Shared output helpers: sizes and versioned JSON documents."""

from __future__ import annotations

import json
from typing import Any

JSON_VERSION = 1


def human_bytes(n: int) -> str:
    """Sizes in every message and table: the one helper in envstore.progress (MB/GB)."""
    # lazy: a command loads its own ops; `store --help` loads none
    from envstore.progress import size

    return size(n)


def json_document(data: Any) -> str:
    return json.dumps({"version": JSON_VERSION, "data": data}, indent=2, sort_keys=True)
