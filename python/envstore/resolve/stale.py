"""Whether a lock still answers its env file: the one question that needs both the lock and the
spec parser, so it sits above both."""

from __future__ import annotations

from pathlib import Path

from envstore.lockfile import Lock, file_hash, lock_path_for
from envstore.spec import load_spec


def is_stale(lock: Lock, env_file: Path | str) -> bool:
    """True when the env file asks for something the lock was not made from. The raw-bytes
    hash answers the common case without parsing YAML; an edit that changes only formatting
    or comments falls through to the canonical spec hash and is not stale. A lock with local
    projects always takes the spec hash, which covers their metadata files."""
    env_file = Path(env_file)
    if lock_path_for(env_file) == env_file:
        return False
    # A local project's metadata files are part of the spec hash but not of the env file's bytes.
    if lock.env_file_hash and lock.env_file_hash == file_hash(env_file) and not lock.has_local_sources:
        return False
    if not lock.spec_hash:
        return True
    return load_spec(env_file).spec_hash() != lock.spec_hash
