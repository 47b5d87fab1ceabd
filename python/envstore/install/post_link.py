"""Conda post-link scripts, run only when asked (`envstore: {post-link-scripts: run}` or
ENVSTORE_RUN_POST_LINK_SCRIPTS=1): conda runs `bin/.<name>-post-link.sh` after linking a
package; here each runs in a full *copy* of the prefix being built (never in hardlinks of
blobs, which every other environment shares), and the files the scripts add become one part of
the prefix, stored as blobs like the rest. A script may only add files: one that changes or
removes a file of a package is refused, since the prefix is the union of its packages' files.

The scripts see PREFIX as that copy's path; a text file they write naming it gets the store
path instead (the same rewrite a text prefix placeholder gets)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from envstore._core import Store, hash_file, remove_tree
from envstore.errors import EnvstoreError
from envstore.install.place import BlobBatch
from envstore.store import manifest
from envstore.store.parts import Part, PartKind, labelled

TIMEOUT = 600.0  # seconds per script: conda has none; a hung script must not hang a realize
MESSAGES = ".messages.txt"  # conda's: what scripts want the user to read, printed and not kept


class PostLinkError(EnvstoreError):
    code = "conda.post-link"


def script_path(name: str) -> str:
    return f"bin/.{name}-post-link.sh"


def has_script(pkg) -> bool:
    """Whether a conda package (install.conda.IngestedConda) ships a post-link script."""
    return any(row["_path"] == script_path(pkg.record.name) for row in pkg.paths)


def _order(packages: list) -> list:
    """Dependencies before dependents, as conda runs them; ties by name."""
    by_name = {p.record.name: p for p in packages}
    done: list = []
    seen: set[str] = set()

    def visit(pkg) -> None:
        if pkg.record.name in seen:
            return
        seen.add(pkg.record.name)
        for dep in sorted(d.split()[0] for d in pkg.record.depends):
            if dep in by_name:
                visit(by_name[dep])
        done.append(pkg)

    for pkg in sorted(packages, key=lambda p: p.record.name):
        visit(pkg)
    return done


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def run_scripts(store: Store, parts: list[Part], packages: list, dest: Path, tmp: Path,
                info) -> list[Part]:
    """Run the post-link scripts of `packages` (those that ship one) in a copy of the prefix
    made from `parts`, and return the part holding what they added (none when nothing)."""
    scripted = [p for p in _order(packages) if has_script(p)]
    if not scripted:
        return []
    work = tmp / "post-link"
    if work.exists():
        remove_tree(work)
    store.materialize(labelled(parts), work, copy=True)
    before = {path: entry for part in parts for path, entry in manifest.entries(store, part.manifest).items()}
    try:
        for pkg in scripted:
            _run_one(pkg, work, info)
        return _added(store, work, before, str(dest))
    finally:
        remove_tree(work)


def _run_one(pkg, work: Path, info) -> None:
    rec = pkg.record
    env = dict(os.environ, PREFIX=str(work), PKG_NAME=rec.name, PKG_VERSION=rec.version,
               PKG_BUILDNUM=str(rec.build_number), PATH=f"{work / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}")
    what = f"the post-link script of {rec.name} {rec.version}"
    info(f"running {what}")
    try:
        proc = subprocess.run(["/bin/sh", str(work / script_path(rec.name))], cwd=work, env=env,
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, errors="replace",
                              timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        raise PostLinkError(f"{what} did not finish in {TIMEOUT:.0f} s", "nothing was published") from None
    if proc.returncode != 0:
        raise PostLinkError(f"{what} failed (exit {proc.returncode}):\n{_tail(proc.stdout + proc.stderr)}",
                            "nothing was published; without `post-link-scripts: run` the script is skipped")
    messages = work / MESSAGES
    if messages.is_file():
        for line in messages.read_text(errors="replace").splitlines():
            info(f"{rec.name}: {line}")
        messages.unlink()


def _added(store: Store, work: Path, before: dict[str, dict], dest: str) -> list[Part]:
    """The part of what the scripts added; a change to or removal of a package's file is refused."""
    now: dict[str, Path] = {}
    for root, dirs, files in os.walk(work):
        for name in dirs + files:
            full = Path(root) / name
            now[full.relative_to(work).as_posix()] = full
    for path, entry in before.items():
        full = now.get(path)
        if full is None:
            raise PostLinkError(f"a post-link script removed {path}", "envstore can only add files to a prefix")
        if entry["type"] == "file" and (full.is_symlink() or not full.is_file() or hash_file(full) != entry["hash"]):
            raise PostLinkError(f"a post-link script changed {path}", "envstore can only add files to a prefix")
    batch = BlobBatch(store)
    entries: dict[str, dict] = {}
    for path, full in sorted(now.items()):
        if path in before:
            continue
        if full.is_symlink():
            entries[path] = {"type": "symlink", "target": os.readlink(full)}
        elif full.is_dir():
            entries[path] = {"type": "dir"}
        else:
            data = full.read_bytes()
            if str(work).encode() in data:
                if b"\0" in data:
                    raise PostLinkError(f"a post-link script wrote {path}, a binary file naming the build "
                                        "directory", "envstore can rewrite only text files for the store path")
                data = data.replace(str(work).encode(), dest.encode())
            entries[path] = batch.add(data, os.access(full, os.X_OK))
    if not entries:
        return []
    batch.flush()
    return [Part(PartKind.POST_LINK, "post-link scripts", None, manifest.put(store, entries))]

