"""Which route a realize takes, decided before either loads: an env file on the conda route
(issue 15) never imports the wheel route's resolver, installer and interpreter discovery, and
a wheel-route env file never imports rattler. The wheel route's installer is loaded for a conda
env file only when it has a `- pip:` half."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from envstore.errors import store_write_problem
from envstore.lockfile import lock_path_for
from envstore.ops.realize_options import RealizeOptions
from envstore.spec.conda_env import conda_route, is_explicit
from envstore.store import layout, open_store

Info = Callable[[str], None]


def route_reason(env_file: Path) -> str | None:
    """Why `env_file` takes the conda route, or None for the wheel route."""
    if is_explicit(env_file):
        return "the file is an @EXPLICIT list of conda packages"
    return conda_route(env_file) if lock_path_for(env_file) != env_file else None


def wheel_half() -> tuple[Callable, Callable]:
    """The wheel route's (ensure_artifacts, lock_identity), for a conda env file's `- pip:` list."""
    # lazy: the wheel route's installer loads for a conda env file only when it has a pip half
    from envstore.ops.realize import _ensure_artifacts, lock_identity

    return _ensure_artifacts, lock_identity


def realize(env_file: Path, store_root: Path | None, options: RealizeOptions, info: Info) -> Path:
    env_file = env_file.absolute()
    store = open_store(store_root)
    # RELIABILITY rows 24/25: refuse before changing anything
    read_only = store_write_problem(Path(store.root), layout.WRITABLE_PARTS)
    reason = route_reason(env_file)
    if reason is None:
        # lazy: each route loads only its own modules
        from envstore.ops.realize import realize_wheels

        return realize_wheels(env_file, store, options, info, read_only)
    if read_only is not None:
        raise read_only
    # lazy: rattler and the conda placement load only when an env file takes the conda route
    from envstore.ops.realize_conda import realize_conda

    return realize_conda(env_file, store, options.frozen, options.out_link, info, reason, options.lock_timeout,
                         index=options.index, wheels=wheel_half, offline=options.offline,
                         substituters=options.substituters)
