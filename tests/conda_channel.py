"""A real conda channel for the tests: packages built by rattler-build from recipes written here,
indexed by rattler's indexer, served over HTTP on 127.0.0.1 and usable as a file:// channel.

No public channel is reachable from the test machines, so the packages are the machine's own:
- `libdemo`: a C shared library compiled with the machine's `cc`. Its binary embeds the build
  prefix (a binary placeholder), its pkg-config file names it (a text placeholder), and its
  soname is a symlink chain (`libdemo.so -> libdemo.so.1 -> libdemo.so.1.0.0`).
- `demotool`: an executable linked against libdemo, loading it from the prefix's `lib/`; it prints
  the prefix libdemo has compiled in and a sum computed by the library.
- `demopy`: a `noarch: python` package with a console-script entry point.
- `demoext`: a C extension module compiled for one Python ABI (the interpreter running the tests).
- `python`: conda's python package made from the CPython running the tests (see
  write_python_package), so a fully conda prefix runs a real interpreter of its own.

Building takes a few seconds, so `built_channel` makes the channel once per session.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

LIBDEMO = """\
package:
  name: libdemo
  version: "1.0.0"
build:
  number: 0
  script: |
    mkdir -p $PREFIX/lib/pkgconfig $PREFIX/include
    printf 'const char *demo_prefix(void) { return "%s"; }\\nint demo_add(int a, int b) { return a + b; }\\n' "$PREFIX" > demo.c
    printf 'const char *demo_prefix(void);\\nint demo_add(int a, int b);\\n' > $PREFIX/include/demo.h
    cc -shared -fPIC -O1 -Wl,-soname,libdemo.so.1 -o $PREFIX/lib/libdemo.so.1.0.0 demo.c
    ln -s libdemo.so.1.0.0 $PREFIX/lib/libdemo.so.1
    ln -s libdemo.so.1 $PREFIX/lib/libdemo.so
    printf 'prefix=%s\\nlibdir=${prefix}/lib\\nincludedir=${prefix}/include\\n\\nName: demo\\nDescription: demo library\\nVersion: 1.0.0\\nLibs: -L${libdir} -ldemo\\nCflags: -I${includedir}\\n' "$PREFIX" > $PREFIX/lib/pkgconfig/demo.pc
"""

DEMOTOOL = """\
package:
  name: demotool
  version: "1.0.0"
build:
  number: 0
  script: |
    mkdir -p $PREFIX/bin
    printf '#include <stdio.h>\\n#include <demo.h>\\nint main(void) { printf("%%s %%d\\\\n", demo_prefix(), demo_add(2, 3)); return 0; }\\n' > tool.c
    cc -O1 -I$PREFIX/include -o $PREFIX/bin/demotool tool.c -L$PREFIX/lib -ldemo '-Wl,-rpath,$ORIGIN/../lib'
requirements:
  host:
    - libdemo
  run:
    - libdemo >=1.0
"""

DEMOPY = """\
package:
  name: demopy
  version: "0.3.0"
build:
  number: 0
  noarch: python
  python:
    entry_points:
      - demopy = demopy.cli:main
  script: |
    mkdir -p $PREFIX/site-packages/demopy
    printf 'VERSION = "0.3.0"\\n' > $PREFIX/site-packages/demopy/__init__.py
    printf 'import sys\\nfrom demopy import VERSION\\n\\ndef main():\\n    print("demopy", VERSION, sys.prefix)\\n' > $PREFIX/site-packages/demopy/cli.py
"""

# An extension module built for one Python ABI (the interpreter running the tests), as conda
# packages of compiled Python code are: it needs that python and no other.
DEMOEXT = """\
package:
  name: demoext
  version: "0.2.0"
build:
  number: 0
  string: {abi}_0
  script: |
    mkdir -p $PREFIX/lib/python{xy}/site-packages/demoext
    cc -shared -fPIC -O1 -I{include} -o $PREFIX/lib/python{xy}/site-packages/demoext/_ext{suffix} $RECIPE_DIR/ext.c
    printf 'from demoext._ext import add\\n' > $PREFIX/lib/python{xy}/site-packages/demoext/__init__.py
requirements:
  run:
    - python >={xy},<{next_xy}
