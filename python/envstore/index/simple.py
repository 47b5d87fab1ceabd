"""Project pages of the simple repository API -> ProjectFile records: PEP 691 JSON and PEP 503
HTML, with PEP 592 yanked, requires-python, PEP 658/714 metadata markers, hashes in fragments.
Pure parsing: no I/O."""

from __future__ import annotations

import html
import json
import urllib.parse
from dataclasses import dataclass, field
from datetime import datetime
from html.parser import HTMLParser
from typing import Any

ACCEPT = ("application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, "
          "text/html;q=0.01")
JSON_TYPE = "application/vnd.pypi.simple.v1+json"


@dataclass(frozen=True)
class ProjectFile:
    filename: str
    url: str
    hashes: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    requires_python: str | None = None
    yanked: str | None = None  # None: not yanked; "" or the reason: yanked
    # PEP 658/714: None = no metadata file; {} = present without a hash; else its hashes.
    metadata: dict[str, str] | None = field(default=None, hash=False, compare=False)
    upload_time: datetime | None = None
    size: int | None = None
    index: str | None = None

    @property
    def is_wheel(self) -> bool:
        return self.filename.endswith(".whl")

    @property
    def sha256(self) -> str | None:
        return self.hashes.get("sha256")


def parse_project_page(body: bytes, content_type: str, url: str, index: str | None) -> list[ProjectFile]:
    if content_type == JSON_TYPE or content_type.endswith("+json") or content_type == "application/json":
        return parse_json(json.loads(body), url, index)
    return parse_html(body.decode("utf-8", "replace"), url, index)


def _metadata_field(value: Any) -> dict[str, str] | None:
    if value is None or value is False:
        return None
    if value is True:
        return {}
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    return None


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _join(base: str, href: str) -> str:
    """urljoin, skipped for the absolute URLs indexes usually give: urljoin was most of the
    time parsing a large project's page (numpy's ~2000 files)."""
    if href.startswith(("https://", "http://")):
        return href
    return urllib.parse.urljoin(base, href)


def parse_json(data: dict[str, Any], url: str, index: str | None) -> list[ProjectFile]:
    out = []
    for f in data.get("files", []):
        yanked = f.get("yanked", False)
        meta = f.get("core-metadata", f.get("data-dist-info-metadata"))
        out.append(ProjectFile(
            filename=f["filename"], url=_join(url, f["url"]),
            hashes=dict(f.get("hashes") or {}), requires_python=f.get("requires-python") or None,
            yanked=(yanked if isinstance(yanked, str) else "") if yanked else None,
            metadata=_metadata_field(meta), upload_time=_parse_time(f.get("upload-time")),
            size=f.get("size"), index=index,
        ))
    return out


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.base: str | None = None
        self.anchors: list[tuple[dict[str, str | None], str]] = []
        self._current: dict[str, str | None] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "base" and self.base is None:
            self.base = dict(attrs).get("href")
        elif tag == "a":
            self._current, self._text = dict(attrs), []

    def handle_data(self, data: str) -> None:
        if self._current is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._current is not None:
            self.anchors.append((self._current, "".join(self._text).strip()))
            self._current = None


def _hash_field(value: str | None) -> dict[str, str] | None:
    if value is None:
        return None
    if value.lower() == "true" or "=" not in value:
        return {}
    algo, _, digest = value.partition("=")
    return {algo: digest}


def parse_html(text: str, url: str, index: str | None) -> list[ProjectFile]:
    parser = _Anchors()
    parser.feed(text)
    base = urllib.parse.urljoin(url, parser.base) if parser.base else url
    out = []
    for attrs, _label in parser.anchors:
        href = attrs.get("href")
        if not href:
            continue
        full = _join(base, href)
        clean, _, fragment = full.partition("#")
        filename = urllib.parse.unquote(clean.rstrip("/").rsplit("/", 1)[-1])
        hashes = {}
        if "=" in fragment:
            algo, _, digest = fragment.partition("=")
            hashes[algo] = digest
        rp = attrs.get("data-requires-python")
        yanked = attrs.get("data-yanked")
        meta = attrs.get("data-core-metadata", attrs.get("data-dist-info-metadata"))
        out.append(ProjectFile(
            filename=filename, url=clean, hashes=hashes,
            requires_python=html.unescape(rp) if rp else None,
            yanked=html.unescape(yanked) if yanked is not None else None,
            metadata=_hash_field(meta), index=index,
        ))
    return out
