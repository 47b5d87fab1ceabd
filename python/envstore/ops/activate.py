"""Shell integration: what `store activate` prints (and `deactivate` undoes), the prompt hook
`store hook` prints, and the environment `store shell` starts a subshell with. Scripts only
change PATH, VIRTUAL_ENV and the prompt; the hook asks the native shim which directory applies
(one rule, one implementation) and only when the working directory changed."""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from pathlib import Path

from envstore.errors import UsageError

SHELLS = ("bash", "zsh", "fish")


@dataclass(frozen=True)
class Activation:
    directory: Path  # its bin/ goes first on PATH
    label: str  # shown in the prompt
    virtual_env: bool  # an environment prefix (not a bare interpreter): set VIRTUAL_ENV


def detect_shell(shell_path: str | None) -> str:
    name = Path(shell_path or "").name
    return name if name in SHELLS else "bash"


def label_for(prefix: Path) -> str:
    # Store paths are <hash>-<name>: the name is what a person recognises.
    name = prefix.name
    head, sep, tail = name.partition("-")
    return tail if sep and len(head) == 32 else name


def _fish_quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def activate_script(act: Activation, shell: str) -> str:
    bindir = str(act.directory / "bin")
    if shell == "fish":
        q = _fish_quote
        lines = [
            "if functions -q deactivate; deactivate; end",
            "set -gx _ENVSTORE_OLD_PATH $PATH",
            f"set -gx PATH {q(bindir)} $PATH",
        ]
        if act.virtual_env:
            lines += [f"set -gx VIRTUAL_ENV {q(str(act.directory))}", f"set -gx VIRTUAL_ENV_PROMPT {q(act.label)}"]
        lines += [
            "function deactivate",
            "    set -gx PATH $_ENVSTORE_OLD_PATH",
            "    set -e _ENVSTORE_OLD_PATH VIRTUAL_ENV VIRTUAL_ENV_PROMPT",
            "    if functions -q _envstore_old_prompt",
            "        functions -e fish_prompt",
            "        functions -c _envstore_old_prompt fish_prompt",
            "        functions -e _envstore_old_prompt",
            "    end",
            "    functions -e deactivate",
            "end",
            "if functions -q fish_prompt",
            "    functions -c fish_prompt _envstore_old_prompt",
            "    function fish_prompt",
            f"        printf '(%s) ' {q(act.label)}",
            "        _envstore_old_prompt",
            "    end",
            "end",
        ]
        return "\n".join(lines) + "\n"
    q = shlex.quote
    lines = [
        # Activating twice must not stack: undo the previous activation first.
        "if [ -n \"${_ENVSTORE_OLD_PATH+x}\" ] && command -v deactivate >/dev/null 2>&1; then deactivate; fi",
        "_ENVSTORE_OLD_PATH=\"$PATH\"",
        "_ENVSTORE_OLD_PS1=\"${PS1-}\"",
        f"PATH={q(bindir)}:\"$PATH\"",
        "export PATH",
    ]
    if act.virtual_env:
        lines += [f"VIRTUAL_ENV={q(str(act.directory))}", "export VIRTUAL_ENV",
                  f"VIRTUAL_ENV_PROMPT={q(act.label)}", "export VIRTUAL_ENV_PROMPT"]
    lines += [
        f"PS1={q('(' + act.label + ') ')}\"${{PS1-}}\"",
        "deactivate() {",
        "    PATH=\"$_ENVSTORE_OLD_PATH\"; export PATH",
        "    PS1=\"$_ENVSTORE_OLD_PS1\"",
        "    unset VIRTUAL_ENV VIRTUAL_ENV_PROMPT _ENVSTORE_OLD_PATH _ENVSTORE_OLD_PS1",
        "    unset -f deactivate",
        "    hash -r 2>/dev/null",
        "}",
        "hash -r 2>/dev/null",
    ]
    return "\n".join(lines) + "\n"


_POSIX_HOOK_BODY = r"""
_envstore_hook() {
    _es_rc=$?
    if [ "$PWD" != "${_ENVSTORE_HOOK_PWD-}" ]; then
        _ENVSTORE_HOOK_PWD=$PWD
        # stderr passes through: the shim's one-time warnings (a stale env file) show here.
        _es_line=$(RESOLVER resolve) || _es_line=
        _es_kind=${_es_line%%	*}
        _es_dir=${_es_line#*	}
        if [ "$_es_dir" != "${_ENVSTORE_HOOK_DIR-}" ]; then
            if [ -n "${_ENVSTORE_HOOK_DIR-}" ]; then
                PATH=":$PATH:"
                PATH=${PATH//":$_ENVSTORE_HOOK_DIR/bin:"/:}
                PATH=${PATH#:}
                PATH=${PATH%:}
                if [ "${VIRTUAL_ENV-}" = "$_ENVSTORE_HOOK_DIR" ]; then unset VIRTUAL_ENV; fi
            fi
            _ENVSTORE_HOOK_DIR=$_es_dir
            if [ -n "$_es_dir" ]; then
                PATH="$_es_dir/bin:$PATH"
                if [ "$_es_kind" != python ]; then VIRTUAL_ENV=$_es_dir; export VIRTUAL_ENV; fi
            fi
            export PATH
            hash -r 2>/dev/null
        fi
    fi
    return $_es_rc
}
"""


