"""find-links locations: a local directory (path or file:// URL) or an HTML page of links.
Every wheel found is offered for the name in its file name, alongside the index's files."""

from __future__ import annotations

import hashlib
from pathlib import Path

from envstore.index.http import HttpClient, file_url_to_path
from envstore.index.simple import ProjectFile, parse_html


def list_location(http: HttpClient, location: str) -> list[ProjectFile]:
    if location.startswith(("http://", "https://")):
        r = http.get_cached(location, accept="text/html")
        return [f for f in parse_html(r.body.decode("utf-8", "replace"), r.url, location) if f.is_wheel]
    path = file_url_to_path(location) if location.startswith("file:") else Path(location).expanduser()
    if not path.is_dir():
        return []  # pip ignores a find-links directory that does not exist; so do we
    out = []
    for p in sorted(path.iterdir()):
        if p.name.endswith(".whl") and p.is_file():
            out.append(ProjectFile(filename=p.name, url=p.absolute().as_uri(), hashes={}, size=p.stat().st_size,
                                   index=location))
    return out


def with_local_hash(pf: ProjectFile) -> ProjectFile:
    """Local files carry no hash in a listing; compute it so the lock can pin it."""
    if pf.sha256 or not pf.url.startswith("file:"):
        return pf
    digest = hashlib.sha256(file_url_to_path(pf.url).read_bytes()).hexdigest()
    return ProjectFile(pf.filename, pf.url, {"sha256": digest}, pf.requires_python, pf.yanked, pf.metadata,
                       pf.upload_time, pf.size, pf.index)
