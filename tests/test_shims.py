"""The native shims end to end: two real projects on two interpreters (discovered at run time),
dispatch by directory with no PATH change between calls, .python-version, the default profile,
console scripts, fall-through and the loop guard, the staleness warning, and bad input."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from conftest import run_store
from test_realize_real import pyenv_versions

pytestmark = pytest.mark.network

PREFIX_CODE = "import sys; print(sys.prefix)"


def two_versions() -> list[str]:
    found = [v for v in pyenv_versions() if v in ("3.10", "3.11", "3.12", "3.13")]
    if len(found) < 2:
        pytest.skip(f"needs two pyenv CPythons among 3.10-3.13, found {found or 'none'}")
    return found[:2]


def write_env(d: Path, name: str, python: str, packages: list[str], filename: str = "env.yml") -> Path:
    d.mkdir(parents=True, exist_ok=True)
    env = d / filename
    deps = "\n".join(f"      - {p}" for p in packages)
    env.write_text(f"name: {name}\ndependencies:\n  - python={python}\n  - pip:\n{deps}\n")
    return env


class World:
    """One store with projects A and B, the shims installed, and a PATH that never changes."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.store = base / "store"
        self.va, self.vb = two_versions()
        # pip is a console script in both prefixes: `pip --version` names the prefix it runs from.
        self.a = write_env(base / "A", "proj-a", self.va, ["six", "pip"])
        self.b = write_env(base / "B", "proj-b", self.vb, ["idna", "pip"])
        self.prefix_a = Path(run_store("realize", str(self.a), store_root=self.store, check=True).stdout.strip())
        self.prefix_b = Path(run_store("realize", str(self.b), store_root=self.store, check=True).stdout.strip())
        out = run_store("shims", "install", store_root=self.store, check=True)
        self.shim_dir = Path(out.stdout.strip())
        self.install_stderr = out.stderr
        self.fallback = base / "fallback-bin"
        self.fallback.mkdir()
        self.outside = base / "outside"
        self.outside.mkdir()
        self.path = os.pathsep.join([str(self.shim_dir), str(self.fallback), os.environ.get("PATH", "")])

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ENVSTORE_", "PYTHON", "VIRTUAL_ENV"))}
        env["PATH"] = self.path
        env.update(extra)
        return env

    def run(self, cwd: Path, *argv: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(list(argv), cwd=cwd, env=self.env(**extra), capture_output=True, text=True, timeout=60)

    def prefix_in(self, cwd: Path, name: str = "python") -> str:
        proc = self.run(cwd, name, "-c", PREFIX_CODE)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.strip()


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> World:
    return World(tmp_path_factory.mktemp("shims"))


def test_install_prints_dir_and_path_line(world: World) -> None:
    assert world.shim_dir == world.store / "shims" / "bin"
    assert "export PATH=" in world.install_stderr and str(world.shim_dir) in world.install_stderr
    for name in ("python", "python3", "pip", f"python{world.va}", f"python{world.vb}", "idna", "envstore-shim"):
        assert (world.shim_dir / name).is_file(), name
        assert os.access(world.shim_dir / name, os.X_OK)
    master = os.stat(world.shim_dir / "envstore-shim")
    assert os.stat(world.shim_dir / "python").st_ino == master.st_ino, "names are hardlinks of one binary"
    assert master.st_mode & 0o777 == 0o755


def test_project_dispatch_without_path_change(world: World) -> None:
    sub = world.a.parent / "src" / "deep"
    sub.mkdir(parents=True, exist_ok=True)
    run_store("use", str(world.prefix_b), store_root=world.store, check=True)
    # Interleaved on purpose: nothing but the working directory changes between calls.
    for _ in range(2):
        assert world.prefix_in(world.a.parent) == str(world.prefix_a)
        assert world.prefix_in(world.b.parent) == str(world.prefix_b)
        assert world.prefix_in(sub) == str(world.prefix_a)
        assert world.prefix_in(world.outside) == str(world.prefix_b)  # the default profile
    assert world.prefix_in(world.b.parent, "python3") == str(world.prefix_b)
    v = world.run(world.a.parent, f"python{world.va}", "-c", "import sys; print(sys.version_info[:2])")
    assert v.stdout.strip() == str(tuple(int(x) for x in world.va.split(".")))
    run_store("use", str(world.a), store_root=world.store, check=True)
    assert world.prefix_in(world.outside) == str(world.prefix_a)


def test_console_scripts_dispatch_the_same_way(world: World) -> None:
    pa = world.run(world.a.parent, "pip", "--version")
    pb = world.run(world.b.parent, "pip", "--version")
    assert str(world.prefix_a) in pa.stdout, pa.stdout + pa.stderr
    assert str(world.prefix_b) in pb.stdout, pb.stdout + pb.stderr
    idna = world.run(world.b.parent, "idna", "--help")
    assert idna.returncode == 0 and "usage" in idna.stdout.lower(), idna.stderr


def test_python_version_file_picks_a_store_interpreter(world: World) -> None:
    d = world.outside / "pinned"
    d.mkdir(exist_ok=True)
    for version in (world.va, world.vb):
        (d / ".python-version").write_text(f"{version}\n")
        out = world.run(d, "python", "-c", "import sys; print(sys.prefix); print('%d.%d' % sys.version_info[:2])")
        prefix, got = out.stdout.split()
        assert got == version and prefix.startswith(str(world.store / "python")), out.stderr
    (d / ".python-version").write_text("2.1\n")
    out = world.run(d, "python", "-c", PREFIX_CODE)
    assert "not in the store" in out.stderr
    assert out.stdout.strip() == str(world.prefix_a)  # ignored with a warning: the profile


def test_fall_through_to_next_path_entry(world: World) -> None:
    fake = world.fallback / "idna"
    fake.write_text("#!/bin/sh\necho fell-through \"$@\"\n")
    fake.chmod(0o755)
    try:
        # A has no idna: the shim skips its own directory and runs the next one on PATH.
        out = world.run(world.a.parent, "idna", "x")
        assert (out.returncode, out.stdout.strip()) == (0, "fell-through x"), out.stderr
        assert world.run(world.b.parent, "idna", "--help").stdout != "fell-through --help\n"
    finally:
        fake.unlink()
    out = world.run(world.a.parent, "idna")
    assert out.returncode == 127 and out.stderr.startswith("error: idna: not found"), out.stderr


def test_pip_never_falls_through_to_another_environment(world: World, tmp_path: Path) -> None:
    fake = world.fallback / "pip"
    fake.write_text("#!/bin/sh\necho another-environments-pip \"$@\"\n")
    fake.chmod(0o755)
    nopip = write_env(world.base / "nopip", "no-pip", world.va, ["six"])
    p_nopip = run_store("realize", str(nopip), store_root=world.store, check=True).stdout.strip()
    try:
        # A project whose environment has no pip: refused, with how to add a package instead.
        out = world.run(nopip.parent, "pip", "install", "idna")
        assert out.returncode == 127 and out.stdout == "", out.stdout + out.stderr
        error, hint = out.stderr.splitlines()
        assert error.startswith("error: pip: ") and "has no pip" in error and str(nopip.parent) in error, error
        assert hint.startswith("hint: ") and "`store add idna`" in hint, hint
        out = world.run(nopip.parent, f"pip{world.va}", "--version")
        assert out.returncode == 127 and "another-environments-pip" not in out.stdout, out.stdout
        # The same for the default profile outside any project.
        run_store("use", p_nopip, store_root=world.store, check=True)
        out = world.run(world.outside, "pip", "--version")
        assert out.returncode == 127 and "default profile" in out.stderr and out.stdout == "", out.stderr
        # A project whose environment has pip runs its own.
        assert str(world.prefix_a) in world.run(world.a.parent, "pip", "--version").stdout
        # Nothing applies (another store: no project, profile or .python-version): PATH's pip is right.
        other = run_store("shims", "install", "--dir", str(tmp_path / "bin"), store_root=tmp_path / "store",
                          check=True)
        env = {**world.env(), "PATH": os.pathsep.join([other.stdout.strip(), str(world.fallback), "/usr/bin", "/bin"])}
        out = subprocess.run(["pip", "install", "six"], cwd=world.outside, env=env, capture_output=True, text=True,
                             timeout=60)
        assert (out.returncode, out.stdout) == (0, "another-environments-pip install six\n"), out.stderr
    finally:
        fake.unlink()
        run_store("use", str(world.prefix_a), store_root=world.store, check=True)


def test_two_shim_copies_on_path_never_loop(world: World) -> None:
    copy = world.base / "shim-copy"
    shutil.copytree(world.shim_dir, copy, symlinks=True)
    env_path = os.pathsep.join([str(world.shim_dir), str(copy), str(world.shim_dir), "/usr/bin", "/bin"])
    start = time.monotonic()
    out = subprocess.run(["idna"], cwd=world.a.parent, env={**world.env(), "PATH": env_path},
                         capture_output=True, text=True, timeout=30)
    assert time.monotonic() - start < 10
    assert out.returncode == 1 and "hops" in out.stderr and out.stderr.count("\n") == 1, out.stderr


def test_several_env_files_active_one_is_chosen(world: World) -> None:
    proj = world.base / "multi"
    main_env = write_env(proj, "multi-main", world.va, ["six"])
    dev_env = write_env(proj, "multi-dev", world.vb, ["six"], filename="dev.yml")
    p_main = run_store("realize", str(main_env), store_root=world.store, check=True).stdout.strip()
    p_dev = run_store("realize", str(dev_env), store_root=world.store, check=True).stdout.strip()
    # The default env file's environment is active until `store use` inside the project says otherwise.
    assert world.prefix_in(proj) == p_main
    out = subprocess.run(["store", "--store", str(world.store), "use", "dev.yml"], cwd=proj,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert world.prefix_in(proj) == p_dev
    (proj / ".envstore" / "active").unlink()
    out = world.run(proj, "python", "-c", "pass")
    assert out.returncode == 1 and "store use" in out.stderr and out.stderr.startswith("error:"), out.stderr
    run_store("use", str(world.prefix_a), store_root=world.store, check=True)


def test_stale_env_file_warns_once(world: World) -> None:
    proj = world.b.parent
    (proj / ".envstore" / ".shim-warned").unlink(missing_ok=True)
    # Everything a realize writes is older than the env file: an edit nobody realized yet.
    old = time.time() - 100
    for p in (proj / "pylock.toml", proj / ".envstore" / "state-v1.json"):
        os.utime(p, (old, old))
    os.utime(proj / ".envstore" / "proj-b", (old, old), follow_symlinks=False)
    os.utime(world.b, (old + 50, old + 50))
    first = world.run(proj, "python", "-c", "pass")
    second = world.run(proj, "python", "-c", "pass")
    assert "warning:" in first.stderr and "store realize" in first.stderr, first.stderr
    assert first.stderr.count("\n") == 1
    assert second.stderr == ""
    run_store("realize", str(world.b), store_root=world.store, check=True)


def test_resolver_and_which(world: World) -> None:
    out = subprocess.run([str(world.shim_dir / "envstore-shim"), "resolve", str(world.a.parent)],
                         capture_output=True, text=True)
    assert out.stdout == f"env\t{world.prefix_a}\n"
    which = run_store("shims", "which", str(world.b.parent), store_root=world.store, check=True)
    assert which.stdout == f"{world.prefix_b}\tenv\n"


def test_console_scripts_refreshed_on_realize(world: World) -> None:
    c = write_env(world.base / "C", "proj-c", world.va, ["six", "wheel"])
    run_store("realize", str(c), store_root=world.store, check=True)
    assert (world.shim_dir / "wheel").is_file()
    assert os.stat(world.shim_dir / "wheel").st_ino == os.stat(world.shim_dir / "envstore-shim").st_ino


def test_foreign_files_in_shim_dir_are_left_alone(tmp_path: Path, world: World) -> None:
    d = tmp_path / "shims"
    d.mkdir()
    (d / "pip").write_text("mine")
    out = run_store("shims", "install", "--dir", str(d), store_root=world.store, check=True)
    assert out.stdout.strip() == str(d)
    assert (d / "pip").read_text() == "mine" and "left alone" in out.stderr
    assert (d / "python").is_file()


def test_master_name_without_command_is_a_usage_error(world: World) -> None:
    out = subprocess.run([str(world.shim_dir / "envstore-shim")], capture_output=True, text=True)
    assert out.returncode == 2 and out.stderr.startswith("error: ") and out.stderr.count("\n") == 1


def test_store_shim_answers_an_unchanged_realize_before_python(world: World, tmp_path: Path) -> None:
    """The `store` shim prints the prefix itself while the env file and lock are unchanged, and
    hands anything changed to the Python `store` (a changed file is never answered from state)."""
    project = write_env(tmp_path / "C", "proj-c", world.va, ["six"])
    prefix = run_store("realize", str(project), store_root=world.store, check=True).stdout.strip()
    shim = str(world.shim_dir / "store")
    argv = [shim, "--store", str(world.store), "realize"]
    python_store = shutil.which("store")
    assert python_store, "the Python `store` is on PATH in the tests"
    only_shims = world.env(PATH=str(world.shim_dir))  # no Python `store` to hand over to
    with_python = world.env(PATH=os.pathsep.join([str(world.shim_dir), str(Path(python_store).parent)]))

    def realize(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(argv, cwd=project.parent, env=env, capture_output=True, text=True, timeout=120)

    native = realize(only_shims)
    assert (native.returncode, native.stdout.strip()) == (0, prefix), native.stderr
    for changed in (project, project.parent / "pylock.toml"):
        changed.write_text(changed.read_text() + "\n# edited\n")
        refused = realize(only_shims)
        assert refused.returncode == 127 and "store: not found" in refused.stderr, (changed.name, refused)
        handed = realize(with_python)  # the Python store checks the lock and records the new state
        assert (handed.returncode, handed.stdout.strip()) == (0, prefix), handed.stderr
        again = realize(only_shims)
        assert (again.returncode, again.stdout.strip()) == (0, prefix), again.stderr
    links = [p for p in (project.parent / ".envstore").iterdir() if p.is_symlink() and os.readlink(p) == prefix]
    assert len(links) == 1, links
    links[0].unlink()  # the out-link no longer names the prefix
    assert realize(only_shims).returncode == 127