"""

EXT_C = """\
#include <Python.h>
static PyObject *add(PyObject *self, PyObject *args) {
    long a, b;
    if (!PyArg_ParseTuple(args, "ll", &a, &b)) return NULL;
    return PyLong_FromLong(a + b);
}
static PyMethodDef methods[] = {{"add", add, METH_VARARGS, "a + b"}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_ext", NULL, -1, methods};
PyMODINIT_FUNC PyInit__ext(void) { return PyModule_Create(&module); }
"""


def _demoext_recipe() -> str:
    import sysconfig

    major, minor = sys.version_info[:2]
    return DEMOEXT.format(xy=f"{major}.{minor}", next_xy=f"{major}.{minor + 1}", abi=f"py{major}{minor}",
                          include=sysconfig.get_paths()["include"], suffix=sysconfig.get_config_var("EXT_SUFFIX"))


RECIPES = {"libdemo": LIBDEMO, "demotool": DEMOTOOL, "demopy": DEMOPY, "demoext": _demoext_recipe}
RECIPE_FILES = {"demoext": {"ext.c": EXT_C}}
# Built in this order: demotool's host environment is solved from the channel holding libdemo.
# `python` is not built by rattler-build: see write_python_package.
ORDER = ("libdemo", "demotool", "demopy", "demoext", "python")

# Left out of the python package: what a conda python splits into other packages or does not
# need to run (tests, GUI toolkits), caches, and whatever was installed into site-packages.
PYTHON_SKIPS = {"site-packages", "dist-packages", "__pycache__", "test", "tests", "idlelib", "tkinter",
                "turtledemo", "ensurepip", "lib2to3"}


def write_python_package(root: Path) -> Path:
    """conda's `python` made from this machine's CPython (the one running the tests): its
    executable, libpython when it is a shared build, and its standard library, with the
    executable's RUNPATH made `$ORIGIN/../lib` as conda's python has it. Written directly in the
    `.conda` format (info/index.json, info/paths.json): rattler-build takes ~2 minutes over the
    ~2,000 files of a standard library, the rest of the channel a few seconds."""
    import sysconfig
    import tempfile

    major, minor = sys.version_info[:2]
    xy = f"{major}.{minor}"
    version = ".".join(str(p) for p in sys.version_info[:3])
    base = Path(sys.base_prefix)
    stdlib = Path(sysconfig.get_paths(vars={"installed_base": str(base), "base": str(base)})["stdlib"])
    with tempfile.TemporaryDirectory() as tmp:
        stage = Path(tmp)
        (stage / "bin").mkdir()
        (stage / "lib").mkdir()
        shutil.copy2(Path(sys.executable).resolve(), stage / "bin" / f"python{xy}")
        (stage / "bin" / "python").symlink_to(f"python{xy}")
        (stage / "bin" / "python3").symlink_to(f"python{xy}")
        if sysconfig.get_config_var("Py_ENABLE_SHARED"):
            for lib in Path(sysconfig.get_config_var("LIBDIR")).glob(f"libpython{xy}*.so*"):
                shutil.copy2(lib, stage / "lib" / lib.name, follow_symlinks=False)
        shutil.copytree(stdlib, stage / "lib" / f"python{xy}", symlinks=True,
                        ignore=lambda _d, names: [n for n in names if n in PYTHON_SKIPS or n.startswith("config-")])
        (stage / "lib" / f"python{xy}" / "site-packages").mkdir()
        from envstore.interpreters.relocate import patchelf_path

        subprocess.run([patchelf_path(), "--set-rpath", "$ORIGIN/../lib", str(stage / "bin" / f"python{xy}")],
                       check=True)
        pkg, rows = [], []
        for path in sorted(p for p in stage.rglob("*") if p.is_symlink() or p.is_file()):
            rel = path.relative_to(stage).as_posix()
            if path.is_symlink():
                pkg.append(symlink_member(rel, os.readlink(path)))
                rows.append({"_path": rel, "path_type": "softlink"})
            else:
                data = path.read_bytes()
                pkg.append(file_member(rel, data, path.stat().st_mode & 0o777))
                rows.append(paths_row(rel, data))
    build = f"envstore_cpython_{major}{minor}_0"
    index = {"name": "python", "version": version, "build": build, "build_number": 0, "subdir": "linux-64",
             "arch": "x86_64", "platform": "linux", "depends": [], "license": "PSF-2.0",
             "timestamp": 1767225600000}
    info = [file_member("info/index.json", json.dumps(index).encode()),
            file_member("info/paths.json", json.dumps({"paths": rows, "paths_version": 1}).encode())]
    (root / "linux-64").mkdir(exist_ok=True)
    return write_package(root / "linux-64" / f"python-{version}-{build}.conda", info, pkg)


@dataclass(frozen=True)
class CondaChannel:
    root: Path
    packages: dict[str, Path]  # name -> the built .conda

    @property
    def file_url(self) -> str:
        return self.root.as_uri()


def _index(root: Path) -> None:
    import rattler.index  # lazy: only the channel fixture needs the indexer

    asyncio.run(rattler.index.index_fs(root, force=True))


def build_channel(root: Path) -> CondaChannel:
    """Build every recipe into `root` (a channel directory), indexing after each package."""
    import rattler_build  # lazy: slow to import and only the channel fixture needs it

    if shutil.which("cc") is None:
        raise RuntimeError("the conda test channel needs a C compiler (cc) on PATH")
    root.mkdir(parents=True, exist_ok=True)
    (root / "noarch").mkdir(exist_ok=True)
    _index(root)
    work = root.parent / f"{root.name}-recipes"
    packages: dict[str, Path] = {}
    for name in ORDER:
        if name == "python":
            packages[name] = write_python_package(root)
            _index(root)
            continue
        recipe_dir = work / name
        recipe_dir.mkdir(parents=True, exist_ok=True)
        recipe = RECIPES[name]
        (recipe_dir / "recipe.yaml").write_text(recipe() if callable(recipe) else recipe)
        for file, text in RECIPE_FILES.get(name, {}).items():
            (recipe_dir / file).write_text(text)
        recipe = rattler_build.Stage0Recipe.from_file(recipe_dir / "recipe.yaml")
        out = work / "out"
        results = recipe.run_build(output_dir=out, channels=[root.as_uri()], no_include_recipe=True)
        built = [Path(p) for r in results for p in r.packages]
        assert len(built) == 1, built
        dest = root / built[0].parent.name / built[0].name
        dest.parent.mkdir(exist_ok=True)
        shutil.copy2(built[0], dest)
        packages[name] = dest
        _index(root)
    shutil.rmtree(work, ignore_errors=True)
    return CondaChannel(root, packages)


def in_subprocess(builder: str, root: Path) -> None:
    """Run `builder` (build_channel or build_gpu_channels) in a child interpreter that leaves with
    os._exit: rattler's and rattler-build's worker threads can crash interpreter finalization
    (PyGILState_Release, SIGSEGV), which must not take the pytest process down with it."""
    code = (f"import os, sys, pathlib; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
            f"import conda_channel; conda_channel.{builder}(pathlib.Path({str(root)!r})); "
            "sys.stdout.flush(); sys.stderr.flush(); os._exit(0)")
    subprocess.run([sys.executable, "-c", code], check=True)


def channel_at(root: Path) -> CondaChannel:
    """The CondaChannel that build_channel made at `root`."""
    packages = {p.name.rsplit("-", 2)[0]: p for p in sorted(root.glob("*/*.conda"))}
    assert set(packages) == set(ORDER), packages
    return CondaChannel(root, packages)


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def send_head(self):  # type: ignore[no-untyped-def]
        # http.server answers If-Modified-Since with a bare 304 (no ETag or Last-Modified), which
        # rattler's sharded-repodata client refuses (conda/rattler#2719, a server fault): serve
        # every file whole, as a static host without conditional requests does.
        del self.headers["If-Modified-Since"]
        return super().send_head()


class ServedChannel:
    """Serve a channel directory at http://127.0.0.1:<free port>/ for the life of the block."""

    def __init__(self, root: Path) -> None:
        handler = functools.partial(_Quiet, directory=str(root))
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        return self.url

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def served(root: Path) -> Iterator[str]:
    with ServedChannel(root) as url:
        yield url


# --- edited copies of real packages (the hostile-archive tests) -------------------------------

Member = tuple["tarfile.TarInfo", bytes]


def read_members(package: Path) -> tuple[list[Member], list[Member]]:
    """The (info, payload) members of a `.conda`, each as (TarInfo, content)."""
    import tarfile
    import zipfile

    import zstandard

    parts: dict[str, list[Member]] = {}
    with zipfile.ZipFile(package) as z:
        for name in z.namelist():
            if not name.endswith(".tar.zst"):
                continue
            raw = zstandard.ZstdDecompressor().decompressobj().decompress(z.read(name))
            with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
                members = []
                for info in tar.getmembers():
                    data = tar.extractfile(info).read() if info.isfile() else b""
                    members.append((info, data))
            parts[name.split("-", 1)[0]] = members
    return parts["info"], parts["pkg"]


def _tar(members: list[Member]) -> bytes:
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            info = copy.copy(info)
            if info.isfile():
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if info.isfile() else None)
    return buf.getvalue()


