"""Download solved conda packages in parallel, each checked against the sha256 (and size) the
channel's repodata gave while it streams; a mismatch deletes the file and caches nothing. The
transfer is the index client's (pip's timeouts, bounded retries, first failure stops the rest)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from envstore.conda.record import CondaRecord
from envstore.index.fetch import WheelRef, fetch_all


def fetch_packages(records: list[CondaRecord], dest_dir: Path,
                   on_done: Callable[[CondaRecord, Path], None] | None = None) -> dict[str, Path]:
    """Every record's package file in `dest_dir` (already there and intact ones are not fetched
    again); returns sha256 -> path."""
    refs = {r.sha256: WheelRef(f"{r.name} {r.version} ({r.build})", r.url, r.fn, r.sha256, r.size)
            for r in records}
    by_sha = {r.sha256: r for r in records}
    done: dict[str, Path] = {}
    missing = []
    for sha, ref in refs.items():
        path = dest_dir / ref.filename
        if path.is_file() and _intact(path, sha, ref.size):
            done[sha] = path
            if on_done is not None:
                on_done(by_sha[sha], path)
        else:
            missing.append(ref)
    if missing:
        done.update(fetch_all(missing, dest_dir, on_done=None if on_done is None else
                              (lambda ref, path: on_done(by_sha[ref.sha256], path))))
    return done


def _intact(path: Path, sha256: str, size: int | None) -> bool:
    import hashlib  # lazy: only a cache hit needs it

    if size is not None and path.stat().st_size != size:
        return False
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest() == sha256
