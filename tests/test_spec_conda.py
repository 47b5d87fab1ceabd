"""Conda env files as real projects write them, through `store lock`: match-spec forms read by
py-rattler, conda names that mean something else on the index, and every problem of a file
reported in one run (issue 13 items 2-4, issue 12 item 6)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import fetch_wheel
from interp_helpers import pyenv_pythons, run_store

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib


def lock(tmp_path: Path, text: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "env.yml").write_text(text)
    return subprocess.run(["store", "--store", str(tmp_path / "store"), "lock", str(tmp_path / "env.yml")],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)


def refused(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 1, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr and not (Path(proc.args[-1]).parent / "pylock.toml").exists()
    return proc.stderr


def test_every_problem_of_the_file_in_one_run(tmp_path):
    """One run names every independent problem (bad specs, conda-only names, unsupported pip
    lines, an unknown key), each with its line, instead of stopping at the first."""
    err = refused(lock(tmp_path, """\
name: many
channel: [conda-forge]
dependencies:
  - python=3.11
  - bar=1.0|2.0
  - numpy*
  - foo=1.1.1t
  - libtiff
  - six
  - pip:
    - requests
    - hg+https://example.invalid/org/project@v1.0#egg=project
    - 'not a [req'
"""))
    first, *rest = err.splitlines()
    assert first == "error: env.yml: 7 problems (1 conda-only package, 6 other):", err
    for where, needle in [
        ("env.yml:2:1", "unknown key 'channel'"), ("env.yml:5:5", "alternatives ('|')"),
        ("env.yml:6:5", "'numpy*' is not a conda match spec"), ("env.yml:7:5", "'1.1.1t' is not a PEP 440 version"),
        ("env.yml:8:5", "libtiff is a conda-only package"), ("env.yml:12:7", "hg URLs are not supported (git is)"),
    ]:
        assert any(line.strip().startswith(f"{where}: ") and needle in line for line in rest), (where, err)
    assert "env.yml:13:7: invalid requirement 'not a [req'" in err


def test_exported_file_with_150_build_strings_is_one_list(tmp_path):
    """`conda env export` pins a build for every package: one run says so for all of them, on
    one line with the fixes, instead of one build string per run (55 rounds for such a file)."""
    pkgs = [f"pkg{i}=1.{i}.0=py39h06a4308_{i}" for i in range(150)]
    text = "name: exported\ndependencies:\n" + "".join(f"  - {p}\n" for p in pkgs)
    err = refused(lock(tmp_path, text + "  - openssl=1.1.1t=h7f8727e_0\n  - libffi=3.4.2=h6a678d5_6\n"))
    lines = err.splitlines()
    assert lines[0] == "error: env.yml: 152 problems (2 conda-only packages, 150 build strings):"
    builds = next(ln for ln in lines if "build strings are conda-only" in ln)
    assert builds.strip().startswith("env.yml:3:5 (and lines 4, 5,") and "'pkg149=1.149.0=py39h06a4308_149'" in builds
    assert "`pkg0==1.0.0`" in err and "`pkg149==1.149.0`" in err
    assert "conda-only packages (a C library): openssl, libffi" in err
    assert lines[-1].startswith("hint: `conda env export --from-history`")


def test_conda_only_names_with_an_index_equivalent_name_it(tmp_path):
    """mkl, intel-openmp, tbb and the CUDA libraries are wheels on the index: the message says
    which, and the hint is about that package (not about torch)."""
    err = refused(lock(tmp_path, """\
dependencies:
  - python=3.10
  - cudatoolkit=11.8
  - mkl=2023.1.0
  - intel-openmp
  - tbb=2021.10
"""))
    assert "'cudatoolkit=11.8': cudatoolkit is a conda package" in err and "`nvidia-*-cu11` wheels" in err
    assert "`nvidia-cuda-runtime-cu11==11.8.*`" in err
    assert "'mkl=2023.1.0'" in err and "the `mkl` wheel" in err and "as `mkl==2023.1.0`" in err
    assert "the `intel-openmp` wheel" in err and "as `tbb==2021.10.*`" in err
    assert "no Python-package equivalent" not in err and "torch" not in err


def test_names_that_differ_between_conda_and_the_index(tmp_path):
    """conda's graphviz, pandoc, git, zstd are C tools (the index's packages of those names are
    unrelated), ffmpeg … nb_conda exist only on conda, and pyqt 4 is PyQt4, which has no wheel:
    none of them is sent to the index, and pyqt=4.11.4 never becomes PyQt5==4.11.4."""
    names = ["graphviz", "pandoc", "git", "zstd", "ffmpeg", "libtiff", "lcms2", "c-compiler",
             "cxx-compiler", "nb_conda"]
    err = refused(lock(tmp_path, "dependencies:\n  - python=3.11\n" + "".join(f"  - {n}\n" for n in names)
                       + "  - pyqt=4.11.4\n"))
    n = len(names) + 1
    assert err.startswith(f"error: env.yml: {n} problems ({n} conda-only packages):")
    for n in ("graphviz", "pandoc", "git", "zstd", "ffmpeg", "nb_conda"):
        assert f"'{n}': {n} is a conda" in err, (n, err)
    assert "(and line 9): conda-only packages (a C library): libtiff, lcms2" in err
    assert "(and line 11): conda-only packages (a compiler toolchain): c-compiler, cxx-compiler" in err
    for n in ("graphviz", "pandoc", "git", "zstd"):
        assert f"the index's `{n}` is " in err and "not taken from there" in err
    assert "`pypandoc_binary`" in err
    assert "'pyqt=4.11.4': pyqt is a conda-only package (PyQt4, which is not on the Python index as a wheel)" in err
    assert "pyqt5==" not in err.lower()


def test_a_non_git_vcs_line_says_git_is_supported(tmp_path):
    err = refused(lock(tmp_path, """\
