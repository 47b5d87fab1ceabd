"""env.yml / environment.yml (conda's shape) -> EnvSpec. Validates every field and names the
file, line and column of anything wrong; never touches the network or the store."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from envstore.spec import conda
from envstore.spec.errors import CondaOnlyPackageError, Group, SpecError, combine
from envstore.spec.matchspec import CondaSpec, MatchSpecError, parse_match_spec
from envstore.spec.model import (CONFIG_SETTINGS_OPTIONS, LINK_MODES, PRERELEASE_POLICIES, UNIVERSAL_PLATFORMS,
                                 EnvSpec, IndexSettings, SpecRequirement, add_config_setting)
from envstore.spec.requirements_txt import parse_requirements_file
from envstore.spec.sources import SourceFormError, is_local, is_vcs, source_requirement
from envstore.spec.yamlload import Key, Located, load_located

TOP_KEYS = ("name", "channels", "dependencies", "envstore", "prefix", "variables")
ENVSTORE_KEYS = ("index-url", "extra-index-urls", "find-links", "no-index", "link-mode", "packages-from",
                 "platforms", "python", "prerelease", "only-binary", "no-binary", "config-settings",
                 "config-settings-package", "post-link-scripts")
_WHEEL_URL = re.compile(r"^(?:https?|file)://\S+/(?P<file>[^/\s]+\.whl)(?:#\S*)?$")


def parse_env_file(path: Path, text: str | None = None) -> EnvSpec:
    """Every independent problem of the file (bad specs, conda-only names, unsupported lines,
    unknown keys) is reported in one error, so one run shows all there is to fix."""
    if text is None:
        text = path.read_text(encoding="utf-8")
    doc = load_located(path, text)
    if doc.value is None:
        raise SpecError("the file is empty", path, hint="start with `name:` and `dependencies:`")
    if not isinstance(doc.value, dict):
        raise doc.error((), "expected a mapping with `name:` and `dependencies:` at the top level")
    problems: list[SpecError] = []
    data = doc.value
    _collect(problems, _check_keys, doc, (), data, TOP_KEYS)
    name = _collect(problems, _string, doc, ("name",), data.get("name")) if "name" in data else None
    channel_items = _collect(problems, _list, doc, ("channels",), data.get("channels")) or []
    channels = tuple(c for c in (_collect(problems, _string, doc, ("channels", i), item)
                                 for i, item in enumerate(channel_items)) if c is not None)
    settings, link_mode = _collect(problems, _envstore_section, doc, data.get("envstore")) or (IndexSettings(), None)
    platforms, pythons, prerelease = _collect(problems, _declared, doc, data.get("envstore")) or ((), (), None)
    only_binary: set[str] = set()
    no_binary: set[str] = set()
    _collect(problems, _section_binary, doc, data.get("envstore"), only_binary, no_binary)
    config_settings, package_settings = _collect(problems, _config_settings, doc, data.get("envstore")) or ({}, {})
    pip_config: dict[str, Any] = {}  # the `- pip:` list's `-C KEY=VALUE` lines; the envstore: section wins
    constraints: list[SpecRequirement] = []  # its `-c FILE` lines
    python: str | None = None
    python_spec = SpecifierSet()
    reqs: list[SpecRequirement] = []
    for i, item in enumerate(_collect(problems, _list, doc, ("dependencies",), data.get("dependencies")) or []):
        key = ("dependencies", i)
        if isinstance(item, dict):
            settings = _pip_section(doc, key, item, settings, reqs, problems, only_binary, no_binary, pip_config,
                                    constraints)
            continue
        try:
            dep = _conda_dependency(doc, key, _string(doc, key, item))
        except SpecError as e:
            problems.append(e)
            continue
        if isinstance(dep, SpecRequirement):
            reqs.append(dep)
        elif dep is not None:
            python, python_spec = dep
    if problems:
        raise combine(problems, path)
    return EnvSpec(path=path, name=name or path.parent.name or "env", python=python, python_specifier=python_spec,
                   requirements=tuple(reqs), constraints=tuple(constraints), index=settings, link_mode=link_mode,
                   channels=channels,
                   only_binary=frozenset(only_binary), no_binary=frozenset(no_binary), platforms=platforms, pythons=pythons, prerelease=prerelease,
                   config_settings=dict(sorted({**pip_config, **config_settings}.items())),
                   package_config_settings=package_settings)


T = TypeVar("T")


def _collect(problems: list[SpecError], check: Callable[..., T], *args: Any) -> T | None:
    """`check(*args)`, or None with its SpecError added to `problems`."""
    try:
        return check(*args)
    except SpecError as e:
        problems.append(e)
        return None


def _conda_dependency(doc: Located, key: Key, spec_text: str) -> SpecRequirement | tuple[str | None, SpecifierSet] | None:
    """One conda entry: a requirement, the python constraint (conda form, PEP 440), or None
    for an entry that selects nothing here (python_abi)."""
    try:
        spec = parse_match_spec(spec_text)
    except MatchSpecError as e:
        raise doc.error(key, str(e), e.hint) from None
    if spec.name in conda.PYTHON_NAMES:
        if spec.name == "python_abi":
            return None  # the interpreter chosen for `python=` decides it
        if spec.conda_part is not None:
            raise _refusal(doc, key, spec.conda_part)
        specifier = _specifier(doc, key, spec)
        return (spec.written_version() or None), SpecifierSet(specifier)
    only = conda.conda_only(spec.name, _specifier_or_none(spec))
    if only is not None:
        message, hint, group = conda.conda_only_problem(spec_text.strip(), spec.name, _specifier_or_none(spec), only)
        line, col = doc.pos(key)
        err = CondaOnlyPackageError(message, doc.path, line, col, hint)
        err.group = group
        raise err
    if spec.conda_part is not None:
        raise _refusal(doc, key, spec.conda_part)
    specifier = _specifier(doc, key, spec)
    extras = f"[{','.join(spec.extras)}]" if spec.extras else ""
    req = _pep508(doc, key, f"{conda.index_name(spec.name, specifier)}{extras}{specifier}")
    return SpecRequirement(req, _origin(doc, key))


def _refusal(doc: Located, key: Key, e: MatchSpecError) -> SpecError:
    err = doc.error(key, str(e), e.hint)
    if e.build_fix is not None:
        text = str(e).partition(": build strings")[0]
        err.group = Group(("build-string",), "build strings are conda-only", text, f"`{e.build_fix}`",
                          "drop the build parts")
    return err


def _specifier(doc: Located, key: Key, spec: CondaSpec) -> str:
    try:
        return spec.specifier
    except MatchSpecError as e:
        raise doc.error(key, str(e), e.hint) from None


def _specifier_or_none(spec: CondaSpec) -> str:
    try:
        return spec.specifier
    except MatchSpecError:
        return ""


def _pip_section(doc: Located, key: Key, item: dict[Any, Any], settings: IndexSettings,
                 reqs: list[SpecRequirement], problems: list[SpecError],
                 only_binary: set[str] | None = None, no_binary: set[str] | None = None,
                 config: dict[str, Any] | None = None, cons: list[SpecRequirement] | None = None) -> IndexSettings:
    _collect(problems, _check_keys, doc, key, item, ("pip",))
    for j, pip_item in enumerate(_collect(problems, _list, doc, key + ("pip",), item.get("pip")) or []):
        pkey = key + ("pip", j)
        try:
            text = _string(doc, pkey, pip_item).strip()
            if text.startswith("--only-binary") and only_binary is not None:
                only_binary.update(_binary_names(text, "--only-binary"))
            elif text.startswith("--no-binary") and no_binary is not None:
                no_binary.update(_binary_names(text, "--no-binary"))
            elif text.startswith("-"):
                settings = _pip_option(doc, pkey, text, settings, reqs, doc.path, config, cons)
            else:
                reqs.append(_pip_requirement(doc, pkey, text))
        except SpecError as e:
            problems.append(e)
    return settings


def _section_binary(doc: Located, value: Any, only_binary: set[str], no_binary: set[str]) -> None:
    """`envstore: {only-binary: [...], no-binary: [...]}`: pip's two options as keys, each a
    name, `:all:` or a list of them; the same as `--only-binary` / `--no-binary` lines."""
    if not isinstance(value, dict):
        return
    for field, into in (("only-binary", only_binary), ("no-binary", no_binary)):
        if field not in value:
            continue
        key: Key = ("envstore", field)
        v = value[field]
        items = [v] if isinstance(v, str) else _list(doc, key, v)
        for i, item in enumerate(items):
            text = _string(doc, key + (i,) if not isinstance(v, str) else key, item).strip()
            if not text:
                raise doc.error(key, f"`{field}:` names a package, or :all:")
            into.update(_binary_names(f"--{field} {text}", f"--{field}"))


def _config_settings(doc: Located, value: Any) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """`envstore: {config-settings: {KEY: VALUE}, config-settings-package: {NAME: {KEY: VALUE}}}`:
    PEP 517 config_settings for every build, and for one package's (on top of the first), as
    uv's --config-setting and --config-settings-package. A VALUE is a string or a list of them."""
    if not isinstance(value, dict):
        return {}, {}

    def table(key: Key, raw: Any) -> dict[str, Any]:
        if not isinstance(raw, dict):
            raise doc.error(key, "expected a mapping of config-settings (KEY: VALUE)", "e.g. `--build-option: --quiet`")
        out: dict[str, Any] = {}
        for k, v in raw.items():
            if isinstance(v, list) and all(isinstance(x, str) for x in v):
                out[str(k)] = list(v)
            elif isinstance(v, str):
                out[str(k)] = v
            else:
                raise doc.error(key + (k,), f"config-setting {k!r} is {v!r}; a value is a string or a list of strings",
                                "quote it: YAML reads true, 1 and 3.10 as other types")
        return dict(sorted(out.items()))

    every = table(("envstore", "config-settings"), value["config-settings"]) if "config-settings" in value else {}
    per: dict[str, dict[str, Any]] = {}
    if "config-settings-package" in value:
        raw = value["config-settings-package"]
        key: Key = ("envstore", "config-settings-package")
        if not isinstance(raw, dict):
            raise doc.error(key, "expected a mapping of package names to config-settings")
        per = {canonicalize_name(str(name)): table(key + (name,), settings) for name, settings in sorted(raw.items())}
    return every, per


