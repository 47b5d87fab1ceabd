"""The user guide cannot rot: every command line in docs/*.md and README.md is run, or is
declared not runnable with a reason the test checks.

The convention (docs/README.md, "How these pages are tested"):

- A ```sh block is run. The blocks of one page run in order as one terminal session in a
  sandbox: a temporary HOME (so the default store is ~/.local/share/envstore inside it), a
  temporary TMPDIR, a copy of examples/ at ~/envstore (where each page starts), pip's own
  configuration for the index, `bash` with `set -e`, stdin from /dev/null. The working
  directory and the exported variables carry over from one block to the next. Each block
  must exit 0.
- A ```text block right after a ```sh block is that block's output (stdout and stderr as a
  terminal shows them). Each of its lines must appear in the real output, in order; lines may
  be left out. `…` stands for any text, a line that is only `…` for lines left out. Before
  comparing, the sandbox's paths become /home/you and /tmp, hashes and numbers are masked,
  runs of spaces are one space.
- HTML comments before a block change that: `<!-- doc-test exit: 1 -->` (the block's last
  command must fail with that status), `<!-- doc-test stdin: TEXT -->`, `<!-- doc-test stub:
  CMD ARGS -->` (that exact command line does nothing; needs covered-by), `<!-- doc-test
  not-run: REASON -->` (not run; listed in NOT_RUN below), `<!-- doc-test covered-by: TARGET
  -->` (where a stubbed or not-run line is tested instead: tests/FILE.py::TEST or a file that
  contains the line), `<!-- doc-test help: store CMD -->` before a ```text block (it must be
  the command's real --help).
- Every `store ...` command anywhere (in any code block or `inline code`) must use real
  subcommands and options, and must be run by some block with the same subcommand and at
  least the same options, unless its block names covered-by.

The interpreter import into a fresh store (~25 s) is paid once: a template store with the
interpreter is made per test session, and a `store` wrapper first on the sandbox's PATH seeds
any store that does not exist yet (or is an empty directory) with a copy of it before running
the real `store`; an import prints nothing, so the output is the same. The sessions need the
index pip is configured with (marker `network`) and pyenv's CPython 3.11 (examples/hello asks
for python=3.11 and the pages import it with `pyenv prefix 3.11`).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import click
import pytest

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"
PAGES = sorted(DOCS.glob("*.md")) + [REPO / "README.md"]

# Lines that are shown but not run, with why: (page, first line of the block) -> reason. The
# test fails when a page gains or loses one, so each is a decision someone made.
NOT_RUN = {
    ("README.md", "pip install '.[test]' && cargo test --workspace && pytest -n auto"):
        "the test command itself: it is exactly .ci/run, which CI runs on every submission",
    ("README.md", "store python list [--json]            # in the store, and found on this machine (pyenv, uv, PATH, /usr)"):
        "a synopsis with placeholders (3.12.1, a mirror URL); each command runs in docs/reference.md, "
        "`store python install` in tests/test_interpreters.py",
    ("README.md", 'export PATH="$(store shims install):$PATH"   # once; the line for your shell profile goes to stderr'):
        "a sketch over placeholder projects (project-a, project-b); the same commands run in "
        "docs/walkthrough.md and docs/reference.md",
    ("migrating.md", "conda env export > environment.yml"):
        "conda is not installed where the docs are tested; its output is shown as a file and fed to store",
    ("migrating.md", "uv export --format pylock.toml -o pylock.toml        # from a uv project (uv.lock)"):
        "uv is not installed where the docs are tested (and reads its own index settings, not pip's); "
        "`pip lock` above writes the same PEP 751 format and is run",
    ("cache.md", "export AWS_ENDPOINT_URL=https://s3.team.example AWS_REGION=eu-west-1"):
        "needs an S3 endpoint and credentials; tests/test_cache.py runs the same against a SeaweedFS server it starts",
    ("cache.md", "printf '%s\\n' \"$ENVSTORE_SIGNING_KEY\" > \"$RUNNER_TEMP/signing.sec\""):
        "a CI job's script, with the secret key and the bucket of a CI system; tests/test_cache.py pushes and "
        "pulls the same way",
    ("reference.md", "store python install 3.12.1 --from ./cpython-3.12.1+20240107-x86_64-unknown-linux-gnu-install_only.tar.gz"):
        "needs a python-build-standalone archive, which the test machines cannot download",
}
# Stubbed command lines: (page, line) -> what exercises them instead.
STUBS = {
    ("README.md", "pip install ."): "tests/test_shims_wheel.py::test_wheel_from_clean_clone_ships_working_shims",
    ("walkthrough.md", "pip install ."): "tests/test_shims_wheel.py::test_wheel_from_clean_clone_ships_working_shims",
}
# Commands no block runs, and the test that does.
NOT_EXECUTED_COMMANDS = {("python", "install"): "tests/test_interpreters.py::test_install_from_standalone_archive"}

DIRECTIVE = re.compile(r"^<!--\s*doc-test\s+([a-z-]+):\s*(.*?)\s*-->$")
KNOWN_DIRECTIVES = {"exit", "stdin", "stub", "not-run", "covered-by", "help"}
RUN_LANGS = {"sh", "bash"}
COMMAND_LANGS = RUN_LANGS | {"", "shell", "console", "zsh", "fish"}


# -- Reading the pages -------------------------------------------------------------------------


@dataclass
class Block:
    page: Path
    line: int  # 1-based line of the opening fence
    lang: str
    text: str
    directives: dict[str, str] = field(default_factory=dict)
    output: Block | None = None

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(REPO)}:{self.line}"

    @property
    def runs(self) -> bool:
        return self.lang in RUN_LANGS and "not-run" not in self.directives

    @property
    def first_line(self) -> str:
        return next((ln for ln in self.text.splitlines() if ln.strip()), "")


@dataclass
class Page:
    path: Path
    blocks: list[Block]
    inline: list[tuple[int, str]]  # (line, code) of `inline code` outside blocks


def parse_page(path: Path) -> Page:
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    inline: list[tuple[int, str]] = []
    pending: dict[str, str] = {}
    previous: Block | None = None  # the last block, while only blank lines follow it
    i = 0
    while i < len(lines):
        line = lines[i]
        fence = re.match(r"^(\s*)(```+)\s*([\w+-]*)\s*$", line)
        if fence:
            indent, ticks, lang = fence.groups()
            body = []
            i += 1
            while i < len(lines) and not re.match(rf"^\s*{ticks}\s*$", lines[i]):
                body.append(lines[i][len(indent):] if lines[i].startswith(indent) else lines[i].lstrip())
                i += 1
            block = Block(path, i - len(body), lang, "\n".join(body) + "\n", pending)
            pending = {}
            if lang == "text" and previous is not None and previous.lang in RUN_LANGS and "help" not in block.directives:
                previous.output = block
            blocks.append(block)
            previous = block if lang in RUN_LANGS else None
            i += 1
            continue
        d = DIRECTIVE.match(line.strip())
        if d:
            pending[d.group(1)] = d.group(2)
        elif line.strip():
            previous = None
            for m in re.finditer(r"(?<!`)`([^`\n]+)`(?!`)", line):
                inline.append((i + 1, m.group(1)))
        i += 1
    return Page(path, blocks, inline)


def all_pages() -> list[Page]:
    return [parse_page(p) for p in PAGES]


# -- Finding `store` commands in shell text ----------------------------------------------------

_SUBST = re.compile(r"\$\(([^()]*)\)")
_HEREDOC = re.compile(r"<<-?\s*['\"]?(\w+)['\"]?")
_PREFIX_WORDS = {"time", "!", "then", "do", "else", "exec", "command", "if", "while", "until", "eval", "{"}


def shell_commands(script: str) -> list[list[str]]:
    """Every simple command (as words) in a piece of shell, `$(...)` contents included; the
    bodies of here-documents are skipped."""
    out: list[list[str]] = []
    text = script.replace("\\\n", " ")
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        out.extend(_commands_in_line(line))
        heredoc = _HEREDOC.search(line)
        if heredoc:
            end = heredoc.group(1)
            i += 1
            while i < len(lines) and lines[i].strip() != end:
                i += 1
        i += 1
    return out


def _commands_in_line(line: str) -> list[list[str]]:
    found: list[list[str]] = []
    while True:
        m = _SUBST.search(line)
        if not m:
            break
        found.extend(_commands_in_line(m.group(1)))
        line = line[: m.start()] + "SUBST" + line[m.end():]
    lex = shlex.shlex(line, posix=True, punctuation_chars=";&|()<>")
    lex.whitespace_split = True
    lex.commenters = "#"
    try:
        tokens = list(lex)
    except ValueError:
        tokens = line.split()
    current: list[str] = []
    simple = []
    for t in tokens:
        if t and set(t) <= set(";&|()<>"):
            simple.append(current)
            current = []
        else:
            current.append(t)
    simple.append(current)
    for words in simple:
        while words and (re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[0]) or words[0] in _PREFIX_WORDS):
            words = words[1:]
        found.append(words)
    return [w for w in found if w]


def store_commands(script: str) -> list[list[str]]:
    return [words for words in shell_commands(script) if words[0] == "store"]


# -- What the CLI accepts ----------------------------------------------------------------------


@dataclass(frozen=True)
class Invocation:
    path: tuple[str, ...]
    options: frozenset[str]
    text: str


def _cli() -> click.Group:
    from envstore.cli import cli

    return cli


def _take_option(command, path: list[str], arg: str, text: str, options: set[str]) -> int:
    """Record the option `arg` of `command`; how many arguments it takes up (itself and its value)."""
    opt = _find_option(command, arg.partition("=")[0])
    if opt is None:
        raise ValueError(f"{text}: unknown option {arg} of `store {' '.join(path)}`")
    options.add(opt.name or arg)
    return 1 if (opt.is_flag or opt.count or "=" in arg) else 2


def _find_option(command: click.Command, name: str) -> click.Option | None:
    if name in ("-h", "--help"):
        return click.Option(["--help"], is_flag=True)
    for p in command.params:
        if isinstance(p, click.Option) and name in (*p.opts, *p.secondary_opts):
            return p
    return None


def parse_invocation(words: list[str]) -> Invocation:
    """Subcommand path and option names of `store ...` words; raises ValueError for an unknown
    subcommand or option."""
    text = " ".join(words)
    cli = _cli()
    args = words[1:]
    command: click.Command = cli
    path: list[str] = []
    options: set[str] = set()
    i = 0
    while i < len(args):
        a = args[i]
        if isinstance(command, click.Group):
            if a.startswith("-"):
                if re.fullmatch(r"-v+", a):
                    options.add("verbose")
                    i += 1
                    continue
                i += _take_option(command, path, a, text, options)
                continue
            sub = command.get_command(click.Context(command), a) if isinstance(command, click.Group) else None
            if sub is None:
                if re.fullmatch(r"[a-z][a-z0-9-]*", a):  # not a placeholder such as CMD or [ENV]
                    raise ValueError(f"{text}: no command `store {' '.join(path + [a])}`")
                break
            path.append(a)
            command = sub
            i += 1
            continue
        interspersed = command.allow_interspersed_args
        if a == "--":
            break
        if a.startswith("-") and len(a) > 1:
            i += _take_option(command, path, a, text, options)
            continue
        if not interspersed:
            break
        i += 1
    return Invocation(tuple(path), frozenset(options), text)


def leaf_commands(group: click.Group | None = None, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    group = group or _cli()
    out = []
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        if cmd is None or cmd.hidden:
            continue
        if isinstance(cmd, click.Group):
            out += leaf_commands(cmd, path + (name,))
        else:
            out.append(path + (name,))
    return out


# -- Collected facts about all pages -----------------------------------------------------------


@dataclass
class Mention:
    where: str
    words: list[str]
    block: Block | None  # None for inline code


def mentions(pages: list[Page]) -> list[Mention]:
    out = []
    for page in pages:
        for b in page.blocks:
            if b.lang in COMMAND_LANGS and "help" not in b.directives:
                out += [Mention(b.where, w, b) for w in store_commands(b.text)]
        for line, code in page.inline:
            if code == "store" or code.startswith("store "):
                out += [Mention(f"{page.path.relative_to(REPO)}:{line}", w, None) for w in store_commands(code)]
    return out


def executed_invocations(pages: list[Page]) -> list[Invocation]:
    return [parse_invocation(m.words) for m in mentions(pages) if m.block is not None and m.block.runs]


def covered_by_ok(target: str, block: Block | None) -> str | None:
    """None when `target` exists (and, for a file, contains the block's command lines)."""
    file_part, _, test = target.partition("::")
    path = REPO / file_part
    if not path.is_file():
        return f"covered-by target {file_part} does not exist"
    text = path.read_text(encoding="utf-8")
    if test:
        if not re.search(rf"^def {re.escape(test)}\(", text, re.M):
            return f"{file_part} has no test {test}"
        return None
    if block is not None:
        for ln in block.text.splitlines():
            if ln.strip() and not ln.lstrip().startswith("#") and ln.strip() not in text:
                return f"{file_part} does not contain {ln.strip()!r}"
    return None


# -- Static checks (no network) ----------------------------------------------------------------


def test_pages_exist_and_directives_are_known() -> None:
    names = {p.name for p in DOCS.glob("*.md")}
    assert {"README.md", "concepts.md", "walkthrough.md", "migrating.md", "reference.md",
            "troubleshooting.md"} <= names
    for page in all_pages():
        for b in page.blocks:
            unknown = set(b.directives) - KNOWN_DIRECTIVES
            assert not unknown, f"{b.where}: unknown doc-test directive(s) {unknown}"
            if "stub" in b.directives or "not-run" in b.directives:
                assert b.lang in RUN_LANGS, f"{b.where}: stub/not-run only apply to sh blocks"
            if "stub" in b.directives:
                assert "covered-by" in b.directives, f"{b.where}: a stub needs covered-by"
                assert b.directives["stub"] in b.text, f"{b.where}: the stubbed line is not in the block"
            if b.lang in COMMAND_LANGS - RUN_LANGS and store_commands(b.text):
                pytest.fail(f"{b.where}: `store` commands belong in ```sh blocks (run) so they are tested")


def test_readme_links_the_guide() -> None:
    assert "docs/README.md" in (REPO / "README.md").read_text(encoding="utf-8")


def test_every_store_command_uses_real_subcommands_and_options() -> None:
    problems = []
    for m in mentions(all_pages()):
        try:
            parse_invocation(m.words)
        except ValueError as e:
            problems.append(f"{m.where}: {e}")
    assert not problems, "\n".join(problems)


def test_every_store_command_is_exercised() -> None:
    """Each command shown is run by some block with the same subcommand and at least its
    options, or its block says where it is tested instead."""
    pages = all_pages()
    executed = executed_invocations(pages)
    problems = []
    for m in mentions(pages):
        if m.block is not None and m.block.runs:
            continue
        if m.block is not None and "covered-by" in m.block.directives:
            continue
        inv = parse_invocation(m.words)
        if inv.path in NOT_EXECUTED_COMMANDS:  # checked in test_every_command_runs_somewhere
            continue
        ok = any(e.path[: len(inv.path)] == inv.path and inv.options <= e.options for e in executed)
        if not ok:
            problems.append(f"{m.where}: `{inv.text}` is not run by any block (with these options)")
    assert not problems, "\n".join(problems)


def test_every_command_runs_somewhere() -> None:
    ran = {inv.path for inv in executed_invocations(all_pages())}
    missing = [" ".join(p) for p in leaf_commands() if p not in ran and p not in NOT_EXECUTED_COMMANDS]
    assert not missing, f"no doc block runs: {missing}"
    for path, target in NOT_EXECUTED_COMMANDS.items():
        assert path not in ran, f"store {' '.join(path)} now runs in the docs; drop it from NOT_EXECUTED_COMMANDS"
        assert covered_by_ok(target, None) is None, target


def test_not_run_and_stubbed_lines_are_the_declared_ones() -> None:
    not_run, stubs = {}, {}
    for page in all_pages():
        for b in page.blocks:
            key = (page.path.name, b.first_line)
            if "not-run" in b.directives:
                assert b.directives["not-run"], f"{b.where}: not-run needs a reason"
                not_run[key] = b
            if "stub" in b.directives:
                stubs[(page.path.name, b.directives["stub"])] = b
            if "covered-by" in b.directives:
                problem = covered_by_ok(b.directives["covered-by"], b if "not-run" in b.directives else None)
                assert problem is None, f"{b.where}: {problem}"
    assert set(not_run) == set(NOT_RUN), (
        "not-run blocks changed; update NOT_RUN in tests/test_docs.py with the reason\n"
        f"  new: {sorted(set(not_run) - set(NOT_RUN))}\n  gone: {sorted(set(NOT_RUN) - set(not_run))}")
    assert set(stubs) == set(STUBS), f"stubbed lines changed: {sorted(set(stubs) ^ set(STUBS))}"
    for key, b in stubs.items():
        assert b.directives["covered-by"] == STUBS[key], b.where
    # The two lines CI and the wheel test stand in for really are what they run.
    assert "pip install '.[test]' && cargo test --workspace && pytest -n auto" in (REPO / ".ci/run").read_text()
    wheel_test = (REPO / "tests/test_shims_wheel.py").read_text()
    assert '"pip", "wheel"' in wheel_test and '"install"' in wheel_test


def _real_help() -> dict[tuple[str, ...], str]:
    """`store ... --help` for every command, as a user with HOME=/home/you sees it at 80 columns."""
    code = textwrap.dedent("""
        import contextlib, io, json, sys
        import click
        from envstore.cli import cli
        out = {}
        def walk(cmd, path):
            buf = io.StringIO()
            with contextlib.redirect_stdout(buf):
                cli.main([*path, "--help"], prog_name="store", standalone_mode=False)
            out[" ".join(path)] = buf.getvalue()
            if isinstance(cmd, click.Group):
                ctx = click.Context(cmd)
                for name in cmd.list_commands(ctx):
                    sub = cmd.get_command(ctx, name)
                    if not sub.hidden:
                        walk(sub, [*path, name])
        walk(cli, [])
        json.dump(out, sys.stdout)
    """)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ENVSTORE_", "XDG_DATA_HOME"))}
    env.update(HOME="/home/you", COLUMNS="80")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    import json

    return {tuple(k.split()): v for k, v in json.loads(proc.stdout).items()}


def test_reference_shows_the_real_help_of_every_command() -> None:
    """DOCTEST_UPDATE_HELP=1 rewrites the help blocks of docs/reference.md from the CLI first."""
    real = _real_help()
    if os.environ.get("DOCTEST_UPDATE_HELP"):
        _rewrite_help_blocks(DOCS / "reference.md", real)
    page = parse_page(DOCS / "reference.md")
    shown = {}
    for b in page.blocks:
        if "help" in b.directives:
            words = b.directives["help"].split()
            assert words[0] == "store", b.where
            shown[tuple(words[1:])] = b
    missing = sorted(" ".join(k) for k in real if k not in shown)
    assert not missing, f"docs/reference.md has no help block for: {missing}"
    for key, b in shown.items():
        assert key in real, f"{b.where}: no command store {' '.join(key)}"
        assert b.text.rstrip("\n") == real[key].rstrip("\n"), (
            f"{b.where}: the help of `store {' '.join(key)}` changed; it is now:\n{real[key]}")


def _rewrite_help_blocks(path: Path, real: dict[tuple[str, ...], str]) -> None:
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    out, i = [], 0
    while i < len(lines):
        out.append(lines[i])
        d = DIRECTIVE.match(lines[i].strip())
        if d and d.group(1) == "help" and i + 1 < len(lines) and lines[i + 1].startswith("```text"):
            key = tuple(d.group(2).split()[1:])
            j = i + 2
            while not lines[j].startswith("```"):
                j += 1
            out += [lines[i + 1], real[key].rstrip("\n") + "\n"] if key in real else lines[i + 1:j]
            i = j
            continue
        i += 1
    path.write_text("".join(out), encoding="utf-8")


def test_pages_name_no_registry_host_or_machine_path() -> None:
    hosts = set()
    try:
        from pip._internal.models.index import PyPI

        hosts |= {PyPI.netloc, PyPI.file_storage_domain}
    except ImportError:
        pass
    for var in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "ENVSTORE_INDEX_URL"):
        for url in (os.environ.get(var) or "").split():
            host = re.sub(r"^\w+://([^/@]*@)?", "", url).split("/")[0]
            if host:
                hosts.add(host)
    here = {str(Path.home()), str(REPO), sys.prefix, tempfile_dir()}
    pyenv = os.environ.get("PYENV_ROOT")
    if pyenv:
        here.add(pyenv)
    for p in PAGES:
        text = p.read_text(encoding="utf-8")
        for h in hosts:
            assert h not in text, f"{p.name} names the package index host {h}"
        for d in here:
            if len(d) > 4:
                assert d + "/" not in text and not text.count(f"{d}\n"), f"{p.name} contains the path {d}"
        for url in re.findall(r"\bhttps?://[^\s)>'\"`]+", text):
            host = url.split("/")[2]
            assert host.startswith("<") or host in ("…", "127.0.0.1", "localhost") or host.endswith(".example"), (
                f"{p.name}: a real host in {url}; write <your-mirror> or leave it to pip's configuration")


