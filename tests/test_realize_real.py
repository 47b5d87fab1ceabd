"""Real environments from the index, realized and used: dependency consistency (pip check),
every top-level module imports, console scripts start, a first import writes nothing; and the
same lock installed by pip into a plain venv gives the same files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import run_store, tree_snapshot

CLI_SET = ["click", "rich", "httpx"]
DATA_SET = ["numpy", "pandas", "scipy", "matplotlib", "scikit-learn"]


def pyenv_versions() -> list[str]:
    """X.Y of the CPythons pyenv has here, newest first (discovered, never assumed)."""
    root = os.environ.get("PYENV_ROOT")
    if not root:
        try:
            root = subprocess.run(["pyenv", "root"], capture_output=True, text=True).stdout.strip()
        except OSError:
            return []
    versions = set()
    for d in Path(root, "versions").glob("3.*"):
        parts = d.name.split(".")
        if len(parts) >= 2 and parts[1].isdigit() and (d / "bin").is_dir():
            versions.add((int(parts[0]), int(parts[1])))
    return [f"{a}.{b}" for a, b in sorted(versions, reverse=True)]


def write_env(d: Path, name: str, python: str, packages: list[str]) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    env = d / "env.yml"
    deps = "\n".join(f"      - {p}" for p in packages)
    env.write_text(f"name: {name}\ndependencies:\n  - python={python}\n  - pip:\n{deps}\n")
    return env


def top_level_modules(site: Path) -> list[str]:
    names = set()
    for dist in site.glob("*.dist-info"):
        top = dist / "top_level.txt"
        if top.is_file():
            names.update(n.strip() for n in top.read_text().split() if n.strip())
    return sorted(n for n in names if (site / n).exists() or (site / f"{n}.py").exists() or any(site.glob(f"{n}.*.so")))


def check_environment(prefix: Path) -> None:
    py = prefix / "bin" / "python"
    site = next(prefix.glob("lib/python*/site-packages"))
    check = subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "check"], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr

    modules = top_level_modules(site)
    assert modules
    before = tree_snapshot(prefix)
    code = "import importlib, sys\nfor m in sys.argv[1:]:\n    importlib.import_module(m)\n"
    imported = subprocess.run([str(py), "-c", code, *modules], capture_output=True, text=True,
                              env={**os.environ, "MPLBACKEND": "Agg"})
    assert imported.returncode == 0, imported.stderr
    assert tree_snapshot(prefix) == before, "a first import wrote into the prefix"

    for script in sorted((prefix / "bin").iterdir()):
        if script.name.startswith("python") or not os.access(script, os.X_OK):
            continue
        proc = subprocess.run([str(script), "--help"], capture_output=True, text=True, stdin=subprocess.DEVNULL,
                              timeout=120)
        # The launcher ran the prefix's interpreter and imported its entry point; what the tool
        # then says about --help (some reject it) is the tool's business.
        for broken in ("ModuleNotFoundError", "ImportError", "bad interpreter", "No such file"):
            assert broken not in proc.stderr, (script, proc.stderr)


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("real") / "store"


def test_cli_set(store_dir: Path, tmp_path: Path) -> None:
    py = f"{sys.version_info[0]}.{sys.version_info[1]}"
    env = write_env(tmp_path / "cli", "cli", py, CLI_SET)
    proc = run_store("realize", str(env), store_root=store_dir)
    assert proc.returncode == 0, proc.stderr
    check_environment(Path(proc.stdout.strip()))


@pytest.mark.parametrize("rank", [0, 1])
def test_data_science_set_on_two_interpreters(store_dir: Path, tmp_path: Path, rank: int) -> None:
    candidates = [v for v in pyenv_versions() if v in ("3.10", "3.11", "3.12", "3.13")]
    if len(candidates) <= rank:
        pytest.skip(f"only {len(candidates)} pyenv interpreters between 3.10 and 3.13 here: {candidates}")
    python = candidates[rank]
    env = write_env(tmp_path / f"ds{rank}", f"ds-{python}", python, DATA_SET)
    proc = subprocess.run(["store", "--store", str(store_dir), "realize", str(env)], capture_output=True, text=True,
                          timeout=1200)
    assert proc.returncode == 0, proc.stderr
    prefix = Path(proc.stdout.strip())
    assert prefix.glob(f"lib/python{python}/site-packages/numpy")
    check_environment(prefix)


def test_same_files_as_pip_installs(store_dir: Path, tmp_path: Path) -> None:
    py = f"{sys.version_info[0]}.{sys.version_info[1]}"
    env = write_env(tmp_path / "cmp", "cmp", py, ["click==8.1.7", "rich==13.7.1"])
    proc = run_store("realize", str(env), store_root=store_dir)
    assert proc.returncode == 0, proc.stderr
    prefix = Path(proc.stdout.strip())

    import tomllib

    lock = tomllib.loads((env.parent / "pylock.toml").read_text())
    reqs = tmp_path / "requirements.txt"
    reqs.write_text("".join(
        f"{p['name']}=={p['version']} --hash=sha256:{p['wheels'][0]['hashes']['sha256']}\n" for p in lock["packages"]
    ))
    venv = tmp_path / "venv"
    subprocess.run([os.path.realpath(prefix / "bin" / "python"), "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps", "--only-binary=:all:",
                    "--require-hashes", "-r", str(reqs)], check=True)

    ours = next(prefix.glob("lib/python*/site-packages"))
    theirs = next(venv.glob("lib/python*/site-packages"))
    skip_names = {"RECORD", "INSTALLER", "direct_url.json", "REQUESTED"}
    compared = 0
    for p in lock["packages"]:
        dist = next(theirs.glob(f"{p['name'].replace('-', '_')}-{p['version']}.dist-info"), None) or next(
            d for d in theirs.glob("*.dist-info") if d.name.lower().startswith(p["name"].replace("-", "_").lower() + "-"))
        for row in (dist / "RECORD").read_text().splitlines():
            rel = row.split(",")[0]
            if Path(rel).name in skip_names or "__pycache__" in rel or rel.endswith(".pyc"):
                continue
            pip_file = (theirs / rel).resolve()
            our_file = (ours / rel) if not rel.startswith("..") else prefix / "bin" / Path(rel).name
            assert our_file.exists(), f"{rel} missing from the prefix"
            a, b = pip_file.read_bytes(), our_file.read_bytes()
            if rel.startswith(".."):  # scripts: all but the shebang line
                a, b = a.split(b"\n", 1)[1], b.split(b"\n", 1)[1]
            assert a == b, rel
            compared += 1
    assert compared > 50
