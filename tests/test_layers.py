"""The import contract: python/envstore is layered and every import points down (the checker and
its own tests; see report() for the state of the real tree).

Read from the source (ast), so function-level imports and `if TYPE_CHECKING:` imports count like
any other: a cycle hidden in a function is still a cycle. docs/architecture.md explains the layers;
LAYERS below is the one place that assigns a module to one. A function-level import must carry a
`# lazy: <reason>` comment (start-up speed is the only reason we accept), so the next hidden cycle
cannot be written as one."""

from __future__ import annotations

import ast
import textwrap
from dataclasses import dataclass
from pathlib import Path

PACKAGE = Path(__file__).parent.parent / "python" / "envstore"

# Bottom to top. A module may import its own layer and the ones before it; a name ending in "."
# covers a package and everything in it. The first match wins, most specific names first.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("base", ("envstore._core", "envstore.errors", "envstore.settings", "envstore.progress")),
    ("store", ("envstore", "envstore.store", "envstore.store.")),
    ("project", ("envstore.project",)),
    ("lock", ("envstore.lockfile",)),
    ("inputs", ("envstore.spec", "envstore.spec.", "envstore.index", "envstore.index.",
                "envstore.interpreters", "envstore.interpreters.", "envstore.cache", "envstore.cache.",
                "envstore.conda", "envstore.conda.")),
    ("resolve", ("envstore.resolve", "envstore.resolve.", "envstore.conda.solve")),
    ("install", ("envstore.install", "envstore.install.")),
    ("build", ("envstore.build", "envstore.build.")),
    ("ops", ("envstore.ops", "envstore.ops.")),
    ("cli", ("envstore.cli", "envstore.cli.")),
    ("entry", ("envstore.entry",)),
]


@dataclass(frozen=True)
class Import:
    source: str
    target: str
    line: int
    lazy: bool
    reason: str | None


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> int | None:
    best: tuple[int, int] | None = None  # (length of the matching name, layer index)
    for index, (_, names) in enumerate(LAYERS):
        for name in names:
            hit = module.startswith(name) if name.endswith(".") else module == name
            if hit and (best is None or len(name) > best[0]):
                best = (len(name), index)
    return None if best is None else best[1]


def _reason_in(lines: list[str], first: int, last: int) -> str | None:
    for text in lines[first - 1:last]:
        if "# lazy:" in text:
            return text.split("# lazy:", 1)[1].strip() or None
    return None


def _lazy_reasons(tree: ast.AST, lines: list[str]) -> dict[int, str | None]:
    """id(import node) -> its `# lazy: reason`: on the import's own lines, or on the line above the
    run of adjacent import lines it belongs to (one reason may head a function's block of imports)."""
    reasons: dict[int, str | None] = {}
    for node in ast.walk(tree):
        for body in (getattr(node, f, None) for f in ("body", "orelse", "finalbody")):
            if not isinstance(body, list):
                continue
            head: str | None = None
            previous: ast.stmt | None = None
            for stmt in body:
                if not isinstance(stmt, (ast.Import, ast.ImportFrom)):
                    previous = None
                    continue
                if previous is None or stmt.lineno > (previous.end_lineno or previous.lineno) + 1:
                    head = _reason_in(lines, stmt.lineno - 1, stmt.lineno - 1) if stmt.lineno > 1 else None
                reasons[id(stmt)] = _reason_in(lines, stmt.lineno, stmt.end_lineno or stmt.lineno) or head
                previous = stmt
    return reasons


def imports_of(path: Path, root: Path, modules: set[str]) -> list[Import]:
    source = module_name(path, root)
    text = path.read_text()
    lines = text.splitlines()
    tree = ast.parse(text)
    found: list[Import] = []
    in_function: set[int] = set()
    reasons = _lazy_reasons(tree, lines)
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            for inner in ast.walk(node):
                if isinstance(inner, (ast.Import, ast.ImportFrom)):
                    in_function.add(id(inner))
    package = source if path.name == "__init__.py" else source.rpartition(".")[0]
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                targets.append(sub if sub in modules else base)
        for target in targets:
            if target == "envstore" or target.startswith("envstore."):
                lazy = id(node) in in_function
                found.append(Import(source, target, node.lineno, lazy,
                                    reasons.get(id(node)) if lazy else None))
    return found


