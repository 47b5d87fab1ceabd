"""Install python-build-standalone `install_only` archives (python/bin/python3.X,
python/lib/...): fetch from a URL template users point at a mirror (ENVSTORE_PYTHON_URL) or
from --from FILE|URL, check the sha256 (fail closed for URLs), unpack safely into STORE/tmp,
and import the tree like any other installation."""

from __future__ import annotations

import hashlib
import platform
import re
import tarfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from envstore import settings
from envstore._core import Store, remove_tree
from envstore.interpreters.importer import ImportResult, Progress, Substitute, import_interpreter
from envstore.interpreters.model import InterpreterError
from envstore.interpreters.choose import parse_constraint
from envstore.progress import Phase, phase, silent, size
from envstore.store.fs import staging_dir
from envstore.store.session import StoreSession

from packaging.version import Version


@dataclass(frozen=True)
class Source:
    location: str  # a URL or a local path
    sha256: str | None


def host_triple() -> str:
    machine = platform.machine()
    return f"{machine}-unknown-linux-gnu" if platform.system() == "Linux" else f"{machine}-unknown"


def archive_url(version: str) -> str:
    template = settings.PYTHON_URL.get()
    if not template:
        raise InterpreterError(
            f"no download location for python {version}",
            hint=f"set {settings.PYTHON_URL.name} to a URL template (with {{version}}, {{triple}}, "
            "{build}) of python-build-standalone install_only archives, or pass --from FILE|URL",
        )
    if not re.fullmatch(r"\d+\.\d+\.\d+", version):
        raise InterpreterError(
            f"'{version}' is not a full version", hint="give major.minor.patch, e.g. 3.12.1, to download"
        )
    return template.format(version=version, triple=host_triple(), build=settings.PYTHON_BUILD.get() or "")


def _is_url(location: str) -> bool:
    return re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", location) is not None


def _fetch(url: str, dest: Path, progress: Phase | None = None) -> str:
    """Download to `dest`, returning its sha256."""
    h = hashlib.sha256()
    row = (progress or silent()).row("downloading", unit="bytes")
    try:
        with urllib.request.urlopen(url, timeout=60) as r, open(dest, "wb") as f:  # noqa: S310 - user's mirror
            row.set_total(int(r.headers.get("Content-Length") or 0) or None)
            while chunk := r.read(1 << 20):
                h.update(chunk)
                f.write(chunk)
                row.advance(len(chunk))
    except (urllib.error.URLError, OSError, ValueError) as e:
        raise InterpreterError(f"could not download {url}: {getattr(e, 'reason', e)}") from None
    return h.hexdigest()


def _sidecar(location: str) -> str | None:
    """The published `<archive>.sha256` next to the archive, if there is one."""
    try:
        if _is_url(location):
            with urllib.request.urlopen(location + ".sha256", timeout=30) as r:  # noqa: S310
                text = r.read(4096).decode()
        else:
            text = Path(location + ".sha256").read_text()
    except (urllib.error.URLError, OSError, ValueError, UnicodeDecodeError):
        return None
    m = re.search(r"\b[0-9a-fA-F]{64}\b", text)
    return m.group().lower() if m else None


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _safe_extract(archive: Path, dest: Path) -> None:
    """Unpack, refusing members that would land outside `dest` or are not files/dirs/links."""
    try:
        with tarfile.open(archive) as tar:
            for m in tar.getmembers():
                name = PurePosixPath(m.name)
                if name.is_absolute() or ".." in name.parts:
                    raise InterpreterError(f"unsafe path '{m.name}' in {archive.name}")
                if not (m.isfile() or m.isdir() or m.issym() or m.islnk()):
                    raise InterpreterError(f"unsupported member type '{m.name}' in {archive.name}")
                if m.issym() or m.islnk():
                    target = PurePosixPath(m.linkname)
                    base = name.parent if m.issym() else PurePosixPath()
                    depth = len((base / target).parts) - 2 * (base / target).parts.count("..")
                    if target.is_absolute() or depth < 0:
                        raise InterpreterError(f"link '{m.name}' points outside the archive {archive.name}")
            kwargs = {"filter": "tar"} if hasattr(tarfile, "tar_filter") else {}
            tar.extractall(dest, **kwargs)  # noqa: S202 - members checked above
    except (tarfile.TarError, EOFError, OSError) as e:
        raise InterpreterError(f"{archive.name} is not a readable tar archive: {e}") from None


def install(
    store: Store, version: str, source: str | None = None, sha256: str | None = None,
    progress: Progress | None = None, substitute: Substitute | None = None,
) -> ImportResult:
    """Install python `version` from `source` (a file or URL), else from ENVSTORE_PYTHON_URL.
    `substitute` (a binary cache's lookup) is asked by the archive's sha256 before anything is
    downloaded, and by the unpacked tree before its bytecode is compiled."""
    location = source or archive_url(version)
    with StoreSession(Path(store.root), "shared", store=store):  # gc must not empty tmp/ under us
        return _install(store, version, location, sha256, progress, substitute)


def _substituted(store: Store, version: str, sha: str, substitute: Substitute | None) -> ImportResult | None:
    found = substitute("archive", sha) if substitute is not None and sha else None
    if found is None or not parse_constraint(version)(Version(found.version)):
        return None
    return ImportResult(found, False, substituted=True)


def _install(store: Store, version: str, location: str, sha256: str | None, progress: Progress | None,
             substitute: Substitute | None = None) -> ImportResult:
    say = progress or (lambda _m: None)
    work = staging_dir(Path(store.root), "install")
    try:
        if _is_url(location):
            expected = (sha256 or _sidecar(location) or "").lower() or None
            if expected is None:
                raise InterpreterError(
                    f"no sha256 for {location}",
                    hint="publish <archive>.sha256 beside it or pass --sha256 (downloads are checked, never trusted)",
                )
            cached = _substituted(store, version, expected, substitute)
            if cached is not None:
                return cached
            archive = work / (location.rstrip("/").rsplit("/", 1)[-1] or "python.tar.gz")
            with phase(progress, f"downloading {location}") as ph:
                actual = _fetch(location, archive, ph)
                ph.summary = f"downloaded {archive.name} ({size(ph.rows[0].completed)})"
        else:
            archive = Path(location)
            if not archive.is_file():
                raise InterpreterError(f"{location}: no such file")
            expected = (sha256 or _sidecar(location) or "").lower() or None
            actual = _sha256_file(archive)
            cached = _substituted(store, version, actual, substitute) if not expected or actual == expected else None
            if cached is not None:
                return cached
        if expected and actual != expected:
            raise InterpreterError(
                f"sha256 mismatch for {location}: expected {expected}, got {actual}",
                hint="the archive is damaged or not the one published; nothing was installed",
            )
        unpacked = work / "unpacked"
        unpacked.mkdir()
        say(f"unpacking {archive.name}")
        _safe_extract(archive, unpacked)
        root = unpacked / "python"
        if not (root / "bin").is_dir():
            raise InterpreterError(
                f"{archive.name} is not a python-build-standalone install_only archive (no python/bin)"
            )
        result = import_interpreter(store, root, reuse=False, progress=progress, origin_label=location,
                                    substitute=substitute, identities={"archive_sha256": actual})
        if not parse_constraint(version)(Version(result.info.version)):
            raise InterpreterError(
                f"{archive.name} holds python {result.info.version}, not {version}",
                hint=f"it was imported anyway as {result.info.store_path}",
            )
        return result
    finally:
        remove_tree(work)


