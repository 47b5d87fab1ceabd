"""Reliability harness (RELIABILITY.md §harness): a private store per test, copied from a
session template that already holds the interpreter (importing one takes ~25 s), tiny wheels in
a find-links directory so realize never touches the network, a canary directory outside the
store, and `assert_store_valid`, the invariant checker every test in this directory ends with.

The checker is independent of `store verify` on purpose: a broken verify must not make a broken
store look valid. For resource faults (rows 18-25): `Namespace`, a user and mount namespace of
the test's own (unshare -rm) for a small tmpfs or bind mounts, and `OtherUser`, which runs
`store` as uid 65534 (setpriv). Opt-in flags (pass this directory to pytest so they are registered):
`--crash-fuzz-runs N` (default 20), `--stress-seconds S` (the 8 realizes + gc + verify loop).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import importlib.util

import pytest

TESTS = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TESTS))

from local_index import build_wheel  # noqa: E402

from envstore._core import Store, hash_file  # noqa: E402


def _tests_conftest():
    """tests/conftest.py's helpers, loaded under their own name (two conftest modules clash)."""
    spec = importlib.util.spec_from_file_location("envstore_tests_conftest", TESTS / "conftest.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


tree_snapshot = _tests_conftest().tree_snapshot

PY = f"{sys.version_info[0]}.{sys.version_info[1]}"
# Tiny packages: enough to make distinct, overlapping envs. tinyb depends on tinya. Distinct
# versions give each package's __init__.py distinct content (so distinct blobs).
PACKAGES = {"tinya": ("1.0", []), "tinyb": ("2.0", ["tinya"]), "tinyc": ("3.0", []), "tinyd": ("4.0", []),
            "tinye": ("5.0", [])}


def option(config: pytest.Config, name: str, default):
    try:
        return config.getoption(name)
    except ValueError:
        return default


# ---------------------------------------------------------------------------------------------
# Running the command


def run_store(store: Path, *args: str, env: dict | None = None, timeout: float = 180, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(["store", "--store", str(store), *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})}, **kw)


@dataclass
class Wheels:
    dir: Path
    empty_index: Path

    def index_args(self) -> list[str]:
        return ["--find-links", str(self.dir), "--index-url", self.empty_index.as_uri()]