def problems(root: Path = PACKAGE) -> list[str]:
    files = sorted(root.rglob("*.py"))
    modules = {module_name(p, root) for p in files} | {"envstore._core"}
    out: list[str] = []
    edges: dict[str, set[str]] = {m: set() for m in modules}
    for path in files:
        for imp in imports_of(path, root, modules):
            where = f"{path.relative_to(root.parent)}:{imp.line}"
            src, dst = layer_of(imp.source), layer_of(imp.target)
            if src is None:
                out.append(f"{where}: module {imp.source} is in no layer (add it to LAYERS)")
            elif dst is None:
                out.append(f"{where}: {imp.target} is in no layer (add it to LAYERS)")
            elif dst > src:
                out.append(f"{where}: {imp.source} ({LAYERS[src][0]}) imports {imp.target} "
                           f"({LAYERS[dst][0]}), a layer above it")
            if imp.lazy and imp.reason is None:
                out.append(f"{where}: function-level import of {imp.target} without a `# lazy: reason`")
            if imp.target in edges and imp.target != imp.source:
                edges[imp.source].add(imp.target)
    out += _command_imports(root, modules)
    out += [f"import cycle: {' -> '.join(c)}" for c in _cycles(edges)]
    return out


# cli modules that every command may use; a command importing another command's module is how
# domain logic crept into the CLI before (issue 14).
CLI_SHARED = {"envstore.cli", "envstore.cli.envfile", "envstore.cli.options", "envstore.cli.format"}


def _command_imports(root: Path, modules: set[str]) -> list[str]:
    out = []
    for path in sorted((root / "cli").glob("*.py")) if (root / "cli").is_dir() else []:
        for imp in imports_of(path, root, modules):
            if imp.source in CLI_SHARED or not imp.target.startswith("envstore.cli."):
                continue
            if imp.target not in CLI_SHARED:
                out.append(f"{path.relative_to(root.parent)}:{imp.line}: command module {imp.source} imports "
                           f"another command's module {imp.target}; move what they share below cli/")
    return out


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def report() -> int:
    """`python tests/test_layers.py`: what breaks the contract in python/envstore, one per line."""
    found = problems()
    print("\n".join(found))
    print(f"{len(found)} import-contract problems")
    return 1 if found else 0


def test_the_real_tree_keeps_the_contract() -> None:
    found = problems()
    assert not found, "\n".join(found)


def _fake_package(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "envstore"
    for rel, body in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(body))
    return root


def test_the_contract_fails_on_an_upward_import(tmp_path: Path) -> None:
    root = _fake_package(tmp_path, {
        "__init__.py": "",
        "errors.py": "",
        "store/__init__.py": "from envstore.errors import x\n",
        "cli/__init__.py": "from envstore.store import y\n",
    })
    assert problems(root) == []
    (root / "store" / "__init__.py").write_text("from envstore.errors import x\nfrom envstore.cli import z\n")
    found = problems(root)
    assert any("envstore.store (store) imports envstore.cli (cli), a layer above it" in p for p in found), found
    assert any(p.startswith("import cycle: envstore.cli -> envstore.store") for p in found), found


def test_a_command_may_not_import_another_command(tmp_path: Path) -> None:
    root = _fake_package(tmp_path, {
        "__init__.py": "",
        "cli/__init__.py": "",
        "cli/format.py": "",
        "cli/shell.py": "from envstore.cli.format import a\n",
        "cli/use.py": "",
    })
    assert problems(root) == []
    (root / "cli" / "shell.py").write_text("from envstore.cli.format import a\nfrom envstore.cli.use import prefix_for\n")
    found = problems(root)
    assert any("command module envstore.cli.shell imports another command's module envstore.cli.use" in p
               for p in found), found


def test_the_contract_sees_lazy_imports_and_wants_their_reason(tmp_path: Path) -> None:
    root = _fake_package(tmp_path, {
        "__init__.py": "",
        "store/__init__.py": "def f():\n    from envstore.cli import z\n",
        "cli/__init__.py": "def g():\n    import envstore.store  # lazy: start-up speed of `store --help`\n",
    })
    found = problems(root)
    assert any("envstore.store (store) imports envstore.cli (cli)" in p for p in found), found
    assert any("function-level import of envstore.cli without a `# lazy: reason`" in p for p in found), found
    assert not any("function-level import of envstore.store" in p for p in found), found


if __name__ == "__main__":
    raise SystemExit(report())
