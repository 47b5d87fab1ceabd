#!/usr/bin/env python3
"""Shim dispatch benchmark: what the envstore shim adds to starting a program, side by side
with a direct exec, a minimal C exec wrapper (the floor: compiled with cc here, it does
nothing but execv) and pyenv's own shim, all interleaved in one run.

  true      a tiny static target (/bin/true, copied into a fake prefix) reached four ways:
            direct, the C wrapper, the envstore shim outside any project (default profile)
            and inside a project 8 directories deep (the upward walk). Pure dispatch cost.
  python    `python -c pass` from a real prefix: direct, C wrapper, envstore shim in the
            project, and pyenv's shim with PYENV_VERSION set to the same version.

Each sample is one posix_spawn + waitpid timed with perf_counter_ns; medians and p90 over
many runs, then overhead = median - median(direct) and ratios. Everything lives in a temp
dir removed afterwards.

    python benches/bench_shim.py              # 2000 runs of true, 200 of python
    python benches/bench_shim.py --quick      # 300 / 40
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import log, store_command

C_WRAPPER = r"""
#include <unistd.h>
#include <stdio.h>
int main(int argc, char **argv) {
    (void)argc;
    argv[0] = TARGET;
    execv(TARGET, argv);
    perror("execv");
    return 127;
}
"""


def spawn_ns(argv: list[str], cwd: str, env: dict[str, str]) -> int:
    old = os.getcwd()
    os.chdir(cwd)
    try:
        t = time.perf_counter_ns()
        pid = os.posix_spawn(argv[0], argv, env)
        _, status = os.waitpid(pid, 0)
        elapsed = time.perf_counter_ns() - t
    finally:
        os.chdir(old)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{argv} failed in {cwd}")
    return elapsed


def compile_wrapper(target: Path, out: Path) -> Path | None:
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if cc is None:
        return None
    src = out.with_suffix(".c")
    src.write_text(C_WRAPPER.replace("TARGET", '"' + str(target).replace('"', '\\"') + '"'))
    subprocess.run([cc, "-O2", "-o", str(out), str(src)], check=True)
    return out


def measure(cases: dict[str, tuple[list[str], str, dict[str, str]]], runs: int) -> dict[str, list[int]]:
    samples: dict[str, list[int]] = {k: [] for k in cases}
    for argv, cwd, env in cases.values():  # warm caches once
        spawn_ns(argv, cwd, env)
    for _ in range(runs):
        for name, (argv, cwd, env) in cases.items():  # interleaved: drift hits every case alike
            samples[name].append(spawn_ns(argv, cwd, env))
    return samples


def report(title: str, samples: dict[str, list[int]], base: str) -> None:
    base_med = statistics.median(samples[base])
    print(f"\n{title}  ({len(samples[base])} runs each, interleaved)")
    print(f"  {'case':<34}{'p50 ms':>9}{'p90 ms':>9}{'over direct':>13}{'ratio':>8}")
    for name, s in samples.items():
        med = statistics.median(s)
        p90 = statistics.quantiles(s, n=10)[-1]
        print(f"  {name:<34}{med / 1e6:>9.3f}{p90 / 1e6:>9.3f}{(med - base_med) / 1e6:>+12.3f} {med / base_med:>7.2f}x")


def shim_samples(runs_true: int, runs_py: int) -> list[tuple[str, dict[str, list[int]]]]:
    """Both comparisons, measured: [(title, {case: [ns, ...]}), ...]; "direct exec" is the base."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from test_realize_real import pyenv_versions

    versions = pyenv_versions()
    if not versions:
        raise SystemExit("needs a pyenv CPython to build an environment")
    version = versions[0]
    tmp = Path(tempfile.mkdtemp(prefix="bench-shim-"))
    try:
        store = tmp / "store"
        proj = tmp / "proj"
        proj.mkdir()
        (proj / "env.yml").write_text(f"name: bench\ndependencies:\n  - python={version}\n  - pip:\n      - six\n")
        STORE = store_command()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ENVSTORE_", "PYTHON", "VIRTUAL_ENV"))}
        prefix = Path(subprocess.run([STORE, "--store", str(store), "realize"], cwd=proj, env=env, check=True,
                                     capture_output=True, text=True).stdout.strip())
        shim_dir = Path(subprocess.run([STORE, "--store", str(store), "shims", "install"], env=env, check=True,
                                       capture_output=True, text=True).stdout.strip())
        deep = proj.joinpath(*[f"d{i}" for i in range(8)])
        deep.mkdir(parents=True)

        # `true`: a fake prefix holding a copy of /bin/true, made the default profile by
        # pointing profiles/default at it directly (the shim only follows links).
        fake = tmp / "fake-prefix"
        (fake / "bin").mkdir(parents=True)
        true_src = shutil.which("true") or "/bin/true"
        shutil.copy2(os.path.realpath(true_src), fake / "bin" / "true")
        os.link(shim_dir / "envstore-shim", shim_dir / "true")
        (store / "profiles").mkdir(exist_ok=True)
        os.symlink(fake, store / "profiles" / "default")
        outside = tmp / "outside"
        outside.mkdir()
        # The real prefix has no `true` (the shim would fall through PATH), so the upward walk
        # is measured in a second project whose out-link is the fake prefix.
        fproj = tmp / "fproj"
        (fproj / ".envstore").mkdir(parents=True)
        os.symlink(fake, fproj / ".envstore" / "fake")
        fdeep = fproj.joinpath(*[f"d{i}" for i in range(8)])
        fdeep.mkdir(parents=True)

        run_env = dict(env, PATH=f"{shim_dir}{os.pathsep}/usr/bin{os.pathsep}/bin")
        wrapper_true = compile_wrapper(fake / "bin" / "true", tmp / "wrap-true")
        true_cases = {"direct exec": ([str(fake / "bin" / "true")], str(outside), run_env)}
        if wrapper_true:
            true_cases["C exec wrapper (floor)"] = ([str(wrapper_true)], str(outside), run_env)
        true_cases["envstore shim, default profile"] = ([str(shim_dir / "true")], str(outside), run_env)
        true_cases["envstore shim, project 8 dirs up"] = ([str(shim_dir / "true")], str(fdeep), run_env)
        out = [(f"true: pure dispatch ({true_src})", measure(true_cases, runs_true))]

        py = prefix / "bin" / "python"
        pass_argv = ["-c", "pass"]
        wrapper_py = compile_wrapper(py, tmp / "wrap-python")
        py_cases = {"direct exec": ([str(py), *pass_argv], str(deep), run_env)}
        if wrapper_py:
            py_cases["C exec wrapper (floor)"] = ([str(wrapper_py), *pass_argv], str(deep), run_env)
        py_cases["envstore shim, project"] = ([str(shim_dir / "python"), *pass_argv], str(deep), run_env)
        pyenv = shutil.which("pyenv")
        if pyenv:
            root = subprocess.run([pyenv, "root"], capture_output=True, text=True).stdout.strip()
            full = next(iter(sorted(Path(root, "versions").glob(f"{version}.*"), reverse=True)), None)
            pyenv_shim = Path(root, "shims", "python")
            if full and pyenv_shim.exists():
                penv = dict(run_env, PYENV_VERSION=full.name,
                            PATH=f"{pyenv_shim.parent}{os.pathsep}{Path(pyenv).parent}{os.pathsep}/usr/bin:/bin")
                pdirect = full / "bin" / "python"
                py_cases["pyenv: direct exec of its python"] = ([str(pdirect), *pass_argv], str(deep), penv)
                py_cases["pyenv shim"] = ([str(pyenv_shim), *pass_argv], str(deep), penv)
        else:
            log("pyenv not found: no pyenv column")
        out.append((f"python -c pass (python {version})", measure(py_cases, runs_py)))
        return out
    finally:
        subprocess.run(["chmod", "-R", "u+w", str(tmp)], check=False)
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--runs", type=int, default=None, help="runs of the `true` cases")
    args = ap.parse_args()
    runs_true = args.runs or (300 if args.quick else 2000)
    for title, samples in shim_samples(runs_true, max(20, runs_true // 10)):
        report(title, samples, "direct exec")


if __name__ == "__main__":
    main()
