"""The `store` command as a user runs it: stdout carries data only, errors are one message."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from conftest import run_store
from envstore import __version__, default_root


def test_version_and_help() -> None:
    proc = run_store("--version")
    assert proc.returncode == 0 and __version__ in proc.stdout
    helped = run_store("--help")
    assert "ENVSTORE_ROOT" in helped.stdout and "ingest" in helped.stdout


def test_ingest_materialize_verify(real_wheel: Path, store_root: Path, tmp_path: Path) -> None:
    proc = run_store("ingest", str(real_wheel), store_root=store_root, check=True)
    manifest_id = proc.stdout.strip()
    assert len(manifest_id) == 64 and "ingested" in proc.stderr
    out = tmp_path / "tree"
    proc = run_store("materialize", manifest_id, "--into", str(out), store_root=store_root, check=True)
    assert proc.stdout == f"{out}\n"
    assert any(out.rglob("*.py"))
    proc = run_store("verify", store_root=store_root, check=True)
    assert "0 problems" in proc.stderr and proc.stdout == ""


def test_store_root_from_environment(tmp_path: Path) -> None:
    root = tmp_path / "from-env"
    src = tmp_path / "src"
    src.mkdir()
    (src / "f").write_text("x")
    proc = run_store("ingest", str(src), env={**os.environ, "ENVSTORE_ROOT": str(root)}, check=True)
    assert (root / "manifests-v1" / f"{proc.stdout.strip()}.json").is_file()


def test_default_root_follows_xdg(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.delenv("ENVSTORE_ROOT", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_root() == tmp_path / "envstore"


def test_errors_are_one_message_without_traceback(store_root: Path, tmp_path: Path) -> None:
    not_an_archive = tmp_path / "notes.txt"
    not_an_archive.write_text("hello")
    proc = run_store("ingest", str(not_an_archive), store_root=store_root)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr

    fake = tmp_path / "fake-1.0-py3-none-any.whl"
    fake.write_text("<html>not a wheel</html>")
    proc = run_store("ingest", str(fake), store_root=store_root)
    assert proc.returncode == 1 and "not a ZIP archive" in proc.stderr and "Traceback" not in proc.stderr

    proc = run_store("materialize", "0" * 64, "--into", str(tmp_path / "x"), store_root=store_root)
    assert proc.returncode == 1 and "not in the store" in proc.stderr

    proc = run_store("ingest", store_root=store_root)
    assert proc.returncode == 2 and "Missing argument" in proc.stderr


def test_read_only_store_is_a_clear_error(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        import pytest

        pytest.skip("root ignores directory permissions")
    root = tmp_path / "ro"
    src = tmp_path / "src"
    src.mkdir()
    (src / "f").write_text("x")
    run_store("ingest", str(src), store_root=root, check=True)
    (src / "g").write_text("y")
    for d in [root, *root.rglob("*")]:
        if d.is_dir():
            d.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        proc = run_store("ingest", str(src), store_root=root)
        assert proc.returncode == 1 and "Permission denied" in proc.stderr and "Traceback" not in proc.stderr
    finally:
        for d in [root, *root.rglob("*")]:
            if d.is_dir():
                d.chmod(0o755)


# --- env files in one directory: one out-link each; -f/--file and a positional ENV_FILE everywhere ---

import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402

import pytest  # noqa: E402

MATRIX_PY = "%d.%d" % sys.version_info[:2]
SIX_PINS = ("1.15.0", "1.16.0", "1.17.0")


def store_in(cwd: Path, root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["store", "--store", str(root), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120)


@pytest.fixture(scope="module")
def ci_matrix(tmp_path_factory) -> dict:
    """CI-matrix env files that all say `name: ci` (env.yml first), realized in order."""
    base = tmp_path_factory.mktemp("matrix")
    proj = base / "proj"
    proj.mkdir()
    files = []
    for i, pin in enumerate(SIX_PINS):
        f = proj / ("env.yml" if i == 0 else f"ci-six{pin.replace('.', '')}.yml")
        f.write_text(f"name: ci\ndependencies:\n  - python={MATRIX_PY}\n  - pip:\n      - six=={pin}\n")
        files.append(f)
    root = base / "store"
    runs = [store_in(proj, root, "realize", f.name) for f in files]
    for r in runs:
        assert r.returncode == 0, r.stderr
    return {"root": root, "proj": proj, "files": files, "runs": runs,
            "prefixes": [Path(r.stdout.strip()) for r in runs]}


@pytest.mark.network
def test_env_files_with_one_name_keep_their_own_out_links(ci_matrix) -> None:
    root, proj, files, prefixes = ci_matrix["root"], ci_matrix["proj"], ci_matrix["files"], ci_matrix["prefixes"]
    assert len(set(prefixes)) == len(SIX_PINS)
    dot = proj / ".envstore"
    # The common case keeps DESIGN's `.envstore/<name>`; the others are named after their files.
    assert os.readlink(dot / "ci") == str(prefixes[0])
    for f, prefix, run in zip(files[1:], prefixes[1:], ci_matrix["runs"][1:]):
        assert os.readlink(dot / f.stem) == str(prefix)
        assert f".envstore/{f.stem}" in run.stderr and "env.yml" in run.stderr, run.stderr
    listed = json.loads(run_store("list", "--json", store_root=root, check=True).stdout)["data"]
    roots = {Path(d["path"]): d["roots"] for d in listed}
    assert all(roots[p] for p in prefixes), roots
    run_store("gc", store_root=root, check=True)
    assert all(p.is_dir() for p in prefixes), "every env file's prefix survives gc"
    # Already realized: the fast path answers each file with its own prefix, silently.
    for f, prefix in zip(files, prefixes):
        again = store_in(proj, root, "realize", "-f", f.name)
        assert (again.returncode, again.stdout, again.stderr) == (0, f"{prefix}\n", "")
    # `store use` inside the project makes that file's own out-link the active one (for the shims).
    used = store_in(proj, root, "use", "-f", files[2].name)
    assert used.returncode == 0, used.stderr
    assert (dot / "active").read_text().splitlines()[:2] == [files[2].stem, files[2].name]
    which = store_in(proj, root, "shims", "which")
    assert which.stdout.split("\t")[0] == str(prefixes[2]), which.stderr
    store_in(proj, root, "use", "-f", "env.yml")


@pytest.mark.network
def test_repointing_another_env_files_out_link_is_never_silent(ci_matrix) -> None:
    root, proj, files, prefixes = ci_matrix["root"], ci_matrix["proj"], ci_matrix["files"], ci_matrix["prefixes"]
    dot = proj / ".envstore"
    saved = (dot / "links-v1").read_text()
    # A project whose out-links were made before they recorded their env file.
    (dot / "links-v1").unlink()
    (dot / "state-v1.json").unlink()
    try:
        out = store_in(proj, root, "realize", files[1].name)
        assert out.returncode == 0 and out.stdout.strip() == str(prefixes[1]), out.stderr
        assert os.readlink(dot / "ci") == str(prefixes[1])
        warning = [line for line in out.stderr.splitlines() if line.startswith("warning:")]
        assert len(warning) == 1 and prefixes[0].name in warning[0] and prefixes[1].name in warning[0], out.stderr
    finally:
        (dot / "links-v1").write_text(saved)
        assert store_in(proj, root, "realize", files[0].name).returncode == 0
        assert os.readlink(dot / "ci") == str(prefixes[0])
    # env.yml's realize takes its link back; the other file's own link was never touched.
    assert os.readlink(dot / files[1].stem) == str(prefixes[1])


@pytest.mark.network
def test_env_file_as_option_or_argument_everywhere(ci_matrix) -> None:
    root, proj, files, prefixes = ci_matrix["root"], ci_matrix["proj"], ci_matrix["files"], ci_matrix["prefixes"]
    f, prefix = files[1].name, prefixes[1]
    lock = proj / "pylock.ci-six1160.toml"
    for args in (("lock", f), ("lock", "-f", f), ("lock", "--file", f)):
        out = store_in(proj, root, *args)
        assert (out.returncode, out.stdout) == (0, f"{lock}\n"), (args, out.stderr)
    for args in (("realize", f), ("realize", "-f", f), ("realize", f"--file={f}")):
        out = store_in(proj, root, *args)
        assert (out.returncode, out.stdout) == (0, f"{prefix}\n"), (args, out.stderr)
    code = "import sys, six; print(sys.prefix, six.__version__)"
    for args in (("run", "-f", f, "--", "python", "-c", code), ("run", f, "--", "python", "-c", code),
                 ("run", f, "python", "-c", code), ("run", "--file", f, "python", "-c", code)):
        out = store_in(proj, root, *args)
        assert (out.returncode, out.stdout.split()) == (0, [str(prefix), "1.16.0"]), (args, out.stderr)
    out = store_in(proj, root, "run", "--", "python", "-c", code)  # the default env file, env.yml
    assert (out.returncode, out.stdout.split()) == (0, [str(prefixes[0]), "1.15.0"]), out.stderr
    for cmd, shows in (("activate", str(prefix)), ("export", "six==1.16.0")):
        a, b = store_in(proj, root, cmd, f), store_in(proj, root, cmd, "-f", f)
        assert a.returncode == b.returncode == 0 and a.stdout == b.stdout, (cmd, a.stderr, b.stderr)
        assert shows in a.stdout, (cmd, a.stdout)
    # Bad input: two different env files, or none after -f, is one usage error.
    for args in (("realize", "-f", f, "env.yml"), ("use", "-f", f, "env.yml"), ("run", f), ("export",)):
        out = store_in(proj, root, *args)
        assert out.returncode == 2 and out.stdout == "" and "Traceback" not in out.stderr, (args, out.stderr)
        assert [line for line in out.stderr.splitlines() if line.startswith("Error:")], (args, out.stderr)