def write_package(dest: Path, info: list[Member], pkg: list[Member]) -> Path:
    """Write a `.conda` or (by `dest`'s suffix) a `.tar.bz2` holding these members."""
    import bz2
    import zipfile

    import zstandard

    if dest.name.endswith(".tar.bz2"):
        dest.write_bytes(bz2.compress(_tar(info + pkg)))
        return dest
    stem = dest.name.removesuffix(".conda")
    zstd = zstandard.ZstdCompressor(level=3)
    with zipfile.ZipFile(dest, "w", compression=zipfile.ZIP_STORED) as z:
        z.writestr("metadata.json", json.dumps({"conda_pkg_format_version": 2}))
        z.writestr(f"info-{stem}.tar.zst", zstd.compress(_tar(info)))
        z.writestr(f"pkg-{stem}.tar.zst", zstd.compress(_tar(pkg)))
    return dest


def file_member(path: str, data: bytes, mode: int = 0o644) -> Member:
    import tarfile

    info = tarfile.TarInfo(path)
    info.size, info.mode = len(data), mode
    return info, data


def symlink_member(path: str, target: str) -> Member:
    import tarfile

    info = tarfile.TarInfo(path)
    info.type, info.linkname, info.mode = tarfile.SYMTYPE, target, 0o777
    return info, b""


