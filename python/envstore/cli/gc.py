"""`store gc`: delete what no root keeps alive."""

from __future__ import annotations

import re

import click

from envstore.cli.format import human_bytes, parse_duration
from envstore.progress import plural

SIZE_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def parse_size(text: str) -> int:
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*", text.lower())
    if not m:
        raise click.BadParameter(f"'{text}' is not a size like 500M or 2G")
    return int(float(m.group(1)) * SIZE_UNITS[m.group(2)])


@click.command("gc")
@click.option("--dry-run", is_flag=True, help="List what would be deleted (stdout) and delete nothing.")
@click.option("--keep-age", metavar="DURATION", help="Keep wheels and bytecode used within DURATION (30m, 12h, 7d), "
              "so switching back to a recent environment stays instant.")
@click.option("--keep-size", metavar="SIZE", help="Keep the most recently used wheels up to SIZE in total "
              "(500M, 2G) although no root needs them.")
@click.option("--lock-timeout", type=float, default=None, metavar="SECONDS",
              help="Give up waiting for running realizes after this long (default: wait).")
@click.pass_obj
def command(app, dry_run: bool, keep_age: str | None, keep_size: str | None, lock_timeout: float | None) -> None:
    """Delete prefixes no root reaches, then every blob and manifest nothing live uses.

    Roots are out-links (.envstore/<name> beside env files) that still point at their prefix,
    profile generations (store use; drop old ones with store profile prune), and the store's
    interpreters. A deleted or repointed out-link stops being a root. gc waits
    for running realizes to finish (they hold the store lock) and vice versa.
    """
    # lazy: a command loads its own ops; `store --help` loads none
    from envstore.ops.gc import GcOptions, run_gc

    options = GcOptions(dry_run=dry_run, keep_age=parse_duration(keep_age) if keep_age else None,
                        keep_size=parse_size(keep_size) if keep_size else None, lock_timeout=lock_timeout)
    report = run_gc(app.store(), options,
                    on_wait=lambda: app.info("waiting for the store lock (a realize is running) ..."))
    if dry_run:
        for path in report.removed_paths:
            click.echo(path)
    verb = "would free" if dry_run else "freed"
    app.info(
        f"{verb} {human_bytes(report.bytes_removed)}: {plural(len(report.prefixes), 'prefix')}, "
        f"{plural(report.blobs_removed, 'blob')}, {plural(report.manifests_removed, 'manifest')}, "
        f"{plural(len(report.staging), 'staging dir')}"
    )