def _binary_names(text: str, option: str) -> set[str]:
    """`--only-binary :all:` / `--no-binary=a,b` as pip spells them: the names the option covers."""
    value = text[len(option):].lstrip(" =")
    return {v if v == ":all:" else canonicalize_name(v) for v in value.split(",") if v.strip()}


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


def _pip_requirement(doc: Located, key: Key, text: str, editable: bool = False) -> SpecRequirement:
    """A `- pip:` entry: a PEP 508 requirement, or a source form (a local path, a `name @ file:`
    or VCS URL; spec/sources.py) built at realize."""
    target = text.partition(" @ ")[2].strip() if " @ " in text else text
    if editable or (is_local(target) and not _WHEEL_URL.match(target)) or is_vcs(text):
        try:
            return source_requirement(text, doc.path.parent, _origin(doc, key), editable)
        except SourceFormError as e:
            raise doc.error(key, str(e), e.hint) from None
    return SpecRequirement(_pep508(doc, key, text), _origin(doc, key))


def _pip_option(doc: Located, key: Key, text: str, settings: IndexSettings,
                reqs: list[SpecRequirement], path: Path, config: dict[str, Any] | None = None,
                cons: list[SpecRequirement] | None = None) -> IndexSettings:
    opt, _, value = text.partition(" ") if " " in text else text.partition("=")
    value = value.strip()
    if opt in ("--index-url", "-i"):
        return IndexSettings(value, settings.extra_index_urls, settings.find_links, settings.no_index)
    if opt == "--extra-index-url":
        return IndexSettings(settings.index_url, settings.extra_index_urls + (value,), settings.find_links, settings.no_index)
    if opt in ("--find-links", "-f"):
        return IndexSettings(settings.index_url, settings.extra_index_urls, settings.find_links + (value,), settings.no_index)
    if opt in ("-r", "--requirement"):
        sub = parse_requirements_file(path.parent / value)
        reqs.extend(sub.requirements)
        if config is not None:
            config.update(sub.config_settings)
        if cons is not None:
            cons.extend(sub.constraints)
        return settings
    if opt in CONFIG_SETTINGS_OPTIONS and config is not None:
        try:
            add_config_setting(config, value)
        except ValueError as e:
            raise doc.error(key, f"{opt}: {e}", f"e.g. `{opt} editable_mode=compat`") from None
        return settings
    if opt in ("-c", "--constraint") and cons is not None:
        if not value:
            raise doc.error(key, f"{text!r}: -c needs a file name", "e.g. `-c constraints.txt`")
        sub = parse_requirements_file(path.parent / value)
        cons.extend(sub.requirements + sub.constraints)
        return settings
    if opt in ("-e", "--editable"):
        if not value:
            raise doc.error(key, f"{text!r}: -e needs a project directory", "e.g. `-e .` or `-e ./path/to/project`")
        reqs.append(_pip_requirement(doc, key, value, editable=True))
        return settings
    raise doc.error(key, f"pip option {opt!r} is not supported here",
                    "supported: -r FILE, -c FILE, -e DIR, --index-url, --extra-index-url, --find-links, "
                    "--only-binary, --no-binary, -C/--config-settings KEY=VALUE")


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