def tempfile_dir() -> str:
    import tempfile

    return tempfile.gettempdir() if tempfile.gettempdir() != "/tmp" else "/nonexistent"


def test_shell_command_extraction() -> None:
    cmds = store_commands(textwrap.dedent("""\
        export PATH="$(store shims install):$PATH"   # comment with store gc
        store list; store du && X=1 store gc --dry-run | head -n 3
        eval "$(store activate)"; deactivate
        cat > env.yml <<'EOF'
        store: not a command
        EOF
        store run -f env.yml -- python -c 'import sys' \\
            --not-an-option
    """))
    assert cmds == [["store", "shims", "install"], ["store", "list"], ["store", "du"],
                    ["store", "gc", "--dry-run"], ["store", "activate"],
                    ["store", "run", "-f", "env.yml", "--", "python", "-c", "import sys", "--not-an-option"]]
    inv = parse_invocation(cmds[-1])
    assert inv.path == ("run",) and inv.options == {"env_file"}
    assert parse_invocation(["store", "--store", "X", "python", "list", "--json"]).path == ("python", "list")
    with pytest.raises(ValueError):
        parse_invocation(["store", "gc", "--no-such-flag"])
    with pytest.raises(ValueError):
        parse_invocation(["store", "realise-it"])


# -- Running the pages -------------------------------------------------------------------------

