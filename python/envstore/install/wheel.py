"""Wheel-level checks the core leaves to Python because they need packaging's rules:
the file name must parse, and the .dist-info directory must name the same project and version."""

from __future__ import annotations

import zipfile
from pathlib import Path

from packaging.utils import (
    InvalidWheelFilename,
    canonicalize_name,
    canonicalize_version,
    parse_wheel_filename,
)

from envstore import settings
from envstore._core import IngestResult, Store
from envstore.errors import ArchiveError


def ingest_wheel(store: Store, path: Path) -> IngestResult:
    """Ingest a wheel after checking that its name agrees with its metadata directory."""
    try:
        name, version, _build, _tags = parse_wheel_filename(path.name)
    except InvalidWheelFilename as e:
        raise ArchiveError(f"invalid wheel file name {path.name}: {e}") from None
    _check_dist_info_name(path, name, str(version))

    if settings.TEST_CRASH_AT.get() == "blob.before_publish":
        return store.ingest_wheel(path, test_crash_before_publish=True)
    return store.ingest_wheel(path)


def _check_dist_info_name(path: Path, name: str, version: str) -> None:
    """Compare before ingesting, so a mismatched wheel publishes nothing. Only the central
    directory's names are read here; the core's strict reader rejects any archive whose
    structure could make another parser see different names."""
    try:
        with zipfile.ZipFile(path) as zf:
            tops = {n.split("/", 1)[0] for n in zf.namelist() if "/" in n}
    except (zipfile.BadZipFile, OSError, ValueError):
        return  # not readable as a ZIP: the core gives the precise reason
    for dist_info in sorted(t for t in tops if t.endswith(".dist-info")):
        di_name, _, di_version = dist_info[: -len(".dist-info")].rpartition("-")
        if canonicalize_name(di_name) != name or canonicalize_version(di_version) != canonicalize_version(version):
            raise ArchiveError(
                f"{dist_info} does not match {name} {version} from the wheel file name {path.name}"
            )