def hook_script(shell: str, resolver: Path) -> str:
    """The prompt hook: on a change of directory, one run of the native resolver (about a
    millisecond); on every other prompt, a string comparison and nothing else."""
    if shell == "fish":
        r = _fish_quote(str(resolver))
        return "\n".join([
            "function _envstore_hook --on-variable PWD",
            f"    set -l line ({r} resolve 2>/dev/null)",
            "    set -l parts (string split -m1 \\t -- \"$line\")",
            "    set -l dir \"$parts[2]\"",
            "    if test \"$dir\" = \"$_ENVSTORE_HOOK_DIR\"; return; end",
            "    if test -n \"$_ENVSTORE_HOOK_DIR\"",
            "        set -l i (contains -i -- \"$_ENVSTORE_HOOK_DIR/bin\" $PATH); and set -e PATH[$i]",
            "        if test \"$VIRTUAL_ENV\" = \"$_ENVSTORE_HOOK_DIR\"; set -e VIRTUAL_ENV; end",
            "    end",
            "    set -g _ENVSTORE_HOOK_DIR \"$dir\"",
            "    if test -n \"$dir\"",
            "        set -gx PATH \"$dir/bin\" $PATH",
            "        if test \"$parts[1]\" != python; set -gx VIRTUAL_ENV \"$dir\"; end",
            "    end",
            "end",
            "_envstore_hook",
        ]) + "\n"
    body = _POSIX_HOOK_BODY.replace("RESOLVER", shlex.quote(str(resolver)))
    if shell == "zsh":
        return body + "autoload -Uz add-zsh-hook\nadd-zsh-hook precmd _envstore_hook\n_envstore_hook\n"
    return body + (
        "case \";${PROMPT_COMMAND-};\" in *\";_envstore_hook;\"*) ;; "
        "*) PROMPT_COMMAND=\"_envstore_hook${PROMPT_COMMAND:+;$PROMPT_COMMAND}\" ;; esac\n"
        "_envstore_hook\n"
    )


def shell_command(act: Activation, shell_path: str, tmp_dir: Path) -> tuple[list[str], dict[str, str]]:
    """argv and environment for `store shell`: the user's shell, interactive, with its usual
    startup files read first and the activation applied after them (so the prompt keeps the mark)."""
    shell = Path(shell_path).name
    env = dict(os.environ)
    env.pop("PYTHONHOME", None)
    env["ENVSTORE_SHELL"] = act.label
    if shell in ("bash", "zsh", "fish"):
        script = activate_script(act, shell)
        tmp_dir.mkdir(parents=True, exist_ok=True)
        if shell == "bash":
            rc = tmp_dir / f"shell-{os.getpid()}.bashrc"
            # The rc file removes itself once read: nothing is left in the store's tmp/.
            rc.write_text(f"[ -f ~/.bashrc ] && . ~/.bashrc\n{script}rm -f {shlex.quote(str(rc))}\n")
            return [shell_path, "--rcfile", str(rc), "-i"], env
        if shell == "zsh":
            zdot = tmp_dir / f"shell-{os.getpid()}.zsh"
            zdot.mkdir(exist_ok=True)
            home_zdot = env.get("ZDOTDIR") or str(Path.home())
            (zdot / ".zshrc").write_text(
                f"ZDOTDIR={shlex.quote(home_zdot)}\n[ -f \"$ZDOTDIR/.zshrc\" ] && . \"$ZDOTDIR/.zshrc\"\n{script}"
                f"rm -rf {shlex.quote(str(zdot))}\n")
            env["ZDOTDIR"] = str(zdot)
            return [shell_path, "-i"], env
        return [shell_path, "-i", "-C", script], env
    # Any other shell: the environment alone, and a PS1 for shells that read it from there.
    env["PATH"] = f"{act.directory / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    if act.virtual_env:
        env["VIRTUAL_ENV"] = str(act.directory)
    env["PS1"] = f"({act.label}) {env.get('PS1', '$ ')}"
    return [shell_path], env


def check_shell(shell: str) -> str:
    if shell not in SHELLS:
        raise UsageError(f"unsupported shell '{shell}' (supported: {', '.join(SHELLS)})")
    return shell
