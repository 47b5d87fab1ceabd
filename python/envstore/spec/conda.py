"""Conda match specs (`numpy>=1.26,<2`, `pandas=2.2`, `scipy 1.13.*`) to PEP 440, and conda
package names to their names on a Python package index. Pure functions: no I/O.

The name table is deliberately small and documented in README.md; a name not in it is taken
to be the same on both sides (true for most Python packages)."""

from __future__ import annotations

import re

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name

# conda name -> name on a Python package index, where the two differ.
CONDA_TO_PYPI: dict[str, str] = {
    "pytorch": "torch",
    "pytorch-cpu": "torch",
    "pytorch-gpu": "torch",
    "py-opencv": "opencv-python",
    "opencv": "opencv-python",
    "pytables": "tables",
    "matplotlib-base": "matplotlib",
    "msgpack-python": "msgpack",
    "python-graphviz": "graphviz",
    "py-xgboost": "xgboost",
    "pyqt": "PyQt5",
    "ruamel_yaml": "ruamel.yaml",
    "tensorflow-base": "tensorflow",
    "jupyterlab_server": "jupyterlab-server",
    "typing_extensions": "typing-extensions",
    "importlib_metadata": "importlib-metadata",
}

# Conda packages that are system libraries or toolchains there and have no Python-package
# equivalent: the interpreter or a wheel brings its own copy. Named in the error, not skipped,
# so the user sees what an env file from conda expected that we will not provide.
CONDA_ONLY: frozenset[str] = frozenset({
    "cudatoolkit", "cudnn", "cuda", "cuda-toolkit", "cuda-nvcc", "cuda-runtime", "nccl",
    "mkl", "mkl-service", "mkl_fft", "mkl_random", "intel-openmp", "tbb",
    "blas", "libblas", "libcblas", "liblapack", "liblapacke", "openblas", "libopenblas",
    "libgcc-ng", "libgcc", "libstdcxx-ng", "libstdcxx", "libgfortran-ng", "libgfortran5",
    "libgomp", "_libgcc_mutex", "_openmp_mutex", "ld_impl_linux-64",
    "ca-certificates", "openssl", "libffi", "zlib", "libzlib", "xz", "bzip2", "ncurses",
    "readline", "sqlite", "tk", "libuuid", "libnsl", "libxcrypt", "tzdata",
    "gcc", "gxx", "gfortran", "compilers", "make", "nodejs", "r-base", "libiconv", "icu",
})

# Names that select the interpreter, not a package.
PYTHON_NAMES = frozenset({"python", "python_abi"})

# A leading underscore is legal in conda names (`_libgcc_mutex`, `_openmp_mutex`).
_NAME = r"[A-Za-z0-9_][A-Za-z0-9._-]*"
_SPEC_RE = re.compile(
    rf"^(?:(?P<channel>[A-Za-z0-9._/-]+)::)?(?P<name>{_NAME})\s*(?P<rest>.*)$"
)


class MatchSpecError(ValueError):
    """A match spec we cannot translate; the message says why, the caller adds the place."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


def split_match_spec(text: str) -> tuple[str, str]:
    """`conda-forge::numpy >=1.26,<2` -> ("numpy", ">=1.26,<2"): the name as written and
    the PEP 440 specifier (empty for a bare name)."""
    m = _SPEC_RE.match(text.strip())
    if not m:
        raise MatchSpecError(f"{text!r} is not a conda match spec",
                             "write `name`, `name=1.2`, `name>=1.2,<2` or `name 1.2.*`")
    name, rest = m.group("name"), m.group("rest").strip()
    if "[" in rest:
        raise MatchSpecError(f"{text!r}: bracket options are conda-only",
                             "write the version constraint directly, e.g. `numpy>=1.26`")
    return name, version_to_pep440(rest, text)


def version_to_pep440(rest: str, original: str) -> str:
    if not rest:
        return ""
    if "|" in rest:
        raise MatchSpecError(f"{original!r}: alternatives ('|') have no PEP 440 equivalent",
                             "pick one range, or list the package in the `- pip:` section")
    if rest.startswith("=") and not rest.startswith("=="):
        # `=2.2` is conda's fuzzy form: 2.2 and anything starting 2.2.
        parts = rest[1:].split("=")
        if len(parts) > 1:
            raise MatchSpecError(f"{original!r}: build strings are conda-only",
                                 f"drop the build part: `{original.rsplit('=', 1)[0]}`")
        return _fuzzy(parts[0], original)
    if rest[0].isdigit() or rest[0] == "*":
        # Space form: `1.2.*` is fuzzy; `1.2` alone is exact; a third word is a build string.
        words = rest.split()
        if len(words) > 1:
            raise MatchSpecError(f"{original!r}: build strings are conda-only",
                                 f"drop the build part: `{original.rsplit(None, 1)[0]}`")
        version = words[0]
        if version == "*":
            return ""
        if version.endswith("*"):
            return _fuzzy(version, original)
        return _checked("==" + version, original)
    clauses = []
    for clause in rest.replace(" ", "").split(","):
        if clause.endswith(".*") and clause.startswith(("==", "!=")):
            clauses.append(clause)
        elif clause.endswith("*"):
            # conda allows `>=1.2*`; the star adds nothing to an inequality.
            clauses.append(clause.rstrip("*").rstrip("."))
        else:
            clauses.append(clause)
    return _checked(",".join(clauses), original)


def _fuzzy(version: str, original: str) -> str:
    version = version.rstrip("*").rstrip(".")
    if not version:
        return ""
    return _checked(f"=={version}.*", original)


def _checked(spec: str, original: str) -> str:
    try:
        return str(SpecifierSet(spec)) if spec else ""
    except InvalidSpecifier:
        raise MatchSpecError(f"{original!r}: version constraint {spec!r} is not valid",
                             "use PEP 440 versions, e.g. `numpy>=1.26,<2`") from None


def index_name(conda_name: str) -> str:
    """The package's name on a Python package index."""
    return CONDA_TO_PYPI.get(conda_name.lower(), conda_name)


def is_conda_only(conda_name: str) -> bool:
    return canonicalize_name(conda_name) in {canonicalize_name(n) for n in CONDA_ONLY}
