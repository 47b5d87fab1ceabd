"""Every name the store uses on disk, in one place. A name carries its format version
(`-v1`): a new format gets a new name, so an older envstore never misreads a newer file.
The names the Rust core owns (blobs, manifests, staging) come from the binding and are not
spelled again here. Imported on the already-realized fast path: keep it to pathlib and the
core module (which that path has loaded anyway)."""

from __future__ import annotations

from pathlib import Path

from envstore._core import BLOBS_DIR, MANIFESTS_DIR, TMP_DIR

DB_FILE = "db-v1.sqlite"  # SQLite; the tables' version is its meta.schema row
DB_SCHEMA_VERSION = 1  # the meta.schema this code reads and writes (migrations: envstore.store.db)
LOCK_FILE = "lock"  # flock target: realize shared, gc exclusive (envstore.store.locks)
ENVS_DIR = "envs"  # realized prefixes, envs/<digest>-<name>
ENV_LOCKS_DIR = ".locks"  # envs/.locks/<prefix name>.lock: one builder per prefix
PYTHON_DIR = "python"  # imported interpreters' bookkeeping
REGISTRY_DIR = "registry-v1"  # python/registry-v1/: one record per imported interpreter
RESERVE_FILE = "reserve-v1"  # space held back for gc on a full disk (envstore.store.reserve)
PROFILES_DIR = "profiles"  # profiles/<name> -> generation links
CACHE_DIR = "cache"  # caches that may be deleted at any time
HTTP_CACHE_DIR = "http-v1"  # cache/http-v1/: index responses
WHEEL_CACHE_DIR = "wheels-v1"  # cache/wheels-v1/: full wheel downloads
SDIST_CACHE_DIR = "sdists-v1"  # cache/sdists-v1/: sdist downloads, their metadata and build-env locks (issue 16)
SHIMS_DIR = "shims"  # shims/bin (the store's own shim dir) and shims/dirs-v1
SHIMS_BIN_DIR = "bin"
SHIM_DIRS_FILE = "dirs-v1"  # shims/dirs-v1: every shim dir installed for this store
SHIM_INDEX_FILE = ".envstore-shims-v1"  # in each shim dir; the shim binary reads it too

# What must be writable for a realize: the root and what it writes into.
WRITABLE_PARTS = ("", BLOBS_DIR, MANIFESTS_DIR, TMP_DIR, ENVS_DIR, DB_FILE)


def blobs_dir(root: Path) -> Path:
    return Path(root) / BLOBS_DIR


def manifests_dir(root: Path) -> Path:
    return Path(root) / MANIFESTS_DIR


def tmp_dir(root: Path) -> Path:
    return Path(root) / TMP_DIR


def db_path(root: Path) -> Path:
    return Path(root) / DB_FILE


def lock_path(root: Path) -> Path:
    return Path(root) / LOCK_FILE


def envs_dir(root: Path) -> Path:
    return Path(root) / ENVS_DIR


def env_lock_path(root: Path, prefix_name: str) -> Path:
    return envs_dir(root) / ENV_LOCKS_DIR / f"{prefix_name}.lock"


def python_dir(root: Path) -> Path:
    return Path(root) / PYTHON_DIR


def registry_dir(root: Path) -> Path:
    return python_dir(root) / REGISTRY_DIR


def reserve_path(root: Path) -> Path:
    return Path(root) / RESERVE_FILE


def profiles_dir(root: Path) -> Path:
    return Path(root) / PROFILES_DIR


def cache_dir(root: Path) -> Path:
    return Path(root) / CACHE_DIR


def http_cache_dir(cache_root: Path) -> Path:
    return Path(cache_root) / HTTP_CACHE_DIR


def wheel_cache_dir(cache_root: Path) -> Path:
    return Path(cache_root) / WHEEL_CACHE_DIR


def sdist_cache_dir(cache_root: Path) -> Path:
    return Path(cache_root) / SDIST_CACHE_DIR


def shims_home(root: Path) -> Path:
    return Path(root) / SHIMS_DIR


def shims_bin_dir(root: Path) -> Path:
    return shims_home(root) / SHIMS_BIN_DIR


def shim_dirs_file(root: Path) -> Path:
    return shims_home(root) / SHIM_DIRS_FILE


__all__ = [
    "BLOBS_DIR", "CACHE_DIR", "DB_FILE", "DB_SCHEMA_VERSION", "ENVS_DIR", "ENV_LOCKS_DIR", "HTTP_CACHE_DIR", "LOCK_FILE",
    "MANIFESTS_DIR", "PROFILES_DIR", "PYTHON_DIR", "REGISTRY_DIR", "RESERVE_FILE", "SHIMS_BIN_DIR",
    "SHIMS_DIR", "SHIM_DIRS_FILE", "SHIM_INDEX_FILE", "TMP_DIR", "WHEEL_CACHE_DIR", "WRITABLE_PARTS",
    "blobs_dir", "cache_dir", "db_path", "env_lock_path", "envs_dir", "http_cache_dir", "lock_path",
    "manifests_dir", "profiles_dir", "python_dir", "registry_dir", "reserve_path", "shim_dirs_file",
    "shims_bin_dir", "shims_home", "tmp_dir", "wheel_cache_dir",
]
