"""The binary-cache settings of the config files: `$XDG_CONFIG_HOME/envstore/config.toml` (the
user's, default `~/.config/envstore/`) over `STORE/config.toml` (the store's, for a machine all
of whose users share a cache). Only reads; a malformed file is one message naming it."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from envstore import settings
from envstore.errors import EnvstoreError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

CONFIG_FILE = "config.toml"
SECTION = "cache"
_KEYS = {"substituters": list, "trusted-keys": list, "allow-unsigned": bool}


class ConfigError(EnvstoreError):
    code = "config"


@dataclass(frozen=True)
class CacheConfig:
    substituters: tuple[str, ...] = ()
    trusted_keys: tuple[str, ...] = ()
    allow_unsigned: bool = False


def config_dir() -> Path:
    """`$XDG_CONFIG_HOME/envstore`, default `~/.config/envstore`."""
    base = settings.XDG_CONFIG_HOME.get()
    return Path(base) / "envstore" if base else Path.home() / ".config" / "envstore"


def config_files(store_root: Path) -> list[Path]:
    """Lowest precedence first."""
    return [store_root / CONFIG_FILE, config_dir() / CONFIG_FILE]


def read_config(store_root: Path) -> CacheConfig:
    merged: dict[str, Any] = {}
    for path in config_files(store_root):
        merged.update(_read(path))
    return CacheConfig(tuple(merged.get("substituters", ())), tuple(merged.get("trusted-keys", ())),
                       bool(merged.get("allow-unsigned", False)))


def _read(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read the config file {path}: {getattr(e, 'strerror', None) or e}") from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"the config file {path} is not valid TOML: {e}",
                          hint="see docs/cache.md, \"The config file\"") from None
    section = doc.get(SECTION, {})
    unknown = sorted(set(doc) - {SECTION})
    if unknown or not isinstance(section, dict):
        raise ConfigError(f"the config file {path} has {'[' + ', '.join(unknown) + ']' if unknown else 'a ' + SECTION + ' that is not a table'}; "
                          f"it knows only a [{SECTION}] table",
                          hint=f"[{SECTION}] takes {', '.join(_KEYS)}")
    out = {}
    for key, value in section.items():
        kind = _KEYS.get(key)
        if kind is None:
            raise ConfigError(f"the config file {path}: [{SECTION}] has no setting {key!r}",
                              hint=f"[{SECTION}] takes {', '.join(_KEYS)}")
        if not isinstance(value, kind) or (kind is list and not all(isinstance(v, str) for v in value)):
            want = "a list of strings" if kind is list else "true or false"
            raise ConfigError(f"the config file {path}: {SECTION}.{key} must be {want}, not {value!r}")
        out[key] = [w for v in value for w in v.split()] if kind is list else value
    return out


__all__ = ["CacheConfig", "ConfigError", "config_files", "read_config"]
