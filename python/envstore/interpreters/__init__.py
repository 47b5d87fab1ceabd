"""Python interpreters as immutable store paths: discover them on the machine, import them
(relocated, with deterministic bytecode) under STORE/python/, install python-build-standalone
archives, choose one for a version constraint, and remove unused ones.

The API other layers use: `find_interpreter(store, constraint) -> InterpreterInfo` and
`list_interpreters(store)`; a lock records `InterpreterInfo`'s identity fields."""

from typing import Any

from envstore.interpreters.choose import find_interpreter, list_interpreters, parse_constraint
from envstore.interpreters.discover import Candidate, discover
from envstore.interpreters.importer import ImportResult, import_interpreter
from envstore.interpreters.model import InterpreterError, InterpreterInfo


def __getattr__(name: str) -> Any:
    # Installing and removing pull in archive and download code that realize never needs.
    if name == "install_interpreter":
        # lazy: archive and download code that realize never needs
        from envstore.interpreters.standalone import install

        return install
    if name == "remove_interpreter":
        # lazy: archive and download code that realize never needs
        from envstore.interpreters.remove import remove_interpreter

        return remove_interpreter
    raise AttributeError(name)

__all__ = [
    "Candidate",
    "ImportResult",
    "InterpreterError",
    "InterpreterInfo",
    "discover",
    "find_interpreter",
    "import_interpreter",
    "install_interpreter",
    "list_interpreters",
    "parse_constraint",
    "remove_interpreter",
]
