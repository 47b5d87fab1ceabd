"""Issue 16's remaining test list: a local project with each common build backend taken from
pip's configured index (setuptools, hatchling, flit-core, poetry-core, pdm-backend, and a
setuptools project with a C extension built by this machine's compiler); an archive URL served
on 127.0.0.1 with and without `#sha256` (a wrong one refused, nothing built); two concurrent
realizes that need the same build (built once)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import textwrap
import tomllib
from pathlib import Path

import pytest

from local_index import LocalIndex
from test_source_builds import built_wheels, flit_core_wheel, index, make_sdist, python_version, store  # noqa: F401
from test_cache import STORE_BIN
from test_realize_real import write_env as env_file

pytestmark = pytest.mark.network  # backends come from pip's configured index

MODULE = '"""{name}."""\n__version__ = "0.3"\nVALUE = "{name} ok"\n'
BACKENDS = {
    "setuptools": ('["setuptools>=61"]', "setuptools.build_meta",
                   '[project]\nname = "{name}"\nversion = "0.3"\n\n[tool.setuptools]\npackages = ["{name}"]\n'),
    "hatchling": ('["hatchling"]', "hatchling.build",
                  '[project]\nname = "{name}"\nversion = "0.3"\n\n[tool.hatch.build.targets.wheel]\npackages = ["{name}"]\n'),
    "flit-core": ('["flit_core>=3.4,<4"]', "flit_core.buildapi",
                  '[project]\nname = "{name}"\nversion = "0.3"\ndescription = "x"\n'),
    "poetry-core": ('["poetry-core>=1.0"]', "poetry.core.masonry.api",
                    '[tool.poetry]\nname = "{name}"\nversion = "0.3"\ndescription = "x"\nauthors = ["t <t@example.invalid>"]\n'
                    'packages = [{{include = "{name}"}}]\n\n[tool.poetry.dependencies]\npython = ">=3.8"\n'),
    "pdm-backend": ('["pdm-backend"]', "pdm.backend",
                    '[project]\nname = "{name}"\nversion = "0.3"\nrequires-python = ">=3.8"\n'),
}


def _project(d: Path, backend: str, name: str) -> Path:
    requires, api, rest = BACKENDS[backend]
    (d / name).mkdir(parents=True)
    (d / name / "__init__.py").write_text(MODULE.format(name=name))
    (d / "pyproject.toml").write_text(f"[build-system]\nrequires = {requires}\nbuild-backend = \"{api}\"\n\n"
                                      + rest.format(name=name))
    return d


def _run(root: Path, cwd: Path, code: str) -> subprocess.CompletedProcess:
    return store("run", "--", "python", "-c", code, root=root, cwd=cwd, pip_index=True)


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_a_local_project_with_each_common_backend(tmp_path: Path, python_version: str, backend: str) -> None:
    name = "proj_" + backend.replace("-", "_")
    app = tmp_path / "app"
    _project(app / "proj", backend, name)
    env_file(app, "b", python_version, ["./proj"])
    root = tmp_path / "store"
    proc = store("realize", root=root, cwd=app, pip_index=True, timeout=900)
    assert proc.returncode == 0, proc.stderr
    assert "0.3 from source" in proc.stderr, proc.stderr
    ran = _run(root, app, f"import {name}, importlib.metadata as m; print({name}.VALUE, m.version('{name}'))")
    assert ran.returncode == 0 and ran.stdout.split() == [name, "ok", "0.3"], ran.stdout + ran.stderr
    assert not (app / "proj" / "build").exists()  # built from a copy


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler on this machine")
def test_a_setuptools_project_with_a_c_extension(tmp_path: Path, python_version: str) -> None:
    app = tmp_path / "app"
    proj = app / "cext"
    (proj / "cext").mkdir(parents=True)
    (proj / "cext" / "__init__.py").write_text("from cext._speed import twice\n")
    (proj / "cext" / "_speed.c").write_text(textwrap.dedent('''
        #define PY_SSIZE_T_CLEAN
        #include <Python.h>
        static PyObject *twice(PyObject *self, PyObject *arg) {
            long v = PyLong_AsLong(arg);
            if (v == -1 && PyErr_Occurred()) return NULL;
            return PyLong_FromLong(2 * v);
        }
        static PyMethodDef methods[] = {{"twice", twice, METH_O, "2x"}, {NULL, NULL, 0, NULL}};
        static struct PyModuleDef mod = {PyModuleDef_HEAD_INIT, "_speed", NULL, -1, methods};
        PyMODINIT_FUNC PyInit__speed(void) { return PyModule_Create(&mod); }
    '''))
    (proj / "pyproject.toml").write_text('[build-system]\nrequires = ["setuptools>=61"]\n'
                                         'build-backend = "setuptools.build_meta"\n\n'
                                         '[project]\nname = "cext"\nversion = "1.0"\n\n'
                                         '[tool.setuptools]\npackages = ["cext"]\n')
    (proj / "setup.py").write_text('from setuptools import Extension, setup\n'
                                   'setup(ext_modules=[Extension("cext._speed", ["cext/_speed.c"])])\n')
    env_file(app, "c", python_version, ["./cext"])
    root = tmp_path / "store"
    proc = store("realize", root=root, cwd=app, pip_index=True, timeout=900)
    assert proc.returncode == 0, proc.stderr
    prefix = Path(proc.stdout.strip())
    assert list(prefix.glob("lib/python*/site-packages/cext/_speed*.so")), "the extension module was built"
    ran = _run(root, app, "import cext; print(cext.twice(21))")
    assert ran.returncode == 0 and ran.stdout.strip() == "42", ran.stdout + ran.stderr


def test_an_archive_url_with_and_without_its_sha256(tmp_path: Path, index: LocalIndex, python_version: str) -> None:
    sdist = make_sdist(tmp_path / "sd", "urlpkg", "1.5", [], pkg_info=True)
    index.add_file("unlisted", sdist)  # served at /files/, not on any project page
    url = f"{index.url}/files/{sdist.name}"
    digest = hashlib.sha256(sdist.read_bytes()).hexdigest()
    root = tmp_path / "store"
    flags = ("--index-url", index.simple)

    wrong = env_file(tmp_path / "wrong", "w", python_version, [f"'urlpkg @ {url}#sha256={'0' * 64}'"])
    refused = store("realize", *flags, root=root, cwd=wrong.parent)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr, refused.stderr
    errors = [line for line in refused.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "sha256" in errors[0] and "urlpkg" in refused.stderr, refused.stderr
    assert not (wrong.parent / "pylock.toml").exists()
    assert not (root / "db-v1.sqlite").exists() or built_wheels(root) == []

    for d, text in (("right", f"'urlpkg @ {url}#sha256={digest}'"), ("bare", f"'urlpkg @ {url}'")):
        env = env_file(tmp_path / d, d, python_version, [text])
        proc = store("realize", *flags, root=root, cwd=env.parent)
        assert proc.returncode == 0, proc.stderr
        locked = {p["name"]: p for p in tomllib.loads((env.parent / "pylock.toml").read_text())["packages"]}
        # PEP 751: a direct reference is an archive entry (no name), an index's file an sdist
        assert "sdist" not in locked["urlpkg"] and "name" not in locked["urlpkg"]["archive"], locked["urlpkg"]
        entry = locked["urlpkg"]["archive"]
        assert entry["url"] == url and entry["hashes"]["sha256"] == digest, locked["urlpkg"]
        # PEP 610, as pip records a direct reference: where the installed package came from
        direct = next(Path(proc.stdout.strip()).glob("lib/python*/site-packages/urlpkg-1.5.dist-info/direct_url.json"))
        assert json.loads(direct.read_text()) == {"url": url, "archive_info": {"hashes": {"sha256": digest}}}
    assert [w.split("-")[:2] for w in built_wheels(root)] == [["urlpkg", "1.5"]]  # one build for both


def test_two_concurrent_realizes_need_the_same_build(tmp_path: Path, index: LocalIndex, python_version: str) -> None:
    index.add_file("srcpkg", make_sdist(tmp_path / "sd", "srcpkg", "1.0", [], pkg_info=False))
    root = tmp_path / "store"
    flags = ("--index-url", index.simple)
    envs = [env_file(tmp_path / f"p{i}", f"p{i}", python_version, ["srcpkg"]) for i in range(2)]
    for env in envs:  # lock first, so the two realizes race on the build alone
        assert store("lock", *flags, root=root, cwd=env.parent).returncode == 0
    environ = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "cfg"), "PIP_CONFIG_FILE": os.devnull}
    environ.pop("ENVSTORE_SUBSTITUTERS", None)
    procs = [subprocess.Popen([STORE_BIN, "--store", str(root), "realize", *flags], cwd=env.parent, env=environ,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for env in envs]
    results = [p.communicate(timeout=600) for p in procs]
    assert all(p.returncode == 0 for p in procs), [r[1] for r in results]
    assert sum("building srcpkg 1.0 from source" in err for _out, err in results) == 1, [r[1] for r in results]
    assert [w.split("-")[:2] for w in built_wheels(root)] == [["srcpkg", "1.0"]]
    prefixes = [Path(out.strip()) for out, _err in results]
    site = [next(p.glob("lib/python*/site-packages/srcpkg/__init__.py")) for p in prefixes]
    assert site[0].stat().st_ino == site[1].stat().st_ino
