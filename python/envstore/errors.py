"""The exception hierarchy. `EnvstoreError` is the one root, defined here; the Rust binding
(envstore._core) looks these classes up when it first raises one, so this module must never
import envstore._core (the binding imports it, not the other way round). Every subclass sets
`code` (and perhaps a default `hint`) and keeps the root's constructor unless its message is
built from structured fields. OS failures stay builtins (OSError and its subclasses) carrying
errno and path; `while_doing` adds what envstore was doing, for the message."""

from __future__ import annotations

import os
from pathlib import Path


class EnvstoreError(Exception):
    """Root of every error envstore raises. `str(e)` is the message; `code` is a stable name of
    the kind of failure ("spec.conda-only", "unsafe-member") for scripts and tests; `hint` is
    what the user can do about it, or None. The CLI prints both and exits 1."""

    code: str = "envstore"
    hint: str | None = None

    def __init__(self, message: str = "", hint: str | None = None) -> None:
        super().__init__(message)
        if hint is not None:  # else the class's default hint, if it has one
            self.hint = hint


# Raised by the Rust core (rust/envstore-py sets `code` to the core's own name of the failure,
# e.g. "unsafe-member", and the fields below); Python code may raise them too.
class ArchiveError(EnvstoreError):
    """An archive was rejected as unsafe or malformed."""

    code = "archive"
    archive: str
    member: str
    reason: str


class StoreError(EnvstoreError):
    """The store is missing or holds damaged data."""

    code = "store"
    blob: str
    path: str


class ConflictError(EnvstoreError):
    """Two sources put different content at one path."""

    code = "conflict"
    path: str
    first: str
    second: str


class UsageError(EnvstoreError):
    """The command was given something it cannot work with (a path of the wrong kind, ...)."""

    code = "usage"


class StoreNotWritable(EnvstoreError):
    """A command that must write the store was run where it cannot: a read-only store (or
    filesystem), or another user's. Raised before anything is changed."""

    code = "store-read-only"
    hint = "make the store writable again (chmod -R u+w), or use another store (--store DIR)"


def while_doing(e: OSError, doing: str, path: str | os.PathLike[str] | None = None) -> OSError:
    """The same failure (same OSError subclass, errno and path) saying what was being done,
    rendered as `<reason> while <doing> (<path>)`. An error that already says it is kept."""
    if getattr(e, "doing", None) or e.errno is None:
        return e
    new = OSError(e.errno, os.strerror(e.errno), e.filename if e.filename is not None else path, None, e.filename2)
    new.doing = doing  # type: ignore[attr-defined]
    return new


def _user(uid: int) -> str:
    try:
        import pwd

        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except (KeyError, ImportError):
        return f"uid {uid}"


def why_not_writable(path: Path) -> tuple[str, bool]:
    """Why this process cannot write `path`, as a phrase to follow it ("is on a read-only
    filesystem", "has no write permission (mode 555)", or "belongs to root (uid 0), mode 755,
    and you are nobody (uid 65534)": the owner is what the user can act on), and whether it is
    another user's."""
    try:
        if os.statvfs(path).f_flag & os.ST_RDONLY:
            return "is on a read-only filesystem", False
        st = path.stat()
    except OSError as e:
        return f"cannot be checked ({e.strerror})", False
    mode = st.st_mode & 0o7777
    if st.st_uid != os.geteuid() and mode & 0o222:
        return f"belongs to {_user(st.st_uid)}, mode {mode:o}, and you are {_user(os.geteuid())}", True
    return f"has no write permission (mode {mode:o})", False


OWNERSHIP_HINT = ("run it as the store's owner, or use a store of your own (--store DIR); with "
                  "fs.protected_hardlinks=1 the kernel also refuses hardlinks to another user's blobs")


def store_write_problem(root: Path, parts: tuple[str, ...]) -> StoreNotWritable | None:
    """The error to raise when this process cannot write the store at `root` (its `parts`,
    envstore.store.layout.WRITABLE_PARTS: the names stay there, out of this import-free module),
    else None."""
    for part in parts:
        path = root / part if part else root
        if path.exists() and not os.access(path, os.W_OK):
            why, other_user = why_not_writable(path)
            if not other_user:
                return StoreNotWritable(f"store is read-only: {path} {why}")
            err = StoreNotWritable(f"store is read-only for you: {path} {why}")
            err.hint = OWNERSHIP_HINT
            return err
    return None


__all__ = [
    "ArchiveError", "ConflictError", "EnvstoreError", "StoreError", "StoreNotWritable", "UsageError",
    "store_write_problem", "while_doing", "why_not_writable",
]
