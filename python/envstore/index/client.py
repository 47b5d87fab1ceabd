"""The index client the resolver talks to: the files of a project across the configured indexes
(first index that knows a name wins, so an extra index cannot shadow the primary's packages:
dependency-confusion safe), find-links merged in, core metadata per wheel, parallel prefetch."""

from __future__ import annotations

import hashlib
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Iterable

from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

from envstore.index.cache import HttpCache
from envstore.index.config import IndexConfig
from envstore.index.errors import IntegrityError, PackageNotFound
from envstore.index.findlinks import list_location, with_local_hash
from envstore.index.http import HttpClient, NotFound
from envstore.index.metadata import CoreMetadata, MetadataFetcher
from envstore.index.simple import ACCEPT, ProjectFile, parse_project_page


class IndexClient:
    def __init__(self, config: IndexConfig, cache_root: Path | None = None, workers: int = 16,
                 timeout: float = 30.0, retries: int = 3, backoff: float = 0.25) -> None:
        self.config = config
        cache = HttpCache(cache_root / "http-v1") if cache_root is not None else None
        self.http = HttpClient(cache, offline=config.offline, cert=config.cert, timeout=timeout,
                               retries=retries, backoff=backoff, pool_size=workers)
        self.fetcher = MetadataFetcher(self.http, cache_root / "wheels-v1" if cache_root is not None else None)
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="envstore-index")
        self._lock = threading.Lock()
        self._projects: dict[str, Future[list[ProjectFile]]] = {}
        self._metadata: dict[str, Future[CoreMetadata]] = {}
        self._links: Future[list[ProjectFile]] | None = None
        self.used_indexes: set[str] = set()

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.http.pool.clear()

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
        return self._project_future(name).result()

    def _project_future(self, name: str) -> Future[list[ProjectFile]]:
        key = canonicalize_name(name)
        with self._lock:
            fut = self._projects.get(key)
            if fut is None:
                fut = self._projects[key] = self.pool.submit(self._load_project, key)
            return fut

    def _load_project(self, name: str) -> list[ProjectFile]:
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
        local = [f for f in self._find_links() if _wheel_name(f.filename) == name]
        if not found and not local:
            raise PackageNotFound(name, list(self.config.index_urls) + list(self.config.find_links))
        return [with_local_hash(f) for f in local] + files

    def _find_links(self) -> list[ProjectFile]:
        with self._lock:
            if self._links is None:
                self._links = self.pool.submit(self._load_links)
            fut = self._links
        return fut.result()

    def _load_links(self) -> list[ProjectFile]:
        out: list[ProjectFile] = []
        for loc in self.config.find_links:
            out.extend(list_location(self.http, loc))
        return out

    # -- metadata ---------------------------------------------------------------------------

    def prefetch_metadata(self, files: Iterable[ProjectFile]) -> None:
        for f in files:
            self._metadata_future(f)

    def metadata(self, pf: ProjectFile) -> CoreMetadata:
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


def _wheel_name(filename: str) -> str | None:
    try:
        return parse_wheel_filename(filename)[0]
    except InvalidWheelFilename:
        return None
