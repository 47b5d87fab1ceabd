"""The one exception root: defined in Python (envstore.errors) with `code` and `hint`, raised by
the Rust binding as well, and read by the CLI without guessing at attributes."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest

import envstore
import envstore._core as core
from envstore import errors
from envstore.errors import EnvstoreError
from conftest import run_store


def _all_error_classes() -> list[type[EnvstoreError]]:
    for mod in pkgutil.walk_packages(envstore.__path__, "envstore."):
        if not mod.name.endswith("__main__"):
            importlib.import_module(mod.name)
    seen: list[type[EnvstoreError]] = []
    todo = [EnvstoreError]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub not in seen and sub.__module__.startswith("envstore."):
                seen.append(sub)
                todo.append(sub)
    return seen


def test_the_root_is_python_and_the_binding_raises_its_classes(tmp_path: Path) -> None:
    assert EnvstoreError.__module__ == "envstore.errors" and EnvstoreError.hint is None
    for name in ("EnvstoreError", "ArchiveError", "StoreError", "ConflictError"):
        assert getattr(core, name) is getattr(errors, name)
    with pytest.raises(errors.StoreError) as info:
        core.Store(tmp_path / "s").blob_path("not-a-hash")
    assert info.value.code == "bad-hash" and info.value.hint is None
    with pytest.raises(AttributeError):
        core.NoSuchName  # noqa: B018 - the module's __getattr__ refuses other names


def test_errors_module_does_not_import_the_binding() -> None:
    # The binding imports envstore.errors; the reverse would be a cycle through module init.
    tree = ast.parse(Path(errors.__file__).read_text())
    imported = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    imported += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    assert not [m for m in imported if m.startswith("envstore")], imported


def test_every_error_class_sets_a_code_and_keeps_the_root_constructor() -> None:
    classes = _all_error_classes()
    assert len(classes) > 10
    for cls in classes:
        assert "code" in vars(cls) and isinstance(cls.code, str), cls
        init = vars(cls).get("__init__")
        if init is not None:  # only to build the message from structured fields
            params = list(inspect.signature(init).parameters)
            assert params != ["self", "message", "hint"], f"{cls.__qualname__} re-declares __init__(message, hint)"
    e = errors.StoreNotWritable("store is read-only: here")
    assert e.hint == errors.StoreNotWritable.hint and str(e) == "store is read-only: here"
    assert errors.UsageError("x", "do y").hint == "do y"


def test_cli_prints_message_hint_and_exit_1(store_root: Path, tmp_path: Path) -> None:
    env = tmp_path / "env.yml"
    env.write_text("name: t\ndependencies:\n  - python=3.11\n  - openssl\n")
    proc = run_store("lock", str(env), store_root=store_root)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.splitlines() == [
        "error: env.yml:4:5: 'openssl': openssl is a conda-only package (a C library)",
        "hint: remove it: the interpreter and the wheels bring their own copy of the libraries they need",
    ]
