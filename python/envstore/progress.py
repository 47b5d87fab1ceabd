"""Progress of the long phases (locking, fetching, building, bytecode, interpreter import) on
stderr, and the one place messages count things (`plural`, `size`, `duration`).

On a terminal a phase draws live rows (rich): what it is doing, n of N, bytes where it
downloads; elsewhere it prints only its start line and a summary with counts and time, never a
line per file, so logs and pipes stay short. Never writes to stdout (it carries data), and
imports rich only once a row is drawn: the already-realized fast path never loads it.
NO_COLOR is honoured by rich itself."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

Info = Callable[[str], None]

# Off under `store -q` (the CLI turns it off once); library callers that pass no `info` get
# no rows either.
bars_enabled = True

_IRREGULAR = {"prefix": "prefixes", "directory": "directories", "dir": "dirs", "child": "children"}


def plural(n: int, noun: str, many: str | None = None) -> str:
    """`1 wheel`, `2 wheels`, `0 packages`; `many` for a plural the simple rules get wrong."""
    if n == 1:
        return f"{n} {noun}"
    if many is None:
        many = _IRREGULAR.get(noun) or _regular_plural(noun)
    return f"{n} {many}"


def _regular_plural(noun: str) -> str:
    if noun.endswith(("s", "x", "z", "ch", "sh")):
        return noun + "es"
    if noun.endswith("y") and noun[-2:-1] not in ("a", "e", "i", "o", "u"):
        return noun[:-1] + "ies"
    return noun + "s"


def size(n_bytes: float) -> str:
    """A size for people: MB below a gigabyte, GB above, one decimal (decimal units, as the
    index and download tools show them)."""
    if n_bytes >= 999.95e6:
        return f"{n_bytes / 1e9:.1f} GB"
    return f"{n_bytes / 1e6:.1f} MB"


def duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes} min {secs} s"


class Row:
    """One line of a phase: a step with a count (`n of N files`), bytes, or only a spinner.
    Counts are kept even when nothing is drawn, so summaries can use them; thread-safe."""

    def __init__(self, phase: Phase, description: str, total: int | None, noun: str, unit: str,
                 report: str | None) -> None:
        self.phase = phase
        self.report = report  # "{} compiled": this row's part of the phase's summary
        self.description = description
        self.total = total
        self.completed = 0
        self.noun = noun
        self.unit = unit  # "bytes", or "" for a count of `noun`
        self.task: Any = None

    def advance(self, n: int = 1) -> None:
        with self.phase.lock:
            self.completed += n
            if self.task is not None:
                self.phase.bar.update(self.task, completed=self.completed)

    def set_total(self, total: int) -> None:
        with self.phase.lock:
            self.total = total
            if self.task is not None:
                self.phase.bar.update(self.task, total=total)

    def describe(self, description: str) -> None:
        with self.phase.lock:
            self.description = description
            if self.task is not None:
                self.phase.bar.update(self.task, description=description)

    def finish(self, count: int | None = None) -> None:
        """Mark the step done (with its final count where the count was not known before)."""
        with self.phase.lock:
            if count is not None:
                self.completed = count
            self.total = self.completed if self.total is None else max(self.total, self.completed)
            if self.task is not None:
                self.phase.bar.update(self.task, total=self.total, completed=self.total)

    def counted(self) -> str:
        return size(self.completed) if self.unit == "bytes" else plural(self.completed, self.noun)


class Phase:
    """A long step of a command. `summary`, when set, is printed at a successful end with the
    time taken; `row()` adds a live line (only drawn on a terminal)."""

    def __init__(self, info: Info | None, draw: bool) -> None:
        self.info = info
        self.draw = draw
        self.rows: list[Row] = []
        self.summary: str | None = None
        self.started = time.monotonic()
        self.lock = threading.RLock()
        self.bar: Any = None  # the rich Progress drawing this phase's rows
        self._owns_bar = False

    def row(self, description: str, total: int | None = None, noun: str = "", unit: str = "",
            report: str | None = None) -> Row:
        """A live line: `total` of `noun` (or of bytes with unit="bytes"), None for a spinner.
        `report` ("{} compiled", filled with the count) adds it to the summary."""
        r = Row(self, description, total or None, noun, unit, report)
        with self.lock:
            self.rows.append(r)
            if self.draw:
                if self.bar is None:  # one live display at a time: a nested phase joins the outer's
                    self.bar = _live_bar()
                if self.bar is None:
                    self.bar = _start_bar()
                    self._owns_bar = True
                r.task = self.bar.add_task(description, total=r.total, unit=unit, noun=noun)
        return r

    def say(self, message: str) -> None:
        if self.info is not None:
            self.info(message)

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def close(self, ok: bool = True) -> None:
        """End the phase: its rows leave the display; when `ok`, the summary is printed."""
        if self in _active:
            _active.remove(self)
        with self.lock:
            if self._owns_bar and self.bar is not None:
                self.bar.stop()
                self.bar = None
            elif self.bar is not None:  # a nested phase: its rows leave the outer display
                for r in self.rows:
                    if r.task is not None:
                        self.bar.remove_task(r.task)
                        r.task = None
        if ok and self.summary is not None:
            details = ", ".join(r.report.format(r.counted()) for r in self.rows if r.report is not None)
            self.say(f"{self.summary}{': ' + details if details else ''} in {duration(self.elapsed())}")
            self.summary = None


_active: list[Phase] = []


def open_phase(info: Info | None, start: str | None = None) -> Phase:
    """Start a long phase (prefer `phase()`; this is for code that cannot indent into a
    `with`): `start` is printed as `start ...`; the caller must `close()` it."""
    draw = info is not None and bars_enabled and _stderr_is_terminal()
    ph = Phase(info, draw)
    if start is not None:
        ph.say(f"{start} ...")
    _active.append(ph)
    return ph


@contextmanager
def phase(info: Info | None, start: str | None = None) -> Iterator[Phase]:
    """A long phase: `start` is printed as `start ...`; the phase's `summary` (if the body sets
    one) as `summary: <row reports> in 1.2 s` when the body succeeds. Nothing is drawn without
    `info`, nor when stderr is not a terminal."""
    ph = open_phase(info, start)
    try:
        yield ph
    except BaseException:
        ph.close(ok=False)
        raise
    ph.close()


def silent() -> Phase:
    """A phase for callers that were given none: rows count, nothing is printed or drawn."""
    return Phase(None, False)


def print_above_bars(message: str) -> bool:
    """Print a message line above the live rows, if a phase is drawing any (a plain write would
    land inside them); False when none is, and the caller prints it as usual."""
    bar = _live_bar()
    if bar is None:
        return False
    bar.console.print(message, markup=False, highlight=False, emoji=False, soft_wrap=True)
    return True


def _live_bar() -> Any:
    return next((p.bar for p in reversed(_active) if p.bar is not None), None)


def _stderr_is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def _start_bar() -> Any:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    bar = Progress(
        SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), _count_column(), TimeElapsedColumn(),
        console=Console(stderr=True), transient=True, redirect_stdout=False,  # stdout is data
    )
    bar.start()
    return bar


def _count_text(task: Any) -> str:
    unit, noun = task.fields.get("unit", ""), task.fields.get("noun", "")
    done = int(task.completed)
    if unit == "bytes":
        speed = f" {size(task.speed)}/s" if task.speed else ""
        return f"{size(done)} of {size(task.total)}{speed}" if task.total else f"{size(done)}{speed}"
    if not noun:  # a step without a count: only whether it is done
        return "done" if task.finished else ""
    if task.total is None:
        return plural(done, noun) if done else ""
    return f"{done} of {plural(int(task.total), noun)}"


def _count_column() -> Any:
    """`3 of 12 files`, `12.3 MB of 45.6 MB 5.1 MB/s`; the class is made once rich is imported."""
    from rich.progress import ProgressColumn
    from rich.text import Text

    class CountColumn(ProgressColumn):
        def render(self, task: Any) -> Text:
            return Text(_count_text(task), style="progress.download")

    return CountColumn()
