"""What `store realize` (and run, shell, use, add) was asked for, apart from how: both routes
take it, and loading it loads neither route."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the index package pulls in the HTTP client, the cache its crypto: not on the already-realized path
    from envstore.cache.substituters import Substituters
    from envstore.index.config import IndexOptions


@dataclass(frozen=True)
class RealizeOptions:
    frozen: bool = False
    out_link: bool = True
    index: IndexOptions | None = None  # the command's index flags; None: none given
    lock_timeout: float | None = None
    substituters: Substituters | None = None  # binary caches asked before the index (issue 18)
    python: str | None = None  # `--python X.Y`: the interpreter to realize for (issue 17)

    @property
    def offline(self) -> bool:
        """Fetch nothing: wheels come from the store and its HTTP cache alone."""
        return self.index is not None and self.index.offline