_HASH = re.compile(r"(?<![0-9a-zA-Z])(?=[0-9a-z]*\d)(?=[0-9a-z]*[a-z])[0-9a-z]{16,}(?![0-9a-zA-Z])")


def normalize(line: str) -> str:
    line = re.sub(r"blobs-v1/[0-9a-f]{2}/", "blobs-v1/XX/", line)
    line = _HASH.sub("<h>", line)
    line = re.sub(r"\d+", "N", line)
    return re.sub(r"\s+", " ", line).strip()


def output_matches(expected: str, actual: str) -> str | None:
    """None when every expected line appears in the actual output, in order."""
    got = [normalize(ln) for ln in actual.splitlines()]
    pos = 0
    for raw in expected.splitlines():
        want = normalize(raw)
        if not want or want == "…":
            continue
        pattern = re.compile(".*?".join(re.escape(part.strip()) for part in want.split("…")))
        while pos < len(got) and not (pattern.fullmatch(got[pos]) or (want.endswith("…") and pattern.match(got[pos]))):
            pos += 1
        if pos == len(got):
            return f"expected line not found (in order): {raw!r}"
        pos += 1
    return None


def _pyenv() -> tuple[Path, Path] | None:
    """(pyenv executable, its root) when pyenv has a CPython 3.11."""
    exe = shutil.which("pyenv") or (Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "bin" / "pyenv")
    if not exe or not Path(exe).is_file():
        return None
    root = subprocess.run([str(exe), "root"], capture_output=True, text=True).stdout.strip()
    prefix = subprocess.run([str(exe), "prefix", "3.11"], capture_output=True, text=True,
                            env={**os.environ, "PYENV_ROOT": root}, cwd="/")
    if not root or prefix.returncode != 0:
        return None
    return Path(exe), Path(root)


