"""Env files in, EnvSpec out: conda-style env.yml/environment.yml, requirements.txt, or an
existing pylock.toml (its pins become the requirements). See model.py for the data."""

from __future__ import annotations

from pathlib import Path

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from envstore.lockfile import read_lock
from envstore.project import DEFAULT_ENV_FILES, find_default_env_file
from envstore.spec.errors import CondaOnlyPackageError, SpecError
from envstore.spec.model import EnvSpec, IndexSettings, SpecRequirement
from envstore.spec.requirements_txt import parse_requirements_file


def find_env_file(directory: Path | None = None) -> Path:
    """`env.yml`, then `environment.yml` (then their `.yaml` spellings), in the directory
    (default: the current one)."""
    base = Path(directory) if directory else Path.cwd()
    found = find_default_env_file(base)
    if found is not None:
        return found
    raise SpecError(f"no env.yml or environment.yml in {base}", hint="name the env file: store lock FILE")


def load_spec(path: Path | str) -> EnvSpec:
    path = Path(path)
    if not path.is_file():
        raise SpecError(f"env file not found: {path}", hint="check the path, or run in the env file's directory")
    name = path.name
    if name.endswith((".yml", ".yaml")):
        # lazy: YAML and py-rattler load only when a .yml env file is read
        from envstore.spec.envfile import parse_env_file

        return parse_env_file(path)
    if name.startswith("pylock") and name.endswith(".toml"):
        return spec_from_lock(path)

    return parse_requirements_file(path)


def spec_from_lock(path: Path) -> EnvSpec:
    """A pylock.toml as input: every locked package pinned to its version."""
    lock = read_lock(path)
    reqs = []
    for p in lock.packages:
        text = f"{p.name}=={p.version}" + (f"; {p.marker}" if p.marker else "")
        reqs.append(SpecRequirement(Requirement(text), f"{path.name}"))
    py = SpecifierSet(lock.requires_python or "")
    return EnvSpec(path=path, name=path.parent.resolve().name or "env",
                   python=str(py) or None, python_specifier=py, requirements=tuple(reqs))


__all__ = [
    "CondaOnlyPackageError", "DEFAULT_ENV_FILES", "EnvSpec", "IndexSettings", "SpecError",
    "SpecRequirement", "find_env_file", "load_spec", "spec_from_lock",
]
