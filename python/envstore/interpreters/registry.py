"""The record of imported interpreters: one JSON file per store path under
STORE/python/registry-v1/, written atomically after the store path is in place, so a record
never names a missing or partial tree (a store path without a record is garbage for gc)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from envstore.interpreters.model import InterpreterInfo
from envstore.store import layout
from envstore.store.fs import write_atomic

FORMAT_VERSION = 1

python_dir = layout.python_dir
registry_dir = layout.registry_dir


def write_record(store_root: Path, info: InterpreterInfo, extra: dict[str, Any]) -> None:
    d = registry_dir(store_root)
    d.mkdir(parents=True, exist_ok=True)
    record = {**info.to_json(), **extra, "format": FORMAT_VERSION}
    # Paths are stored relative to the store so a moved store stays readable.
    record["store_path"] = info.name
    record["executable"] = str(info.executable.relative_to(info.store_path))
    write_atomic(d / f"{info.name}.json", json.dumps(record, indent=1, sort_keys=True) + "\n")


def read_records(store_root: Path) -> list[dict[str, Any]]:
    d = registry_dir(store_root)
    if not d.is_dir():
        return []
    out = []
    for p in sorted(d.glob("*.json")):
        try:
            record = json.loads(p.read_text())
        except (OSError, ValueError):
            continue  # a damaged record hides one interpreter; `store python import` redoes it
        if record.get("format") == FORMAT_VERSION:
            out.append(record)
    return out


def info_from_record(store_root: Path, record: dict[str, Any]) -> InterpreterInfo:
    store_path = python_dir(store_root) / record["store_path"]
    return InterpreterInfo(
        implementation=record["implementation"],
        version=record["version"],
        executable=store_path / record["executable"],
        store_path=store_path,
        manifest_id=record["manifest_id"],
        marker_env=dict(record["marker_env"]),
        tags=list(record["tags"]),
        architecture=record.get("architecture", ""),
        abi=record.get("abi", ""),
        platform=record.get("platform", ""),
        origins=tuple(o["path"] for o in record.get("origin_stamps", [])),
    )


def remove_record(store_root: Path, name: str) -> None:
    try:
        (registry_dir(store_root) / f"{name}.json").unlink()
    except FileNotFoundError:
        pass
