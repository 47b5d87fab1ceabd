"""`store key generate|show`: the ed25519 key that signs what `store push` uploads."""

from __future__ import annotations

from pathlib import Path

import click


@click.group("key")
def command() -> None:
    """The signing key of pushed cache records (Nix's NAME:BASE64 form)."""


@command.command("generate")
@click.option("--name", help="The key's name, which records and trusted-key lists show (default: HOSTNAME-1).")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the secret key here instead of $XDG_CONFIG_HOME/envstore/signing-key.sec.")
def generate(name: str | None, out: Path | None) -> None:
    """Write a new secret key (readable by you only) and print its public key on stdout.

    Give the public key to whoever should trust your pushes (--trusted-key, ENVSTORE_TRUSTED_KEYS).
    An existing key file is never replaced.
    """
    # lazy: a command loads its own ops; `store --help` loads none
    from envstore.cache.keys import SecretKey, default_key_name, default_secret_key_path

    key = SecretKey.generate(name or default_key_name())
    path = out or default_secret_key_path()
    key.write(path)
    click.echo(f"wrote the secret key {path}", err=True)
    click.echo(str(key.public))


@command.command("show")
@click.option("--key", "key_file", type=click.Path(dir_okay=False, path_type=Path),
              help="The secret key file (default: $XDG_CONFIG_HOME/envstore/signing-key.sec).")
def show(key_file: Path | None) -> None:
    """Print the public key of the signing key on stdout."""
    # lazy: a command loads its own ops; `store --help` loads none
    from envstore.cache.keys import SecretKey, default_secret_key_path

    click.echo(str(SecretKey.load(key_file or default_secret_key_path()).public))
