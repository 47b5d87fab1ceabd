"""The remote end of a binary cache: one interface over an S3-compatible bucket (through
obstore, Rust's object_store: parallel requests, connection reuse) and a file:// directory.
Keys are relative paths ("blobs/ab/<hash>.zst"); an object appears whole or not at all (an S3
PUT, or a temporary sibling renamed into place). Never writes outside the cache's own prefix."""

from __future__ import annotations

import configparser
import os
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit

from envstore import settings
from envstore.errors import EnvstoreError


class CacheError(EnvstoreError):
    code = "cache"


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    modified: float  # seconds since the epoch


class Remote(Protocol):
    url: str

    def get(self, key: str) -> bytes | None: ...
    def put(self, key: str, data: bytes) -> None: ...
    def get_ranges(self, key: str, ranges: list[tuple[int, int]]) -> list[bytes] | None: ...
    def list(self, prefix: str) -> Iterator[ObjectInfo]: ...
    def delete(self, keys: list[str]) -> None: ...


def open_remote(url: str) -> Remote:
    scheme = urlsplit(url).scheme
    if scheme == "file":
        return FileRemote(url)
    if scheme == "s3":
        return S3Remote(url)
    raise CacheError(f"cache URL {url!r} is neither s3://BUCKET[/PATH] nor file:///PATH")


def existing(remote: Remote, prefix: str) -> set[str]:
    """Every key under `prefix`, from listings (a thousand keys a request on S3), so a push
    checks what the cache holds in bulk rather than one request per object."""
    return {o.key for o in remote.list(prefix)}


class FileRemote:
    """A directory on a (shared) filesystem."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise CacheError(f"cache URL {url!r}: a file:// cache needs an absolute path (file:///PATH)")
        self.url = url
        self.root = Path(unquote(parts.path))

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*key.split("/"))

    def get(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as e:
            raise CacheError(f"cannot read {key} from {self.url}: {e.strerror}") from None

    def get_ranges(self, key: str, ranges: list[tuple[int, int]]) -> list[bytes] | None:
        """(offset, length) slices of one object; a slice past its end comes back short."""
        try:
            with open(self._path(key), "rb") as f:
                out = []
                for offset, length in ranges:
                    f.seek(offset)
                    out.append(f.read(length))
                return out
        except FileNotFoundError:
            return None
        except OSError as e:
            raise CacheError(f"cannot read {key} from {self.url}: {e.strerror}") from None

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        tmp = path.parent / f".tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}-{path.name}"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except OSError as e:
            tmp.unlink(missing_ok=True)
            raise CacheError(f"cannot write {key} to {self.url}: {e.strerror}") from None

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        base = self._path(prefix.rstrip("/")) if prefix else self.root
        if not base.is_dir():
            return
        for dirpath, _dirs, files in os.walk(base):
            for name in files:
                if name.startswith(".tmp-"):
                    continue
                p = Path(dirpath, name)
                try:
                    st = p.stat()
                except FileNotFoundError:
                    continue
                yield ObjectInfo(p.relative_to(self.root).as_posix(), st.st_size, st.st_mtime)

    def delete(self, keys: list[str]) -> None:
        for key in keys:
            self._path(key).unlink(missing_ok=True)


class S3Remote:
    """s3://BUCKET[/PATH], configured the standard AWS way (see `s3_config`)."""

    def __init__(self, url: str) -> None:
        from obstore.store import S3Store  # lazy: the S3 client loads only for an s3:// cache

        parts = urlsplit(url)
        if not parts.netloc:
            raise CacheError(f"cache URL {url!r} names no bucket (s3://BUCKET[/PATH])")
        self.url = url
        self.bucket = parts.netloc
        self.prefix = parts.path.strip("/")
        config, client = s3_config()
        self.store = S3Store(self.bucket, prefix=self.prefix or None, config=config, client_options=client)

    def _fail(self, doing: str, key: str, e: Exception) -> CacheError:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        return CacheError(f"{doing} {key} at {self.url} failed: {first}",
                          hint="check AWS_ENDPOINT_URL, AWS_REGION and the credentials (AWS_ACCESS_KEY_ID, ~/.aws/credentials)")

    def get(self, key: str) -> bytes | None:
        import obstore  # lazy: the S3 client loads only for an s3:// cache

        try:
            return bytes(obstore.get(self.store, key).bytes())
        except FileNotFoundError:
            return None
        except Exception as e:  # obstore's errors: network, auth, throttling
            raise self._fail("reading", key, e) from None

    def get_ranges(self, key: str, ranges: list[tuple[int, int]]) -> list[bytes] | None:
        """Nearby ranges coalesce into one request (object_store's get_ranges)."""
        import obstore  # lazy: the S3 client loads only for an s3:// cache

        if not ranges:
            return []
        try:
            parts = obstore.get_ranges(self.store, key, starts=[o for o, _n in ranges], lengths=[n for _o, n in ranges])
            return [bytes(p) for p in parts]
        except FileNotFoundError:
            return None
        except BaseException as e:
            # A range past the object's end (a truncated pack) is an error, or with some versions a
            # panic of the Rust client (a BaseException): its blobs are then refused as damaged.
            if isinstance(e, (KeyboardInterrupt, SystemExit)):
                raise
            if type(e).__name__ == "PanicException" or "range" in str(e).lower():
                return [b"" for _ in ranges]
            raise self._fail("reading", key, e) from None  # type: ignore[arg-type]

    def put(self, key: str, data: bytes) -> None:
        import obstore  # lazy: the S3 client loads only for an s3:// cache

        try:
            obstore.put(self.store, key, data)
        except Exception as e:
            raise self._fail("writing", key, e) from None

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        import obstore  # lazy: the S3 client loads only for an s3:// cache

        try:
            for batch in obstore.list(self.store, prefix.rstrip("/") or None, chunk_size=1000):
                for o in batch:
                    yield ObjectInfo(o["path"], o["size"], o["last_modified"].timestamp())
        except Exception as e:
            raise self._fail("listing", prefix, e) from None

    def delete(self, keys: list[str]) -> None:
        import obstore  # lazy: the S3 client loads only for an s3:// cache

        for i in range(0, len(keys), 1000):
            try:
                obstore.delete(self.store, keys[i:i + 1000])
            except Exception as e:
                raise self._fail("deleting", keys[i], e) from None


