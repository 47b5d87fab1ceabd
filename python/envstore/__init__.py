"""envstore: a content-addressed store of Python environments.

The public API is small: open a store, put artifacts in it, build trees out of it.
"""

from envstore.errors import ArchiveError, ConflictError, EnvstoreError, StoreError
from envstore.store import Store, default_root, open_store



def __getattr__(name: str) -> str:
    # Looked up lazily: reading package metadata costs milliseconds that `store realize`'s
    # already-realized path should not pay.
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("envstore")
        except PackageNotFoundError:  # a source tree without an install
            return "0+unknown"
    raise AttributeError(name)

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
