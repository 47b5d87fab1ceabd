"""The index client the resolver talks to: the files of a project across the configured indexes
(first index that knows a name wins, so an extra index cannot shadow the primary's packages:
dependency-confusion safe), find-links merged in, core metadata per wheel, parallel prefetch.
A task on the pool never waits on another future: it only does its own requests, so the pool
cannot deadlock however many tasks are queued; shared inputs (find-links) are gathered by the
caller before it submits."""

from __future__ import annotations

import hashlib
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Iterable

from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

from envstore.index.cache import HttpCache
from envstore.index.config import RETRIES, IndexConfig
from envstore.index.errors import IntegrityError, PackageNotFound
from envstore.index.findlinks import list_location, with_local_hash
from envstore.index.http import HttpClient, NotFound
from envstore.index.metadata import CoreMetadata, MetadataFetcher
from envstore.index.simple import ACCEPT, ProjectFile, parse_project_page
from envstore.store import layout


class IndexClient:
    def __init__(self, config: IndexConfig, cache_root: Path | None = None, workers: int = 16,
                 timeout: float | None = None, retries: int = RETRIES, backoff: float = 0.25) -> None:
        """`timeout` (seconds) overrides the configuration's (pip's) for this client."""
        self.config = config
        cache = HttpCache(layout.http_cache_dir(cache_root)) if cache_root is not None else None
        self.http = HttpClient(cache, offline=config.offline, cert=config.cert,
                               timeout=config.timeout if timeout is None else timeout,
                               retries=retries, backoff=backoff, pool_size=workers)
        self.fetcher = MetadataFetcher(self.http, layout.wheel_cache_dir(cache_root) if cache_root is not None else None)
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=_POOL_PREFIX)
        self._lock = threading.Lock()
        self._projects: dict[str, Future[list[ProjectFile]]] = {}
        self._metadata: dict[str, Future[CoreMetadata]] = {}
        # find-links wheels by project name, listed once by the first caller that needs them.
        self._links_lock = threading.Lock()
        self._links: dict[str, list[ProjectFile]] | None = None
        self.used_indexes: set[str] = set()

    def close(self) -> None:
        """Drop queued work; requests still running end at their timeout without retrying."""
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.http.close()

    def __enter__(self) -> IndexClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- projects ---------------------------------------------------------------------------

    def prefetch(self, names: Iterable[str]) -> None:
        for name in names:
            self._project_future(name)

    def project_files(self, name: str) -> list[ProjectFile]:
        """Every file offered for `name`; raises PackageNotFound if no index or find-links has it."""
        _not_on_pool()
        return self._project_future(name).result()

    def _project_future(self, name: str) -> Future[list[ProjectFile]]:
        key = canonicalize_name(name)
        with self._lock:
            fut = self._projects.get(key)
        if fut is not None:
            return fut
        local = self._find_links().get(key, [])  # in the caller's thread, never a pool task
        with self._lock:
            fut = self._projects.get(key)
            if fut is None:
                fut = self._projects[key] = self.pool.submit(self._load_project, key, local)
            return fut

    def _load_project(self, name: str, local: list[ProjectFile]) -> list[ProjectFile]:
        """Runs on the pool: the first index page that knows `name`, plus its find-links wheels."""
        files: list[ProjectFile] = []
        found = False
        for index in self.config.index_urls:
            url = f"{index}{name}/"
            try:
                r = self.http.get_cached(url, accept=ACCEPT)
            except NotFound:
                continue
            files = parse_project_page(r.body, r.content_type, r.url, index)
            found = True
            with self._lock:
                self.used_indexes.add(index)
            break  # first index that knows the name wins
        if not found and not local:
            raise PackageNotFound(name, list(self.config.index_urls) + list(self.config.find_links))
        return [with_local_hash(f) for f in local] + files

    def _find_links(self) -> dict[str, list[ProjectFile]]:
        """The wheels of every find-links location by project name, listed on first use (a
        directory listing or one page each). Callers that race wait on the lock, not the pool."""
        with self._links_lock:
            if self._links is None:
                links: dict[str, list[ProjectFile]] = {}
                for loc in self.config.find_links:
                    for f in list_location(self.http, loc):
                        name = _wheel_name(f.filename)
                        if name is not None:
                            links.setdefault(name, []).append(f)
                self._links = links
            return self._links

    # -- metadata ---------------------------------------------------------------------------

    def prefetch_metadata(self, files: Iterable[ProjectFile]) -> None:
        for f in files:
            self._metadata_future(f)

    def metadata(self, pf: ProjectFile) -> CoreMetadata:
        _not_on_pool()
        return self._metadata_future(pf).result()

    def _metadata_future(self, pf: ProjectFile) -> Future[CoreMetadata]:
        with self._lock:
            fut = self._metadata.get(pf.url)
            if fut is None:
                fut = self._metadata[pf.url] = self.pool.submit(self.fetcher.fetch, pf)
            return fut

    def ensure_sha256(self, pf: ProjectFile) -> ProjectFile:
        """A file whose listing gave no sha256 is downloaded once and hashed: a lock never
        pins a wheel without one."""
        if pf.sha256:
            return pf
        pf = with_local_hash(pf)
        if pf.sha256:
            return pf
        r = self.http.request(pf.url)
        digest = hashlib.sha256(r.body).hexdigest()
        if not digest:
            raise IntegrityError("wheel", pf.url, "a sha256", "none")
        return ProjectFile(pf.filename, pf.url, {"sha256": digest}, pf.requires_python, pf.yanked, pf.metadata,
                           pf.upload_time, pf.size or len(r.body), pf.index)


_POOL_PREFIX = "envstore-index"


def _not_on_pool() -> None:
    """Waiting on a future from a pool task could deadlock the pool (issue 12): refuse loudly."""
    if threading.current_thread().name.startswith(_POOL_PREFIX):
        raise RuntimeError("IndexClient: a pool task must not wait on another pool task")


def _wheel_name(filename: str) -> str | None:
    try:
        return parse_wheel_filename(filename)[0]
    except InvalidWheelFilename:
        return None
