"""Which channels an env file's `channels:` and `channel::name` specs mean, as conda reads them.

A channel is a full URL (`https://…/pytorch`), a `file://` URL or a local path (relative to the
env file), or a name. A name becomes `<channel_alias>/<name>`: the alias from
`ENVSTORE_CHANNEL_ALIAS`, else the user's `.condarc` (`channel_alias`, and `custom_channels`
naming a base URL per channel), else conda's default (rattler's). `defaults` is the `.condarc`'s
`default_channels`; `nodefaults` drops it. Pure functions plus one read of `.condarc`."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from envstore.errors import EnvstoreError

ALIAS_ENV = "ENVSTORE_CHANNEL_ALIAS"
CONDARC_ENV = "CONDARC"
NODEFAULTS = "nodefaults"
DEFAULTS = "defaults"


class ChannelError(EnvstoreError):
    code = "conda.channel"


@dataclass(frozen=True)
class ChannelConfig:
    """What names mean: the alias, per-name base URLs, and what `defaults` expands to."""

    alias: str
    custom: dict[str, str] = field(default_factory=dict)
    default_channels: tuple[str, ...] = ()
    condarc_channels: tuple[str, ...] = ()
    source: str = "conda's default"  # where the alias came from, for messages

    def url(self, channel: str, base: Path | None = None) -> str:
        """The channel's base URL, without a trailing slash."""
        text = channel.strip()
        if not text:
            raise ChannelError("empty channel name")
        if "://" in text:
            return text.rstrip("/")
        if text.startswith(("/", "./", "../", "~")):
            path = Path(text).expanduser()
            if not path.is_absolute():
                path = (base or Path.cwd()) / path
            return path.resolve().as_uri()
        first = text.split("/", 1)[0]
        if first in self.custom:
            return f"{self.custom[first].rstrip('/')}/{text}"
        return f"{self.alias.rstrip('/')}/{text}"


def _condarc_paths() -> list[Path]:
    if os.environ.get(CONDARC_ENV):
        return [Path(os.environ[CONDARC_ENV])]
    home = Path.home()
    return [home / ".condarc", home / ".config" / "conda" / ".condarc", home / ".conda" / ".condarc"]


def _read_condarc() -> tuple[dict, str | None]:
    for path in _condarc_paths():
        if path.is_file():
            try:
                data = yaml.safe_load(path.read_text()) or {}
            except (OSError, yaml.YAMLError) as e:
                raise ChannelError(f"cannot read {path}: {e}") from None
            if not isinstance(data, dict):
                raise ChannelError(f"{path}: expected a mapping at the top level")
            return data, str(path)
    return {}, None


def _strings(value: object, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ChannelError(f"{where}: expected a list of channel names or URLs")
    return tuple(value)


def load_config(environ: dict[str, str] | None = None) -> ChannelConfig:
    """The channel configuration in force: ENVSTORE_CHANNEL_ALIAS, else .condarc, else conda's."""
    env = os.environ if environ is None else environ
    condarc, path = _read_condarc()
    custom = condarc.get("custom_channels") or {}
    if not isinstance(custom, dict) or not all(isinstance(v, str) for v in custom.values()):
        raise ChannelError(f"{path}: custom_channels: expected a mapping of name to base URL")
    defaults = _strings(condarc.get("default_channels"), f"{path}: default_channels")
    channels = _strings(condarc.get("channels"), f"{path}: channels")
    if env.get(ALIAS_ENV):
        alias, source = env[ALIAS_ENV], ALIAS_ENV
    elif isinstance(condarc.get("channel_alias"), str):
        alias, source = condarc["channel_alias"], f"{path} (channel_alias)"
    else:
        from rattler import Channel  # lazy: rattler is slow to import

        # rattler's default alias, read back from a channel it names (so no host is spelled here)
        alias, source = Channel("x").base_url.rstrip("/").removesuffix("/x"), "conda's default"
    return ChannelConfig(alias.rstrip("/"), dict(custom), defaults, channels, source)


def channel_urls(channels: tuple[str, ...] | list[str], config: ChannelConfig,
                 base: Path | None = None) -> list[str]:
    """The env file's channels in priority order, then the .condarc's, `defaults` expanded and
    `nodefaults` applied, each once."""
    nodefaults = NODEFAULTS in channels
    names = [c for c in channels if c != NODEFAULTS]
    names += [c for c in config.condarc_channels if c not in names]
    out: list[str] = []
    for name in names:
        if name == DEFAULTS:
            if nodefaults:
                continue
            expanded = [config.url(c, base) for c in config.default_channels]
        else:
            expanded = [config.url(name, base)]
        out += [u for u in expanded if u not in out]
    if not out:
        raise ChannelError("no conda channels: add a `channels:` list to the env file",
                           "e.g. `channels: [conda-forge]`")
    return out


def pin_spec(spec: str, config: ChannelConfig, base: Path | None = None) -> tuple[str, str | None]:
    """`pytorch::pytorch>=2` → (`<alias>/pytorch::pytorch>=2`, its channel URL); other specs unchanged."""
    head, sep, rest = spec.partition("::")
    if not sep:
        return spec, None
    url = config.url(head.strip(), base)
    return f"{url}::{rest}", url
