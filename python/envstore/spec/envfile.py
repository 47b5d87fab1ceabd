"""env.yml / environment.yml (conda's shape) -> EnvSpec. Validates every field and names the
file, line and column of anything wrong; never touches the network or the store."""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet

from envstore.spec import conda
from envstore.spec.errors import CondaOnlyPackageError, SpecError
from envstore.spec.model import LINK_MODES, EnvSpec, IndexSettings, SpecRequirement
from envstore.spec.yamlload import Key, Located, load_located

TOP_KEYS = ("name", "channels", "dependencies", "envstore", "prefix", "variables")
ENVSTORE_KEYS = ("index-url", "extra-index-urls", "find-links", "no-index", "link-mode")
_WHEEL_URL = re.compile(r"^(?:https?|file)://\S+/(?P<file>[^/\s]+\.whl)(?:#\S*)?$")


def parse_env_file(path: Path, text: str | None = None) -> EnvSpec:
    if text is None:
        text = path.read_text(encoding="utf-8")
    doc = load_located(path, text)
    if doc.value is None:
        raise SpecError("the file is empty", path, hint="start with `name:` and `dependencies:`")
    if not isinstance(doc.value, dict):
        raise doc.error((), "expected a mapping with `name:` and `dependencies:` at the top level")
    _check_keys(doc, (), doc.value, TOP_KEYS)
    data = doc.value
    name = _string(doc, ("name",), data.get("name")) if "name" in data else path.parent.name or "env"
    channels = tuple(_string(doc, ("channels", i), c) for i, c in enumerate(_list(doc, ("channels",), data.get("channels", []))))
    settings, link_mode = _envstore_section(doc, data.get("envstore"))
    python: str | None = None
    python_spec = SpecifierSet()
    reqs: list[SpecRequirement] = []
    conda_only: list[tuple[str, Key]] = []
    deps = _list(doc, ("dependencies",), data.get("dependencies", []))
    for i, item in enumerate(deps):
        key = ("dependencies", i)
        if isinstance(item, dict):
            _check_keys(doc, key, item, ("pip",))
            for j, pip_item in enumerate(_list(doc, key + ("pip",), item.get("pip", []))):
                pkey = key + ("pip", j)
                text_ = _string(doc, pkey, pip_item)
                if text_.startswith("-"):
                    settings = _pip_option(doc, pkey, text_, settings, reqs, path)
                else:
                    reqs.append(SpecRequirement(_pep508(doc, pkey, text_), _origin(doc, pkey)))
            continue
        spec_text = _string(doc, key, item)
        try:
            cname, specifier = conda.split_match_spec(spec_text)
        except conda.MatchSpecError as e:
            raise doc.error(key, str(e), e.hint) from None
        if cname.lower() in conda.PYTHON_NAMES:
            if cname.lower() == "python":
                python = spec_text.strip()[len(cname):].strip().lstrip("=") if specifier else None
                if python and not python[0].isdigit() and python[0] != "*":
                    python = specifier  # an operator form: hand over the PEP 440 text
                python_spec = SpecifierSet(specifier)
            continue
        if conda.is_conda_only(cname):
            conda_only.append((cname, key))
            continue
        req = _pep508(doc, key, f"{conda.index_name(cname)}{specifier}")
        reqs.append(SpecRequirement(req, _origin(doc, key)))
    if conda_only:
        names = ", ".join(n for n, _ in conda_only)
        line, col = doc.pos(conda_only[0][1])
        raise CondaOnlyPackageError(
            f"conda-only package{'s' if len(conda_only) > 1 else ''} with no Python-package "
            f"equivalent: {names}", path, line, col,
            "remove them: the interpreter and the wheels bring the libraries they need "
            "(CUDA builds: add e.g. `torch` to the `- pip:` list)")
    return EnvSpec(path=path, name=name, python=python, python_specifier=python_spec,
                   requirements=tuple(reqs), index=settings, link_mode=link_mode, channels=channels)


def _origin(doc: Located, key: Key) -> str:
    line, _ = doc.pos(key)
    return f"{doc.path.name}:{line}" if line else doc.path.name