def _real_store() -> Path:
    beside = Path(sys.executable).parent / "store"
    return beside if beside.is_file() else Path(shutil.which("store") or "store")


@pytest.fixture(scope="session")
def doc_template(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A store holding pyenv's CPython 3.11 (imported once), and a pip new enough for `pip lock`."""
    found = _pyenv()
    if found is None:
        pytest.skip("the docs' sessions need pyenv with a CPython 3.11 (examples/hello asks for python=3.11)")
    pyenv, pyenv_root = found
    base = tmp_path_factory.mktemp("doc-template")
    store = base / "store"
    prefix = subprocess.run([str(pyenv), "prefix", "3.11"], capture_output=True, text=True, check=True,
                            env={**os.environ, "PYENV_ROOT": str(pyenv_root)}, cwd="/").stdout.strip()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENVSTORE_")}
    env["ENVSTORE_FSYNC"] = "0"  # a throwaway store
    r = subprocess.run([str(_real_store()), "--store", str(store), "python", "import", prefix],
                       capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stderr
    pip_dir = base / "pip"
    version = subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True, text=True).stdout.split()
    major_minor = tuple(int(x) for x in re.findall(r"\d+", version[1])[:2]) if len(version) > 1 else (0, 0)
    pip_wheel = None
    if major_minor < (25, 1):  # `pip lock` came in 25.1: fetch a newer pip from the configured index
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                        "pip>=25.1", "-d", str(pip_dir)], check=True, timeout=300)
        pip_wheel = next(pip_dir.glob("pip-*.whl"))
    return {"store": store, "pyenv": pyenv, "pyenv_root": pyenv_root, "pip_wheel": pip_wheel}