def paths_json(info: list[Member]) -> dict:
    return json.loads(next(d for i, d in info if i.name == "info/paths.json"))


def with_paths_json(info: list[Member], paths: dict) -> list[Member]:
    return [
        (i, json.dumps(paths).encode()) if i.name == "info/paths.json" else (i, d) for i, d in info
    ]


def paths_row(path: str, data: bytes) -> dict:
    return {"_path": path, "path_type": "hardlink", "sha256": hashlib.sha256(data).hexdigest(),
            "size_in_bytes": len(data)}


# --- the classic GPU env file's names (pytorch::pytorch, cudatoolkit=11.8, mkl=2023.1.0) -------

def _stub(name: str, version: str, depends: list[str]) -> str:
    run = "".join(f"\n    - {d}" for d in depends)
    return f"""\
package:
  name: {name}
  version: "{version}"
build:
  number: 0
  script: |
    mkdir -p $PREFIX/share/{name}
    echo '{name} {version}' > $PREFIX/share/{name}/VERSION
requirements:
  run:{run or " []"}
"""


GPU_CHANNELS = {
    "conda-forge": [("cudatoolkit", "11.8.0", ["__glibc >=2.17"]), ("cudatoolkit", "12.1.0", ["__glibc >=2.17"]),
                    ("mkl", "2023.1.0", []), ("mkl", "2024.0.0", [])],
    "pytorch": [("pytorch", "2.1.0", ["cudatoolkit >=11.8,<12", "mkl >=2023", "__cuda >=11.8"])],
    "main": [],
}


def build_gpu_channels(root: Path) -> Path:
    """Channels named as the classic GPU env file names them, under one alias directory `root`:
    `conda-forge` (cudatoolkit, mkl), `pytorch` (pytorch, needing `__cuda`) and `main` (empty,
    what `defaults` expands to through a .condarc)."""
    import rattler_build  # lazy: as in build_channel

    work = root.parent / f"{root.name}-recipes"
    for channel in ("conda-forge", "main", "pytorch"):
        ch = root / channel
        (ch / "noarch").mkdir(parents=True, exist_ok=True)
        _index(ch)
        for name, version, depends in GPU_CHANNELS[channel]:
            recipe_dir = work / f"{name}-{version}"
            recipe_dir.mkdir(parents=True, exist_ok=True)
            (recipe_dir / "recipe.yaml").write_text(_stub(name, version, depends))
            recipe = rattler_build.Stage0Recipe.from_file(recipe_dir / "recipe.yaml")
            results = recipe.run_build(output_dir=work / "out", channels=[ch.as_uri()], no_include_recipe=True)
            for built in (Path(p) for r in results for p in r.packages):
                (ch / built.parent.name).mkdir(exist_ok=True)
                shutil.copy2(built, ch / built.parent.name / built.name)
        _index(ch)
    shutil.rmtree(work, ignore_errors=True)
    return root
