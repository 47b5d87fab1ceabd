"""ed25519 signing keys in Nix's text forms: a secret key `NAME:BASE64(seed ‖ public)` kept in a
file only its owner reads, a public key `NAME:BASE64(public)` given to whoever trusts it, and a
signature `NAME:BASE64(sig)`. Reads and writes only the key files it is given."""

from __future__ import annotations

import base64
import binascii
import os
import re
import socket
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from envstore.cache.config import config_dir
from envstore.errors import EnvstoreError

SECRET_KEY_FILE = "signing-key.sec"  # under the config directory (config_dir())
_NAME = re.compile(r"^[A-Za-z0-9._+-]+$")


class SigningKeyError(EnvstoreError):
    code = "cache.key"


def default_secret_key_path() -> Path:
    return config_dir() / SECRET_KEY_FILE


def default_key_name() -> str:
    name = re.sub(r"[^A-Za-z0-9._+-]+", "-", socket.gethostname()).strip("-.") or "envstore"
    return f"{name}-1"


def _b64decode(text: str, what: str, length: int) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise SigningKeyError(f"{what} is not valid base64") from None
    if len(raw) != length:
        raise SigningKeyError(f"{what} has {len(raw)} bytes, an ed25519 key has {length}")
    return raw


def _split(text: str, what: str) -> tuple[str, str]:
    name, sep, data = text.strip().partition(":")
    if not sep or not name or not _NAME.match(name):
        raise SigningKeyError(f"{what} {text.strip()[:40]!r} is not of the form NAME:BASE64")
    return name, data


@dataclass(frozen=True)
class PublicKey:
    name: str
    key: Ed25519PublicKey

    @classmethod
    def parse(cls, text: str) -> PublicKey:
        name, data = _split(text, "trusted key")
        return cls(name, Ed25519PublicKey.from_public_bytes(_b64decode(data, f"trusted key {name!r}", 32)))

    def __str__(self) -> str:
        from cryptography.hazmat.primitives import serialization as ser

        raw = self.key.public_bytes(ser.Encoding.Raw, ser.PublicFormat.Raw)
        return f"{self.name}:{base64.b64encode(raw).decode()}"

    def verify(self, signature: bytes, message: bytes) -> bool:
        try:
            self.key.verify(signature, message)
            return True
        except InvalidSignature:
            return False


@dataclass(frozen=True)
class SecretKey:
    name: str
    key: Ed25519PrivateKey

    @classmethod
    def generate(cls, name: str) -> SecretKey:
        if not _NAME.match(name):
            raise SigningKeyError(f"key name {name!r} may hold only letters, digits and . _ + -")
        return cls(name, Ed25519PrivateKey.generate())

    @classmethod
    def parse(cls, text: str, origin: str = "secret key") -> SecretKey:
        name, data = _split(text, origin)
        raw = _b64decode(data, origin, 64)
        return cls(name, Ed25519PrivateKey.from_private_bytes(raw[:32]))

    @classmethod
    def load(cls, path: Path) -> SecretKey:
        try:
            text = path.read_text()
        except FileNotFoundError:
            raise SigningKeyError(f"no signing key at {path}", hint="run `store key generate`") from None
        except OSError as e:
            raise SigningKeyError(f"cannot read the signing key {path}: {e.strerror}") from None
        return cls.parse(text, f"the signing key {path}")

    @property
    def public(self) -> PublicKey:
        return PublicKey(self.name, self.key.public_key())

    def __str__(self) -> str:
        from cryptography.hazmat.primitives import serialization as ser

        seed = self.key.private_bytes(ser.Encoding.Raw, ser.PrivateFormat.Raw, ser.NoEncryption())
        pub = self.key.public_key().public_bytes(ser.Encoding.Raw, ser.PublicFormat.Raw)
        return f"{self.name}:{base64.b64encode(seed + pub).decode()}"

    def sign(self, message: bytes) -> str:
        return f"{self.name}:{base64.b64encode(self.key.sign(message)).decode()}"

    def write(self, path: Path) -> None:
        """Created exclusively, readable by its owner only: an existing key is never replaced."""
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise SigningKeyError(f"a signing key exists already: {path}",
                            hint="`store key show` prints its public key; --out FILE writes a new one elsewhere") from None
        with os.fdopen(fd, "w") as f:
            f.write(str(self) + "\n")
            f.flush()
            os.fsync(f.fileno())


def parse_trusted(texts: list[str]) -> list[PublicKey]:
    return [PublicKey.parse(t) for text in texts for t in text.split()]


def split_signature(text: str) -> tuple[str, bytes] | None:
    name, sep, data = text.partition(":")
    if not sep:
        return None
    try:
        return name, base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return None
