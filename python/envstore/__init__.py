"""envstore: a content-addressed store of Python environments.

The public API is small: open a store, put artifacts in it, build trees out of it.
"""

from importlib.metadata import PackageNotFoundError, version

from envstore.errors import ArchiveError, ConflictError, EnvstoreError, StoreError
from envstore.store import Store, default_root, open_store

try:
    __version__ = version("envstore")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0+unknown"

__all__ = [
    "ArchiveError",
    "ConflictError",
    "EnvstoreError",
    "Store",
    "StoreError",
    "__version__",
    "default_root",
    "open_store",
]
