"""Git sources (issue 16): a requested revision resolved to a commit when locking (a branch is
never trusted twice: the lock keeps the commit), and that commit checked out for a build. One
bare mirror per repository URL under the store's cache, fetched into when a revision is not in
it yet. git itself does the work; its own error text is shown when it fails."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tarfile
from pathlib import Path

from envstore.build.backend import BuildError
from envstore.spec.sources import GitRef

_COMMIT = re.compile(r"^[0-9a-f]{40}$")
TIMEOUT = 600.0


class GitError(BuildError):
    code = "build"


def _git(*args: str, cwd: Path | None = None, what: str) -> str:
    if shutil.which("git") is None:
        raise GitError(f"{what}: git is not installed", "install git, or use a released version from the index")
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true", "LC_ALL": "C"}
    try:
        proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, env=env,
                              timeout=TIMEOUT, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise GitError(f"{what}: git {args[0]} took longer than {TIMEOUT:g}s") from None
    if proc.returncode:
        lines = [line for line in (proc.stderr or proc.stdout).splitlines() if line.strip()]
        raise GitError(f"{what}: git {args[0]} failed", "\n".join(lines[-8:]) or None)
    return proc.stdout


def mirror(cache: Path, ref: GitRef) -> Path:
    """The bare mirror of the repository in `cache`, cloned once."""
    dest = cache / hashlib.sha256(ref.url.encode()).hexdigest()[:24]
    if not (dest / "HEAD").is_file():
        tmp = dest.with_name(dest.name + f".tmp-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.parent.mkdir(parents=True, exist_ok=True)
        _git("clone", "--quiet", "--mirror", ref.url, str(tmp), what=ref.url)
        try:
            os.rename(tmp, dest)
        except OSError:  # another process cloned it first
            shutil.rmtree(tmp, ignore_errors=True)
    return dest


def resolve_commit(cache: Path, ref: GitRef) -> str:
    """The commit `ref.revision` names now (HEAD when none): fetched fresh, since a branch moves."""
    repo = mirror(cache, ref)
    what = f"{ref.url}@{ref.revision or 'HEAD'}"
    rev = ref.revision or "HEAD"
    if not _COMMIT.match(rev):
        _git("fetch", "--quiet", "--prune", "origin", "+refs/*:refs/*", cwd=repo, what=what)
    try:
        return _git("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", cwd=repo, what=what).strip()
    except GitError:
        raise GitError(f"{what}: no such branch, tag or commit in the repository",
                       "check the revision after `@` in the URL") from None


def checkout(cache: Path, ref: GitRef, commit: str, dest: Path) -> Path:
    """The project directory of `commit` (its subdirectory, if the URL names one), as plain files."""
    repo = mirror(cache, ref)
    what = f"{ref.url}@{commit[:12]}"
    try:
        _git("cat-file", "-e", f"{commit}^{{commit}}", cwd=repo, what=what)
    except GitError:
        _git("fetch", "--quiet", "origin", "+refs/*:refs/*", cwd=repo, what=what)
    dest.mkdir(parents=True, exist_ok=True)
    # `git archive` reads the mirror without touching an index, so builds may run side by side.
    archive = dest.with_name(dest.name + ".tar")
    _git("archive", "--format=tar", "-o", str(archive), commit, cwd=repo, what=what)
    try:
        with tarfile.open(archive) as tf:
            tf.extractall(dest, filter="data")
    except (tarfile.TarError, OSError) as e:
        raise GitError(f"{what}: cannot unpack the checkout: {e}") from None
    finally:
        archive.unlink(missing_ok=True)
    project = (dest / ref.subdirectory) if ref.subdirectory else dest
    if not project.resolve().is_relative_to(dest.resolve()) or not project.is_dir():
        raise GitError(f"{what}: no directory {ref.subdirectory!r} in the repository")
    return project


__all__ = ["GitError", "checkout", "mirror", "resolve_commit"]
