"""Index failures, kept apart so the user can tell 'no such package' (their input) from
'the index is broken or unreachable' (retry later) from 'the bytes are not what was promised'."""

from __future__ import annotations

from envstore.errors import EnvstoreError


class IndexFetchError(EnvstoreError):
    """An index or file server failed: a 5xx, a timeout, a refused connection, a 4xx other than
    404 on a project page. Names the URL and the status."""

    code = "index.fetch"
    hint = "the index may be down or unreachable; try again, or use --offline to resolve from the cache"

    def __init__(self, url: str, reason: str, status: int | None = None, hint: str | None = None) -> None:
        self.url = url
        self.status = status
        self.reason = reason
        what = f"HTTP {status}" if status is not None else reason
        detail = f" ({reason})" if status is not None and reason else ""
        super().__init__(f"index request failed: GET {url}: {what}{detail}", hint or None)


class PackageNotFound(EnvstoreError):
    code = "index.not-found"
    hint = "check the spelling of the name, or add the index that has it (--extra-index-url)"

    def __init__(self, name: str, indexes: list[str], hint: str | None = None) -> None:
        self.name = name
        self.indexes = indexes
        where = ", ".join(indexes) if indexes else "any configured index"
        super().__init__(f"package '{name}' not found on {where}", hint or None)


class IntegrityError(EnvstoreError):
    """Downloaded bytes do not match the hash the index or lock promised. Nothing is cached."""

    code = "index.integrity"
    hint = "the index served different bytes than it advertised; report it to the index operator"

    def __init__(self, what: str, url: str, expected: str, actual: str) -> None:
        self.url, self.expected, self.actual = url, expected, actual
        super().__init__(f"{what} hash mismatch for {url}: expected sha256:{expected}, got sha256:{actual}")


class OfflineMiss(EnvstoreError):
    code = "index.offline"
    hint = "run once without --offline to fill the cache"

    def __init__(self, url: str) -> None:
        self.url = url
        super().__init__(f"--offline: {url} is not in the cache")


class InvalidMetadata(EnvstoreError):
    """A release publishes core metadata that cannot be read even leniently (a Requires-Dist
    line that neither PEP 508 nor the legacy forms pip < 24.1 and uv accept allow). The index
    is fine; the release is broken, so the hint is about the release, never about retrying."""

    code = "index.metadata"

    def __init__(self, package: str, version: str, filename: str, field: str, line: str, reason: str) -> None:
        self.package, self.version, self.filename, self.line = package, version, filename, line
        hint = (f"current pip and uv refuse this release too: pin another version of {package} in the env "
                f"file (e.g. {package}!={version}), or, if another package requires it, a version of "
                f"that package that needs a different {package}")
        # packaging's reason is the clause with a caret under the fault: kept, indented.
        detail = "\n".join("  " + r for r in reason.splitlines())
        super().__init__(f"{package} {version} has invalid metadata in {filename}: {field} {line!r}\n{detail}", hint)