def write_env(directory: Path, packages: list[str], name: str | None = None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    deps = "".join(f"      - {p}\n" for p in packages)
    env = directory / "env.yml"
    env.write_text(f"name: {name or directory.name}\ndependencies:\n  - python={PY}\n  - pip:\n{deps}")
    return env



def copy_store(template: Path, dest: Path, share_blobs: bool = True) -> Path:
    """A private copy of the template. Blobs and the interpreter tree are hardlinked when
    `share_blobs` (tests never write through them); the database, registry and lock are copies."""
    if not share_blobs:
        subprocess.run(["cp", "-a", str(template), str(dest)], check=True)
        return dest
    dirs: list[tuple[Path, int]] = []
    for dirpath, dirnames, filenames in os.walk(template):
        src_dir = Path(dirpath)
        rel = src_dir.relative_to(template)
        out = dest / rel
        out.mkdir(parents=True, exist_ok=True)
        dirs.append((out, stat.S_IMODE(src_dir.lstat().st_mode)))
        shared = rel.parts[:1] == ("blobs-v1",) or (rel.parts[:1] == ("python",) and len(rel.parts) > 1
                                                     and rel.parts[1] != "registry-v1")
        for n in filenames + [d for d in dirnames if (src_dir / d).is_symlink()]:
            src = src_dir / n
            if src.is_symlink():
                os.symlink(os.readlink(src), out / n)
            elif n == "lock":
                (out / n).touch()
            elif shared:
                os.link(src, out / n)
            else:
                shutil.copy2(src, out / n)
    for d, mode in reversed(dirs):
        os.chmod(d, mode)
    return dest



# The invariant checker

_HASHES: dict[tuple[int, int], tuple[int, int, str]] = {}


def _hash(path: Path, st: os.stat_result) -> str:
    key = (st.st_dev, st.st_ino)
    cached = _HASHES.get(key)
    if cached and cached[0] == st.st_ctime_ns and cached[1] == st.st_size:
        return cached[2]
    h = hash_file(str(path))
    _HASHES[key] = (st.st_ctime_ns, st.st_size, h)
    return h


def blob_problems(root: Path) -> list[str]:
    out = []
    blobs = root / "blobs-v1"
    if not blobs.is_dir():
        return out
    for fan in blobs.iterdir():
        if fan.is_symlink() or not fan.is_dir() or len(fan.name) != 2:
            out.append(f"junk in blobs-v1: {fan.name}")
            continue
        for f in fan.iterdir():
            st = f.lstat()
            if not stat.S_ISREG(st.st_mode):
                out.append(f"blob {fan.name}/{f.name} is not a regular file")
                continue
            name = fan.name + f.name
            exe = name.endswith(".x")
            digest = name[:-2] if exe else name
            mode = stat.S_IMODE(st.st_mode)
            if mode != (0o555 if exe else 0o444):
                out.append(f"blob {name} has mode {mode:o}")
            if st.st_mtime != 1:
                out.append(f"blob {name} has mtime {st.st_mtime}")
            if _hash(f, st) != digest:
                out.append(f"blob {name} does not hash to its name")
    return out


def db_rows(root: Path, sql: str) -> list[tuple]:
    db = root / "db-v1.sqlite"
    if not db.exists():
        return []
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def manifest(root: Path, mid: str) -> dict:
    return json.loads((root / "manifests-v1" / f"{mid}.json").read_text())["entries"] if (
        root / "manifests-v1" / f"{mid}.json").exists() else json.loads(Store(root, fsync=False).manifest_json(mid))["entries"]


def manifest_ids(column: list) -> list[str]:
    """The manifest ids of a prefixes row's `manifests` column, read here without envstore's
    code: part records ({"manifest": id, ...}) or, in rows written before them, [label, id]."""
    return [item["manifest"] if isinstance(item, dict) else item[1] for item in column]


def prefix_problems(root: Path, prefix: Path, manifests: list) -> list[str]:
    out: list[str] = []
    expected: dict[str, dict] = {}
    for mid in manifest_ids(manifests):
        try:
            expected.update(manifest(root, mid))
        except Exception as e:  # noqa: BLE001 - a missing manifest is a finding
            out.append(f"{prefix.name}: manifest {mid} unreadable ({e})")
    for rel in list(expected):
        parts = rel.split("/")
        for i in range(1, len(parts)):
            expected.setdefault("/".join(parts[:i]), {"type": "dir"})
    seen = set()
    for dirpath, dirnames, filenames in os.walk(prefix):
        d = Path(dirpath)
        if d != prefix and stat.S_IMODE(d.lstat().st_mode) & 0o222:
            out.append(f"{prefix.name}: directory {d.relative_to(prefix)} is writable")
        for n in dirnames + filenames:
            p = d / n
            rel = str(p.relative_to(prefix))
            seen.add(rel)
            e = expected.get(rel)
            st = p.lstat()
            if e is None:
                out.append(f"{prefix.name}: extra file {rel}")
            elif e["type"] == "symlink":
                if not stat.S_ISLNK(st.st_mode) or os.readlink(p) != e["target"]:
                    out.append(f"{prefix.name}: symlink {rel} differs")
            elif e["type"] == "dir":
                if not stat.S_ISDIR(st.st_mode):
                    out.append(f"{prefix.name}: {rel} is not a directory")
            else:
                mode = stat.S_IMODE(st.st_mode)
                want = 0o555 if e["executable"] else 0o444
                blob = root / "blobs-v1" / e["hash"][:2] / (e["hash"][2:] + (".x" if e["executable"] else ""))
                if not stat.S_ISREG(st.st_mode):
                    out.append(f"{prefix.name}: {rel} is not a regular file")
                elif mode != want:
                    out.append(f"{prefix.name}: {rel} has mode {mode:o}, manifest says {want:o}")
                elif not blob.exists():
                    out.append(f"{prefix.name}: blob of {rel} is missing")
                elif blob.stat().st_ino != st.st_ino and _hash(p, st) != e["hash"]:
                    out.append(f"{prefix.name}: {rel} content differs from its manifest")
    for rel in set(expected) - seen:
        out.append(f"{prefix.name}: {rel} is missing")
    return out


def store_problems(root: Path, after_gc: bool = False) -> list[str]:
    root = Path(root)
    out = blob_problems(root)
    registered = {}
    for path, manifests in db_rows(root, "SELECT path, manifests FROM prefixes"):
        registered[path] = json.loads(manifests)
    for path, manifests in registered.items():
        p = Path(path)
        if not p.is_dir():
            out.append(f"registered prefix {p.name} does not exist")
        else:
            out += prefix_problems(root, p, manifests)
    envs = root / "envs"
    for entry in sorted(envs.iterdir()) if envs.is_dir() else []:
        if entry.name == ".locks":
            continue
        if after_gc and (entry.name.startswith(".") or str(entry) not in registered):
            out.append(f"leftover in envs/ after gc: {entry.name}")
    for link, prefix in db_rows(root, "SELECT link, prefix FROM roots"):
        try:
            live = os.readlink(link) == prefix
        except OSError:
            live = False
        if live and prefix not in registered:
            out.append(f"live root {link} points at unregistered prefix {prefix}")
    profiles = root / "profiles"
    for link in sorted(profiles.iterdir()) if profiles.is_dir() else []:
        if link.is_symlink() and not link.name.startswith("."):
            target = Path(os.path.realpath(link))
            if not target.is_dir():
                out.append(f"profile link {link.name} dangles")
        elif after_gc and ".tmp" in link.name:
            out.append(f"leftover temporary link profiles/{link.name} after gc")
    if after_gc:
        tmp = root / "tmp"
        left = sorted(p.name for p in tmp.iterdir()) if tmp.is_dir() else []
        if left:
            out.append(f"staging left in tmp/ after gc: {left}")
    return out


def assert_store_valid(root: Path, after_gc: bool = False) -> None:
    """RELIABILITY §harness invariants (promises 1, 2, 5, 6). `after_gc`: also no leftovers."""
    problems = store_problems(root, after_gc)
    assert not problems, "store invariants violated:\n  " + "\n  ".join(problems)


def gc_and_check(root: Path) -> subprocess.CompletedProcess:
    r = run_store(root, "gc")
    assert r.returncode == 0, r.stderr
    assert_store_valid(root, after_gc=True)
    return r


def wait_for(path: Path, proc: subprocess.Popen | None = None, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"process exited ({proc.returncode}) before {path}: {proc.communicate()}")
        assert time.monotonic() < deadline, f"timed out waiting for {path}"
        time.sleep(0.02)


# ---------------------------------------------------------------------------------------------
# Realizing and looking inside prefixes


def realize_ok(store: Path, env: Path, wheels: Wheels, env_vars: dict | None = None) -> Path:
    r = run_store(store, "realize", str(env), *wheels.index_args(), env=env_vars)
    assert r.returncode == 0, r.stderr
    return Path(r.stdout.strip())


def site(prefix: Path) -> Path:
    return next(prefix.glob("lib/python*/site-packages"))


def imports(prefix: Path, mod: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(prefix / "bin" / "python"), "-c", f"import {mod}; print({mod}.__version__)"],
                          capture_output=True, text=True)