dependencies:
  - pip:
    - svn+https://example.invalid/org/project@v1.0#egg=project
"""))
    assert err.startswith("error: env.yml:3:7: 'svn+https://example.invalid/org/project@v1.0#egg=project': "
                          "svn URLs are not supported (git is)"), err
    assert "Expected semicolon" not in err and "PEP 508" not in err


def test_rattler_is_imported_only_when_an_env_file_is_parsed():
    """The already-realized fast path (entry.py, fastpath.py) and merely importing the spec
    package must not pay for py-rattler's import (~50 ms)."""
    code = ("import sys, envstore.entry, envstore.ops.fastpath, envstore.spec, envstore.spec.envfile; "
            "assert 'rattler' not in sys.modules, 'rattler imported'; "
            "from envstore.spec.matchspec import parse_match_spec; parse_match_spec('six=1.16'); "
            "parse_match_spec('pip'); assert 'rattler' not in sys.modules, 'plain forms need no rattler'; "
            "parse_match_spec('six>=1.16'); assert 'rattler' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


@pytest.mark.parametrize("text", ["pip", "python=3.11", "python=3", "python=3.11.5", "r-base=4.3", "a.b_c-d=1.2",
                                  "numpy", "py=10.0.0.1"])
def test_plain_forms_read_as_rattler_reads_them(text):
    """`name` and `name=1.2` are read without rattler; rattler must agree on each."""
    from rattler import MatchSpec

    from envstore.spec.matchspec import parse_match_spec

    ours, theirs = parse_match_spec(text), MatchSpec(text)
    assert (ours.name, ours.conda_version, ours.extras, ours.conda_part) == (
        theirs.name.normalized, theirs.version or "", (), None)


@pytest.mark.network
def test_conda_spec_forms_lock(tmp_path):
    """Quotes in the value, spaces before the operator, pre- and post-release fuzzy pins,
    `[version=...]` brackets and a missed name mapping all lock to the packages they mean."""
    pythons = pyenv_pythons()
    minor = next((m for m in (f"{sys.version_info[0]}.{sys.version_info[1]}", "3.12", "3.11", "3.10")
                  if m in pythons), None)
    if minor is None:
        pytest.skip("no pyenv CPython 3.10-3.12 here")
    (tmp_path / "env.yml").write_text(f"""\
name: forms
channels: [conda-forge]
dependencies:
  - python='{minor}'
  - six =1.16
  - click=8.0.0rc1
  - pytz =2023.3.post1
  - attrs[version='>=23.1,<23.2']
  - opencv3=4.8
""")
    proc = run_store(tmp_path / "store", "lock", str(tmp_path / "env.yml"))
    assert proc.returncode == 0, proc.stderr
    lock_data = tomllib.loads((tmp_path / "pylock.toml").read_text())
    got = {p["name"]: p["version"] for p in lock_data["packages"]}
    assert got["six"].startswith("1.16") and got["click"] == "8.0.0rc1" and got["pytz"] == "2023.3.post1"
    assert got["attrs"].startswith("23.1.") and got["opencv-python"].startswith("4.8.") and "numpy" in got
    assert lock_data["requires-python"] == f">={minor}, <3.{int(minor.split('.')[1]) + 1}"  # universal, for that python


@pytest.mark.network
def test_shipped_name_table_matches_the_grayskull_wheel():
    """grayskull_names.py is what grayskull_regen makes of the grayskull wheel it names."""
    from envstore.spec import grayskull_names
    from envstore.spec.grayskull_regen import render

    wheel = fetch_wheel(f"grayskull=={grayskull_names.GRAYSKULL_VERSION}")
    assert Path(grayskull_names.__file__).read_text(encoding="utf-8") == render(wheel)
