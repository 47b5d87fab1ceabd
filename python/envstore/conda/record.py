"""One conda package as a lock records it: channel, subdir, name, version, build, url, sha256,
size, and what conda-meta needs besides. Plain data, no rattler types."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class CondaRecord:
    """One solved conda package, as locked."""

    name: str
    version: str
    build: str
    build_number: int
    channel: str  # base URL
    subdir: str
    url: str
    sha256: str
    size: int | None
    fn: str
    depends: tuple[str, ...] = ()
    constrains: tuple[str, ...] = ()
    noarch: str = ""  # "python", "generic" or ""
    md5: str = ""
    timestamp: int | None = None
    license: str = ""

    def to_json(self) -> dict:
        doc = asdict(self)
        doc["depends"], doc["constrains"] = list(self.depends), list(self.constrains)
        return {k: v for k, v in doc.items() if v not in (None, "")}

    @classmethod
    def from_json(cls, doc: dict) -> CondaRecord:
        known = set(cls.__dataclass_fields__)
        kw = {k: v for k, v in doc.items() if k in known}
        kw.setdefault("size", None)
        kw.setdefault("build_number", 0)
        kw.setdefault("fn", f"{kw.get('name')}-{kw.get('version')}-{kw.get('build')}.conda")
        kw["depends"] = tuple(kw.get("depends", ()))
        kw["constrains"] = tuple(kw.get("constrains", ()))
        return cls(**kw)

    @property
    def identity(self) -> str:
        return f"{self.name}-{self.version}-{self.build}"
