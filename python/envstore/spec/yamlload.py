"""YAML with positions: load a document into plain Python values plus a table of where each
value came from (line, column), rejecting duplicate keys. Never evaluates tags beyond SafeLoader."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from envstore.spec.errors import SpecError

Key = tuple[Any, ...]


@dataclass
class Located:
    """A loaded document: `value`, and `where[path] = (line, column)` (1-based) for every
    mapping value, mapping key (path + ("<key>",)) and sequence item."""

    path: Path
    value: Any
    where: dict[Key, tuple[int, int]] = field(default_factory=dict)
    # Scalars that YAML typed as numbers: their source text, so "3.10" is not lost as 3.1.
    raw: dict[Key, str] = field(default_factory=dict)

    def pos(self, key: Key) -> tuple[int | None, int | None]:
        return self.where.get(key, (None, None))

    def error(self, key: Key, message: str, hint: str | None = None) -> SpecError:
        line, col = self.pos(key)
        return SpecError(message, self.path, line, col, hint)


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def load_located(path: Path, text: str) -> Located:
    loader = yaml.SafeLoader(text)
    try:
        try:
            root = loader.get_single_node()
        except yaml.MarkedYAMLError as e:
            mark = e.problem_mark or e.context_mark
            line, col = (mark.line + 1, mark.column + 1) if mark else (None, None)
            raise SpecError(f"invalid YAML: {e.problem or e}", path, line, col,
                            "check the indentation and that list items start with '- '") from None
        doc = Located(path, None)
        if root is not None:
            doc.value = _build(loader, root, (), doc)
        return doc
    finally:
        loader.dispose()


def _build(loader: yaml.SafeLoader, node: yaml.Node, key: Key, doc: Located) -> Any:
    doc.where[key] = _mark(node)
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        out: dict[Any, Any] = {}
        for knode, vnode in node.value:
            k = loader.construct_object(knode, deep=True)
            if not isinstance(k, (str, int, float, bool)) or k is None:
                raise doc.error(key, "mapping keys must be plain words")
            if k in out:
                first = doc.where[key + (k, "<key>")]
                line, col = _mark(knode)
                raise SpecError(f"duplicate key {k!r} (first at line {first[0]})", doc.path, line, col,
                                "YAML keeps only one of them: merge the two entries into one")
            doc.where[key + (k, "<key>")] = _mark(knode)
            out[k] = _build(loader, vnode, key + (k,), doc)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(loader, item, key + (i,), doc) for i, item in enumerate(node.value)]
    value = loader.construct_object(node, deep=True)
    if isinstance(value, (int, float)):  # bools too: `off` and `3.10` must be quoted as written
        doc.raw[key] = node.value
    return value
