"""`store use`, `store rollback`, `store profile list|prune`: profiles with generations."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from envstore.cli.envfile import file_option, prefix_for
from envstore.cli.format import json_document
from envstore.cli.options import index_options, python_option

if TYPE_CHECKING:
    from envstore.index.config import IndexOptions

PROFILE_OPTION = click.option("--profile", "profile", default="default", show_default=True,
                              help="The profile to act on.")


def _inside(directory: Path, cwd: Path) -> bool:
    try:
        cwd.resolve().relative_to(directory.resolve())
        return True
    except ValueError:
        return False


@click.command("use")
@file_option("target", required=True, as_str=True, metavar="ENV_FILE|PREFIX")
@click.argument("target", required=False, metavar="ENV_FILE|PREFIX")
@PROFILE_OPTION
@index_options
@python_option
@click.pass_obj
def command(app, target: str, profile: str, index: IndexOptions | None, python: str | None = None) -> None:
    """Switch a profile to ENV_FILE's environment (realized first) or to PREFIX.

    Makes a new generation (a GC root) and flips the profile to it in one rename; the shims
    use the default profile outside projects. Run inside a project directory, it also makes
    ENV_FILE the project's active environment (.envstore/active). Prints the prefix.
    """
    # lazy: a command loads its own ops; `store --help` loads none
    from envstore import project
    from envstore.lockfile import lock_path_for
    from envstore.ops import profiles, shims

    root = Path(app.store().root)
    prefix, env_file, link = prefix_for(app, target, index, python)
    if env_file is not None and link is not None and _inside(env_file.parent, Path.cwd()):
        project.set_active(env_file, link, lock_path_for(env_file))
        app.info(f"{env_file.parent}: active environment is now {env_file.name}")
    generation = profiles.use(root, prefix, profile)
    shims.refresh_installed(root)
    app.info(f"profile {profile}: generation {generation.number}")
    click.echo(str(prefix))


@click.command("rollback")
@PROFILE_OPTION
@click.option("--to", "to", type=int, default=None, metavar="N", help="Switch to generation N instead.")
@click.pass_obj
def rollback_command(app, profile: str, to: int | None) -> None:
    """Switch a profile back to its previous generation; prints the prefix."""
    # lazy: a command loads its own ops; `store --help` loads none
    from envstore.ops import profiles, shims

    root = Path(app.store().root)
    generation = profiles.rollback(root, profile, to)
    shims.refresh_installed(root)
    app.info(f"profile {profile}: generation {generation.number}")
    click.echo(str(generation.prefix))


@click.group("profile")
def profile_group() -> None:
    """Profiles and their generations."""


@profile_group.command("list")
@PROFILE_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print a versioned JSON document on stdout.")
@click.pass_obj
def list_command(app, profile: str, as_json: bool) -> None:
    """List the generations of a profile, oldest first; the current one is marked."""
    # lazy: a command loads its own ops; `store --help` loads none
    from envstore.ops import profiles

    root = Path(app.store().root)
    gens = profiles.generations(root, profile)
    if as_json:
        click.echo(json_document({"profile": profile, "generations": [g.to_json() for g in gens]}))
        return
    if not gens:
        app.info(f"profile {profile} has no generations (`store use ENV_FILE` makes one)")
    for g in gens:
        when = datetime.datetime.fromtimestamp(g.created).strftime("%Y-%m-%d %H:%M:%S")
        mark = "  (current)" if g.current else ""
        click.echo(f"{g.number:>4}   {when}   {g.prefix}{mark}")


@profile_group.command("prune")
@PROFILE_OPTION
@click.option("--older-than", "older_than", required=True, metavar="AGE",
              help="Remove generations older than AGE (30d, 12h, 2w); never the current one.")
@click.option("--dry-run", is_flag=True, help="Only print what would be removed.")
@click.pass_obj
def prune_command(app, profile: str, older_than: str, dry_run: bool) -> None:
    """Remove old generations; `store gc` then collects prefixes nothing else keeps."""
    # lazy: a command loads its own ops; `store --help` loads none
    from envstore.ops import profiles

    root = Path(app.store().root)
    removed = profiles.prune(root, profiles.parse_age(older_than), profile, dry_run)
    for g in removed:
        click.echo(f"{g.number}\t{g.prefix}")
    verb = "would remove" if dry_run else "removed"
    # lazy: a command loads its own ops; `store --help` loads none
    from envstore.progress import plural

    app.info(f"{verb} {plural(len(removed), 'generation')} of profile {profile}")
