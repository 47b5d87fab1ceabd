"""Edits of an env file's text for `store add` / `store remove`: add, replace or remove one entry
of `dependencies:` or of its `- pip:` list. Text in, text out, spliced at the positions the YAML
parser reports, so every byte outside the edited entry stays as it was (comments, quoting,
indentation, order, blank lines). No file I/O, no click, no network.

Why splicing and not a round-trip dump (ruamel.yaml): a dump re-derives layout from a guessed
indentation and hangs a comment on the entry *above* it, so removing an entry also removed the
comment that introduced the next one or the next top-level key; here only the entry's own line
(with its end-of-line comment) goes."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import yaml
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from envstore.spec import conda
from envstore.spec.errors import SpecError

DEPENDENCIES = "dependencies"
PIP = "pip"
SECTION_WORDS = {DEPENDENCIES: "dependencies:", PIP: "the `- pip:` list"}

_NAME = re.compile(r"^\s*(?:[A-Za-z0-9._/-]+::)?(?P<name>[A-Za-z0-9_][A-Za-z0-9._-]*)")
_WHEEL_FILE = re.compile(r"^(?:https?|file)://\S+/(?P<file>[^/\s#]+\.whl)(?:#\S*)?$")


@dataclass(frozen=True)
class Change:
    """One edit, for the message the command prints: `added numpy>=1.26 to dependencies:`."""

    action: str  # "added", "replaced", "removed", "unchanged"
    section: str  # DEPENDENCIES or PIP
    text: str  # the entry as it is now (as it was, for "removed")
    line: int  # 1-based, in the text the entry is in
    old: str | None = None  # the replaced entry

    def describe(self, file_name: str) -> str:
        where = f"{file_name}:{self.line}"
        section = SECTION_WORDS[self.section]
        if self.action == "replaced":
            return f"replaced {self.old} with {self.text} in {section} ({where})"
        if self.action == "unchanged":
            return f"{self.text} is already in {section} ({where})"
        preposition = "from" if self.action == "removed" else "to"
        return f"{self.action} {self.text} {preposition} {section} ({where})"


def conda_name(text: str) -> str | None:
    """The package an entry of `dependencies:` names, as the index knows it (canonical)."""
    try:
        spec = conda.parse_match_spec(text)
    except conda.MatchSpecError:  # still removable: the name is what comes first
        m = _NAME.match(text)
        return canonicalize_name(conda.index_name(m.group("name"))) if m else None
    return canonicalize_name(conda.index_name(spec.name, spec.specifier))


def pip_name(text: str) -> str | None:
    """The package a `- pip:` entry names (canonical); None for a pip option such as `-r FILE`."""
    text = text.strip()
    if text.startswith("-"):
        return None
    m = _WHEEL_FILE.match(text)
    if m:
        return canonicalize_name(m.group("file").split("-")[0])
    try:
        return canonicalize_name(Requirement(text).name)
    except InvalidRequirement:
        m = _NAME.match(text)
        return canonicalize_name(m.group("name")) if m else None


def requested_name(spec: str, pip: bool) -> str:
    """The package `store add SPEC` means; a SPEC that cannot be an entry is refused here, so the
    message is about the argument, not about a line of a file that was never written."""
    if pip:
        name = pip_name(spec)
        if name is None or (not _WHEEL_FILE.match(spec.strip()) and _invalid_pep508(spec)):
            raise SpecError(f"{spec!r} is not a requirement for the `- pip:` list",
                            hint="pip entries are PEP 508: `name[extra]>=1.0; python_version<'3.12'`")
        if name in conda.PYTHON_NAMES:
            raise SpecError("python is chosen in dependencies:, not in the `- pip:` list",
                            hint="store add 'python=3.12' (without --pip)")
        return name
    try:
        parsed = conda.parse_match_spec(spec)
    except conda.MatchSpecError as e:
        raise SpecError(str(e), hint=e.hint) from None
    return canonicalize_name(conda.index_name(parsed.name, parsed.specifier))


def _invalid_pep508(text: str) -> bool:
    try:
        Requirement(text)
    except InvalidRequirement:
        return True
    return False


@dataclass
class _Entry:
    section: str
    name: str | None
    node: yaml.Node
    seq: yaml.SequenceNode
    position: int


@dataclass
class _Doc:
    text: str
    root: yaml.MappingNode | None
    deps_key: yaml.ScalarNode | None
    deps: yaml.Node | None  # a SequenceNode, a null ScalarNode, or None when the key is absent
    pip_item: yaml.MappingNode | None  # the `- pip:` item of dependencies
    pip: yaml.Node | None  # its value: a SequenceNode or a null ScalarNode
    entries: list[_Entry]

    def find(self, name: str, section: str | None = None) -> list[_Entry]:
        return [e for e in self.entries if e.name == name and (section is None or e.section == section)]


def _scan(text: str, path: Path) -> _Doc:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        raise SpecError(f"invalid YAML: {e.problem or e}", path, mark.line + 1 if mark else None,
                        mark.column + 1 if mark else None,
                        "check the indentation and that list items start with '- '") from None
    doc = _Doc(text, None, None, None, None, None, [])
    if root is None:
        return doc
    if not isinstance(root, yaml.MappingNode):
        raise SpecError("expected a mapping with `name:` and `dependencies:` at the top level", path)
    doc.root = root
    for key, value in root.value:
        if isinstance(key, yaml.ScalarNode) and key.value == DEPENDENCIES:
            doc.deps_key, doc.deps = key, value
    if doc.deps is None:
        return doc
    if not isinstance(doc.deps, yaml.SequenceNode):
        if _is_null(doc.deps):
            return doc
        raise SpecError("`dependencies:` is not a list", path, doc.deps.start_mark.line + 1)
    for i, item in enumerate(doc.deps.value):
        if isinstance(item, yaml.ScalarNode):
            doc.entries.append(_Entry(DEPENDENCIES, conda_name(item.value), item, doc.deps, i))
        elif isinstance(item, yaml.MappingNode):
            for key, value in item.value:
                if isinstance(key, yaml.ScalarNode) and key.value == PIP and doc.pip_item is None:
                    doc.pip_item, doc.pip = item, value
    if isinstance(doc.pip, yaml.SequenceNode):
        for i, item in enumerate(doc.pip.value):
            if isinstance(item, yaml.ScalarNode):
                doc.entries.append(_Entry(PIP, pip_name(item.value), item, doc.pip, i))
    return doc


def _is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null"


# --- positions in the text ---------------------------------------------------------------------

def _line_start(text: str, i: int) -> int:
    return text.rfind("\n", 0, i) + 1


def _line_end(text: str, i: int) -> int:
    """Just after the newline ending the line that holds position i."""
    j = text.find("\n", i)
    return len(text) if j < 0 else j + 1


def _content_end(node: yaml.Node) -> int:
    """Where a node's own text ends. A block collection's end mark lies past the comments and
    blank lines after it, which belong to what follows; its last value's end does not."""
    if isinstance(node, yaml.ScalarNode) or node.flow_style:
        return node.end_mark.index
    if isinstance(node, yaml.SequenceNode):
        return _content_end(node.value[-1]) if node.value else node.start_mark.index
    if isinstance(node, yaml.MappingNode):
        return _content_end(node.value[-1][1]) if node.value else node.start_mark.index
    return node.end_mark.index


