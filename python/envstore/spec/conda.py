"""Conda package names on the wheel route: the name a conda package has on a Python package
index, or why it has none there (a conda-only package, and its index equivalent where one
exists). Pure functions: no I/O.

The name table is grayskull's (grayskull_names.py, PyPI name -> conda-forge name, generated
from the grayskull wheel) read backwards, plus the overrides below; a name in neither is taken
to be the same on both sides (true for most Python packages)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from envstore.spec.errors import Group
from envstore.spec.matchspec import MatchSpecError, parse_match_spec  # noqa: F401 - re-exported

# conda name -> index name, where grayskull's table has no entry or picks another one.
CONDA_TO_PYPI: dict[str, str] = {
    "pytorch-cpu": "torch",
    "pytorch-gpu": "torch",
    "py-opencv": "opencv-python",
    "opencv": "opencv-python",  # grayskull lists three PyPI names for it; this is the usual one
    "opencv3": "opencv-python",
    "libopencv": "opencv-python",
    "py-xgboost": "xgboost",
    "py-xgboost-cpu": "xgboost",
    "ruamel_yaml": "ruamel.yaml",
    "tensorflow-base": "tensorflow",
    "tensorflow-gpu": "tensorflow",
}

# Names that select the interpreter, not a package.
PYTHON_NAMES = frozenset({"python", "python_abi"})


@dataclass(frozen=True)
class CondaOnly:
    """Why a conda package has no index package of its name, and what to do instead."""

    what: str  # the package on conda's side, as a phrase
    hint: str
    on_index: str | None = None  # the index's equivalent ({major}: the major version asked for)
    index_has: str | None = None  # what the index's package of the same name is instead


_SYSTEM = ("remove {it}: the interpreter and the wheels bring their own copy of the libraries "
           "they need")
_TOOL = "install {it} with your system's package manager (conda channels are not supported yet)"
_COMPILER = "remove {it}: the wheel route installs built wheels and needs no compiler"
_CONDA_TOOL = "remove {it}: an envstore environment does not contain conda"


def _cuda(part: str, own_version: bool = False) -> CondaOnly:
    """A CUDA library: its wheels are named by CUDA's major version, which is the version asked
    for unless the library has versions of its own (cudnn 8.9, nccl 2.18)."""
    if own_version:
        hint = (f"add `nvidia-{part}-cu12{{pin}}` (CUDA 12) or `nvidia-{part}-cu11{{pin}}` (CUDA 11) "
                "to the `- pip:` list")
    else:
        hint = f"add `nvidia-{part}-cu{{major}}{{pin}}` to the `- pip:` list"
    return CondaOnly("an NVIDIA CUDA library", hint, on_index=f"the `nvidia-{part}-cu11` / `nvidia-{part}-cu12` wheels")


_CUDA_SET = CondaOnly(
    "NVIDIA's CUDA libraries",
    "add the CUDA {major} wheels you need to the `- pip:` list: `nvidia-cuda-runtime-cu{major}{pin}`, "
    "`nvidia-cublas-cu{major}`, `nvidia-cudnn-cu{major}`, `nvidia-cufft-cu{major}`, …",
    on_index="the `nvidia-*-cu{major}` wheels")


def _wheel(name: str, what: str) -> CondaOnly:
    return CondaOnly(what, f"move it to the `- pip:` list as `{name}{{pin}}`", on_index=f"the `{name}` wheel")


def _same_name(what: str, index_has: str, hint: str = _TOOL, on_index: str | None = None) -> CondaOnly:
    return CondaOnly(what, hint, on_index, index_has)


# Conda packages that are not Python packages (system libraries, C tools, compilers, conda's
# own tools), keyed by conda name. Named in the error, never silently dropped or sent to the
# index, where the name is missing or, worse, an unrelated package.
CONDA_ONLY: dict[str, CondaOnly] = {
    **{n: _CUDA_SET for n in ("cudatoolkit", "cuda", "cuda-toolkit", "cuda-libraries", "pytorch-cuda")},
    "cuda-runtime": _cuda("cuda-runtime"), "cuda-cudart": _cuda("cuda-runtime"),
    "cuda-nvcc": _cuda("cuda-nvcc"), "cudnn": _cuda("cudnn", True), "nccl": _cuda("nccl", True),
    "cuda-version": CondaOnly("conda's CUDA version selector", "remove {it}: pick CUDA wheels by their -cu11/-cu12 name"),
    "mkl": _wheel("mkl", "Intel's oneMKL library"),
    "intel-openmp": _wheel("intel-openmp", "Intel's OpenMP runtime"),
    "tbb": _wheel("tbb", "Intel's oneTBB library"),
    "mkl-service": _wheel("mkl-service", "conda's build of mkl-service"),
    "mkl_fft": _wheel("mkl_fft", "conda's build of mkl_fft"),
    "mkl_random": _wheel("mkl_random", "conda's build of mkl_random"),
    "tzdata": CondaOnly("the IANA time zone database",
                        "add `tzdata` to the `- pip:` list (its versions read 2024.1 for 2024a)",
                        on_index="the `tzdata` wheel"),
    "graphviz": _same_name("the Graphviz C tools, `dot` and its libraries",
                           "the Python bindings (conda's `python-graphviz`)",
                           "install Graphviz with your system's package manager; for the Python bindings "
                           "write `python-graphviz` (or `graphviz` in the `- pip:` list)"),
    "pandoc": _same_name("the pandoc program", "an unrelated Python library",
                         "add `pypandoc_binary` to the `- pip:` list (it bundles the pandoc program), or "
                         "install pandoc with your system's package manager",
                         on_index="`pypandoc_binary`, which bundles the program"),
    "git": _same_name("the git program", "an unrelated package"),
    "zstd": _same_name("the zstd C library and tool", "an unrelated Python binding",
                       "for Python code use `zstandard`; for the tool, your system's package manager"),
    "ffmpeg": CondaOnly("the ffmpeg program and libraries",
                        "install ffmpeg with your system's package manager; Python code can use "
                        "`imageio-ffmpeg` from the index, which bundles an ffmpeg executable"),
    **{n: CondaOnly("a C library", _SYSTEM) for n in (
        "libtiff", "lcms2", "libpng", "jpeg", "libjpeg-turbo", "libwebp", "freetype", "zeromq", "hdf5",
        "libprotobuf", "libxml2", "libxslt", "libcurl", "curl", "krb5", "expat", "pcre", "pcre2", "glib",
        "cairo", "pango", "harfbuzz", "fontconfig", "pixman", "libsodium", "libuv", "lz4-c", "snappy",
        "blas", "libblas", "libcblas", "liblapack", "liblapacke", "openblas", "libopenblas",
        "libgcc-ng", "libgcc", "libstdcxx-ng", "libstdcxx", "libgfortran-ng", "libgfortran5",
        "libgomp", "_libgcc_mutex", "_openmp_mutex", "ld_impl_linux-64",
        "ca-certificates", "openssl", "libffi", "zlib", "libzlib", "xz", "bzip2", "ncurses",
        "readline", "sqlite", "tk", "libuuid", "libnsl", "libxcrypt", "libiconv", "icu", "libedit",
        "libsqlite", "liblzma", "libexpat", "libmpdec", "xorg-libx11", "xorg-libxau", "xorg-libxdmcp",
    )},
    **{n: CondaOnly("a compiler toolchain", _COMPILER) for n in (
        "c-compiler", "cxx-compiler", "fortran-compiler", "compilers", "gcc", "gxx", "gfortran",
        "gcc_linux-64", "gxx_linux-64", "gfortran_linux-64", "clang", "clangxx", "make", "binutils",
        "sysroot_linux-64", "kernel-headers_linux-64",
    )},
    **{n: CondaOnly("part of conda itself", _CONDA_TOOL) for n in (
        "conda", "conda-build", "conda-libmamba-solver", "mamba", "anaconda-client", "nb_conda",
        "nb_conda_kernels", "conda-forge-pinning", "anaconda",
    )},
    "nodejs": CondaOnly("the Node.js runtime", _TOOL),
    "openjdk": CondaOnly("the OpenJDK Java runtime", _TOOL),
    "r-base": CondaOnly("the R language", _TOOL),
}

# Index names conda maps to that the index has no wheels of.
NO_WHEELS: dict[str, CondaOnly] = {
    "pyqt4": CondaOnly("PyQt4, which is not on the Python index as a wheel",
                       "PyQt5 and PyQt6 are: ask for `pyqt=5` (PyQt5), or keep PyQt4 for when conda "
                       "channels are supported"),
}


@lru_cache(maxsize=1)
def _grayskull() -> dict[str, list[tuple[str, str | None, str | None]]]:
    """conda name -> [(index name, delimiter_min, delimiter_max)], from grayskull's table."""
    # lazy: a 10k-name table, read only for a name the index lacks
    from envstore.spec.grayskull_names import PYPI_TO_CONDA

    out: dict[str, list[tuple[str, str | None, str | None]]] = {}
    for pypi, (conda, lo, hi) in PYPI_TO_CONDA.items():
        if canonicalize_name(conda) != canonicalize_name(pypi):
            out.setdefault(canonicalize_name(conda), []).append((pypi, lo, hi))
    return out