def placed_files(root: Path, prefix: Path) -> dict[str, Path]:
    """Every regular file of a registered prefix: path relative to it -> the blob it was placed from."""
    manifests = {path: json.loads(m) for path, m in db_rows(root, "SELECT path, manifests FROM prefixes")}
    out = {}
    for mid in manifest_ids(manifests[str(prefix)]):
        for rel, e in manifest(root, mid).items():
            if e["type"] == "file":
                out[rel] = root / "blobs-v1" / e["hash"][:2] / (e["hash"][2:] + (".x" if e["executable"] else ""))
    return out


def wheel_dir(d: Path, name: str, files: dict[str, bytes]) -> list[str]:
    """A find-links directory holding one wheel `name` 1.0 with `files`; the index arguments."""
    from wheel_factory import build_wheel as build_one

    build_one(d, name, "1.0", {f"{name}/__init__.py": b"__version__ = '1.0'\n", **files})
    return ["--find-links", str(d), "--index-url", d.as_uri()]


def bulky_files(name: str, count: int, size: int) -> dict[str, bytes]:
    """`count` distinct files of `size` bytes that deflate about 250:1 (a random 16 KiB block
    repeated), so the wheel is small and its blobs are not."""
    import random

    rnd = random.Random(name)
    return {f"{name}/data{i}.bin": rnd.randbytes(16 << 10) * (size // (16 << 10)) for i in range(count)}


def store_fingerprint(root: Path) -> dict[str, tuple]:
    """Every entry under root: type, mode, owner, link count, mtime and content hash. Equal
    before and after means nothing was written, linked, chmod-ed or removed."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for n in [".", *dirnames, *filenames]:
            p = Path(dirpath, n)
            st = p.lstat()
            content = os.readlink(p) if p.is_symlink() else _hash(p, st) if stat.S_ISREG(st.st_mode) else ""
            out[str(p.relative_to(root))] = (st.st_mode, st.st_uid, st.st_nlink, st.st_mtime_ns, content)
    return out


def no_traceback(r: subprocess.CompletedProcess, *wanted: str) -> None:
    """A refusal: non-zero exit, one clear message containing `wanted`, never a traceback."""
    assert r.returncode != 0, r.stdout
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr, r.stderr
    for text in wanted:
        assert text in r.stderr, f"{text!r} not in:\n{r.stderr}"


# ---------------------------------------------------------------------------------------------
# Other filesystems: a namespace of our own (rows 18-21)


class Namespace:
    """A user and mount namespace (`unshare -rm`, no root needed) held open by a sleeping child.
    Commands entered into it (nsenter) see the mounts made there, such as a small tmpfs or a bind
    mount; the test process does not, and they vanish when the child is killed. Checks that read
    the store therefore run inside too (`python`, `assert_store_valid`)."""

    def __init__(self) -> None:
        for tool in ("unshare", "nsenter"):
            if shutil.which(tool) is None:
                pytest.skip(f"{tool} (util-linux) is not installed")
        self.proc = subprocess.Popen(["unshare", "-rm", "--propagation", "private", "sleep", "3600"],
                                     stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while Path(f"/proc/{self.proc.pid}/comm").read_text().strip() != "sleep":
            if self.proc.poll() is not None:
                why = self.proc.stderr.read().decode().strip()
                self.proc.stderr.close()
                pytest.skip(f"unshare -rm is not permitted here: {why}")
            assert time.monotonic() < deadline, "unshare -rm did not start"
            time.sleep(0.01)

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()
        self.proc.stderr.close()

    def run(self, *argv: str, env: dict | None = None, timeout: float = 180) -> subprocess.CompletedProcess:
        enter = ["nsenter", "-t", str(self.proc.pid), "-U", "-m", "--preserve-credentials", "--"]
        return subprocess.run([*enter, *argv], capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, **(env or {})})

    def check(self, *argv: str) -> str:
        r = self.run(*argv)
        assert r.returncode == 0, f"{argv}: {r.stderr}"
        return r.stdout

    def store(self, store: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
        return self.run("store", "--store", str(store), *args, env=env)

    def python(self, code: str, *args: str) -> str:
        return self.check(sys.executable, "-c", f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
                          + code, *args)

    def free(self, path: Path) -> tuple[int, int]:
        """(bytes, inodes) available on the filesystem of `path`, as seen in here."""
        out = self.python("import os; s = os.statvfs(sys.argv[1]); print(s.f_bavail * s.f_frsize, s.f_favail)",
                          str(path))
        free_bytes, free_inodes = out.split()
        return int(free_bytes), int(free_inodes)

    def mount_tmpfs(self, at: Path, size: int = 1 << 30, inodes: int = 1 << 20) -> None:
        at.mkdir(parents=True, exist_ok=True)
        self.check("mount", "-t", "tmpfs", "-o", f"size={size},nr_inodes={inodes},mode=0755", "tmpfs", str(at))

    def leave_free(self, at: Path, free_bytes: int, free_inodes: int = 1 << 20) -> None:
        """Remount the tmpfs at `at` so that exactly this much is left (whole pages)."""
        out = self.python("import os; s = os.statvfs(sys.argv[1]); "
                          "print((s.f_blocks - s.f_bfree) * s.f_frsize, s.f_files - s.f_ffree)", str(at))
        used_bytes, used_inodes = map(int, out.split())
        self.check("mount", "-o", f"remount,size={used_bytes + free_bytes},nr_inodes={used_inodes + free_inodes}",
                   str(at))

    def bind(self, path: Path) -> None:
        """A bind mount of `path` onto itself: the same files, but another mount (link and
        rename across it fail with EXDEV)."""
        self.check("mount", "--bind", str(path), str(path))

    def tmpfs_store(self, template: Path, at: Path) -> Path:
        """A tmpfs at `at` holding a copy of the template store (`cp -a`: about 2 s)."""
        self.mount_tmpfs(at)
        self.check("cp", "-a", str(template), str(at / "store"))
        return at / "store"

    def fill(self, at: Path) -> None:
        """Write a filler file under `at` until its filesystem is 100 % full."""
        self.python("import os\nf = open(sys.argv[1], 'wb', buffering=0)\n"
                    "for chunk in (1 << 20, 4096, 1):\n"
                    "    try:\n        while True: f.write(bytes(chunk))\n"
                    "    except OSError: pass\n"
                    "assert os.statvfs(sys.argv[1]).f_bavail == 0", str(at / "filler"))

    def path(self, p: Path) -> Path:
        """`p` as seen inside the namespace, for reading from the test process."""
        return Path(f"/proc/{self.proc.pid}/root") / Path(p).relative_to("/")

    def store_problems(self, root: Path, after_gc: bool = False) -> list[str]:
        out = self.python("import json; from harness import store_problems\n"
                          "print(json.dumps(store_problems(sys.argv[1], sys.argv[2] == '1')))",
                          str(root), "1" if after_gc else "0")
        return json.loads(out)

    def assert_store_valid(self, root: Path, after_gc: bool = False) -> None:
        problems = self.store_problems(root, after_gc)
        assert not problems, "store invariants violated:\n  " + "\n  ".join(problems)


# ---------------------------------------------------------------------------------------------
# Another user (rows 24-25)

NOBODY = 65534


@contextlib.contextmanager
def world_readable_dir() -> Iterator[Path]:
    """A directory another user can reach (pytest's tmp_path is under a 0700 directory)."""
    d = Path(tempfile.mkdtemp(prefix="envstore-other-user-", dir="/tmp"))
    d.chmod(0o755)
    try:
        yield d
    finally:
        subprocess.run(["chmod", "-R", "u+w", str(d)], check=False)
        shutil.rmtree(d, ignore_errors=True)


class OtherUser:
    """Runs `store` as uid/gid 65534 with no groups (setpriv; needs root). The interpreter and
    packages that run envstore may sit where that user cannot read (a Python under /root), so
    each command runs in a private mount namespace where `sys.base_prefix` is bind-mounted
    under `base` (a world-readable directory) and this process's sys.path is mapped there.
    Not root and `or_self`: the commands run as the current user, who chmod does stop."""

    def __init__(self, base: Path, or_self: bool = False) -> None:
        self.base = base
        self.as_self = os.geteuid() != 0
        if self.as_self and not or_self:
            pytest.skip("running a command as another user needs root")
        for tool in () if self.as_self else ("setpriv", "unshare"):
            if shutil.which(tool) is None:
                pytest.skip(f"{tool} (util-linux) is not installed")
        self.mnt = base / "python"
        self.mnt.mkdir()
        real = str(Path(sys.base_prefix).resolve())

        def mapped(p: str) -> str:
            p = str(Path(p).resolve())
            inside = not self.as_self and (p == real or p.startswith(real + "/"))
            return str(self.mnt) + p[len(real):] if inside else p

        self.python = mapped(getattr(sys, "_base_executable", sys.executable))  # a venv's base interpreter
        self.path = [mapped(p) for p in sys.path if p and Path(p).is_dir()]
        self.real = real

    def run(self, *argv: str, timeout: float = 180) -> subprocess.CompletedProcess:
        script = ('mount --bind "$1" "$2" && shift 2 && exec setpriv --reuid {u} --regid {u} --clear-groups '
                  '-- "$@"').format(u=NOBODY)
        wrap = [] if self.as_self else ["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh",
                                        self.real, str(self.mnt)]
        return subprocess.run([*wrap, *argv], capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, "HOME": "/nonexistent"})

    def store(self, store: Path, *args: str) -> subprocess.CompletedProcess:
        code = f"import sys; sys.path[:0] = {self.path!r}; from envstore.entry import main; main()"
        return self.run(self.python, "-c", code, "--store", str(store), *args)

    def setup(self, template: Path, wheels: Wheels) -> tuple[Path, list[str]]:
        """A copy of the template store (made by root) and of the wheels where this user can
        read them; the index arguments."""
        store = self.base / "store"
        subprocess.run(["cp", "-a", str(template), str(store)], check=True)
        shutil.copytree(wheels.dir, self.base / "wheels")
        (self.base / "empty-index").mkdir()
        return store, ["--find-links", str(self.base / "wheels"), "--index-url", (self.base / "empty-index").as_uri()]

    def project(self, name: str, packages: list[str]) -> Path:
        """An env file in a project directory this user owns (so only the store can refuse)."""
        env = write_env(self.base / name, packages)
        if not self.as_self:
            os.chown(env.parent, NOBODY, NOBODY)
            os.chown(env, NOBODY, NOBODY)
        return env
