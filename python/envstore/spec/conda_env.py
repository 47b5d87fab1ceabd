"""The conda route of an env file: whether it is taken, why (one line for `store lock` and
`store realize` to say), and the env file read as conda reads it: every `dependencies:` entry a
conda match spec (`python` included), the channels, and the `- pip:` list. Never touches the
network or the store.

The conda route is taken when `envstore: {packages-from: conda}` says so, or when an entry other
than `python` and `pip` is channel-pinned (`pytorch::pytorch`), carries a build string or another
conda-only field, or is a known conda-only name (the table in spec/conda.py);
`packages-from: pypi` keeps the wheel route whatever the entries are."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from envstore.spec import conda
from envstore.spec.errors import SpecError
from envstore.spec.matchspec import MatchSpecError, parse_match_spec
from envstore.spec.model import EnvSpec, SpecRequirement
from envstore.spec.yamlload import Located, load_located

PACKAGES_FROM = ("conda", "pypi")
ROUTE_NAMES = frozenset({"python", "pip"})


@dataclass(frozen=True)
class CondaEnv:
    path: Path
    name: str
    channels: tuple[str, ...]
    specs: tuple[str, ...]  # every conda entry as written (`python=3.11`, `pytorch::pytorch`)
    pip: tuple[str, ...]  # the `- pip:` list
    reason: str  # why the conda route is taken
    post_link_scripts: bool = False  # `envstore: {post-link-scripts: run}`


def _packages_from(doc: Located) -> str | None:
    section = doc.value.get("envstore") if isinstance(doc.value, dict) else None
    if not isinstance(section, dict) or "packages-from" not in section:
        return None
    value = section["packages-from"]
    if value not in PACKAGES_FROM:
        raise doc.error(("envstore", "packages-from"), f"unknown packages-from {value!r}",
                        "one of: conda (solve from conda channels), pypi (wheels from the Python index)")
    return value


def _post_link_scripts(doc: Located) -> bool:
    section = doc.value.get("envstore") if isinstance(doc.value, dict) else None
    if not isinstance(section, dict) or "post-link-scripts" not in section:
        return False
    value = section["post-link-scripts"]
    if value not in ("run", "skip"):
        raise doc.error(("envstore", "post-link-scripts"), f"unknown post-link-scripts {value!r}",
                        "one of: skip (the default: conda packages' post-link scripts are not run), run")
    return value == "run"


def _entries(doc: Located) -> list[tuple[int, str]]:
    deps = doc.value.get("dependencies") if isinstance(doc.value, dict) else None
    return [(i, d) for i, d in enumerate(deps or []) if isinstance(d, str)] if isinstance(deps, list) else []


def route_reason(doc: Located) -> str | None:
    """Why this env file takes the conda route, or None for the wheel route."""
    chosen = _packages_from(doc)
    if chosen == "pypi":
        return None
    if chosen == "conda":
        return "the env file says `packages-from: conda`"
    for _i, text in _entries(doc):
        entry = text.strip()
        if "::" in entry:
            return f"{entry!r} is channel-pinned"
        try:
            spec = parse_match_spec(entry)
        except MatchSpecError:
            continue  # the wheel route's parser reports it with its place
        if spec.name in ROUTE_NAMES:
            continue
        if spec.conda_part is not None:
            return f"{entry!r} has a conda-only part ({spec.conda_part})"
        if conda.is_conda_only(spec.name):
            return f"{spec.name} is a conda package with no Python-index equivalent"
    return None


def load_located_file(path: Path) -> Located:
    doc = load_located(path, path.read_text(encoding="utf-8"))
    if not isinstance(doc.value, dict):
        raise doc.error((), "expected a mapping with `name:` and `dependencies:` at the top level")
    return doc


def conda_route(path: Path) -> str | None:
    """The conda route's reason for the env file at `path`, or None (the wheel route). Only a
    conda-style YAML env file can take it; requirements files and pylock input never do."""
    if not path.name.endswith((".yml", ".yaml")):
        return None
    try:
        doc = load_located_file(path)
    except (SpecError, OSError, UnicodeDecodeError):
        return None  # the wheel route's parser reports it, with the same message in its usual place
    return route_reason(doc)


def solvable_conda_route(path: Path) -> str | None:
    """conda_route, for an env file that also names its channels (or says `packages-from:
    conda`): what `store lock` solves from channels. A file with conda-only names and no
    channels gets the wheel route's review instead, which names each with its index equivalent."""
    reason = conda_route(path)
    if reason is None:
        return None
    doc = load_located_file(path)
    if doc.value.get("channels") or _packages_from(doc) == "conda":
        return reason
    return None


def _name(spec: str) -> str:
    head = spec.split("::")[-1].strip()
    for sep in ("=", " ", "<", ">", "!", "~", "["):
        head = head.split(sep)[0]
    return head.lower()


