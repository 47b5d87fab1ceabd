"""`store push ENV_FILE|PREFIX… --to URL`: upload prefixes' closures to a binary cache."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("push")
@click.argument("targets", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path),
                metavar="ENV_FILE|PREFIX...")
@click.option("--to", "url", required=True, metavar="URL", help="The cache: s3://BUCKET[/PATH] or file:///PATH.")
@click.option("--sign-key", type=click.Path(dir_okay=False, path_type=Path),
              help="Secret key to sign the records with (default: the one `store key generate` wrote, if any).")
@click.option("--no-interpreter", is_flag=True, help="Leave the interpreter out (the cache's users have it).")
@click.pass_obj
def command(app, targets: tuple[Path, ...], url: str, sign_key: Path | None, no_interpreter: bool) -> None:
    """Upload the closure of each prefix (or the prefix an env file's lock realizes to).

    Blobs (zstd-compressed, named by their BLAKE3 hash), manifests, the interpreter, and a
    record per prefix signed with your key, uploaded last. What the cache holds already is
    not uploaded again. S3 credentials, region and endpoint come the standard AWS way
    (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_ENDPOINT_URL, ~/.aws/).
    """
    # lazy: a command loads its own ops; `store --help` loads none
    from envstore.ops.push import push
    from envstore.progress import plural, size

    report = push(list(targets), app.store_root, url, sign_key, app.info, with_interpreter=not no_interpreter)
    if report.unchanged and not report.records:
        app.info(f"{url} has {plural(len(report.unchanged), 'prefix')} already: nothing uploaded")
    else:
        app.info(f"pushed {plural(len(report.records), 'prefix')} to {url}: {plural(report.moved.blobs, 'blob')}, "
                 f"{plural(report.moved.manifests, 'manifest')}, {size(report.moved.bytes)}")
