"""A real conda channel for the tests: packages built by rattler-build from recipes written here,
indexed by rattler's indexer, served over HTTP on 127.0.0.1 and usable as a file:// channel.

No public channel is reachable from the test machines, so the packages are the machine's own:
- `libdemo`: a C shared library compiled with the machine's `cc`. Its binary embeds the build
  prefix (a binary placeholder), its pkg-config file names it (a text placeholder), and its
  soname is a symlink chain (`libdemo.so -> libdemo.so.1 -> libdemo.so.1.0.0`).
- `demotool`: an executable linked against libdemo, loading it from the prefix's `lib/`; it prints
  the prefix libdemo has compiled in and a sum computed by the library.
- `demopy`: a `noarch: python` package with a console-script entry point.
- `python`: a stand-in for conda's python package (see PYTHON below), so `noarch: python`
  packages are placed and their entry points run in a prefix with no store interpreter.

Building takes a few seconds, so `built_channel` makes the channel once per session.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import hashlib
import io
import json
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

# A stand-in for conda's `python`: `bin/python` runs this machine's interpreter (the one running
# the tests) with the prefix's site-packages first on its path. The script names its own prefix,
# so it is a text-placeholder file too. Building a full CPython package would copy ~100 MB.
PYTHON = """\
package:
  name: python
  version: "{version}"
build:
  number: 0
  string: envstore_stub_0
  script: |
    mkdir -p $PREFIX/bin $PREFIX/lib/python{xy}/site-packages
    printf '#!/bin/sh\\nPYTHONPATH="%s/lib/python{xy}/site-packages${{PYTHONPATH:+:$PYTHONPATH}}" exec {executable} "$@"\\n' "$PREFIX" > $PREFIX/bin/python
    chmod +x $PREFIX/bin/python
    ln -s python $PREFIX/bin/python3
"""


def _python_recipe() -> str:
    import sys

    xy = f"{sys.version_info.major}.{sys.version_info.minor}"
    version = ".".join(str(p) for p in sys.version_info[:3])
    return PYTHON.format(version=version, xy=xy, executable=Path(sys.executable).resolve())


RECIPES = {"libdemo": LIBDEMO, "demotool": DEMOTOOL, "demopy": DEMOPY}
# Built in this order: demotool's host environment is solved from the channel holding libdemo.
ORDER = ("libdemo", "demotool", "demopy", "python")


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
        recipe_dir = work / name
        recipe_dir.mkdir(parents=True, exist_ok=True)
        (recipe_dir / "recipe.yaml").write_text(RECIPES[name] if name in RECIPES else _python_recipe())
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