def _declared(doc: Located, value: Any) -> tuple[tuple[str, ...], tuple[str, ...], str | None]:
    """`platforms:`, `python:` (the environments of a universal lock) and `prerelease:`."""
    if not isinstance(value, dict):
        return (), (), None
    k = ("envstore",)

    def names(field: str, check: Callable[[Key, Any], str]) -> tuple[str, ...]:
        v = value.get(field)
        if v is None:
            return ()
        items = [v] if isinstance(v, (str, int, float)) else _list(doc, k + (field,), v)
        return tuple(dict.fromkeys(check(k + (field, i), item) for i, item in enumerate(items)))

    def platform(key: Key, item: Any) -> str:
        text = _string(doc, key, item)
        if text not in UNIVERSAL_PLATFORMS:
            close = difflib.get_close_matches(text, UNIVERSAL_PLATFORMS, n=1)
            raise doc.error(key, f"unknown platform {text!r}",
                            f"did you mean `{close[0]}`?" if close else f"one of: {', '.join(UNIVERSAL_PLATFORMS)}")
        return text

    def python(key: Key, item: Any) -> str:
        if isinstance(item, float):  # YAML reads 3.10 as 3.1: never guess which was meant
            raise doc.error(key, f"python {item!r} is a number here", f"quote it: '{item}' (YAML reads 3.10 as 3.1)")
        text = _string(doc, key, item)
        if not re.fullmatch(r"3\.\d+", text):
            raise doc.error(key, f"expected a python version as X.Y, got {text!r}", "for example '3.12'")
        return text

    prerelease = None
    if "prerelease" in value:
        prerelease = _string(doc, k + ("prerelease",), value["prerelease"])
        if prerelease not in PRERELEASE_POLICIES:
            raise doc.error(k + ("prerelease",), f"unknown prerelease policy {prerelease!r}",
                            f"one of: {', '.join(PRERELEASE_POLICIES)}")
    return names("platforms", platform), names("python", python), prerelease