WRAPPER = '''#!{python}
"""doc-test wrapper: seed a store that does not exist yet from the template, then run store."""
import os, sys
from pathlib import Path
args = sys.argv[1:]
root = None
i = 0
while i < len(args) and args[i].startswith("-"):
    if args[i] == "--store" and i + 1 < len(args):
        root = args[i + 1]
        break
    if args[i].startswith("--store="):
        root = args[i].split("=", 1)[1]
        break
    i += 1
root = Path(root or os.environ.get("ENVSTORE_ROOT") or
            Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local/share") / "envstore").expanduser()
if not root.is_absolute():
    root = Path.cwd() / root
if not root.exists() or (root.is_dir() and not any(root.iterdir())):
    sys.path.insert(0, {tests!r})
    try:  # blobs and the interpreter hardlinked, the database copied
        from reliability.harness import copy_store
        copy_store(Path({template!r}), root)
    except Exception:  # the harness moved or changed: a plain copy does the same, slower
        import shutil
        shutil.copytree({template!r}, root, symlinks=True, dirs_exist_ok=True)
os.execv({store!r}, [{store!r}, *args])
'''


def make_sandbox(tmp: Path, template: dict) -> tuple[dict[str, str], dict[str, str]]:
    """(environment, path replacements for output) of a fresh sandbox under tmp."""
    home, tmpdir, bindir = tmp / "home", tmp / "tmp", tmp / "bin"
    for d in (home, tmpdir, bindir):
        d.mkdir(parents=True)
    shutil.copytree(REPO / "examples", home / "envstore" / "examples",
                    ignore=shutil.ignore_patterns(".envstore", "pylock*.toml", "__pycache__"))
    real_home = Path.home()
    for conf in (".config/pip", ".pip"):  # pip's user configuration (the index) stays in force
        if (real_home / conf).exists():
            (home / conf).parent.mkdir(parents=True, exist_ok=True)
            os.symlink(real_home / conf, home / conf)
    wrapper = bindir / "store"
    wrapper.write_text(WRAPPER.format(python=sys.executable, tests=str(REPO / "tests"),
                                      template=str(template["store"]), store=str(_real_store())))
    wrapper.chmod(0o755)
    if template["pip_wheel"] is not None:
        pip = bindir / "pip"
        pip.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{template["pip_wheel"]}/pip" "$@"\n')
        pip.chmod(0o755)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ENVSTORE_", "VIRTUAL_ENV", "PYTHON", "XDG_DATA_HOME", "CONDA", "_ENVSTORE"))
           and k not in ("PROMPT_COMMAND", "PS1", "OLDPWD", "CDPATH", "BASH_ENV", "ENV")}
    path = [str(bindir), str(Path(sys.executable).parent), str(Path(template["pyenv"]).parent),
            "/usr/local/bin", "/usr/bin", "/bin"]
    env.update(HOME=str(home), TMPDIR=str(tmpdir), PATH=os.pathsep.join(dict.fromkeys(path)),
               PYENV_ROOT=str(template["pyenv_root"]), PYTHONUNBUFFERED="1", COLUMNS="200",
               SHELL=shutil.which("bash") or "/bin/bash", PWD=str(home / "envstore"))
    replace = {str(home.resolve()): "/home/you", str(home): "/home/you", str(tmpdir.resolve()): "/tmp",
               str(tmpdir): "/tmp", str(template["pyenv_root"]): "/home/you/.pyenv"}
    return env, replace


