"""HTTP(S) and file:// fetching for the index client: one pooled urllib3 manager (connection
reuse), a connect and a read timeout on every request, a bounded number of retries with backoff
on 5xx, timeouts and refused connections only, the revalidating cache, --offline.
Knows nothing of package indexes; returns bytes or raises IndexFetchError/OfflineMiss."""

from __future__ import annotations

import hashlib
import re
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import urllib3

from envstore.index.cache import HttpCache
from envstore.index.config import DEFAULT_TIMEOUT, RETRIES
from envstore.index.errors import IndexFetchError, IntegrityError, OfflineMiss

RETRY_STATUSES = frozenset({500, 502, 503, 504})
# Failures worth another attempt: the server may answer next time. Anything else urllib3
# raises (a malformed URL, too many redirects, a bad TLS certificate) will not change.
_TRANSIENT = (urllib3.exceptions.TimeoutError, urllib3.exceptions.ProtocolError,
              urllib3.exceptions.NewConnectionError)
# A connection that has not opened in this long will not: a larger pip timeout only delays the
# error (the read timeout, where slow servers and proxies show, is not capped).
MAX_CONNECT_TIMEOUT = 10.0
TIMEOUT_HINT = ("the server did not answer in time; check the URL and your network, raise pip's timeout "
                "(PIP_DEFAULT_TIMEOUT or `timeout` in pip.conf), or use --offline to resolve from the cache")
# Heuristic freshness (RFC 9111 4.2.2) for a 200 that carries no Cache-Control, ETag or
# Last-Modified: without it such an index would be downloaded whole on every resolve.
HEURISTIC_MAX_AGE = 600.0
_MAX_AGE = re.compile(r"max-age=(\d+)")
_OS_ERROR = re.compile(r"\[Errno [^\]]+\] [^()'\"]+")
USER_AGENT = "envstore"


@dataclass
class Response:
    url: str
    status: int
    headers: dict[str, str]
    body: bytes
    from_cache: bool = False

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()


class NotFound(Exception):
    """A 404/410: the caller decides whether that means 'no such package'."""

    def __init__(self, url: str, status: int) -> None:
        super().__init__(url)
        self.url, self.status = url, status


def timeouts(seconds: float) -> urllib3.Timeout:
    """pip's one socket timeout as urllib3's connect and read timeouts (the read timeout bounds
    each wait for bytes, so a server that stops mid-response is caught too)."""
    return urllib3.Timeout(connect=min(seconds, MAX_CONNECT_TIMEOUT), read=seconds)


def failure_reason(error: BaseException, seconds: float) -> tuple[str, bool]:
    """A short reason for a failed request (urllib3 wraps the cause in MaxRetryError) and
    whether it was a timeout."""
    cause = getattr(error, "reason", None) or error
    # NewConnectionError (refused, unreachable, no such host) subclasses ConnectTimeoutError.
    if isinstance(cause, (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ProtocolError, OSError)):
        # urllib3's text wraps the OS's ("... Failed to establish a new connection: [Errno 111]
        # Connection refused"): keep the part a user can act on.
        os_error = _OS_ERROR.search(str(cause))
        return f"connection failed ({os_error.group(0) if os_error else type(cause).__name__})", False
    if isinstance(cause, urllib3.exceptions.ConnectTimeoutError):
        return f"timed out connecting (no connection within {min(seconds, MAX_CONNECT_TIMEOUT):g}s)", True
    if isinstance(cause, urllib3.exceptions.TimeoutError) or "timed out" in str(cause):
        return f"timed out (no response within {seconds:g}s)", True
    return str(cause), False


def is_transient(error: BaseException) -> bool:
    return isinstance(getattr(error, "reason", None) or error, _TRANSIENT)


