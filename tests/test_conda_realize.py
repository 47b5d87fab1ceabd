"""The conda route end to end through `store realize`: real packages from a real channel (built
by rattler-build, served on 127.0.0.1 and as file://), placeholders rewritten for the store path,
conda-meta records that rattler reads, the lock, sharing between envs, gc, and the refusals."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from conda_channel import ServedChannel  # noqa: E402
from conftest import run_store  # noqa: E402


def conda_env(tmp_path: Path, alias: str, condarc: str = "") -> dict[str, str]:
    rc = tmp_path / "condarc"
    rc.write_text(condarc)
    env = dict(os.environ, ENVSTORE_CHANNEL_ALIAS=alias, CONDARC=str(rc))
    for k in [k for k in env if k.startswith("CONDA_OVERRIDE_")]:
        del env[k]
    return env


def prefixes(store_root: Path) -> list[str]:
    envs = store_root / "envs"
    return sorted(n for n in os.listdir(envs) if not n.startswith(".")) if envs.is_dir() else []


def write_env(directory: Path, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "env.yml"
    path.write_text(text)
    return path


def realize(env_file: Path, store_root: Path, env: dict[str, str], *extra: str) -> subprocess.CompletedProcess:
    return run_store("realize", *extra, str(env_file), store_root=store_root, env=env)


def realized(env_file: Path, store_root: Path, env: dict[str, str]) -> tuple[Path, str]:
    proc = realize(env_file, store_root, env)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 1, proc.stdout
    return Path(lines[0]), proc.stderr


def demotool(channel: str = "channel") -> str:
    return f"name: tool\nchannels:\n  - {channel}\ndependencies:\n  - demotool\nenvstore:\n  packages-from: conda\n"


def test_realize_from_a_served_channel(conda_channel, conda_alias_url, store_root: Path, tmp_path: Path) -> None:
    env = conda_env(tmp_path, conda_alias_url)
    env_file = write_env(tmp_path / "proj", demotool())
    prefix, stderr = realized(env_file, store_root, env)
    assert "conda route: the env file says `packages-from: conda`" in stderr
    assert prefix.parent == store_root / "envs"

    # the executable loads libdemo from the prefix's lib/, whose compiled-in prefix is rewritten
    out = subprocess.run([prefix / "bin" / "demotool"], capture_output=True, text=True, check=True)
    assert out.stdout == f"{prefix} 5\n"
    pc = (prefix / "lib" / "pkgconfig" / "demo.pc").read_text()
    assert pc.startswith(f"prefix={prefix}\n")
    lib = (prefix / "lib" / "libdemo.so.1.0.0").read_bytes()
    assert str(prefix).encode() + b"\0" in lib and b"placehold" not in lib
    assert os.readlink(prefix / "lib" / "libdemo.so") == "libdemo.so.1"
    assert os.readlink(prefix / "lib" / "libdemo.so.1") == "libdemo.so.1.0.0"

    # conda-meta reads as a conda environment with rattler's own PrefixRecord
    import rattler

    records = {r.name.normalized: r for r in
               (rattler.PrefixRecord.from_path(p) for p in (prefix / "conda-meta").glob("*.json"))}
    assert set(records) == {"demotool", "libdemo"}
    assert sorted(str(f) for f in records["libdemo"].files) == [
        "include/demo.h", "lib/libdemo.so", "lib/libdemo.so.1", "lib/libdemo.so.1.0.0", "lib/pkgconfig/demo.pc"]
    assert str(records["demotool"].url).startswith(f"{conda_alias_url}/channel/")
    history = (prefix / "conda-meta" / "history").read_text()
    assert "::demotool-1.0.0-" in history and history.startswith("==> ")

    # the lock records every package exactly, and the next realize uses it without solving
    lock = tomllib.loads((env_file.parent / "pylock.toml").read_text())
    rows = {p["name"]: p for p in lock["tool"]["envstore"]["conda"]["packages"]}
    assert set(rows) == {"demotool", "libdemo"}
    for key in ("channel", "subdir", "version", "build", "url", "sha256", "size"):
        assert rows["libdemo"][key], key
    assert rows["libdemo"]["sha256"] == __import__("hashlib").sha256(
        conda_channel.packages["libdemo"].read_bytes()).hexdigest()
    again, stderr = realized(env_file, store_root, env)
    assert again == prefix and "solving" not in stderr
    frozen = realize(env_file, store_root, env, "--frozen")
    assert frozen.returncode == 0 and frozen.stdout.strip() == str(prefix), frozen.stderr
    assert run_store("verify", store_root=store_root).returncode == 0


def test_two_envs_share_inodes_except_rewritten_files(conda_channel, store_root: Path, tmp_path: Path) -> None:
    env = conda_env(tmp_path, conda_channel.root.parent.as_uri())
    name = conda_channel.root.name
    a, _ = realized(write_env(tmp_path / "a", demotool(name)), store_root, env)
    only_lib = f"name: lib\nchannels: [{conda_channel.file_url}]\ndependencies:\n  - {name}::libdemo\n"
    b, stderr = realized(write_env(tmp_path / "b", only_lib), store_root, env)
    assert "is channel-pinned" in stderr
    assert a != b
    same = os.stat(a / "include" / "demo.h"), os.stat(b / "include" / "demo.h")
    assert same[0].st_ino == same[1].st_ino and same[0].st_nlink >= 3  # the blob and both prefixes
    for rewritten in ("lib/libdemo.so.1.0.0", "lib/pkgconfig/demo.pc"):
        ia, ib = os.stat(a / rewritten), os.stat(b / rewritten)
        assert ia.st_ino != ib.st_ino, rewritten
        assert ia.st_nlink >= 2 and ib.st_nlink >= 2, rewritten  # each is a blob of its own
    assert (b / "lib" / "pkgconfig" / "demo.pc").read_text().startswith(f"prefix={b}\n")

    # gc of one env keeps what the other uses
    shutil.rmtree(tmp_path / "a" / ".envstore")
    assert run_store("gc", store_root=store_root).returncode == 0
    assert not a.exists() and b.is_dir()
    assert run_store("verify", store_root=store_root).returncode == 0
    assert os.stat(b / "include" / "demo.h").st_nlink >= 2


def test_unsolvable_specs_are_one_message_and_write_nothing(conda_channel, store_root: Path, tmp_path: Path) -> None:
    env = conda_env(tmp_path, conda_channel.root.parent.as_uri())
    text = f"name: bad\nchannels: [{conda_channel.root.name}]\ndependencies:\n  - demotool\n  - libdemo >=2\n" \
           "envstore:\n  packages-from: conda\n"
    env_file = write_env(tmp_path / "p", text)
    proc = realize(env_file, store_root, env)
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout == ""
    assert "cannot be solved" in proc.stderr and "libdemo >=2" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (env_file.parent / "pylock.toml").exists()
    assert prefixes(store_root) == []


def test_row53_repodata_that_lies_is_refused_then_fixed(conda_channel, store_root: Path, tmp_path: Path) -> None:
    channel = tmp_path / "alias" / "lying"
    shutil.copytree(conda_channel.root, channel)
    served = channel / "linux-64" / conda_channel.packages["libdemo"].name
    good = served.read_bytes()
    served.write_bytes(good[:-1] + bytes([good[-1] ^ 1]))  # same size, other bytes
    env = conda_env(tmp_path, (tmp_path / "alias").as_uri())
    with ServedChannel(tmp_path / "alias") as url:
        env["ENVSTORE_CHANNEL_ALIAS"] = url
        env_file = write_env(tmp_path / "p", demotool("lying"))
        proc = realize(env_file, store_root, env)
        assert proc.returncode == 1, proc.stderr
        assert "hash mismatch" in proc.stderr and "libdemo" in proc.stderr
        assert "Traceback" not in proc.stderr
        assert prefixes(store_root) == []
        served.write_bytes(good)
        prefix, _ = realized(env_file, store_root, env)
    assert (prefix / "bin" / "demotool").is_file()


def test_noarch_python_without_python_is_refused(conda_channel, store_root: Path, tmp_path: Path) -> None:
    env = conda_env(tmp_path, conda_channel.root.parent.as_uri())
    text = f"name: py\nchannels: [{conda_channel.root.name}]\ndependencies:\n  - {conda_channel.root.name}::demopy\n"
    proc = realize(write_env(tmp_path / "p", text), store_root, env)
    assert proc.returncode == 1, proc.stderr
    assert "demopy 0.3.0 is a noarch: python package" in proc.stderr
    assert "Traceback" not in proc.stderr


GPU_ENV = """\
name: gpu
channels:
  - pytorch
  - conda-forge
  - defaults
