"""Shared output and input helpers: sizes, versioned JSON documents, durations."""

from __future__ import annotations

import json
import re
from typing import Any

import click

JSON_VERSION = 1


def human_bytes(n: int) -> str:
    """Sizes in every message and table: the one helper in envstore.progress (MB/GB)."""
    # lazy: a command loads its own ops; `store --help` loads none
    from envstore.progress import size

    return size(n)


def json_document(data: Any) -> str:
    return json.dumps({"version": JSON_VERSION, "data": data}, indent=2, sort_keys=True)


DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> float:
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", text)
    if not m:
        raise click.BadParameter(f"'{text}' is not a duration like 30m, 12h or 7d")
    return float(m.group(1)) * DURATION_UNITS[m.group(2)]
