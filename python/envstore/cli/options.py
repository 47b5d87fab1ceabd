"""Flags shared by several commands, turned into the typed option objects the domain takes:
the index flags (`--index-url`, `--extra-index-url`, `--find-links`, `--offline`) become one
`index: IndexOptions | None` parameter of the command."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from envstore.index.config import IndexOptions

_INDEX_FLAGS = ("index_url", "extra_index_urls", "find_links", "offline")


def index_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """Add the index flags; the command receives them as `index` (None when none was given).
    Goes below `file_option`, if the command has one."""

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        given = {name: kwargs.pop(name) for name in _INDEX_FLAGS}
        kwargs["index"] = _index_from(**given) if any(given.values()) else None
        return f(*args, **kwargs)

    g: Callable[..., Any] = click.option(
        "--offline", is_flag=True, help="Resolve from the HTTP cache in the store alone [env: ENVSTORE_OFFLINE].")(wrapper)
    g = click.option("--find-links", "find_links", multiple=True,
                     help="Directory or HTML page of wheels; repeatable [env: ENVSTORE_FIND_LINKS].")(g)
    g = click.option("--extra-index-url", "extra_index_urls", multiple=True,
                     help="Index consulted for names the primary does not have; repeatable "
                          "[env: ENVSTORE_EXTRA_INDEX_URL].")(g)
    g = click.option("--index-url", help="Primary package index (simple API) [env: ENVSTORE_INDEX_URL; "
                                         "default: pip's configuration].")(g)
    return g


def _index_from(index_url: str | None, extra_index_urls: tuple[str, ...], find_links: tuple[str, ...],
                offline: bool) -> IndexOptions:
    # Imported here: the index package pulls in the HTTP client, which an already-realized
    # `store run`/`store realize` without index flags never needs.
    # lazy: a command loads its own ops; `store --help` loads none
    from envstore.index.config import IndexOptions

    return IndexOptions(index_url, tuple(extra_index_urls), tuple(find_links), offline)


_CACHE_FLAGS = ("substituter_urls", "trusted_keys", "allow_unsigned")


def substituter_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """Add the binary-cache flags; the command receives them as `substituters`
    (a `Substituters`, or None when no flag, ENVSTORE_SUBSTITUTERS or config file names a cache)."""

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        given = {name: kwargs.pop(name) for name in _CACHE_FLAGS}
        # lazy: reading the cache config is for a command that runs, not for --help
        from envstore.cache.substituters import Substituters

        app = click.get_current_context().find_root().obj  # --store decides which STORE/config.toml is read
        subs = Substituters.configured(tuple(given["substituter_urls"]), tuple(given["trusted_keys"]),
                                       given["allow_unsigned"], getattr(app, "store_root", None))
        kwargs["substituters"] = subs if subs.urls else None
        return f(*args, **kwargs)

    g: Callable[..., Any] = click.option(
        "--allow-unsigned", "allow_unsigned", is_flag=True,
        help="Accept a cache's records that no trusted key signed (a cache you control end to end) "
             "[env: ENVSTORE_ALLOW_UNSIGNED; config: allow-unsigned].")(wrapper)
    g = click.option("--trusted-key", "trusted_keys", multiple=True, metavar="NAME:BASE64",
                     help="Public key whose signatures make a cache's records trusted; repeatable "
                          "[env: ENVSTORE_TRUSTED_KEYS; config: trusted-keys].")(g)
    g = click.option("--substituter", "substituter_urls", multiple=True, metavar="URL",
                     help="Binary cache asked before the index (s3://BUCKET[/PATH], file:///PATH); repeatable "
                          "[env: ENVSTORE_SUBSTITUTERS; config: substituters].")(g)
    return g


def python_option(f: Callable[..., Any]) -> Callable[..., Any]:
    """Add `--python X.Y`: the interpreter to lock for (a conda-style version, as `python=` takes);
    the command receives it as `python` (None when not given)."""
    return click.option("--python", "python", default=None, metavar="X.Y",
                        help="Interpreter version to use (within the env file's python=), e.g. 3.12.")(f)


# spec.model.PRERELEASE_POLICIES, written out so that `--help` need not import the spec package
# (tests/test_lock_prerelease.py checks that the two agree).
PRERELEASE_CHOICES = ("if-necessary-or-explicit", "allow", "if-necessary", "explicit", "disallow")


def prerelease_option(f: Callable[..., Any]) -> Callable[..., Any]:
    """Add `--prerelease POLICY`; the command receives it as `prerelease` (None: the env file's
    `envstore: {prerelease: ...}`, else PEP 440's rule)."""
    return click.option(
        "--prerelease", "prerelease", default=None, type=click.Choice(PRERELEASE_CHOICES),
        help="Which pre-releases may be picked: if-necessary-or-explicit (default, PEP 440: when a specifier "
             "names one or no final release satisfies), allow, if-necessary, explicit (only where the env "
             "file's own requirement names one), disallow. Replaces the env file's "
             "`envstore: {prerelease: ...}`.")(f)
