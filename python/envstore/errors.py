"""The exception hierarchy. `EnvstoreError` is the one root; the classes raised by the Rust core
are defined there and re-exported here, and Python-side areas subclass the same root.
OS failures stay builtins (OSError and its subclasses) carrying errno and path."""

from envstore._core import ArchiveError, ConflictError, EnvstoreError, StoreError


class UsageError(EnvstoreError):
    """The command was given something it cannot work with (a path of the wrong kind, ...)."""

    code = "usage"


__all__ = ["ArchiveError", "ConflictError", "EnvstoreError", "StoreError", "UsageError"]