def _within(specifier: SpecifierSet, lo: str | None, hi: str | None) -> bool:
    """Whether a constraint asks for versions in [lo, hi): it admits `lo`, or a version it
    names lies in the range."""
    if specifier.contains(lo or "0", prereleases=True):
        return True
    for s in specifier:
        try:
            v = Version(s.version.removesuffix(".*"))
        except InvalidVersion:
            continue
        if s.operator in ("==", "===", ">=", ">", "~=") and (lo is None or v >= Version(lo)) and (
                hi is None or v < Version(hi)):
            return True
    return False


def index_name(conda_name: str, specifier: str = "") -> str:
    """The package's name on a Python package index (a conda name that covers several index
    packages by version, like pyqt, is resolved with the constraint asked for)."""
    key = canonicalize_name(conda_name)
    if conda_name.lower() in CONDA_TO_PYPI:
        return CONDA_TO_PYPI[conda_name.lower()]
    candidates = _grayskull().get(key)
    if not candidates:
        return conda_name
    spec = SpecifierSet(specifier)
    fitting = [c for c in candidates if _within(spec, c[1], c[2])] or candidates
    # The newest range wins when several fit (`pyqt` alone is PyQt5, not PyQt4).
    return max(fitting, key=lambda c: Version(c[1] or "0"))[0]


