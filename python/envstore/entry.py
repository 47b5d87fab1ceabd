"""The `store` executable. `store realize` on unchanged inputs is answered here, before click,
YAML, TOML or HTTP code is imported; everything else goes to the click CLI."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from envstore.project import DEFAULT_ENV_FILES, find_default_env_file


def _fast_realize(argv: list[str]) -> Path | None:
    store_root: str | None = None
    args = list(argv)
    while args and args[0].startswith("-"):
        if args[0] == "--store" and len(args) > 1:
            store_root = args[1]
            args = args[2:]
        elif args[0].startswith("--store="):
            store_root = args[0].split("=", 1)[1]
            args = args[1:]
        elif args[0] in ("-q", "--quiet"):
            args = args[1:]
        else:
            return None
    if not args or args[0] not in ("realize", "realise") or len(args) > 3:
        return None
    rest = args[1:]
    if rest and rest[0] in ("-f", "--file") and len(rest) == 2:
        rest = rest[1:]
    elif rest and rest[0].startswith("--file=") and len(rest) == 1:
        rest = [rest[0].split("=", 1)[1]]
    if len(rest) > 1 or (rest and rest[0].startswith("-")):
        return None
    if rest:
        env_file = Path(rest[0])
    else:
        env_file = find_default_env_file(Path()) or Path(DEFAULT_ENV_FILES[0])
    if not env_file.is_file():
        return None
    # lazy: only `store realize` reads the fast path; it must not cost the other commands
    from envstore.ops.fastpath import lookup
    # lazy: as above
    from envstore.store import default_root

    root = Path(store_root).expanduser().absolute() if store_root else default_root()
    return lookup(env_file.absolute(), root)


def main() -> None:
    argv = sys.argv[1:]
    if len(argv) <= 6 and any(a in ("realize", "realise") for a in argv):
        try:
            prefix = _fast_realize(argv)
        except Exception:  # noqa: BLE001 - any doubt: take the full path, which reports properly
            prefix = None
        if prefix is not None:
            sys.stdout.write(f"{prefix}\n")
            sys.stdout.flush()
            os._exit(0)
    # lazy: the fast path answers and exits before the CLI is imported
    from envstore.cli import main as cli_main

    cli_main()
