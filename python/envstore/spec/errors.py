"""Errors in what the user wrote: an env file, a requirements file, a lockfile given as input.
Every one names the file and, where known, the line and column."""

from __future__ import annotations

from pathlib import Path

from envstore.errors import EnvstoreError


class SpecError(EnvstoreError):
    """The env file cannot be understood. `str()` is `file:line:col: message`."""

    code = "spec"

    def __init__(
        self,
        message: str,
        path: Path | str | None = None,
        line: int | None = None,
        column: int | None = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.path = Path(path) if path is not None else None
        self.line = line
        self.column = column
        self.hint = hint
        where = ""
        if self.path is not None:
            where = self.path.name
            if line is not None:
                where += f":{line}"
                if column is not None:
                    where += f":{column}"
            where += ": "
        super().__init__(where + message)


class CondaOnlyPackageError(SpecError):
    """Conda packages with no Python-package equivalent on a package index."""

    code = "spec.conda-only"
