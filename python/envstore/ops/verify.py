"""`store verify` as one operation: inspect the store (blobs and every registered prefix) in a
shared session and, when asked, repair what was found in an exclusive one, then inspect again."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from envstore._core import Store
from envstore.ops.repair import Findings, inspect, repair
from envstore.store import layout
from envstore.store.session import StoreSession

Info = Callable[[str], None]


def verify_store(store: Store, fix: bool = False, info: Info | None = None) -> Findings:
    """What is wrong with the store; with `fix`, what is still wrong after repairing (each
    repair action is told to `info`). A store this process cannot write is still inspected."""
    say: Info = info or (lambda _line: None)
    root = Path(store.root)

    def on_wait() -> None:
        say("waiting for the store lock (another envstore command is using the store) ...")

    with StoreSession(root, "shared", store=store, on_wait=on_wait, read_only_ok=True) as session:
        findings = inspect(session.store, session.db)
    if fix and not findings.clean:
        with StoreSession(root, "exclusive", store=store, on_wait=on_wait) as session:
            for line in repair(session.store, session.db, findings, layout.tmp_dir(root)):
                say(line)
            findings = inspect(session.store, session.db)
    return findings