def run_block(block: Block, env: dict[str, str], cwd: str, state: Path) -> tuple[subprocess.CompletedProcess, dict, str]:
    stubs = ""
    if "stub" in block.directives:
        cmd, _, rest = block.directives["stub"].partition(" ")
        stubs = (f'{cmd}() {{ if [ "$*" = {shlex.quote(rest)} ]; then '
                 f'echo "doc-test: stubbed: {block.directives["stub"]}" >&2; return 0; fi; command {cmd} "$@"; }}\n')
    script = (f"set -e\ntrap 'rc=$?; pwd > {shlex.quote(str(state / 'cwd'))}; "
              f"env -0 > {shlex.quote(str(state / 'env'))}; exit $rc' EXIT\n"
              f"cd {shlex.quote(cwd)}\n{stubs}{block.text}")
    stdin = block.directives.get("stdin")
    proc = subprocess.run(["bash", "-c", script], env=env, cwd=cwd, text=True, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=600,
                          input=(stdin.replace("\\n", "\n") + "\n") if stdin is not None else None,
                          stdin=None if stdin is not None else subprocess.DEVNULL)
    new_env = env
    if (state / "env").is_file():
        new_env = dict(item.split("=", 1) for item in (state / "env").read_text().split("\0") if "=" in item)
        new_env.pop("_", None)
    new_cwd = (state / "cwd").read_text().strip() if (state / "cwd").is_file() else cwd
    return proc, new_env, new_cwd


