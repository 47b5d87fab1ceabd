"""Call a project's PEP 517/660 build backend through pyproject_hooks, in a subprocess of a
given interpreter, with HOME, TMPDIR and the usual tool caches pointed inside a private
temporary directory, a wall-clock timeout (ENVSTORE_BUILD_TIMEOUT seconds, default 900) that
kills the backend's whole process group, and a failure message that names the package and
shows the last lines of the backend's output."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from envstore.errors import EnvstoreError

DEFAULT_TIMEOUT = 900.0
TAIL_LINES = 25


class BuildError(EnvstoreError):
    code = "build"


def build_timeout() -> float:
    raw = os.environ.get("ENVSTORE_BUILD_TIMEOUT")
    try:
        return float(raw) if raw else DEFAULT_TIMEOUT
    except ValueError:
        raise BuildError(f"ENVSTORE_BUILD_TIMEOUT={raw!r} is not a number of seconds") from None


def sandbox_env(sandbox: Path, path_dirs: Sequence[Path] = ()) -> dict[str, str]:
    """The environment a backend sees: a PATH (the build env's bin first) and every home and
    cache directory inside `sandbox`, so a backend that writes to ~ writes into the sandbox."""
    home = sandbox / "home"
    for d in (home, sandbox / "tmp", sandbox / "cache"):
        d.mkdir(parents=True, exist_ok=True)
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "SOURCE_DATE_EPOCH")}
    env = dict(keep)
    env["PATH"] = os.pathsep.join([*(str(p) for p in path_dirs), keep.get("PATH", os.defpath)])
    env.update({
        "HOME": str(home), "USERPROFILE": str(home), "TMPDIR": str(sandbox / "tmp"),
        "XDG_CACHE_HOME": str(sandbox / "cache"), "PIP_CACHE_DIR": str(sandbox / "cache" / "pip"),
        "PIP_NO_INPUT": "1", "PYTHONNOUSERSITE": "1", "PYTHONDONTWRITEBYTECODE": "1",
    })
    return env


class _Runner:
    """A pyproject_hooks subprocess runner that keeps the output, enforces the timeout and
    kills the backend's process group (a hung backend's children too)."""

    def __init__(self, env: Mapping[str, str], timeout: float) -> None:
        self.env = dict(env)
        self.timeout = timeout
        self.output: list[str] = []

    def __call__(self, cmd: Sequence[str], cwd: str | None = None,
                 extra_environ: Mapping[str, str] | None = None) -> None:
        env = {**self.env, **(extra_environ or {})}
        proc = subprocess.Popen(list(cmd), cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, errors="replace", start_new_session=True)
        try:
            out, _ = proc.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate()
            self.output.extend((out or "").splitlines())
            raise TimeoutError from None
        self.output.extend((out or "").splitlines())
        if proc.returncode:
            raise subprocess.CalledProcessError(proc.returncode, cmd)


def run_hook(hook: str, project: Path, python: Path, out_dir: Path, sandbox: Path, label: str,
             config_settings: Mapping[str, Any] | None = None, path_dirs: Sequence[Path] = (),
             timeout: float | None = None) -> Path:
    """Run `hook` (build_wheel, build_editable, prepare_metadata_for_build_wheel, build_sdist)
    of `project`'s backend with `python` (the build environment's interpreter) and return the
    file or directory it produced in `out_dir`. `label` names the package in messages."""
    out_dir.mkdir(parents=True, exist_ok=True)
    name = _call(hook, project, python, sandbox, label, path_dirs, timeout,
                 lambda fn: fn(str(out_dir), dict(config_settings) if config_settings else None))
    return out_dir / name


def build_requires(project: Path, python: Path, sandbox: Path, label: str, editable: bool = False,
                   config_settings: Mapping[str, Any] | None = None, path_dirs: Sequence[Path] = (),
                   timeout: float | None = None) -> list[str]:
    """What the backend asks for on top of `[build-system] requires` (PEP 517's
    get_requires_for_build_wheel, PEP 660's ..._editable); [] from a backend without the hook."""
    hook = "get_requires_for_build_editable" if editable else "get_requires_for_build_wheel"
    found = _call(hook, project, python, sandbox, label, path_dirs, timeout,
                  lambda fn: fn(dict(config_settings) if config_settings else None))
    if not isinstance(found, list) or not all(isinstance(r, str) for r in found):
        raise BuildError(f"{label}: its backend's {hook} returned {found!r}, not a list of requirements")
    return found


def _call(hook: str, project: Path, python: Path, sandbox: Path, label: str, path_dirs: Sequence[Path],
          timeout: float | None, invoke: Callable[[Callable[..., Any]], Any]) -> Any:
    """One hook through pyproject_hooks in the sandbox, its failures as one BuildError."""
    # lazy: pyproject_hooks loads only when something is built
    from pyproject_hooks import BackendUnavailable, BuildBackendHookCaller, HookMissing

    system = build_system(project)
    runner = _Runner(sandbox_env(sandbox, path_dirs), build_timeout() if timeout is None else timeout)
    caller = BuildBackendHookCaller(str(project), system["build-backend"], system.get("backend-path"),
                                    runner=runner, python_executable=str(python))
    try:
        return invoke(getattr(caller, hook))
    except TimeoutError:
        raise BuildError(f"building {label} timed out after {runner.timeout:g}s; the backend was killed",
                         _tail(runner.output) or "raise ENVSTORE_BUILD_TIMEOUT for builds that need longer") from None
    except (subprocess.CalledProcessError, BackendUnavailable, HookMissing) as e:
        raise BuildError(f"building {label} failed in its backend {system['build-backend']} ({hook}: "
                         f"{type(e).__name__})", _tail(runner.output) or None) from None


def build_system(project: Path) -> dict[str, Any]:
    """`[build-system]` of a project, with PEP 517's fallback for projects without one
    (setuptools' legacy backend)."""
    # lazy: TOML is read only when something is built
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - 3.9/3.10
        import tomli as tomllib
    path = project / "pyproject.toml"
    data: dict[str, Any] = {}
    if path.is_file():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8")).get("build-system") or {}
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise BuildError(f"{path}: invalid TOML: {e}") from None
    return {"requires": list(data.get("requires", ["setuptools>=40.8.0"])),
            "build-backend": data.get("build-backend", "setuptools.build_meta:__legacy__"),
            **({"backend-path": list(data["backend-path"])} if "backend-path" in data else {})}


def _tail(lines: Sequence[str]) -> str:
    shown = [line for line in lines if line.strip()][-TAIL_LINES:]
    return ("last lines of the backend's output:\n" + "\n".join(shown)) if shown else ""
