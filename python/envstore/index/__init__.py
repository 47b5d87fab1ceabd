"""The package index client: configuration (config.py), HTTP with cache (http.py, cache.py),
simple-API parsing (simple.py), find-links (findlinks.py), core metadata (metadata.py), and the
client that ties them together for the resolver (client.py)."""

from envstore.index.client import IndexClient
from envstore.index.config import IndexConfig, resolve_index_config
from envstore.index.errors import IndexFetchError, IntegrityError, InvalidMetadata, OfflineMiss, PackageNotFound
from envstore.index.metadata import CoreMetadata
from envstore.index.simple import ProjectFile

__all__ = [
    "CoreMetadata", "IndexClient", "IndexConfig", "IndexFetchError", "IntegrityError", "InvalidMetadata",
    "OfflineMiss", "PackageNotFound", "ProjectFile", "resolve_index_config",
]
