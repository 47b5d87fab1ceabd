"""The store's three ways to change the filesystem, one each: write a file atomically, publish
a finished tree, retire a tree. Callers never rename or delete store content by hand.

- `write_atomic`: a unique temp name beside the file (O_EXCL), the data, fsync, rename over
  the file, fsync the directory. A reader sees the old content or the new, never a part.
- `publish_tree`: a tree built in STORE/tmp is made read-only, synced, renamed into place and
  its parent synced (RELIABILITY lesson 7); only then may the caller register it.
- `retire_tree`: a tree leaves its place with one rename into STORE/tmp (which gc empties) and
  is then deleted, so a crash never leaves a half-deleted tree under its own name.

Temp names end in `-<pid>`: gc tells a dead writer's leftover from a live one's by it.
Imported on the already-realized path (the state file): only modules that path loads anyway."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path

from envstore import settings
from envstore._core import make_dirs_read_only, remove_tree, sync_filesystem
from envstore.store.layout import tmp_dir

TEMP_MARK = ".tmp-"  # in every temp name this module makes: `.<name>.tmp-<token>-<pid>`


def temp_sibling(path: Path) -> Path:
    """A fresh hidden name beside `path`: unique per process and call, owner pid last."""
    return path.with_name(f".{path.name}{TEMP_MARK}{os.urandom(4).hex()}-{os.getpid()}")


def staging_dir(store_root: Path, kind: str) -> Path:
    """A new, empty directory of this process in STORE/tmp, the only place work in progress
    lives (gc, holding the store lock exclusively, removes whatever is left there)."""
    d = tmp_dir(store_root) / f"{kind}-{os.getpid()}-{os.urandom(6).hex()}"
    d.mkdir(parents=True)
    return d


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _wants_fsync(fsync: bool | None) -> bool:
    return settings.fsync_enabled() if fsync is None else fsync


def replace_atomic(path: Path, create: Callable[[Path], None], *, fsync: bool | None = None,
                   kill_point: str | None = None) -> None:
    """Make the new entry with `create(temp)` at a unique sibling name, then rename it over
    `path`. For entries that are not plain data (a symlink, a hardlink); `kill_point` names
    the test hook (RELIABILITY) just before the rename."""
    path = Path(path)
    tmp = temp_sibling(path)
    try:
        create(tmp)
        if kill_point is not None:
            settings.test_hook(kill_point)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    if _wants_fsync(fsync):
        _fsync_dir(path.parent)


def write_atomic(path: Path, data: bytes | str, *, mode: int | None = None, fsync: bool | None = None,
                 kill_point: str | None = None) -> None:
    """Replace the file at `path` with `data` (str is written as UTF-8). `mode` None: the
    umask's default, as a plain open would give. `fsync` None: the store's setting
    (ENVSTORE_FSYNC); False where a torn file is detected anyway (a hash-checked cache)."""
    blob = data.encode("utf-8") if isinstance(data, str) else data
    sync = _wants_fsync(fsync)

    def create(tmp: Path) -> None:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
        try:
            if mode is not None:
                os.fchmod(fd, mode)
            view = memoryview(blob)
            while view:
                view = view[os.write(fd, view):]
            if sync:
                os.fsync(fd)
        finally:
            os.close(fd)

    replace_atomic(path, create, fsync=sync, kill_point=kill_point)


def publish_tree(staging: Path, dest: Path, *, store_root: Path | None = None, replace: bool = False,
                 fsync: bool | None = None) -> bool:
    """Make the finished tree `staging` (in STORE/tmp) read-only and durable, then rename it
    to `dest`. False when `dest` already existed (an identical tree won the race; `staging` is
    then removed and the caller uses theirs). `replace` swaps out an existing `dest` instead
    (repair), retiring the old tree into `store_root`'s tmp/."""
    staging, dest = Path(staging), Path(dest)
    make_dirs_read_only(staging)
    # Moving a directory to another parent rewrites its '..', which needs write permission on
    # it (root skips the check, every other user does not): the top stays writable until moved.
    os.chmod(staging, 0o755)
    sync = _wants_fsync(fsync)
    if sync:
        sync_filesystem(staging)  # the tree's files, links and directories, before it is visible
    dest.parent.mkdir(parents=True, exist_ok=True)
    aside = None
    if replace:
        if store_root is None:
            raise ValueError("publish_tree(replace=True) needs the store root to retire the old tree")
        aside = _set_aside(dest, store_root)
    try:
        os.rename(staging, dest)
    except OSError as e:
        if aside is not None:
            os.rename(aside / dest.name, dest)  # put the old tree back: better damaged than gone
        elif e.errno in (errno.EEXIST, errno.ENOTEMPTY) and dest.is_dir():
            remove_tree(staging)
            return False
        raise
    os.chmod(dest, 0o555)
    if sync:
        _fsync_dir(dest.parent)
    if aside is not None:
        remove_tree(aside)
    return True


def retire_tree(path: Path, store_root: Path, *, before_delete: Callable[[], None] | None = None) -> None:
    """Remove a tree (or file) of the store: first out of sight with one rename into tmp/, then
    deleted there. A crash in between leaves only garbage that the next gc removes.
    `before_delete` runs once the tree is out of sight (or found absent): gc forgets it there."""
    aside = _set_aside(Path(path), store_root)
    if before_delete is not None:
        before_delete()
    if aside is not None:
        remove_tree(aside)


def _set_aside(path: Path, store_root: Path) -> Path | None:
    """Rename `path` into a new staging directory of tmp/ (returned), or None when it is absent."""
    if not os.path.lexists(path):
        return None
    if path.is_dir() and not path.is_symlink():
        os.chmod(path, 0o755)  # a read-only directory cannot change parent ('..') otherwise
    holder = staging_dir(store_root, "trash")
    try:
        os.rename(path, holder / path.name)
    except BaseException:
        os.rmdir(holder)
        raise
    return holder


__all__ = ["TEMP_MARK", "publish_tree", "replace_atomic", "retire_tree", "staging_dir", "temp_sibling",
           "write_atomic"]
