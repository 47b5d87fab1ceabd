"""Console and GUI entry points and `#!python` scripts, as the binary distribution format
specifies: a launcher per entry point, shebangs pointing at the final prefix's interpreter,
and names that can neither escape bin/ nor shadow the interpreter."""

from __future__ import annotations

import configparser
import re

from envstore.errors import ArchiveError

# Linux reads at most this many bytes of a shebang line on older kernels; longer (or spaced)
# interpreter paths go through /bin/sh, as pip and distlib do.
MAX_SHEBANG = 127
RESERVED = re.compile(r"^(python(w)?(3(\.\d+)?)?|pypy.*)$")
VALID_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")
ENTRY_POINT = re.compile(r"^(?P<module>[\w.]+)\s*(:\s*(?P<attrs>[\w.]+))?\s*(\[.*\])?\s*$")


def shebang(python: str) -> bytes:
    if len(python) + 2 <= MAX_SHEBANG and " " not in python:
        return f"#!{python}\n".encode()
    return f"#!/bin/sh\n'''exec' '{python}' \"$0\" \"$@\"\n' '''\n".encode()


def check_script_name(name: str, wheel: str) -> None:
    if not VALID_NAME.match(name) or name in (".", ".."):
        raise ArchiveError(f"script name '{name}' escapes the scripts directory in {wheel}")
    if RESERVED.match(name):
        raise ArchiveError(f"script name '{name}' is reserved for the interpreter in {wheel}")


def launcher(python: str, module: str, attrs: str) -> bytes:
    head, _, rest = attrs.partition(".")
    call = f"{head}.{rest}" if rest else head
    body = (
        "# -*- coding: utf-8 -*-\n"
        "import re\n"
        "import sys\n"
        f"from {module} import {head}\n"
        "if __name__ == '__main__':\n"
        "    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])\n"
        f"    sys.exit({call}())\n"
    )
    return shebang(python) + body.encode()


def entry_point_scripts(entry_points_txt: bytes, python: str, wheel: str) -> dict[str, bytes]:
    """bin/<name> -> launcher content for every console and GUI script."""
    parser = configparser.ConfigParser(delimiters=("=",), interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # names are case-sensitive
    try:
        parser.read_string(entry_points_txt.decode("utf-8"))
    except (configparser.Error, UnicodeDecodeError) as e:
        raise ArchiveError(f"malformed entry_points.txt in {wheel}: {e}") from None
    scripts: dict[str, bytes] = {}
    for section in ("console_scripts", "gui_scripts"):
        if not parser.has_section(section):
            continue
        for name, value in parser.items(section):
            check_script_name(name, wheel)
            m = ENTRY_POINT.match(value)
            if not m or not m.group("attrs"):
                raise ArchiveError(f"malformed entry point '{name} = {value}' in {wheel}")
            scripts[name] = launcher(python, m.group("module"), m.group("attrs"))
    return scripts


def rewrite_script(content: bytes, python: str) -> bytes:
    """A `.data/scripts` file whose first line is `#!python` gets the prefix's interpreter."""
    first, sep, rest = content.partition(b"\n")
    if first.startswith(b"#!python"):
        return shebang(python) + rest
    return content
