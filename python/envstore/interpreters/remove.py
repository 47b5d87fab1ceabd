"""Remove an interpreter's store path, unless a live prefix uses it (GC rule of the realize
issue). For now a user is a prefix STORE/envs/*/ whose pyvenv.cfg `home` lies inside the
interpreter's store path. The blobs stay until `store gc` sweeps unreferenced ones."""

from __future__ import annotations

import os
from pathlib import Path

from envstore._core import Store
from envstore.interpreters import registry
from envstore.interpreters.model import InterpreterError, InterpreterInfo
from envstore.interpreters.choose import list_interpreters
from envstore.progress import plural
from envstore.store import layout
from envstore.store.fs import retire_tree
from envstore.store.session import StoreSession


def _home(cfg: Path) -> str | None:
    try:
        for line in cfg.read_text(errors="replace").splitlines():
            key, sep, value = line.partition("=")
            if sep and key.strip().lower() == "home":
                return value.strip()
    except OSError:
        return None
    return None


def users(store: Store, info: InterpreterInfo) -> list[Path]:
    """Prefixes under STORE/envs whose interpreter is `info`."""
    envs = layout.envs_dir(Path(store.root))
    if not envs.is_dir():
        return []
    out = []
    base = os.path.realpath(info.store_path)
    for cfg in sorted(envs.glob("*/pyvenv.cfg")):
        home = _home(cfg)
        if not home:
            continue
        real = os.path.realpath(home)
        if real == base or real.startswith(base + os.sep) or home.startswith(str(info.store_path) + os.sep):
            out.append(cfg.parent)
    return out


def resolve(store: Store, ref: str) -> InterpreterInfo:
    """An interpreter named by its store path, store path name, or version ("3.12", "3.12.1")."""
    known = list_interpreters(store)
    by_path = [i for i in known if ref in (str(i.store_path), i.name, str(i.executable))]
    if by_path:
        return by_path[0]
    by_version = [i for i in known if i.version == ref or i.version.startswith(ref + ".")]
    if len(by_version) == 1:
        return by_version[0]
    if len(by_version) > 1:
        names = ", ".join(i.name for i in by_version)
        raise InterpreterError(f"'{ref}' matches several interpreters in the store: {names}",
                               hint="name one by its store path")
    raise InterpreterError(f"no interpreter '{ref}' in the store", hint="see `store python list`")


def remove_interpreter(store: Store, info: InterpreterInfo) -> None:
    """Refuse while a prefix uses it; else drop the record, then the tree (record first, so a
    crash leaves an unrecorded tree for gc rather than a record without its tree)."""
    using = users(store, info)
    if using:
        listed = ", ".join(str(p) for p in using[:3]) + (" ..." if len(using) > 3 else "")
        raise InterpreterError(
            f"python {info.version} ({info.store_path}) is used by {plural(len(using), 'prefix')}: {listed}",
            hint="remove those environments (and let `store gc` collect them) first",
        )
    root = Path(store.root)
    with StoreSession(root, "shared", store=store):
        registry.remove_record(root, info.name)
        retire_tree(info.store_path, root)  # disappears atomically; deletion can then be slow
