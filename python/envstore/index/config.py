"""Which indexes to ask, decided once: flags > ENVSTORE_* variables > the env file's own
settings > the user's pip configuration (PIP_* variables, pip.conf files) > pip's default.
Reads configuration only through envstore.settings; never writes any of it."""

from __future__ import annotations

import configparser
import sys
from dataclasses import dataclass
from pathlib import Path

from envstore import settings
from envstore.errors import EnvstoreError
from envstore.spec.model import IndexSettings

# pip's default socket timeout (its --timeout), used when pip's configuration sets none.
DEFAULT_TIMEOUT = 15.0
# Attempts after the first for a request that timed out, was refused or got a 5xx: with the
# timeout this bounds how long one unreachable server can hold a command.
RETRIES = 3


@dataclass(frozen=True)
class IndexConfig:
    index_urls: tuple[str, ...]  # in priority order: the primary first
    find_links: tuple[str, ...] = ()
    offline: bool = False
    cert: str | None = None
    timeout: float = DEFAULT_TIMEOUT  # seconds, for connecting and for each read

    @property
    def all_locations(self) -> tuple[str, ...]:
        return self.index_urls + self.find_links


@dataclass(frozen=True)
class IndexOptions:
    """The index flags of one command (`--index-url`, `--extra-index-url`, `--find-links`,
    `--offline`) as given: not yet merged with the environment, the env file or pip's
    configuration, which `resolve` does once the env file is known."""

    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    offline: bool = False

    def resolve(self, spec: IndexSettings | None = None) -> IndexConfig:
        return resolve_index_config(self.index_url, self.extra_index_urls, self.find_links, self.offline, spec)


def _split(value: str | None) -> list[str]:
    return value.split() if value else []


def pip_config_files() -> list[Path]:
    """pip's configuration files in the order pip reads them (later ones win)."""
    env_file = settings.PIP_CONFIG_FILE.get()
    if env_file == "/dev/null" or env_file == getattr(__import__("os"), "devnull", "/dev/null"):
        return []
    xdg_dirs = (settings.XDG_CONFIG_DIRS.get() or "/etc/xdg").split(":")
    files = [Path(d) / "pip" / "pip.conf" for d in xdg_dirs] + [Path("/etc/pip.conf")]
    home = Path.home()
    xdg_home = Path(settings.XDG_CONFIG_HOME.get() or home / ".config")
    files += [home / ".pip" / "pip.conf", xdg_home / "pip" / "pip.conf", Path(sys.prefix) / "pip.conf"]
    if env_file:
        files.append(Path(env_file))
    return files


def read_pip_config() -> dict[str, str]:
    """index-url, extra-index-url, find-links, no-index, cert, timeout from pip.conf files
    ([global] then [install]) and PIP_* variables, later sources overriding earlier ones."""
    out: dict[str, str] = {}
    for path in pip_config_files():
        if not path.is_file():
            continue
        parser = configparser.RawConfigParser()
        try:
            parser.read(path, encoding="utf-8")
        except configparser.Error:
            continue  # pip itself would refuse to run; do not guess at a broken file
        for section in ("global", "install", "download"):
            if parser.has_section(section):
                for key in ("index-url", "extra-index-url", "find-links", "no-index", "cert", "timeout",
                            "default-timeout"):
                    if parser.has_option(section, key):
                        # `timeout` and `default-timeout` are one pip option under two names.
                        out[key.replace("default-timeout", "timeout")] = parser.get(section, key)
    for key, var in (("index-url", settings.PIP_INDEX_URL), ("extra-index-url", settings.PIP_EXTRA_INDEX_URL),
                     ("find-links", settings.PIP_FIND_LINKS), ("cert", settings.PIP_CERT),
                     ("timeout", settings.PIP_TIMEOUT), ("timeout", settings.PIP_DEFAULT_TIMEOUT)):
        if var.get():
            out[key] = var.get() or ""
    return out


def pip_timeout(pip: dict[str, str] | None = None) -> float:
    """pip's socket timeout in seconds (PIP_DEFAULT_TIMEOUT, PIP_TIMEOUT, pip.conf `timeout` or
    `default-timeout`), else pip's default."""
    value = (read_pip_config() if pip is None else pip).get("timeout")
    if not value:
        return DEFAULT_TIMEOUT
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not seconds > 0:  # also rejects nan
        err = EnvstoreError(
            f"pip's timeout setting (PIP_DEFAULT_TIMEOUT or pip.conf `timeout`) is {value!r}, not a number of seconds")
        err.hint = "set it to a positive number of seconds, e.g. PIP_DEFAULT_TIMEOUT=30"
        raise err
    return seconds


def pip_default_index() -> str | None:
    """pip's built-in default index, asked of pip at run time (never written here)."""
    try:
        from pip._internal.models.index import PyPI  # noqa: PLC0415 - optional, private but stable for years
    except ImportError:
        return None
    return str(PyPI.simple_url)


def resolve_index_config(
    index_url: str | None = None,
    extra_index_urls: tuple[str, ...] = (),
    find_links: tuple[str, ...] = (),
    offline: bool = False,
    spec: IndexSettings | None = None,
) -> IndexConfig:
    spec = spec or IndexSettings()
    pip = read_pip_config()
    primary = (index_url or settings.INDEX_URL.get() or spec.index_url or pip.get("index-url")
               or pip_default_index())
    no_index = spec.no_index or pip.get("no-index", "").lower() in ("1", "true", "yes", "on")
    extras = list(extra_index_urls) or _split(settings.EXTRA_INDEX_URL.get()) or list(spec.extra_index_urls) or _split(pip.get("extra-index-url"))
    links = list(find_links) or _split(settings.FIND_LINKS.get()) or list(spec.find_links) or _split(pip.get("find-links"))
    if index_url:
        no_index = False
    indexes = [] if no_index else [u for u in [primary, *extras] if u]
    if not indexes and not links:
        raise EnvstoreError("no package index configured and pip's default is unavailable")
    offline = offline or (settings.OFFLINE.get() or "") in ("1", "true", "yes", "on")
    seen: list[str] = []
    for u in indexes:
        u = u.rstrip("/") + "/"
        if u not in seen:
            seen.append(u)
    return IndexConfig(tuple(seen), tuple(dict.fromkeys(links)), offline, pip.get("cert") or None, pip_timeout(pip))