def s3_config() -> tuple[dict[str, str], dict[str, object]]:
    """Credentials, region and endpoint the standard AWS way: the AWS_* variables first, then
    the profile (AWS_PROFILE, else `default`) of the shared credentials and config files. A plain
    http:// endpoint is allowed because it was given explicitly."""
    profile = settings.AWS_PROFILE.get() or "default"
    creds = _ini(settings.AWS_SHARED_CREDENTIALS_FILE.get() or Path.home() / ".aws" / "credentials", profile)
    conf = _ini(settings.AWS_CONFIG_FILE.get() or Path.home() / ".aws" / "config",
                profile if profile == "default" else f"profile {profile}")
    config: dict[str, str] = {}
    for key, var, ini in (
        ("access_key_id", settings.AWS_ACCESS_KEY_ID, "aws_access_key_id"),
        ("secret_access_key", settings.AWS_SECRET_ACCESS_KEY, "aws_secret_access_key"),
        ("session_token", settings.AWS_SESSION_TOKEN, "aws_session_token"),
    ):
        value = var.get() or creds.get(ini) or conf.get(ini)
        if value:
            config[key] = value
    region = settings.AWS_REGION.get() or settings.AWS_DEFAULT_REGION.get() or conf.get("region")
    if region:
        config["region"] = region
    endpoint = settings.AWS_ENDPOINT_URL.get() or conf.get("endpoint_url")
    client: dict[str, object] = {"connect_timeout": "10s", "timeout": "120s"}
    if endpoint:
        config["endpoint"] = endpoint
        if endpoint.startswith("http://"):
            client["allow_http"] = True
    return config, client


def _ini(path: str | Path, section: str) -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path)
    except configparser.Error:
        return {}
    return dict(parser[section]) if parser.has_section(section) else {}


def age(info: ObjectInfo) -> float:
    return time.time() - info.modified


def keys_of(infos: Iterable[ObjectInfo]) -> list[str]:
    return [i.key for i in infos]