def parse_conda_env(path: Path) -> CondaEnv:
    doc = load_located_file(path)
    reason = route_reason(doc) or "the env file says `packages-from: conda`"
    data = doc.value
    name = data.get("name") if isinstance(data.get("name"), str) else (path.parent.name or "env")
    channels = data.get("channels") or []
    if not isinstance(channels, list) or not all(isinstance(c, str) for c in channels):
        raise doc.error(("channels",), "expected a list of channel names or URLs")
    specs: list[str] = []
    pip: list[str] = []
    for i, item in enumerate(data.get("dependencies") or []):
        if isinstance(item, dict):
            if set(item) != {"pip"} or not isinstance(item["pip"], list):
                raise doc.error(("dependencies", i), "expected `- pip:` followed by a list of requirements")
            pip += [str(r) for r in item["pip"]]
            continue
        if not isinstance(item, str):
            raise doc.error(("dependencies", i), "expected a conda match spec such as `numpy=1.26`")
        specs.append(item.strip())
    if pip:  # pip itself is there for the `- pip:` list, which envstore installs without it
        specs = [s for s in specs if _name(s) != "pip"]
    return CondaEnv(path, name, tuple(channels), tuple(specs), tuple(pip), reason, _post_link_scripts(doc))


def pip_spec(env: CondaEnv) -> EnvSpec:
    """The `- pip:` list as an EnvSpec for the wheel resolver (the conda route's pip half): PEP
    508 requirements, each with its env file line; the index comes from the command's flags and
    pip's configuration, as on the wheel route."""
    from packaging.requirements import InvalidRequirement, Requirement  # lazy: only a pip half needs it

    doc = load_located_file(env.path)
    reqs: list[SpecRequirement] = []
    for i, item in enumerate(doc.value.get("dependencies") or []):
        if not isinstance(item, dict):
            continue
        for j, text in enumerate(item.get("pip") or []):
            key = ("dependencies", i, "pip", j)
            text = str(text).strip()
            if text.startswith("-"):
                raise doc.error(key, f"pip option {text.split()[0]!r} in the `- pip:` list of a conda-route env file",
                                "give index options to the command (--index-url, --find-links) instead")
            try:
                req = Requirement(text)
            except InvalidRequirement as e:
                raise doc.error(key, f"invalid requirement {text!r}: {e}",
                                "pip entries are PEP 508: `name[extra]>=1.0; python_version<'3.12'`") from None
            line, _ = doc.pos(key)
            reqs.append(SpecRequirement(req, f"{env.path.name}:{line}" if line else env.path.name))
    return EnvSpec(path=env.path, name=env.name, requirements=tuple(reqs))


__all__ = ["CondaEnv", "SpecError", "conda_route", "parse_conda_env", "pip_spec", "route_reason"]


EXPLICIT = "@EXPLICIT"


def is_explicit(path: Path) -> bool:
    """Whether the file is conda's explicit list (CEP 23): `@EXPLICIT` before any URL."""
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                text = line.strip()
                if text and not text.startswith("#"):
                    return text == EXPLICIT
    except (OSError, UnicodeDecodeError):
        return False
    return False


def read_explicit(path: Path) -> tuple[str, list]:
    """(env name, records) of an @EXPLICIT list: one package URL a line, each with its sha256
    (`URL#sha256:HEX`); `# name: NAME` names the environment (else the file's stem)."""
    from envstore.conda.record import CondaRecord  # lazy: only explicit lists need it

    name = path.stem
    records = []
    seen_marker = False
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        text = line.strip()
        if text.startswith("# name:"):
            name = text.split(":", 1)[1].strip() or name
        if not text or text.startswith("#"):
            continue
        if text == EXPLICIT:
            seen_marker = True
            continue
        where = f"{path.name}:{number}"
        url, _, fragment = text.partition("#")
        if not fragment.startswith("sha256:") or len(fragment) != len("sha256:") + 64:
            raise SpecError(f"{where}: {url!r} has no sha256 (write it as URL#sha256:HEX)", path, number, 1,
                            "`store export --format explicit` writes one")
        fn = url.rsplit("/", 1)[-1]
        stem = fn.removesuffix(".conda").removesuffix(".tar.bz2")
        parts = stem.rsplit("-", 2)
        if fn == stem or len(parts) != 3 or "/" not in url:
            raise SpecError(f"{where}: {url!r} is not a conda package URL (CHANNEL/SUBDIR/NAME-VERSION-BUILD.conda)",
                            path, number, 1)
        channel, subdir = url.rsplit("/", 2)[0], url.rsplit("/", 2)[1]
        records.append(CondaRecord(name=parts[0], version=parts[1], build=parts[2], build_number=0,
                                   channel=channel, subdir=subdir, url=url, sha256=fragment[7:].lower(),
                                   size=None, fn=fn))
    if not seen_marker or not records:
        raise SpecError(f"{path.name}: an @EXPLICIT list with no package URLs", path)
    return name, sorted(records, key=lambda r: r.name)