dependencies:
  - pytorch::pytorch
  - cudatoolkit=11.8
  - mkl=2023.1.0
"""


def test_classic_gpu_env_file_shape_resolves(gpu_channels: Path, store_root: Path, tmp_path: Path) -> None:
    alias = gpu_channels.as_uri()
    env = conda_env(tmp_path, alias, condarc=f"default_channels:\n  - {alias}/main\n")
    env_file = write_env(tmp_path / "gpu", GPU_ENV)
    proc = realize(env_file, store_root, env)
    assert proc.returncode == 1  # pytorch needs __cuda, and this machine has no GPU
    assert "__cuda" in proc.stderr, proc.stderr
    env["CONDA_OVERRIDE_CUDA"] = "11.8"
    prefix, stderr = realized(env_file, store_root, env)
    assert "conda route: 'pytorch::pytorch' is channel-pinned" in stderr
    versions = {p.parent.name: p.read_text().split()[1] for p in (prefix / "share").glob("*/VERSION")}
    assert versions == {"pytorch": "2.1.0", "cudatoolkit": "11.8.0", "mkl": "2023.1.0"}
    lock = tomllib.loads((env_file.parent / "pylock.toml").read_text())
    channels = {p["name"]: p["channel"] for p in lock["tool"]["envstore"]["conda"]["packages"]}
    assert channels == {"pytorch": f"{alias}/pytorch", "cudatoolkit": f"{alias}/conda-forge",
                        "mkl": f"{alias}/conda-forge"}


def test_noarch_python_with_a_conda_python(conda_channel, store_root: Path, tmp_path: Path) -> None:
    """A fully conda prefix: its python is a conda package (made from the CPython running the
    tests), a noarch: python package is placed under lib/pythonX.Y/site-packages with its entry
    point, and an extension module built for that python's ABI imports."""
    env = conda_env(tmp_path, conda_channel.root.parent.as_uri())
    text = "name: py\nchannels: [channel]\ndependencies:\n  - python\n  - channel::demopy\n  - demoext\n"
    prefix, _ = realized(write_env(tmp_path / "p", text), store_root, env)
    xy = f"{sys.version_info.major}.{sys.version_info.minor}"
    ran = subprocess.run([prefix / "bin" / "python", "-c", "import demoext, sys; print(demoext.add(2, 3), sys.prefix)"],
                         capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"})
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == f"5 {prefix}\n"
    stdlib_pyc = prefix / "lib" / f"python{xy}" / "__pycache__" / f"os.{sys.implementation.cache_tag}.pyc"
    assert int.from_bytes(stdlib_pyc.read_bytes()[4:8], "little") == 1  # the store's, hash-based
    assert (prefix / "lib" / f"python{xy}" / "site-packages" / "demopy" / "cli.py").is_file()
    assert not (prefix / "site-packages").exists()
    script = (prefix / "bin" / "demopy").read_text()
    assert script.startswith(f"#!{prefix}/bin/python\n")
    out = subprocess.run([prefix / "bin" / "demopy"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("demopy 0.3.0 ")
    import rattler

    record = rattler.PrefixRecord.from_path(next((prefix / "conda-meta").glob("demopy-*.json")))
    files = sorted(str(f) for f in record.files)
    assert files == ["bin/demopy", f"lib/python{xy}/site-packages/demopy/__init__.py",
                     f"lib/python{xy}/site-packages/demopy/cli.py"]

    # the store's bytecode is in the prefix: unchecked hash-based pycs (PEP 552) that the
    # prefix's python imports as they are, shared by a second env with the same packages
    import importlib.util

    pyc = prefix / "lib" / f"python{xy}" / "site-packages" / "demopy" / "__pycache__" / f"cli.{sys.implementation.cache_tag}.pyc"
    data = pyc.read_bytes()
    assert data[:4] == importlib.util.MAGIC_NUMBER and int.from_bytes(data[4:8], "little") == 1
    loaded = subprocess.run([prefix / "bin" / "python", "-v", "-c", "import demopy.cli"],
                            capture_output=True, text=True, check=True)
    assert f"matches {pyc}" in loaded.stderr or f"code object from '{pyc}'" in loaded.stderr, loaded.stderr
    other, _ = realized(write_env(tmp_path / "q", text.replace("name: py", "name: py2")), store_root, env)
    twin = other / pyc.relative_to(prefix)
    assert other != prefix and twin.stat().st_ino == pyc.stat().st_ino


def _libdemo_with(conda_channel, directory: Path, script: bytes) -> Path:
    """An @EXPLICIT list of one libdemo edited to ship `script` as its post-link script and to
    mark include/demo.h no_link."""
    import hashlib

    from conda_channel import file_member, paths_json, paths_row, read_members, with_paths_json, write_package

    info, pkg = read_members(conda_channel.packages["libdemo"])
    paths = paths_json(info)
    for row in paths["paths"]:
        if row["_path"] == "include/demo.h":
            row["no_link"] = True
    paths["paths"].append(paths_row("bin/.libdemo-post-link.sh", script))
    directory.mkdir(parents=True)
    edited = write_package(directory / conda_channel.packages["libdemo"].name, with_paths_json(info, paths),
                           pkg + [file_member("bin/.libdemo-post-link.sh", script, 0o755)])
    listed = directory / "explicit.txt"
    listed.write_text("@EXPLICIT\n" f"{edited.as_uri()}#sha256:{hashlib.sha256(edited.read_bytes()).hexdigest()}\n")
    return listed


POST_LINK = b"""#!/bin/sh
mkdir -p "$PREFIX/share/libdemo"
printf 'prefix=%s\\n' "$PREFIX" > "$PREFIX/share/libdemo/post-link.txt"
echo "libdemo is set up for $PKG_NAME $PKG_VERSION" >> "$PREFIX/.messages.txt"
"""


def test_no_link_files_are_copies_and_post_link_scripts_run_only_when_asked(conda_channel, store_root: Path,
                                                                          tmp_path: Path) -> None:
    """A file paths.json marks no_link gets its own copy in the prefix (every other file stays a
    hardlink of its blob). A post-link script is not run by default, and the package is named on
    stderr; asked to run it, envstore runs it in a copy of the prefix and keeps what it added,
    rewritten for the store path, in another store path; conda's .messages.txt is printed."""
    listed = _libdemo_with(conda_channel, tmp_path / "x", POST_LINK)
    env = conda_env(tmp_path, conda_channel.root.parent.as_uri())
    prefix, stderr = realized(listed, store_root, env)
    assert "post-link scripts are not run: libdemo 1.0.0" in stderr, stderr
    assert not (prefix / "share" / "libdemo").exists()
    assert (prefix / "include" / "demo.h").stat().st_nlink == 1
    assert (prefix / "bin" / ".libdemo-post-link.sh").stat().st_nlink > 1
    assert run_store("verify", store_root=store_root).returncode == 0

    ran, stderr = realized(listed, store_root, dict(env, ENVSTORE_RUN_POST_LINK_SCRIPTS="1"))
    assert ran != prefix
    assert "libdemo: libdemo is set up for libdemo 1.0.0" in stderr, stderr
    assert (ran / "share" / "libdemo" / "post-link.txt").read_text() == f"prefix={ran}\n"
    assert not (ran / ".messages.txt").exists()
    assert (ran / "include" / "demo.h").stat().st_nlink == 1
    assert run_store("verify", store_root=store_root).returncode == 0
    assert not list((store_root / "tmp").glob("*/post-link"))


@pytest.mark.parametrize(("script", "message"), [
    pytest.param(b"#!/bin/sh\necho 'cannot configure demo' >&2\nexit 3\n",
                 "the post-link script of libdemo 1.0.0 failed (exit 3):\ncannot configure demo", id="fails"),
    pytest.param(b'#!/bin/sh\necho "/* more */" >> "$PREFIX/include/demo.h"\n',
                 "a post-link script changed include/demo.h", id="changes-a-file"),
    pytest.param(b'#!/bin/sh\nrm "$PREFIX/lib/pkgconfig/demo.pc"\n',
                 "a post-link script removed lib/pkgconfig/demo.pc", id="removes-a-file"),
])
def test_post_link_script_that_fails_or_edits_is_refused(conda_channel, store_root: Path, tmp_path: Path,
                                                          script: bytes, message: str) -> None:
    listed = _libdemo_with(conda_channel, tmp_path / "x", script)
    env = dict(conda_env(tmp_path, conda_channel.root.parent.as_uri()), ENVSTORE_RUN_POST_LINK_SCRIPTS="1")
    proc = realize(listed, store_root, env)
    assert proc.returncode == 1, proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert prefixes(store_root) == []
    assert run_store("verify", store_root=store_root).returncode == 0


def test_crash_after_post_link_scripts_leaves_a_store_that_gc_cleans(conda_channel, store_root: Path,
                                                                     tmp_path: Path) -> None:
    """A crash point for the post-link writer: its blobs written, nothing published yet."""
    listed = _libdemo_with(conda_channel, tmp_path / "x", POST_LINK)
    env = dict(conda_env(tmp_path, conda_channel.root.parent.as_uri()), ENVSTORE_RUN_POST_LINK_SCRIPTS="1")
    crashed = realize(listed, store_root, dict(env, _ENVSTORE_TEST_CRASH_AT="conda.after_post_link"))
    assert crashed.returncode == -9, crashed.stderr
    assert run_store("gc", store_root=store_root).returncode == 0
    assert prefixes(store_root) == [] and not list((store_root / "tmp").glob("*"))
    assert run_store("verify", store_root=store_root).returncode == 0
    prefix, _ = realized(listed, store_root, env)
    assert (prefix / "share" / "libdemo" / "post-link.txt").read_text() == f"prefix={prefix}\n"


@pytest.mark.parametrize("point", ["conda.after_ingest", "prefix.before_rename", "prefix.after_rename"])
def test_crash_points_leave_a_store_that_gc_cleans_and_realize_finishes(
        conda_channel, store_root: Path, tmp_path: Path, point: str) -> None:
    env = conda_env(tmp_path, conda_channel.root.parent.as_uri())
    env_file = write_env(tmp_path / "p", demotool())
    crashed = realize(env_file, store_root, dict(env, _ENVSTORE_TEST_CRASH_AT=point))
    assert crashed.returncode == -9, crashed.stderr
    assert run_store("gc", store_root=store_root).returncode == 0
    assert prefixes(store_root) == []
    assert run_store("verify", store_root=store_root).returncode == 0
    prefix, _ = realized(env_file, store_root, env)
    out = subprocess.run([prefix / "bin" / "demotool"], capture_output=True, text=True, check=True)
    assert out.stdout == f"{prefix} 5\n"
    assert run_store("verify", store_root=store_root).returncode == 0


def test_verify_repair_restores_a_conda_prefix(conda_channel, store_root: Path, tmp_path: Path) -> None:
    """RELIABILITY row 26 for conda packages: an edit through one hardlink damages the blob;
    `verify` names it, `verify --repair` fetches the package again and rebuilds the prefix."""
    env = conda_env(tmp_path, conda_channel.root.parent.as_uri())
    prefix, _ = realized(write_env(tmp_path / "p", demotool()), store_root, env)
    header = prefix / "include" / "demo.h"
    good = header.read_bytes()
    os.chmod(header, 0o644)
    header.write_bytes(b"/* damaged */\n")
    assert run_store("verify", store_root=store_root).returncode != 0
    fixed = run_store("verify", "--repair", store_root=store_root, env=env)
    assert fixed.returncode == 0, fixed.stderr
    assert header.read_bytes() == good
    assert run_store("verify", store_root=store_root).returncode == 0
    out = subprocess.run([prefix / "bin" / "demotool"], capture_output=True, text=True, check=True)
    assert out.stdout == f"{prefix} 5\n"


def test_verify_repair_restores_files_rewritten_for_the_prefix(conda_channel, store_root: Path,
                                                               tmp_path: Path) -> None:
    """A file with a placeholder is a blob of this prefix alone (its bytes name the store path),
    and so are the prefix's bytecode and conda-meta records: damaged, they are made again from the
    package by placing it anew, to the same bytes, and the prefix is whole again."""
    env = conda_env(tmp_path, conda_channel.root.parent.as_uri())
    text = "name: py\nchannels: [channel]\ndependencies:\n  - python\n  - channel::demopy\n  - channel::libdemo\n"
    prefix, _ = realized(write_env(tmp_path / "p", text), store_root, env)
    xy = f"{sys.version_info.major}.{sys.version_info.minor}"
    pc = prefix / "lib" / "pkgconfig" / "demo.pc"
    pyc = prefix / "lib" / f"python{xy}" / "site-packages" / "demopy" / "__pycache__" / f"cli.{sys.implementation.cache_tag}.pyc"
    record = next((prefix / "conda-meta").glob("libdemo-*.json"))
    before = {p: p.read_bytes() for p in (pc, pyc, record)}
    assert f"prefix={prefix}\n".encode() in before[pc]
    for path in before:
        os.chmod(path, 0o644)
        path.write_bytes(b"damaged\n")
    assert run_store("verify", store_root=store_root).returncode != 0
    fixed = run_store("verify", "--repair", store_root=store_root, env=env)
    assert fixed.returncode == 0, fixed.stderr
    assert {p: p.read_bytes() for p in before} == before
    assert run_store("verify", store_root=store_root).returncode == 0
    out = subprocess.run([prefix / "bin" / "demopy"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("demopy 0.3.0 ")


def test_row52_store_path_longer_than_the_binary_placeholder(conda_channel, tmp_path: Path) -> None:
    """libdemo's binary placeholder is rattler-build's 255-byte prefix: a store deeper than that
    is refused with one message naming the package and both lengths, and nothing is published."""
    deep = tmp_path.joinpath(*["d" * 60] * 4) / "store"
    env = conda_env(tmp_path, conda_channel.root.parent.as_uri())
    proc = realize(write_env(tmp_path / "p", demotool()), deep, env)
    assert proc.returncode == 1, proc.stderr
    assert "libdemo 1.0.0 (lib/libdemo.so.1.0.0)" in proc.stderr
    assert "is longer than the package's binary prefix placeholder (255 bytes)" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert prefixes(deep) == []


def test_binary_rewrite_pads_and_keeps_offsets() -> None:
    from envstore.install.conda import PlaceholderTooLong, replace_binary

    data = b"\x7fELF\0/build/placeholder_long/lib\0tail /build/placeholder_long\0end"
    out = replace_binary(data, b"/build/placeholder_long", b"/env", "demo")
    assert len(out) == len(data)
    assert out == data.replace(b"/build/placeholder_long/lib\0", b"/env/lib\0" + b"\0" * 19).replace(
        b"tail /build/placeholder_long\0", b"tail /env\0" + b"\0" * 19)
    with pytest.raises(PlaceholderTooLong) as e:
        replace_binary(data, b"/b", b"/much/longer", "demo 1.0 (lib/x)")
    assert "demo 1.0 (lib/x)" in str(e.value) and "(12 bytes)" in str(e.value) and "(2 bytes)" in str(e.value)


def test_export_conda_and_explicit_round_trip_and_diff(conda_channel, store_root: Path, tmp_path: Path) -> None:
    env = conda_env(tmp_path, conda_channel.root.parent.as_uri())
    prefix, _ = realized(write_env(tmp_path / "p", demotool()), store_root, env)

    exported = run_store("export", "--format", "conda", str(prefix), store_root=store_root, env=env)
    assert exported.returncode == 0, exported.stderr
    assert "  - demotool=1.0.0=" in exported.stdout and "  - libdemo=1.0.0=" in exported.stdout
    again, stderr = realized(write_env(tmp_path / "conda", exported.stdout), store_root, env)
    assert again == prefix

    explicit = run_store("export", "--format", "explicit", str(prefix), store_root=store_root, env=env)
    assert explicit.returncode == 0, explicit.stderr
    assert "\n@EXPLICIT\n" in explicit.stdout and "#sha256:" in explicit.stdout
    (tmp_path / "x").mkdir()
    listed = tmp_path / "x" / "explicit.txt"
    listed.write_text(explicit.stdout)
    from_list, stderr = realized(listed, store_root, env)
    assert from_list == prefix
    assert "an @EXPLICIT list" in stderr

    lib, _ = realized(write_env(tmp_path / "lib", "name: tool\nchannels: [channel]\ndependencies:\n"
                                "  - channel::libdemo\n"), store_root, env)
    diff = run_store("diff", str(prefix), str(lib), store_root=store_root, env=env)
    assert diff.returncode == 0, diff.stderr
    assert diff.stdout.startswith("- conda demotool 1.0.0 "), diff.stdout
    assert "libdemo" not in diff.stdout

    wheel_only = run_store("export", "--format", "explicit", str(tmp_path / "p" / "env.yml"),
                           store_root=store_root, env=env)
    assert wheel_only.returncode == 0 and "@EXPLICIT" in wheel_only.stdout  # a conda lock exports too


def test_explicit_list_without_sha256_is_refused(store_root: Path, tmp_path: Path) -> None:
    listed = tmp_path / "explicit.txt"
    listed.write_text("@EXPLICIT\nfile:///nowhere/linux-64/demo-1.0-h0_0.conda#0123456789abcdef0123456789abcdef\n")
    proc = realize(listed, store_root, dict(os.environ, CONDARC=str(tmp_path / "none")))
    assert proc.returncode == 1, proc.stderr
    assert "has no sha256" in proc.stderr and "Traceback" not in proc.stderr


def test_offline_takes_the_store_and_names_what_it_lacks(conda_channel, conda_alias_url, store_root: Path,
                                                         tmp_path: Path) -> None:
    """--offline on the conda route downloads nothing: no lock yet is one message (solving needs
    the served channel's repodata); a lock whose packages this store lacks names them; a store
    that has them realizes without the network."""
    env = conda_env(tmp_path, conda_alias_url)
    env_file = write_env(tmp_path / "proj", demotool())
    unsolved = realize(env_file, store_root, env, "--offline")
    assert unsolved.returncode == 1 and "Traceback" not in unsolved.stderr
    assert "--offline was given" in unsolved.stderr and conda_alias_url in unsolved.stderr, unsolved.stderr
    assert prefixes(store_root) == [] and not (env_file.parent / "pylock.toml").exists()

    prefix, _ = realized(env_file, store_root, env)
    other = tmp_path / "other-store"
    lacking = realize(env_file, other, env, "--offline")
    assert lacking.returncode == 1 and "Traceback" not in lacking.stderr
    assert "--offline: 2 conda packages not in the store (demotool 1.0.0, libdemo" in lacking.stderr, lacking.stderr
    assert prefixes(other) == []

    shutil.rmtree(env_file.parent / ".envstore", ignore_errors=True)  # no fast path: the lock is read
    again = realize(env_file, store_root, env, "--offline")
    assert again.returncode == 0 and again.stdout.strip() == str(prefix), again.stderr


def test_store_lock_solves_the_conda_route(conda_channel, conda_alias_url, store_root: Path, tmp_path: Path) -> None:
    """`store lock` of an env file on the conda route solves it from its channels and writes the
    lock realize then uses; --check says whether it is current; flags of the wheel resolver are
    one message."""
    env = conda_env(tmp_path, conda_alias_url)
    env_file = write_env(tmp_path / "proj", demotool())
    lock_path = env_file.parent / "pylock.toml"
    missing = run_store("lock", "--check", str(env_file), store_root=store_root, env=env)
    assert missing.returncode == 1 and "would change" in missing.stderr and not lock_path.exists()

    locked = run_store("lock", str(env_file), store_root=store_root, env=env)
    assert locked.returncode == 0, locked.stderr
    assert locked.stdout.strip() == str(lock_path) and "locked 2 packages from conda channels" in locked.stderr
    rows = {p["name"] for p in tomllib.loads(lock_path.read_text())["tool"]["envstore"]["conda"]["packages"]}
    assert rows == {"demotool", "libdemo"}
    text = lock_path.read_text()
    _prefix, stderr = realized(env_file, store_root, env)
    assert "solving" not in stderr  # realize took the lock store lock wrote

    again = run_store("lock", str(env_file), store_root=store_root, env=env)
    assert again.returncode == 0 and "is current (2 conda packages)" in again.stderr and lock_path.read_text() == text
    assert run_store("lock", "--check", str(env_file), store_root=store_root, env=env).returncode == 0
    env_file.write_text(demotool().replace("  - demotool\n", "  - demotool\n  - libdemo >=1\n"))
    stale = run_store("lock", "--check", str(env_file), store_root=store_root, env=env)
    assert stale.returncode == 1 and "would change" in stale.stderr and lock_path.read_text() == text
    upgraded = run_store("lock", "--upgrade", str(env_file), store_root=store_root, env=env)
    assert upgraded.returncode == 0, upgraded.stderr
    assert run_store("lock", "--check", str(env_file), store_root=store_root, env=env).returncode == 0

    wrong = run_store("lock", "--python", "3.11", str(env_file), store_root=store_root, env=env)
    assert wrong.returncode == 2 or wrong.returncode == 1
    assert "--python is not for an env file on the conda route" in wrong.stderr and "Traceback" not in wrong.stderr