@lru_cache(maxsize=1)
def _conda_only_by_key() -> dict[str, CondaOnly]:
    return {canonicalize_name(n): info for n, info in CONDA_ONLY.items()}


def conda_only(conda_name: str, specifier: str = "") -> CondaOnly | None:
    """Why this conda package cannot come from a Python index, or None if it can."""
    key = canonicalize_name(conda_name)
    if key in _conda_only_by_key():
        return _conda_only_by_key()[key]
    if key.startswith("r-"):
        return CondaOnly("an R package", _TOOL)
    return NO_WHEELS.get(canonicalize_name(index_name(conda_name, specifier)))


def conda_only_problem(spec_text: str, conda_name: str, specifier: str, info: CondaOnly) -> tuple[str, str, Group | None]:
    """The message and hint for a conda-only package (what it is, the index's equivalent where
    one exists, and what to write instead), and, for one with nothing of its own to say, how a
    list shows it together with others of its kind."""
    pin, major = specifier, "12"
    clauses = list(SpecifierSet(specifier))
    if clauses:
        try:
            v = Version(clauses[0].version.removesuffix(".*"))
        except InvalidVersion:
            v = None
        if v is not None:
            major = str(v.major)
            if len(clauses) == 1 and clauses[0].operator == "==" and len(v.release) >= 3:
                pin = f"=={v}"  # conda's `mkl=2023.1.0` is that release; `.*` would only add noise
    fill = {"pin": pin, "major": major, "it": "it"}
    if info.on_index:
        message = (f"{spec_text!r}: {conda_name} is a conda package ({info.what}); the Python index has "
                   f"it as {info.on_index.format(**fill)}")
    else:
        message = f"{spec_text!r}: {conda_name} is a conda-only package ({info.what})"
    group = None
    if info.index_has:
        message += f"; the index's `{conda_name}` is {info.index_has}, so it is not taken from there"
    elif not info.on_index:
        group = Group(("conda-only", info.what, info.hint), f"conda-only packages ({info.what})", conda_name,
                      hint_for_all=info.hint.format(**{**fill, "it": "them"}))
    return message, info.hint.format(**fill), group


def split_match_spec(text: str) -> tuple[str, str]:
    """`conda-forge::numpy >=1.26,<2` -> ("numpy", ">=1.26,<2"): the conda name and the PEP 440
    specifier ("" for any version). Raises MatchSpecError, also for conda-only parts such as
    build strings."""
    spec = parse_match_spec(text)
    if spec.conda_part is not None:
        raise spec.conda_part
    return spec.name, spec.specifier


def is_conda_only(conda_name: str) -> bool:
    return conda_only(conda_name) is not None
