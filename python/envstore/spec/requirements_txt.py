"""requirements.txt (pip's format, the subset that describes what to install) -> EnvSpec:
requirements, -r/-c includes, --index-url/--extra-index-url/--find-links/--no-index, --hash,
--only-binary/--no-binary, -C/--config-settings (for every build), and the forms realize builds
from source (local paths, `-e DIR`, git URLs: spec/sources.py). Options envstore does not follow
are refused with a message."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from envstore.spec.errors import SpecError
from envstore.spec.model import CONFIG_SETTINGS_OPTIONS, EnvSpec, IndexSettings, SpecRequirement, add_config_setting
from envstore.spec.sources import SourceFormError, is_local, is_vcs, source_requirement


def parse_requirements_file(path: Path, _seen: frozenset[Path] = frozenset()) -> EnvSpec:
    path = Path(path)
    if path.resolve() in _seen:
        raise SpecError("requirements files include each other in a loop", path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(f"requirements file not found: {path}", hint="check the -r/-c path") from None
    seen = _seen | {path.resolve()}
    reqs: list[SpecRequirement] = []
    cons: list[SpecRequirement] = []
    hashes: dict[str, set[str]] = {}
    index_url: str | None = None
    extra: list[str] = []
    find_links: list[str] = []
    no_index = False
    only_binary: set[str] = set()
    no_binary: set[str] = set()
    config: dict[str, Any] = {}  # pip's -C KEY=VALUE lines: PEP 517 config_settings for every build
    for lineno, line in _logical_lines(text):
        try:
            words = shlex.split(line, posix=True)
        except ValueError as e:
            raise SpecError(f"cannot split line: {e}", path, lineno) from None
        if not words:
            continue
        opt, arg = _option(words[0], words[1:])
        if opt is None:
            req_text, line_hashes = _split_hashes(line, path, lineno)
            if is_local(req_text.partition(" @ ")[2].strip() or req_text) or is_vcs(req_text):
                reqs.append(_source(req_text, path, lineno))
                continue
            req = _requirement(req_text, path, lineno)
            reqs.append(SpecRequirement(req, f"{path.name}:{lineno}"))
            if line_hashes:
                hashes.setdefault(req.name.lower().replace("_", "-"), set()).update(line_hashes)
            continue
        if opt in ("-r", "--requirement", "-c", "--constraint"):
            if not arg:
                raise SpecError(f"{opt} needs a file name", path, lineno)
            sub = parse_requirements_file(path.parent / arg, seen)
            target = reqs if opt in ("-r", "--requirement") else cons
            target.extend(sub.requirements)
            cons.extend(sub.constraints)
            for k, v in sub.hashes.items():
                hashes.setdefault(k, set()).update(v)
            index_url = index_url or sub.index.index_url
            extra.extend(sub.index.extra_index_urls)
            find_links.extend(sub.index.find_links)
            no_index = no_index or sub.index.no_index
            only_binary.update(sub.only_binary)
            no_binary.update(sub.no_binary)
            config.update(sub.config_settings)
        elif opt in ("-i", "--index-url"):
            index_url = _need(opt, arg, path, lineno)
        elif opt == "--extra-index-url":
            extra.append(_need(opt, arg, path, lineno))
        elif opt in ("-f", "--find-links"):
            find_links.append(_need(opt, arg, path, lineno))
        elif opt == "--no-index":
            no_index = True
        elif opt in ("--only-binary", "--no-binary"):
            (only_binary if opt == "--only-binary" else no_binary).update(
                v if v == ":all:" else canonicalize_name(v) for v in _need(opt, arg, path, lineno).split(",") if v.strip())
        elif opt in CONFIG_SETTINGS_OPTIONS:
            try:
                add_config_setting(config, _need(opt, arg, path, lineno))
            except ValueError as e:
                raise SpecError(f"{opt}: {e}", path, lineno, hint=f"e.g. `{opt} editable_mode=compat`") from None
        elif opt in ("--prefer-binary", "--pre", "--require-hashes"):
            pass  # already how envstore behaves (wheels first, hashes always checked)
        elif opt in ("-e", "--editable"):
            reqs.append(_source(_need(opt, arg, path, lineno), path, lineno, editable=True))
        else:
            raise SpecError(f"option {opt} is not supported", path, lineno,
                            hint="supported: -r, -c, -e, --index-url, --extra-index-url, --find-links, --no-index, "
                                 "--only-binary, --no-binary, -C/--config-settings, --hash")
    return EnvSpec(
        path=path, name=path.parent.resolve().name or "env", requirements=tuple(reqs),
        constraints=tuple(cons), index=IndexSettings(index_url, tuple(extra), tuple(find_links), no_index),
        hashes={k: frozenset(v) for k, v in hashes.items()}, only_binary=frozenset(only_binary),
        no_binary=frozenset(no_binary), config_settings=dict(sorted(config.items())),
    )


def _source(text: str, path: Path, lineno: int, editable: bool = False) -> SpecRequirement:
    try:
        return source_requirement(text, path.parent, f"{path.name}:{lineno}", editable)
    except SourceFormError as e:
        raise SpecError(str(e), path, lineno, hint=e.hint) from None


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """Join backslash continuations and drop comments; keep the first physical line number."""
    out: list[tuple[int, str]] = []
    buf, start = "", 0
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw
        if not buf:
            start = n
        if line.lstrip().startswith("#"):
            line = ""
        elif " #" in line or "\t#" in line:
            line = line[: min(i for i in (line.find(" #"), line.find("\t#")) if i >= 0)]
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        buf += line
        if buf.strip():
            out.append((start, buf.strip()))
        buf = ""
    if buf.strip():
        out.append((start, buf.strip()))
    return out


def _option(first: str, rest: list[str]) -> tuple[str | None, str | None]:
    if not first.startswith("-"):
        return None, None
    if first.startswith("--") and "=" in first:
        name, _, value = first.partition("=")
        return name, value
    if len(first) > 2 and not first.startswith("--"):
        return first[:2], first[2:]  # -rfile
    return first, rest[0] if rest else None


def _need(opt: str, arg: str | None, path: Path, lineno: int) -> str:
    if not arg:
        raise SpecError(f"{opt} needs a value", path, lineno)
    return arg


def _split_hashes(line: str, path: Path, lineno: int) -> tuple[str, set[str]]:
    hashes: set[str] = set()
    parts = line.split()
    kept: list[str] = []
    i = 0
    while i < len(parts):
        word = parts[i]
        if word.startswith("--hash"):
            value = word.partition("=")[2] if "=" in word else (parts[i + 1] if i + 1 < len(parts) else "")
            if "=" not in word:
                i += 1
            algo, _, digest = value.partition(":")
            if algo != "sha256" or len(digest) != 64:
                raise SpecError(f"unsupported hash {value!r}", path, lineno, hint="use --hash=sha256:<64 hex digits>")
            hashes.add(digest.lower())
        else:
            kept.append(word)
        i += 1
    return " ".join(kept), hashes


def _requirement(text: str, path: Path, lineno: int) -> Requirement:
    if text.startswith(("-e", "--editable")):
        raise SpecError("editable installs are not supported", path, lineno)
    try:
        return Requirement(text)
    except InvalidRequirement as e:
        raise SpecError(f"invalid requirement {text!r}: {e}", path, lineno) from None