RUN_PAGES = [p for p in PAGES if any(b.runs for b in parse_page(p).blocks)]


@pytest.mark.network
@pytest.mark.timeout(600)
@pytest.mark.parametrize("page", RUN_PAGES, ids=[p.name if p.parent == DOCS else "README" for p in RUN_PAGES])
def test_page_runs(page: Path, doc_template: dict, tmp_path: Path) -> None:
    env, replace = make_sandbox(tmp_path, doc_template)
    cwd = env["PWD"]
    state = tmp_path / "state"
    state.mkdir()
    show = os.environ.get("DOCTEST_SHOW")
    for block in parse_page(page).blocks:
        if not block.runs:
            continue
        proc, env, cwd = run_block(block, env, cwd, state)
        out = proc.stdout
        for real, shown in sorted(replace.items(), key=lambda kv: -len(kv[0])):
            out = out.replace(real, shown)
        if show:
            print(f"\n----- {block.where} (exit {proc.returncode})\n{out}", end="")
        want = int(block.directives.get("exit", "0"))
        assert proc.returncode == want, f"{block.where}: exit {proc.returncode}, expected {want}:\n{out[-4000:]}"
        if block.output is not None:
            problem = output_matches(block.output.text, out)
            assert problem is None, f"{block.where}: {problem}\n--- real output:\n{out[-4000:]}"
