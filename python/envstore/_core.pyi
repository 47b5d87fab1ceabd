"""Type stubs for the Rust extension `envstore._core` (rust/envstore-py)."""

import os
from collections.abc import Sequence
from typing import Union

# The error classes are envstore.errors' own: the binding raises them (with `code` set to the
# core's name of the failure and the fields the class declares) and re-exports them here.
from envstore.errors import ArchiveError as ArchiveError
from envstore.errors import ConflictError as ConflictError
from envstore.errors import EnvstoreError as EnvstoreError
from envstore.errors import StoreError as StoreError

_Path = Union[str, os.PathLike[str]]

class Limits:
    max_files: int
    max_total_size: int
    max_file_size: int
    max_ratio: int
    def __init__(
        self,
        max_files: int | None = None,
        max_total_size: int | None = None,
        max_file_size: int | None = None,
        max_ratio: int | None = None,
    ) -> None: ...

class IngestResult:
    manifest_id: str
    files: int
    bytes: int
    new_blobs: int
    new_bytes: int

class CondaIngestResult:
    manifest_id: str
    files: int
    bytes: int
    new_blobs: int
    new_bytes: int
    name: str
    version: str
    build: str
    subdir: str
    noarch: str  # "python", "generic" or ""
    placeholders: list[tuple[str, str, bool]]  # (path, placeholder, binary)
    no_link: list[str]
    info: dict[str, str]  # raw text of info/index.json, info/paths.json, ...

class MaterializeResult:
    files: int
    dirs: int
    symlinks: int
    hardlinked: int
    reflinked: int
    copied: int
    link_fallbacks: list[tuple[str, int]]  # (errno name, files), e.g. ("EXDEV", 3)

class SweepResult:
    blobs_removed: int
    bytes_removed: int
    manifests_removed: int
    junk_removed: int
    removed: list[str]

class VerifyProblem:
    path: str
    kind: str  # content | mode | junk | unreadable | missing | extra | type | unlinked
    expected: str
    actual: str

class VerifyResult:
    checked: int
    bytes: int
    problems: list[VerifyProblem]

class Store:
    def __init__(
        self, root: _Path, fsync: bool = True, test_link_errno: int | None = None, test_max_links: int | None = None
    ) -> None: ...
    @property
    def root(self) -> str: ...
    def add_bytes(self, data: bytes, executable: bool = False) -> str: ...
    def add_many(self, items: Sequence[tuple[bytes, bool]]) -> list[str]: ...
    def add_file(self, path: _Path, executable: bool | None = None) -> str: ...
    def blob_path(self, key: str) -> str: ...
    def ingest_wheel(
        self, path: _Path, limits: Limits | None = None, test_crash_before_publish: bool = False
    ) -> IngestResult: ...
    def ingest_tar(self, path: _Path, limits: Limits | None = None) -> IngestResult: ...
    def ingest_conda(self, path: _Path, limits: Limits | None = None) -> CondaIngestResult: ...
    def ingest_dir(
        self, path: _Path, exclude: Sequence[str] = (), limits: Limits | None = None
    ) -> IngestResult: ...
    def manifest_json(self, manifest_id: str) -> str: ...
    def manifest_ids(self) -> list[str]: ...
    def manifest_blobs_present(self, manifest_id: str) -> bool: ...
    def manifest_blob_paths(self, manifest_id: str) -> list[str]: ...
    def put_manifest(self, manifest_json: str) -> str: ...
    def verify_tree(self, manifests: Sequence[tuple[str, str]], root: _Path) -> list[VerifyProblem]: ...
    def materialize(
        self, manifests: Sequence[tuple[str, str]], dest: _Path, copy: bool = False
    ) -> MaterializeResult: ...
    def sweep(self, keep: Sequence[str], dry_run: bool = False) -> SweepResult: ...
    def verify(self) -> VerifyResult: ...

def hash_bytes(data: bytes) -> str: ...
def hash_file(path: _Path) -> str: ...
def remove_tree(path: _Path) -> None: ...
def make_dirs_read_only(path: _Path) -> int: ...
def sync_filesystem(path: _Path) -> None: ...
def shim_binary() -> bytes: ...

# On-disk names the core owns (envstore.store.layout re-exports them).
BLOBS_DIR: str
MANIFESTS_DIR: str
MANIFEST_VERSION: int
TMP_DIR: str
