"""Which binary caches a command asks and which keys it trusts: flags, environment and config
files merged. Light on purpose: every realize builds one, and the cryptography and HTTP code
load only when a cache is actually asked."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from envstore import settings
from envstore.cache.config import read_config
from envstore.store import default_root

if TYPE_CHECKING:
    from envstore.cache.keys import PublicKey
    from envstore.cache.remote import Remote


@dataclass(frozen=True)
class Substituters:
    urls: tuple[str, ...] = ()
    trusted_keys: tuple[str, ...] = ()  # NAME:BASE64
    allow_unsigned: bool = False

    @classmethod
    def configured(cls, urls: tuple[str, ...] = (), keys: tuple[str, ...] = (), allow_unsigned: bool = False,
                   store_root: Path | None = None) -> Substituters:
        """Flags > environment > config files. The flags' caches and keys come first and add to
        the rest; ENVSTORE_SUBSTITUTERS / ENVSTORE_TRUSTED_KEYS / ENVSTORE_ALLOW_UNSIGNED, when
        set, replace what the config files say (a CI job overrides the team's file); the files
        are `$XDG_CONFIG_HOME/envstore/config.toml` over `STORE/config.toml`."""
        config = read_config(store_root or default_root())
        env_urls = settings.SUBSTITUTERS.get()
        env_keys = settings.TRUSTED_KEYS.get()
        env_unsigned = settings.ALLOW_UNSIGNED.get()
        base_urls = tuple(env_urls.split()) if env_urls is not None else config.substituters
        base_keys = tuple(env_keys.split()) if env_keys is not None else config.trusted_keys
        unsigned = allow_unsigned or (settings.truthy(env_unsigned) if env_unsigned is not None
                                      else config.allow_unsigned)
        return cls(tuple(dict.fromkeys(urls + base_urls)), tuple(dict.fromkeys(keys + base_keys)), unsigned)

    def trusted(self) -> list[PublicKey]:
        from envstore.cache.keys import parse_trusted  # lazy: cryptography loads only when a cache is asked

        return parse_trusted(list(self.trusted_keys))

    def remotes(self, offline: bool) -> list[Remote]:
        """--offline: local (file://) caches only."""
        from envstore.cache.remote import open_remote  # lazy: as for trusted()

        return [open_remote(u) for u in self.urls if not offline or u.startswith("file:")]
