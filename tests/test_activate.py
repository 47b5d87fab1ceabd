"""Shell integration: `store activate` + `deactivate` in bash, the bash prompt hook switching
PATH on cd (one native resolver run per change of directory), `store shell`, and the scripts
for zsh and fish (run when those shells exist here)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import run_store
from test_shims import two_versions, write_env

pytestmark = pytest.mark.network


@pytest.fixture(scope="module")
def projects(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("activate")
    store = base / "store"
    va, vb = two_versions()
    a = write_env(base / "A", "act-a", va, ["six"])
    b = write_env(base / "B", "act-b", vb, ["idna"])
    pa = Path(run_store("realize", str(a), store_root=store, check=True).stdout.strip())
    pb = Path(run_store("realize", str(b), store_root=store, check=True).stdout.strip())
    run_store("use", str(pb), store_root=store, check=True)
    (base / "outside").mkdir()
    return {"base": base, "store": store, "a": a.parent, "b": b.parent, "pa": pa, "pb": pb}


def bash(script: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ENVSTORE_", "VIRTUAL_ENV"))}
    env["PATH"] = "/usr/bin:/bin:" + str(Path(shutil.which("store") or "store").parent)
    return subprocess.run(["bash", "-c", script], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_activate_and_deactivate_bash(projects) -> None:
    s = projects["store"]
    out = bash(f"""
        before=$PATH
        eval "$(store --store {s} activate --shell bash {projects['a'] / 'env.yml'})"
        python -c 'import sys; print(sys.prefix)'
        echo "$VIRTUAL_ENV|$PS1"
        eval "$(store --store {s} activate --shell bash {projects['pb']})"
        python -c 'import sys; print(sys.prefix)'
        deactivate
        [ "$PATH" = "$before" ] && echo restored
        echo "${{VIRTUAL_ENV-unset}}"
        type deactivate >/dev/null 2>&1 || echo gone
    """, projects["base"])
    lines = out.stdout.splitlines()
    assert lines == [str(projects["pa"]), f"{projects['pa']}|(act-a) ", str(projects["pb"]), "restored", "unset",
                     "gone"], out.stderr


def test_activate_without_argument_follows_the_shim_rule(projects) -> None:
    s = projects["store"]
    sub = projects["a"] / "sub"
    sub.mkdir(exist_ok=True)
    out = bash(f'eval "$(store --store {s} activate)"; echo "$VIRTUAL_ENV"', sub)
    assert out.stdout.strip() == str(projects["pa"]), out.stderr
    out = bash(f'eval "$(store --store {s} activate)"; echo "$VIRTUAL_ENV"', projects["base"] / "outside")
    assert out.stdout.strip() == str(projects["pb"]), out.stderr  # the default profile


def test_bash_hook_switches_path_on_cd(projects) -> None:
    s = projects["store"]
    pyprefix = "python -c 'import sys; print(sys.prefix)'"
    out = bash(f"""
        eval "$(store --store {s} hook bash)"
        case "$PROMPT_COMMAND" in *_envstore_hook*) echo installed;; esac
        cd {projects['a']}; _envstore_hook; {pyprefix}
        cd {projects['b']}; _envstore_hook; {pyprefix}
        cd {projects['a']}/..; cd {projects['a']}; _envstore_hook; {pyprefix}
        cd {projects['base'] / 'outside'}; _envstore_hook; {pyprefix}
        echo "$PATH" | tr ':' '\\n' | grep -c envs/
    """, projects["base"])
    assert out.stdout.splitlines() == ["installed", str(projects["pa"]), str(projects["pb"]), str(projects["pa"]),
                                       str(projects["pb"]), "1"], out.stderr


def test_hook_does_nothing_when_directory_is_unchanged(projects) -> None:
    s = projects["store"]
    # Replace the resolver by a counter after the first run: a prompt in the same directory
    # must not run anything.
    out = bash(f"""
        eval "$(store --store {s} hook bash | sed 's#^_envstore_hook$##')"
        cd {projects['a']}; _envstore_hook
        before=$PATH; _envstore_hook; _envstore_hook
        [ "$PATH" = "$before" ] && echo same
    """, projects["base"])
    assert out.stdout.strip() == "same", out.stderr
    script = run_store("hook", "bash", store_root=s, check=True).stdout
    assert "python" not in script.split("_envstore_hook() {")[1].split("}")[0].replace("!= python", "")


def test_store_shell_runs_an_activated_subshell(projects) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ENVSTORE_", "VIRTUAL_ENV"))}
    for shell in ("/bin/sh", shutil.which("bash")):
        if not shell:
            continue
        proc = subprocess.run(["store", "--store", str(projects["store"]), "shell", str(projects["pa"])],
                              input="python -c 'import sys; print(sys.prefix)'\necho \"$VIRTUAL_ENV\"\nexit\n",
                              env={**env, "SHELL": shell, "HOME": str(projects["base"])},
                              capture_output=True, text=True, timeout=60, cwd=projects["base"])
        assert proc.stdout.split()[:2] == [str(projects["pa"])] * 2, (shell, proc.stdout, proc.stderr)
    assert not list((projects["store"] / "tmp").glob("shell-*")), "the rc file removes itself"


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_other_shells(projects, shell: str) -> None:
    s = projects["store"]
    script = run_store("activate", "--shell", shell, str(projects["pa"]), store_root=s, check=True).stdout
    assert "deactivate" in script and str(projects["pa"] / "bin") in script
    hook = run_store("hook", shell, store_root=s, check=True).stdout
    assert "resolve" in hook
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed here; scripts checked for content only")
    activate = f"store --store {s} activate --shell {shell} {projects['pa']}"
    load = f"source ({activate} | psub)" if shell == "fish" else f'eval "$({activate})"'
    code = f"{load}; python -c 'import sys; print(sys.prefix)'"
    out = subprocess.run([shell, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == str(projects["pa"]), out.stderr


def test_bad_input(projects, tmp_path: Path) -> None:
    s = projects["store"]
    out = run_store("activate", str(tmp_path / "nope"), store_root=s)
    assert out.returncode == 1 and out.stderr.startswith("error: ") and "Traceback" not in out.stderr
    out = run_store("hook", "tcsh", store_root=s)
    assert out.returncode == 2 and "Traceback" not in out.stderr
