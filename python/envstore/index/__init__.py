"""The package index client: configuration (config.py), HTTP with cache (http.py, cache.py),
simple-API parsing (simple.py), find-links (findlinks.py), core metadata (metadata.py), and the
client that ties them together for the resolver (client.py).

The names below load on first use (PEP 562): importing one module of the package, such as
fetch.py for a conda download, must not load the resolver's client with it."""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "IndexClient": "client", "IndexConfig": "config", "resolve_index_config": "config",
    "IndexFetchError": "errors", "IntegrityError": "errors", "InvalidMetadata": "errors", "OfflineMiss": "errors",
    "PackageNotFound": "errors", "CoreMetadata": "metadata", "ProjectFile": "simple",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"envstore.index.{_EXPORTS[name]}"), name)
