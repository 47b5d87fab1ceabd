"""Manifests as Python sees them: a path -> entry map, typed, in the document format whose
version the core owns (`_core.MANIFEST_VERSION`; the core refuses any other on read). Every
manifest Python writes or reads goes through here, so the format is spelled once."""

from __future__ import annotations

import json
from typing import Literal, TypedDict, Union

from envstore._core import MANIFEST_VERSION, Store


class FileEntry(TypedDict):
    type: Literal["file"]
    hash: str
    size: int
    executable: bool


class SymlinkEntry(TypedDict):
    type: Literal["symlink"]
    target: str


class DirEntry(TypedDict):
    type: Literal["dir"]


Entry = Union[FileEntry, SymlinkEntry, DirEntry]
Entries = dict[str, Entry]


class Document(TypedDict):
    version: int
    entries: Entries


def document(entries: Entries) -> Document:
    return {"version": MANIFEST_VERSION, "entries": entries}


def put(store: Store, entries: Entries) -> str:
    """Store a manifest of `entries` (its blobs must exist already); returns its id."""
    return put_document(store, document(entries))


def put_document(store: Store, doc: Document) -> str:
    return store.put_manifest(json.dumps(doc))


def entries(store: Store, manifest_id: str) -> Entries:
    return json.loads(store.manifest_json(manifest_id))["entries"]


__all__ = ["DirEntry", "Document", "Entries", "Entry", "FileEntry", "SymlinkEntry", "document", "entries",
           "put", "put_document"]
