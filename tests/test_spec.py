"""env.yml, requirements.txt and pylock.toml inputs: every spec form, and errors that name the
file, line and column with a hint."""

from __future__ import annotations

from pathlib import Path

import pytest

from envstore.index.config import resolve_index_config
from envstore.spec import CondaOnlyPackageError, SpecError, load_spec


def write(tmp_path: Path, text: str, name: str = "env.yml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def reqs(spec) -> list[str]:
    return [str(r.requirement) for r in spec.requirements]


def test_conda_forms(tmp_path):
    spec = load_spec(write(tmp_path, """\
name: demo
channels: [conda-forge]
dependencies:
  - python=3.11
  - numpy>=1.26,<2
  - pandas=2.2
  - scipy==1.13.1
  - rich
  - pkg 1.2.*
  - exact 1.2
  - conda-forge::attrs >=23
  - pytorch
  - py-opencv
  - pip:
    - httpx[http2]>=0.27; python_version >= "3.8"
    - https://example.invalid/files/foo_bar-1.0-py3-none-any.whl
    - other @ https://example.invalid/files/other-2.0-py3-none-any.whl
"""))
    assert spec.name == "demo" and spec.python == "3.11" and str(spec.python_specifier) == "==3.11.*"
    assert reqs(spec) == [
        "numpy<2,>=1.26", "pandas==2.2.*", "scipy==1.13.1", "rich", "pkg==1.2.*", "exact==1.2", "attrs>=23",
        "torch", "opencv-python", 'httpx[http2]>=0.27; python_version >= "3.8"',
        "foo_bar @ https://example.invalid/files/foo_bar-1.0-py3-none-any.whl",
        "other @ https://example.invalid/files/other-2.0-py3-none-any.whl",
    ]
    assert spec.requirements[0].origin == "env.yml:5"


def test_python_range(tmp_path):
    spec = load_spec(write(tmp_path, "dependencies:\n  - python>=3.10,<3.13\n"))
    assert str(spec.python_specifier) == "<3.13,>=3.10"


@pytest.mark.parametrize("text,where,needle,hint", [
    ("name: x\ndependancies:\n  - numpy\n", "env.yml:2:1", "unknown key 'dependancies'", "did you mean `dependencies`?"),
    ("name: x\nname: y\n", "env.yml:2:1", "duplicate key 'name' (first at line 1)", "merge"),
    ("name: x\ndependencies:\n  - 3.10\n", "env.yml:3:5", "the number 3.10", 'quote it: "3.10"'),
    ("name: off\n", "env.yml:1:7", "got off (YAML reads it as false)", 'quote it: "off"'),
    ("name: x\ndependencies:\n  - numpy=1.2=py311_0\n", "env.yml:3:5", "build strings", "numpy==1.2"),
    ("name: x\ndependencies:\n  - pip:\n    - 'not a [req'\n", "env.yml:4:7", "invalid requirement", "PEP 508"),
    ("name: x\nenvstore:\n  link-mod: copy\n", "env.yml:3:3", "unknown key 'link-mod'", "link-mode"),
    ("name: x\nenvstore:\n  link-mode: hardlnk\n", "env.yml:3:14", "unknown link mode", "hardlink"),
    ("name: x\ndependencies: numpy\n", "env.yml:2:15", "expected a list", "- "),
    ("name: x\ndependencies:\n  - a\n - b\n", "env.yml:4:2", "invalid YAML", "indentation"),
])
def test_errors_name_line_and_hint(tmp_path, text, where, needle, hint):
    with pytest.raises(SpecError) as e:
        load_spec(write(tmp_path, text))
    assert str(e.value).startswith(where + ": "), str(e.value)
    assert needle in str(e.value) and hint in (e.value.hint or ""), (str(e.value), e.value.hint)


def test_conda_only_packages_named(tmp_path):
    """Every conda-only name is reported in one error; one with an index equivalent names it."""
    with pytest.raises(CondaOnlyPackageError) as e:
        load_spec(write(tmp_path, "dependencies:\n  - numpy\n  - cudatoolkit=11.8\n  - mkl\n  - libgcc-ng\n"))
    text = str(e.value)
    assert text.startswith("env.yml: 3 problems (3 conda-only packages):") and [p.line for p in e.value.problems] == [3, 4, 5]
    assert "env.yml:3:5: 'cudatoolkit=11.8'" in text and "`nvidia-cuda-runtime-cu11==11.8.*`" in text
    assert "the `mkl` wheel" in text and "env.yml:5:5: 'libgcc-ng'" in text


def test_conda_export_underscore_packages_are_conda_only(tmp_path):
    """`conda env export` starts with `_libgcc_mutex` and `_openmp_mutex`: named as conda-only,
    not rejected as a malformed match spec, on one line with the other system libraries."""
    with pytest.raises(CondaOnlyPackageError) as e:
        load_spec(write(tmp_path, "dependencies:\n  - _libgcc_mutex=0.1\n  - _openmp_mutex\n  - six\n"))
    assert "env.yml:2:5 (and line 3): conda-only packages (a C library): _libgcc_mutex, _openmp_mutex" in str(e.value)


@pytest.mark.parametrize("entry,expected", [
    ("requests =2.31", "requests==2.31.*"),
    ("click >=8.1", "click>=8.1"),
    ("pkg=1.0.0rc1", "pkg==1.0.0rc1"),
    ("pydantic=2.0b3", "pydantic==2.0b3"),
    ("pytz =2023.3.post1", "pytz==2023.3.post1"),
    ("pkg=1.0.dev2", "pkg==1.0.dev2"),
    ("numpy[version='>=1.24,<2']", "numpy<2,>=1.24"),
    ('pandas[version=">=2.0"]', "pandas>=2.0"),
    ("x >=1.2*", "x>=1.2"),
    ("x=1!2.0", "x==1!2.0.*"),
    ("x !=1.2.*", "x!=1.2.*"),
    ("x=1.0=*", "x==1.0"),
    ("x[extras=[a,b]]", "x[a,b]"),
    ("opencv3", "opencv-python"),
    ("dask-core", "dask"),
    ("pyqt=5.15", "pyqt5==5.15.*"),
    ("pyqt", "pyqt5"),
    ("python-graphviz", "graphviz"),
    ("pytables", "tables"),
])
def test_match_specs_real_files_use(tmp_path, entry, expected):
    spec = load_spec(write(tmp_path, f"dependencies:\n  - {entry}\n"))
    assert reqs(spec) == [expected]


@pytest.mark.parametrize("entry,conda_form,pep440", [
    ("python='3.10'", "3.10", "==3.10.*"),
    ('python="3.11"', "3.11", "==3.11.*"),
    ("python =3.10", "3.10", "==3.10.*"),
    ("python >=3.10,<3.12", ">=3.10,<3.12", "<3.12,>=3.10"),
    ("python 3.12.1", "==3.12.1", "==3.12.1"),
    ("python[version='>=3.9']", ">=3.9", ">=3.9"),
])
def test_python_forms(tmp_path, entry, conda_form, pep440):
    spec = load_spec(write(tmp_path, f"dependencies:\n  - {entry}\n  - python_abi=3.11=*_cp311\n"))
    assert (spec.python, str(spec.python_specifier)) == (conda_form, pep440)


def test_requirements_txt(tmp_path):
    (tmp_path / "base.txt").write_text("attrs>=23  # comment\n")
    (tmp_path / "cons.txt").write_text("idna<4\n")
    sha = "a" * 64
    path = write(tmp_path, f"""\
--index-url https://index.invalid/simple
--extra-index-url https://extra.invalid/simple
-f ./wheels
-r base.txt
-c cons.txt
requests[socks]>=2.31 ; python_version >= "3.8" \\
    --hash=sha256:{sha}
# a comment line
""", "requirements.txt")
    spec = load_spec(path)
    assert reqs(spec) == ["attrs>=23", 'requests[socks]>=2.31; python_version >= "3.8"']
    assert [str(c.requirement) for c in spec.constraints] == ["idna<4"]
    assert spec.hashes == {"requests": frozenset({sha})}
    assert spec.index.index_url == "https://index.invalid/simple"
    assert spec.index.extra_index_urls == ("https://extra.invalid/simple",) and spec.index.find_links == ("./wheels",)
    # -e takes a project directory; one whose name cannot be read statically asks for `name @ DIR`
    with pytest.raises(SpecError, match=r"requirements.txt:1: '.': cannot tell the project's name"):
        load_spec(write(tmp_path, "-e .\n", "requirements.txt"))
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "Mine"\nversion = "1"\n')
    mine = load_spec(write(tmp_path, "-e .\n--only-binary=:all:\n", "requirements.txt"))
    assert [(str(r.requirement), r.editable, r.local) for r in mine.requirements] == [
        (f"Mine @ {tmp_path.resolve().as_uri()}", True, ".")]
    assert mine.only_binary == frozenset({":all:"})


def test_pylock_input(tmp_path):
    path = write(tmp_path, """\
lock-version = "1.0"
requires-python = ">=3.10"
created-by = "other"
[[packages]]
name = "attrs"
version = "23.2.0"
[[packages.wheels]]
url = "https://index.invalid/attrs-23.2.0-py3-none-any.whl"
hashes = {sha256 = "%s"}
""" % ("b" * 64), "pylock.toml")
    spec = load_spec(path)
    assert reqs(spec) == ["attrs==23.2.0"] and str(spec.python_specifier) == ">=3.10"


def test_spec_hash_ignores_formatting(tmp_path):
    a = load_spec(write(tmp_path, "name: x\ndependencies:\n  - numpy\n  - rich\n"))
    b = load_spec(write(tmp_path, "# comment\nname: x\ndependencies: [rich, numpy]\n"))
    c = load_spec(write(tmp_path, "name: x\ndependencies: [rich, numpy<2]\n"))
    assert a.spec_hash() == b.spec_hash() != c.spec_hash()


def test_index_config_precedence(tmp_path, monkeypatch):
    conf = tmp_path / "pip.conf"
    conf.write_text("[global]\nindex-url = https://from-pip-conf.invalid/simple\nfind-links = /tmp/a /tmp/b\n")
    for var in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "ENVSTORE_INDEX_URL",
                "ENVSTORE_EXTRA_INDEX_URL", "ENVSTORE_FIND_LINKS", "XDG_CONFIG_HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("PIP_CONFIG_FILE", str(conf))
    assert resolve_index_config().index_urls == ("https://from-pip-conf.invalid/simple/",)
    assert resolve_index_config().find_links == ("/tmp/a", "/tmp/b")
    monkeypatch.setenv("PIP_INDEX_URL", "https://pip-env.invalid/simple")
    assert resolve_index_config().index_urls == ("https://pip-env.invalid/simple/",)
    monkeypatch.setenv("ENVSTORE_INDEX_URL", "https://envstore-env.invalid/simple")
    monkeypatch.setenv("ENVSTORE_EXTRA_INDEX_URL", "https://x1.invalid/ https://x2.invalid/")
    cfg = resolve_index_config()
    assert cfg.index_urls == ("https://envstore-env.invalid/simple/", "https://x1.invalid/", "https://x2.invalid/")
    cfg = resolve_index_config(index_url="https://flag.invalid/simple", extra_index_urls=("https://e.invalid/",))
    assert cfg.index_urls == ("https://flag.invalid/simple/", "https://e.invalid/")
    monkeypatch.setenv("PIP_CONFIG_FILE", "/dev/null")
    for var in ("PIP_INDEX_URL", "ENVSTORE_INDEX_URL", "ENVSTORE_EXTRA_INDEX_URL"):
        monkeypatch.delenv(var)
    # pip's own default, asked of pip: whatever it is, it is one https URL
    (default,) = resolve_index_config().index_urls
    assert default.startswith("https://")