def _dash(text: str, item: yaml.Node) -> int:
    """The index of the `-` that starts a block sequence item."""
    i = item.start_mark.index - 1
    while i >= 0 and text[i] in " \t\r\n":
        i -= 1
    if i < 0 or text[i] != "-":
        raise SpecError("a list item of an unexpected shape; edit this part of the file by hand")
    return i


def _column(text: str, i: int) -> int:
    return i - _line_start(text, i)


def _item_style(text: str, seq: yaml.SequenceNode) -> tuple[int, str]:
    """(column of the dash, what follows the dash) of a block sequence's first item, to copy."""
    first = seq.value[0]
    dash = _dash(text, first)
    between = text[dash + 1:first.start_mark.index]
    return _column(text, dash), between if between.strip(" ") == "" and between else " "


def _newline(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


def _insert_line(text: str, at: int, line: str) -> str:
    nl = _newline(text)
    lead = nl if at == len(text) and text and not text.endswith("\n") else ""
    return text[:at] + lead + line + nl + text[at:]


# --- rendering ----------------------------------------------------------------------------------

def _render(value: str, flow: bool, style: str | None = None) -> str:
    """A YAML scalar that reads back as `value`: in the quoting of the entry it replaces, else
    plain where plain reads back the same, else quoted."""
    if style == "'":
        return "'" + value.replace("'", "''") + "'"
    if style == '"':
        return json.dumps(value)
    probe = f"[{value}]" if flow else f"- {value}\n"
    try:
        if yaml.safe_load(probe) == [value]:
            return value
    except yaml.YAMLError:
        pass
    return "'" + value.replace("'", "''") + "'" if value.isprintable() else json.dumps(value)


# --- edits ---------------------------------------------------------------------------------------

def add_entry(text: str, spec: str, *, pip: bool, path: Path) -> tuple[str, list[Change]]:
    """`spec` in `dependencies:` (a conda match spec) or, with `pip`, in the `- pip:` list (PEP
    508). An entry for the same package in that list is replaced where it is; one in the other
    list is an error (the two would both apply)."""
    name = requested_name(spec, pip)
    section = PIP if pip else DEPENDENCIES
    doc = _scan(text, path)
    changes: list[Change] = []
    same = doc.find(name, section)
    if same:
        entry = same[0]
        node = entry.node
        line = node.start_mark.line + 1
        if node.value == spec:
            return text, [Change("unchanged", section, spec, line)]
        new = _render(spec, bool(entry.seq.flow_style), node.style)
        return _replace_keeping_comment(text, node, new), [Change("replaced", section, spec, line, old=node.value)]
    other = doc.find(name, DEPENDENCIES if pip else PIP)
    if other:
        where = f"{path.name}:{other[0].node.start_mark.line + 1}"
        raise SpecError(
            f"{other[0].node.value} is in {SECTION_WORDS[other[0].section]} ({where}), not in "
            f"{SECTION_WORDS[section]}",
            hint=f"change it there ({'without' if pip else 'with'} --pip), or `store remove {name}` first")
    if not pip:
        text = _add_dependency(doc, spec)
    else:
        if doc.pip_item is None and not doc.find("pip", DEPENDENCIES):
            # conda's shape: an env file with a `- pip:` list also lists pip itself (conda env
            # create warns and adds it otherwise).
            text = _add_dependency(doc, "pip")
            changes.append(_located(text, "pip", DEPENDENCIES, path, "added"))
            doc = _scan(text, path)
        text = _add_pip(doc, spec, path)
    changes.append(_located(text, name, section, path, "added", spec))
    return text, changes


def _replace_keeping_comment(text: str, node: yaml.Node, new: str) -> str:
    """The scalar replaced; an end-of-line comment after it stays in its column where the
    spaces before it allow (comments aligned in a column stay aligned), else keeps its spacing."""
    start, end = node.start_mark.index, node.end_mark.index
    gap_end = end
    while gap_end < len(text) and text[gap_end] == " ":
        gap_end += 1
    if gap_end > end and gap_end < len(text) and text[gap_end] == "#":
        gap = (gap_end - end) - (len(new) - (end - start))
        if gap < 1:  # no room to keep the column: keep the spacing as written
            gap = gap_end - end
        return text[:start] + new + " " * gap + text[gap_end:]
    return text[:start] + new + text[end:]


def _located(text: str, name: str, section: str, path: Path, action: str, shown: str | None = None) -> Change:
    entry = _scan(text, path).find(name, section)[0]
    return Change(action, section, shown or entry.node.value, entry.node.start_mark.line + 1)


def _add_dependency(doc: _Doc, spec: str) -> str:
    text = doc.text
    if doc.deps is None:
        return _insert_line(text, len(text), f"{DEPENDENCIES}:{_newline(text)}  - {_render(spec, False)}")
    if not isinstance(doc.deps, yaml.SequenceNode):
        return _fill_null(text, doc.deps, doc.deps_key, spec, offset=2)
    items = doc.deps.value
    pip_at = next((i for i, it in enumerate(items) if not isinstance(it, yaml.ScalarNode)), None)
    if doc.deps.flow_style:
        return _flow_insert(text, doc.deps, spec, before=pip_at)
    dash_col, between = _item_style(text, doc.deps)
    line = " " * dash_col + "-" + between + _render(spec, False)
    if pip_at is None:
        at = _line_end(text, _content_end(items[-1]))
    elif pip_at > 0:
        # After the entry above the pip list, so a comment introducing the pip list stays with it.
        at = _line_end(text, _content_end(items[pip_at - 1]))
    else:
        at = _line_start(text, _dash(text, items[0]))
    return _insert_line(text, at, line)


def _add_pip(doc: _Doc, spec: str, path: Path) -> str:
    text = doc.text
    deps = doc.deps
    assert isinstance(deps, yaml.SequenceNode) and deps.value  # pip was added to it above
    if doc.pip_item is None:
        if deps.flow_style:
            return _flow_insert(text, deps, "{pip: [" + _render(spec, True) + "]}", before=None, rendered=True)
        dash_col, between = _item_style(text, deps)
        nested = _nested_dash_column(text, doc, dash_col, between)
        nl = _newline(text)
        block = (" " * dash_col + "-" + between + "pip:" + nl
                 + " " * nested + "-" + between + _render(spec, False))
        return _insert_line(text, _line_end(text, _content_end(deps.value[-1])), block)
    pip = doc.pip
    if not isinstance(pip, yaml.SequenceNode):
        key = next(k for k, v in doc.pip_item.value if v is pip)
        dash_col, between = _item_style(text, deps)
        nested = _nested_dash_column(text, doc, dash_col, between)
        return _fill_null(text, pip, key, spec, offset=nested - key.start_mark.column)
    if pip.flow_style or not pip.value:
        return _flow_insert(text, pip, spec, before=None)
    dash_col, between = _item_style(text, pip)
    return _insert_line(text, _line_end(text, _content_end(pip.value[-1])),
                        " " * dash_col + "-" + between + _render(spec, False))


def _nested_dash_column(text: str, doc: _Doc, dash_col: int, between: str) -> int:
    """Where a new `- pip:` list's dashes go, in the file's own style: a file that writes
    `dependencies:` then `- x` at the same column writes `pip:` then `- y` the same way."""
    content_col = dash_col + 1 + len(between)
    key_col = doc.deps_key.start_mark.column if doc.deps_key is not None else 0
    return content_col + max(dash_col - key_col, 0)


def _fill_null(text: str, null: yaml.Node, key: yaml.Node | None, spec: str, offset: int) -> str:
    """`key:` with no value (or `~`) becomes a one-entry list."""
    if null.start_mark.index == null.end_mark.index:  # nothing written after the colon
        column = (key.start_mark.column if key is not None else 0) + offset
        at = _line_end(text, null.start_mark.index)
        return _insert_line(text, at, " " * column + "- " + _render(spec, False))
    return text[:null.start_mark.index] + "[" + _render(spec, True) + "]" + text[null.end_mark.index:]


def _flow_insert(text: str, seq: yaml.SequenceNode, spec: str, before: int | None, rendered: bool = False) -> str:
    new = spec if rendered else _render(spec, True)
    items = seq.value
    if before is not None:
        at = items[before].start_mark.index
        return text[:at] + new + ", " + text[at:]
    if items:
        at = _content_end(items[-1])
        return text[:at] + ", " + new + text[at:]
    if seq.flow_style:
        at = text.index("[", seq.start_mark.index) + 1
        return text[:at] + new + text[at:]
    raise SpecError("an empty list of an unexpected shape; edit this part of the file by hand")


def remove_entry(text: str, name: str, *, path: Path) -> tuple[str, list[Change]]:
    """Every entry for package `name` (as the index names it), from both lists; a `- pip:` list
    left empty goes too. An unknown name is an error, and nothing is changed."""
    wanted = canonicalize_name(conda.index_name(name))
    doc = _scan(text, path)
    if not doc.find(wanted):
        raise SpecError(f"there is no {name!r} in dependencies: or the `- pip:` list", path)
    changes = []
    while True:
        found = doc.find(wanted)
        if not found:
            return text, changes
        entry = found[0]
        changes.append(Change("removed", entry.section, entry.node.value, entry.node.start_mark.line + 1))
        text = _remove_item(text, entry.seq, entry.position)
        doc = _scan(text, path)
        if entry.section == PIP and doc.pip_item is not None and (
                _is_null(doc.pip) or (isinstance(doc.pip, yaml.SequenceNode) and not doc.pip.value)):
            assert isinstance(doc.deps, yaml.SequenceNode)
            text = _remove_item(text, doc.deps, doc.deps.value.index(doc.pip_item))
            doc = _scan(text, path)


def _remove_item(text: str, seq: yaml.SequenceNode, i: int) -> str:
    items = seq.value
    item = items[i]
    if seq.flow_style:
        if len(items) == 1:
            return text[:item.start_mark.index] + text[_content_end(item):]
        if i < len(items) - 1:
            return text[:item.start_mark.index] + text[items[i + 1].start_mark.index:]
        return text[:_content_end(items[i - 1])] + text[_content_end(item):]
    dash = _dash(text, item)
    start = _line_start(text, dash)
    if text[start:dash].strip():
        raise SpecError("a list item of an unexpected shape; edit this part of the file by hand")
    # The item's own lines go, with its end-of-line comment; comment lines around it stay.
    return text[:start] + text[_line_end(text, _content_end(item)):]


__all__ = ["Change", "add_entry", "conda_name", "pip_name", "remove_entry", "requested_name"]