class HttpClient:
    def __init__(self, cache: HttpCache | None, offline: bool = False, cert: str | None = None,
                 timeout: float = DEFAULT_TIMEOUT, retries: int = RETRIES, backoff: float = 0.25,
                 pool_size: int = 16) -> None:
        self.cache = cache
        self.offline = offline
        self.retries = retries
        self.backoff = backoff
        self.timeout_seconds = timeout
        self.timeout = timeouts(timeout)
        self.closed = False  # set by close(): requests still running make no further attempts
        kw = {"ca_certs": cert} if cert and Path(cert).exists() else {}
        # urllib3 follows redirects only; our loop below owns every other retry decision.
        retry = urllib3.Retry(total=None, connect=0, read=0, status=0, other=0, redirect=5,
                              raise_on_redirect=True, raise_on_status=False)
        self.pool = urllib3.PoolManager(num_pools=8, maxsize=pool_size, retries=retry,
                                        headers={"User-Agent": USER_AGENT}, **kw)
        self.requests = 0  # network round trips, for tests and benchmarks
        self.bytes = 0

    # -- plain requests -------------------------------------------------------------------

    def request(self, url: str, headers: dict[str, str] | None = None, method: str = "GET") -> Response:
        """One request with at most `retries` more attempts on 5xx, timeouts and refused
        connections. 404/410 raise NotFound; other 4xx and exhausted retries raise IndexFetchError."""
        if url.startswith("file:"):
            return _file_response(url)
        if self.offline:
            raise OfflineMiss(url)
        attempt = 0
        while True:
            try:
                r = self.pool.request(method, url, headers=headers or {}, timeout=self.timeout,
                                      preload_content=True)
            except urllib3.exceptions.HTTPError as e:
                if is_transient(e) and self._retry(attempt):
                    attempt += 1
                    continue
                reason, timed_out = failure_reason(e, self.timeout_seconds)
                tries = f" after {attempt + 1} attempts" if attempt else ""
                raise IndexFetchError(url, reason + tries, hint=TIMEOUT_HINT if timed_out else None) from None
            self.requests += 1
            self.bytes += len(r.data)
            if r.status in RETRY_STATUSES and self._retry(attempt):
                attempt += 1
                continue
            hdrs = {k.lower(): v for k, v in r.headers.items()}
            if r.status in (404, 410):
                raise NotFound(url, r.status)
            if r.status >= 400:
                raise IndexFetchError(url, r.reason or "", r.status)
            # urllib3 reports only the path of a redirect target; keep it absolute.
            return Response(urllib.parse.urljoin(url, r.geturl() or url), r.status, hdrs, r.data)

    def _retry(self, attempt: int) -> bool:
        """Whether to try again after `attempt` retries; sleeps the backoff if so."""
        if attempt >= self.retries or self.closed:
            return False
        time.sleep(self.backoff * 2 ** attempt)
        return True

    def close(self) -> None:
        self.closed = True
        self.pool.clear()

    # -- cached GETs ------------------------------------------------------------------------

    def get_cached(self, url: str, accept: str | None = None, immutable: bool = False,
                   sha256: str | None = None, what: str = "file") -> Response:
        """GET through the cache. Fresh entries (Cache-Control max-age) are used without a
        request; stale ones are revalidated with ETag/Last-Modified; `immutable` entries (files
        named by their hash) never expire. Offline: any entry, or OfflineMiss. With `sha256`,
        a body that does not match raises IntegrityError and is not cached."""
        if url.startswith("file:") or self.cache is None:
            return _checked(self.request(url, {"Accept": accept} if accept else None), sha256, what)
        key = f"{url}\n{accept or ''}"
        entry = self.cache.get(key)
        if entry is not None and (immutable or self.offline or entry.fresh()):
            return Response(entry.url, 200, entry.headers, entry.body, from_cache=True)
        if self.offline:
            raise OfflineMiss(url)
        headers = {"Accept": accept} if accept else {}
        if entry is not None:
            if "etag" in entry.headers:
                headers["If-None-Match"] = entry.headers["etag"]
            if "last-modified" in entry.headers:
                headers["If-Modified-Since"] = entry.headers["last-modified"]
        r = self.request(url, headers)
        max_age = None if immutable else _max_age(r.headers)
        if r.status == 304 and entry is not None:
            self.cache.touch(key, entry, r.headers, max_age)
            return Response(entry.url, 200, entry.headers, entry.body, from_cache=True)
        _checked(r, sha256, what)
        kept = {k: v for k, v in r.headers.items() if k in ("etag", "last-modified", "content-type", "cache-control")}
        self.cache.put(key, r.url, r.body, kept, max_age)
        return r

    def put_immutable(self, url: str, body: bytes, accept: str | None = None) -> None:
        """Cache bytes the caller has verified (e.g. a metadata file whose hash matched)."""
        if self.cache is not None and not url.startswith("file:"):
            self.cache.put(f"{url}\n{accept or ''}", url, body, {}, None)


def _checked(r: Response, sha256: str | None, what: str) -> Response:
    if sha256:
        actual = hashlib.sha256(r.body).hexdigest()
        if actual != sha256.lower():
            raise IntegrityError(what, r.url, sha256, actual)
    return r


def _max_age(headers: dict[str, str]) -> float | None:
    cc = headers.get("cache-control", "")
    if not cc and "etag" not in headers and "last-modified" not in headers:
        return HEURISTIC_MAX_AGE
    if "no-store" in cc or "no-cache" in cc:
        return None
    m = _MAX_AGE.search(cc)
    return float(m.group(1)) if m else None


def file_url_to_path(url: str) -> Path:
    return Path(urllib.request.url2pathname(urllib.parse.urlparse(url).path))


def _file_response(url: str) -> Response:
    """file:// URLs: a file's bytes, or for a directory its index.html if present, else a
    generated PEP 503 listing of its entries (so a plain directory tree works as an index)."""
    path = file_url_to_path(url)
    if path.is_dir():
        if (path / "index.html").is_file():
            return Response(url, 200, {"content-type": "text/html"}, (path / "index.html").read_bytes())
        links = "".join(
            f'<a href="{urllib.parse.quote(p.name)}{"/" if p.is_dir() else ""}">{p.name}</a>\n'
            for p in sorted(path.iterdir()))
        return Response(url, 200, {"content-type": "text/html"}, f"<html><body>{links}</body></html>".encode())
    if not path.is_file():
        raise NotFound(url, 404)
    return Response(url, 200, {}, path.read_bytes())