def _check_keys(doc: Located, key: Key, mapping: dict[Any, Any], allowed: tuple[str, ...]) -> None:
    for k in mapping:
        if k not in allowed:
            close = difflib.get_close_matches(str(k), allowed, n=1, cutoff=0.6)
            hint = f"did you mean `{close[0]}`?" if close else f"allowed keys: {', '.join(allowed)}"
            raise doc.error(key + (k, "<key>"), f"unknown key {k!r}", hint)


def _string(doc: Located, key: Key, value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        raw = doc.raw.get(key, str(value))
        hint = None
        if isinstance(value, float) and raw != str(value):
            hint = f'YAML read {raw} as the number {value}; quote it: "{raw}"'
        else:
            hint = f'quote it: "{raw}"'
        raise doc.error(key, f"expected text, got the number {raw}", hint)
    if isinstance(value, bool):
        raw = doc.raw.get(key, str(value).lower())
        raise doc.error(key, f"expected text, got {raw} (YAML reads it as {str(value).lower()})", f'quote it: "{raw}"')
    raise doc.error(key, f"expected text, got {type(value).__name__ if value is not None else 'nothing'}")


def _list(doc: Located, key: Key, value: Any) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise doc.error(key, f"expected a list, got {type(value).__name__}",
                        "list items start with '- ' on their own lines")
    return value


def _pep508(doc: Located, key: Key, text: str) -> Requirement:
    m = _WHEEL_URL.match(text.strip())
    if m:  # a bare wheel URL: its name comes from the file name
        text = f"{m.group('file').split('-')[0]} @ {text.strip()}"
    try:
        return Requirement(text)
    except InvalidRequirement as e:
        raise doc.error(key, f"invalid requirement {text!r}: {e}",
                        "pip entries are PEP 508: `name[extra]>=1.0; python_version<'3.12'`") from None


def _pip_option(doc: Located, key: Key, text: str, settings: IndexSettings,
                reqs: list[SpecRequirement], path: Path) -> IndexSettings:
    opt, _, value = text.partition(" ") if " " in text else text.partition("=")
    value = value.strip()
    if opt in ("--index-url", "-i"):
        return IndexSettings(value, settings.extra_index_urls, settings.find_links, settings.no_index)
    if opt == "--extra-index-url":
        return IndexSettings(settings.index_url, settings.extra_index_urls + (value,), settings.find_links, settings.no_index)
    if opt in ("--find-links", "-f"):
        return IndexSettings(settings.index_url, settings.extra_index_urls, settings.find_links + (value,), settings.no_index)
    if opt in ("-r", "--requirement"):
        from envstore.spec.requirements_txt import parse_requirements_file

        sub = parse_requirements_file(path.parent / value)
        reqs.extend(sub.requirements)
        return settings
    raise doc.error(key, f"pip option {opt!r} is not supported here",
                    "supported: -r FILE, --index-url, --extra-index-url, --find-links")


def _envstore_section(doc: Located, value: Any) -> tuple[IndexSettings, str | None]:
    if value is None:
        return IndexSettings(), None
    if not isinstance(value, dict):
        raise doc.error(("envstore",), "expected a mapping of envstore settings")
    _check_keys(doc, ("envstore",), value, ENVSTORE_KEYS)
    k = ("envstore",)

    def urls(field: str) -> tuple[str, ...]:
        v = value.get(field)
        if v is None:
            return ()
        if isinstance(v, str):
            return (v,)
        return tuple(_string(doc, k + (field, i), u) for i, u in enumerate(_list(doc, k + (field,), v)))

    index_url = _string(doc, k + ("index-url",), value["index-url"]) if "index-url" in value else None
    link_mode = None
    if "link-mode" in value:
        link_mode = _string(doc, k + ("link-mode",), value["link-mode"])
        if link_mode not in LINK_MODES:
            close = difflib.get_close_matches(link_mode, LINK_MODES, n=1)
            raise doc.error(k + ("link-mode",), f"unknown link mode {link_mode!r}",
                            f"did you mean `{close[0]}`?" if close else f"one of: {', '.join(LINK_MODES)}")
    no_index = value.get("no-index", False)
    if not isinstance(no_index, bool):
        raise doc.error(k + ("no-index",), "expected true or false")
    return IndexSettings(index_url, urls("extra-index-urls"), urls("find-links"), no_index), link_mode
