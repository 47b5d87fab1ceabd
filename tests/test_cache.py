"""The binary cache (issue 18), as a user sees it: `store push` from store A into a file:// cache
(and a real S3 server, test_cache_s3.py), then `store realize` of the same env file in an empty
store B with the index unreachable and no interpreter that could be imported — the same store
path, byte for byte, and no bytecode compiled. Damaged, unsigned and foreign records are refused
with one line and nothing published; a pull killed with SIGKILL resumes; pushers race."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import zstandard

import s3_server
from conftest import tree_snapshot
from reliability.harness import copy_store
from test_realize_real import pyenv_versions, write_env

pytestmark = pytest.mark.network  # store A resolves and fetches its wheels from pip's index

STORE_BIN = str(Path(sys.executable).parent / "store")
CLOSED_INDEX = "http://127.0.0.1:9/simple"  # the discard port: nothing listens, every request fails


def run(*args: str, env: dict[str, str], timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([STORE_BIN, *args], capture_output=True, text=True, env=env, timeout=timeout)


def ok(proc: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}"
    return proc


def remove_store(root: Path) -> None:
    """Directories made writable, files left as they are: a store copied with hardlinks shares
    its blobs' inodes (and their read-only mode) with the store it was copied from."""
    if root.exists():
        subprocess.run(["find", str(root), "-type", "d", "-exec", "chmod", "u+w", "{}", "+"], check=True)
        shutil.rmtree(root)


@dataclass
class Pushed:
    """Store A realized the env, pushed it, and was moved away, so that store B can be made at
    the very path A had (a prefix's scripts and pyvenv.cfg name the store's absolute path)."""

    base: Path
    env_file: Path
    store_path: str  # the prefix's name, envs/<name>
    cache: Path
    a_root: Path  # where A's store now is
    b_root: Path  # the path A had, free for B
    home_env: dict[str, str]  # A's environment: pip's index, the signing key's config dir
    public_key: str

    def url(self, cache: Path | None = None) -> str:
        return (cache or self.cache).as_uri()

    def isolated(self, **extra: str) -> dict[str, str]:
        """A machine without the index (a closed port) or any interpreter to import: an empty
        PATH, no pyenv, no pip configuration."""
        empty = self.base / "empty-bin"
        empty.mkdir(exist_ok=True)
        env = {"HOME": str(self.base / "home-b"), "PATH": str(empty), "PYENV_ROOT": str(self.base / "no-pyenv"),
               "XDG_CONFIG_HOME": str(self.base / "home-b" / ".config"), "PIP_CONFIG_FILE": os.devnull,
               "ENVSTORE_INDEX_URL": CLOSED_INDEX, "LANG": "C.UTF-8"}
        env.update(extra)
        return env

    def realize_b(self, root: Path | None = None, *flags: str, cache: Path | None = None, **env: str):
        args = ["--store", str(root or self.b_root), "realize", str(self.env_file), "--no-out-link",
                "--substituter", self.url(cache), "--trusted-key", self.public_key, *flags]
        return run(*args, env=self.isolated(**env))

    @contextmanager
    def a_in_place(self):
        """Store A back at its own path for a while (its database names its prefixes by their
        absolute path): for pushes after the fixture's."""
        remove_store(self.b_root)
        self.a_root.rename(self.b_root)
        try:
            yield self.b_root
        finally:
            self.b_root.rename(self.a_root)

    def push_a(self, cache: Path, *flags: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        with self.a_in_place() as root:
            return run("--store", str(root), "push", str(root / "envs" / self.store_path), "--to", cache.as_uri(),
                       *flags, env=env or self.home_env)

    def copy_cache(self, name: str) -> Path:
        """A copy to damage, hardlinked (fast): the damage functions replace a file, never
        write into one."""
        dest = self.base / name
        if dest.exists():
            shutil.rmtree(dest)
        subprocess.run(["cp", "-al", str(self.cache), str(dest)], check=True)
        return dest


@pytest.fixture(scope="module")
def pushed(tmp_path_factory: pytest.TempPathFactory) -> Pushed:
    versions = pyenv_versions()
    if not versions:
        pytest.skip("no pyenv CPython to build store A with")
    base = tmp_path_factory.mktemp("cache")
    env_file = write_env(base / "proj", "cachetest", versions[0], ["click"])
    home_env = {**os.environ, "XDG_CONFIG_HOME": str(base / "home-a" / ".config")}
    root = base / "store"
    public_key = ok(run("key", "generate", "--name", "team-a-1", env=home_env)).stdout.strip()
    prefix = Path(ok(run("--store", str(root), "realize", str(env_file), "--no-out-link", env=home_env)).stdout.strip())
    cache = base / "cache"
    ok(run("--store", str(root), "push", str(env_file), "--to", cache.as_uri(), env=home_env))
    a_root = base / "store-a"
    root.rename(a_root)
    return Pushed(base, env_file, prefix.name, cache, a_root, root, home_env, public_key)


@pytest.fixture(scope="module")
def seed(pushed: Pushed) -> Path:
    """A store holding the interpreter only (imported the ordinary way), for the tests about the
    prefix's record and objects: each copies it rather than fetching the interpreter again."""
    root = pushed.base / "seed"
    python = next((pushed.a_root / "python").glob("*-cpython-*")).name.rsplit("-", 1)[-1]
    exe = shutil.which(f"python{'.'.join(python.split('.')[:2])}", path=_pyenv_bin(python))
    ok(run("--store", str(root), "python", "import", str(exe), env=pushed.home_env))
    return root


def _pyenv_bin(version: str) -> str:
    root = subprocess.run(["pyenv", "root"], capture_output=True, text=True).stdout.strip()
    return str(Path(root, "versions", version, "bin"))


@pytest.fixture
def seeded(pushed: Pushed, seed: Path, tmp_path: Path) -> Path:
    """A store B that has the interpreter and nothing else: hardlinks of the seed's read-only
    files, its own copy of the database."""
    root = copy_store(seed, tmp_path / "store-b")
    yield root
    remove_store(root)


@pytest.fixture
def b_store(pushed: Pushed):
    remove_store(pushed.b_root)
    yield pushed.b_root
    remove_store(pushed.b_root)


def published(root: Path) -> list[str]:
    envs = root / "envs"
    names = sorted(p.name for p in envs.iterdir() if not p.name.startswith(".")) if envs.is_dir() else []
    db = root / "db-v1.sqlite"
    rows = []
    if db.exists():
        with closing(sqlite3.connect(db)) as c:
            rows = [r[0] for r in c.execute("SELECT path FROM prefixes")]
    return names + rows


def one_refusal(proc: subprocess.CompletedProcess, *words: str) -> str:
    """One line says what was refused (RELIABILITY row 56: then realize goes on without the
    cache; these tests run --offline, so it stops there, with one error and exit 1)."""
    assert "Traceback" not in proc.stderr, proc.stderr
    refusals = [line for line in proc.stderr.splitlines() if line.startswith("warning: ") and "going on without" in line]
    assert len(refusals) == 1, proc.stderr
    for w in words:
        assert w in refusals[0], proc.stderr
    return refusals[0]


def offline_failure(proc: subprocess.CompletedProcess) -> None:
    assert proc.returncode == 1, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "--offline" in errors[0], proc.stderr
    assert proc.stdout == ""


def test_realize_from_the_cache_is_the_same_prefix_without_index_or_compiler(pushed: Pushed, b_store: Path) -> None:
    proc = ok(pushed.realize_b(_ENVSTORE_TEST_CRASH_AT="bytecode.compile"))  # killed if it compiled anything
    prefix = Path(proc.stdout.strip())
    assert prefix == b_store / "envs" / pushed.store_path  # the same store path, at the same place
    assert "compiled" not in proc.stderr and "fetching 1 wheel" not in proc.stderr, proc.stderr
    assert "substituted" in proc.stderr and "signed by team-a-1" in proc.stderr, proc.stderr
    # byte-identical: every file, link and mode of A's prefix
    a_prefix = pushed.a_root / "envs" / pushed.store_path
    assert tree_snapshot(prefix) == tree_snapshot(a_prefix)
    modes = {p.relative_to(prefix): p.lstat().st_mode for p in prefix.rglob("*")}
    assert modes == {p.relative_to(a_prefix): p.lstat().st_mode for p in a_prefix.rglob("*")}
    # the bytecode B uses is A's, recorded as such: B compiled none of it
    with closing(sqlite3.connect(b_store / "db-v1.sqlite")) as b, closing(sqlite3.connect(pushed.a_root / "db-v1.sqlite")) as a:
        query = "SELECT source_manifest, interpreter, manifest_id FROM bytecode ORDER BY 1"
        assert list(b.execute(query)) == list(a.execute(query))
    assert any(prefix.rglob("*.pyc"))
    imported = subprocess.run([str(prefix / "bin" / "python"), "-c", "import click; print(click.__file__)"],
                              capture_output=True, text=True, env={"PATH": os.defpath})
    assert imported.returncode == 0 and str(prefix) in imported.stdout, imported.stderr
    ok(run("--store", str(b_store), "verify", env=pushed.isolated()))
    # a second realize is the already-realized fast path, from B's own store
    again = ok(pushed.realize_b())
    assert again.stdout == proc.stdout and "substitut" not in again.stderr


def test_a_second_push_uploads_nothing(pushed: Pushed) -> None:
    cache = pushed.copy_cache("cache-again")
    before = {p: p.stat().st_mtime_ns for p in cache.rglob("*")}
    proc = ok(pushed.push_a(cache))
    assert "nothing uploaded" in proc.stderr, proc.stderr
    assert {p: p.stat().st_mtime_ns for p in cache.rglob("*")} == before


def test_offline_uses_a_file_cache(pushed: Pushed, seeded: Path) -> None:
    proc = ok(pushed.realize_b(seeded, "--offline"))
    assert Path(proc.stdout.strip()).name == pushed.store_path


def _record_path(cache: Path, store_path: str) -> Path:
    return cache / "records-v1" / f"{store_path}.json"


def _edit_record(cache: Path, store_path: str, edit) -> None:
    path = _record_path(cache, store_path)
    doc = json.loads(path.read_bytes())
    edit(doc)
    _replace(path, json.dumps(doc).encode())


def _replace(path: Path, data: bytes) -> None:
    path.unlink()
    path.write_bytes(data)


def _a_packed_blob(cache: Path, store_path: str) -> tuple[Path, dict, str]:
    """(pack file, its index, one blob in it) for a blob the prefix (not its interpreter) uses."""
    doc = json.loads(_record_path(cache, store_path).read_bytes())
    mid = doc["wheels"][0]["core"]
    text = zstandard.ZstdDecompressor().decompress((cache / "manifests-v1" / f"{mid}.json.zst").read_bytes())
    entries = [e for e in json.loads(text)["entries"].values() if e["type"] == "file" and e["size"] > 1000]
    for pid in doc["packs"]:
        index = json.loads(zstandard.ZstdDecompressor().decompress(
            (cache / "packs-v1" / f"{pid}.idx.zst").read_bytes()))["blobs"]
        for e in entries:
            blob = e["hash"] + (".x" if e["executable"] else "")
            if blob in index:
                return cache / "packs-v1" / f"{pid}.pack", index, blob
    raise AssertionError("no blob of the prefix is packed")


def _a_loose_blob(cache: Path) -> Path:
    """A blob stored as an object of its own (a big one: the interpreter's)."""
    return max((cache / "blobs-v1").rglob("*.zst"), key=lambda p: p.stat().st_size)


def _unsigned(cache: Path, sp: str) -> None:
    _edit_record(cache, sp, lambda d: d.update(signatures=[]))


def _tampered_record(cache: Path, sp: str) -> None:
    _edit_record(cache, sp, lambda d: d["wheels"][0].update(filename="evil-1.0-py3-none-any.whl"))


def _another_path(cache: Path, sp: str) -> None:
    _edit_record(cache, sp, lambda d: d.update(store_path="a" * 32 + "-other"))


def _tampered_blob(cache: Path, sp: str) -> None:
    """The blob's bytes changed in its pack, and the pack's index made to match (an attacker
    can rewrite both; only the blob's name, from the signed record's manifests, is trusted)."""
    pack, index, blob = _a_packed_blob(cache, sp)
    data = pack.read_bytes()
    offset, length = index[blob]
    content = zstandard.ZstdDecompressor().decompress(data[offset:offset + length])
    evil = zstandard.ZstdCompressor().compress(b"#" + content[1:])
    _replace(pack, data[:offset] + evil + data[offset + length:])
    delta = len(evil) - length
    index = {b: [o + delta if o > offset else o, len(evil) if b == blob else n] for b, (o, n) in index.items()}
    idx = pack.with_name(pack.name.replace(".pack", ".idx.zst"))
    _replace(idx, zstandard.ZstdCompressor().compress(json.dumps({"format": 1, "blobs": index}).encode()))


def _truncated_pack(cache: Path, sp: str) -> None:
    pack, index, blob = _a_packed_blob(cache, sp)
    offset, length = index[blob]
    _replace(pack, pack.read_bytes()[: offset + length // 2])  # cut in the middle of that blob


def _tampered_manifest(cache: Path, sp: str) -> None:
    doc = json.loads(_record_path(cache, sp).read_bytes())
    path = cache / "manifests-v1" / f"{doc['wheels'][0]['core']}.json.zst"
    text = zstandard.ZstdDecompressor().decompress(path.read_bytes()).replace(b'"executable":false', b'"executable":true', 1)
    _replace(path, zstandard.ZstdCompressor().compress(text))


def _missing_pack(cache: Path, sp: str) -> None:
    _a_packed_blob(cache, sp)[0].unlink()


@pytest.mark.parametrize("damage, words", [
    (_unsigned, ("unsigned", "refused")),
    (_tampered_record, ("does not verify", "refused")),
    (_another_path, ("is for", "other", "refused")),
    (_tampered_blob, ("does not match its name",)),
    (_truncated_pack, ("damaged",)),
    (_tampered_manifest, ("does not match its name",)),
    (_missing_pack, ("is missing from",)),
], ids=["unsigned", "tampered-record", "another-store-path", "tampered-blob", "truncated-pack",
        "tampered-manifest", "missing-pack"])
def test_a_damaged_cache_is_refused_with_one_line_and_nothing_published(pushed: Pushed, seeded: Path, damage,
                                                                         words) -> None:
    cache = pushed.copy_cache("cache-damaged")
    damage(cache, pushed.store_path)
    proc = pushed.realize_b(seeded, "--offline", cache=cache)
    one_refusal(proc, *words)
    offline_failure(proc)
    assert published(seeded) == []
    # the next realize, from a sound cache, succeeds
    assert Path(ok(pushed.realize_b(seeded, "--offline")).stdout.strip()).name == pushed.store_path


def test_a_tampered_loose_blob_of_the_interpreter_is_refused(pushed: Pushed, b_store: Path) -> None:
    cache = pushed.copy_cache("cache-loose")
    path = _a_loose_blob(cache)
    content = zstandard.ZstdDecompressor().decompress(path.read_bytes())
    _replace(path, zstandard.ZstdCompressor().compress(content[:-1] + bytes([content[-1] ^ 1])))
    proc = pushed.realize_b(None, "--offline", cache=cache)
    one_refusal(proc, "does not match its name")
    assert proc.returncode == 1 and not (b_store / "python").is_dir() or not any((b_store / "python").glob("*-cpython-*"))
    assert published(b_store) == []


def test_a_record_signed_by_an_untrusted_key_is_refused(pushed: Pushed, seeded: Path) -> None:
    other = ok(run("key", "generate", "--name", "someone-else", "--out", str(pushed.base / "other.sec"),
                   env=pushed.home_env)).stdout.strip()
    args = ["--store", str(seeded), "realize", str(pushed.env_file), "--no-out-link", "--offline", "--substituter",
            pushed.url(), "--trusted-key", other]
    proc = run(*args, env=pushed.isolated())
    one_refusal(proc, "team-a-1", "not a trusted key")
    offline_failure(proc)
    assert published(seeded) == []
    # the same through the environment variables instead of the flags
    env = pushed.isolated(ENVSTORE_SUBSTITUTERS=pushed.url(), ENVSTORE_TRUSTED_KEYS=f"{other} {pushed.public_key}")
    proc = ok(run("--store", str(seeded), "realize", str(pushed.env_file), "--no-out-link", env=env))
    assert Path(proc.stdout.strip()).name == pushed.store_path


def test_unsigned_records_are_taken_only_when_allowed(pushed: Pushed, seeded: Path) -> None:
    cache = pushed.base / "cache-unsigned"
    remove_store(cache)
    env = {**pushed.home_env, "XDG_CONFIG_HOME": str(pushed.base / "no-key-here")}
    push = ok(pushed.push_a(cache, env=env))
    assert "unsigned" in push.stderr
    refused = pushed.realize_b(seeded, "--offline", cache=cache)
    one_refusal(refused, "unsigned")
    offline_failure(refused)
    proc = ok(pushed.realize_b(seeded, "--allow-unsigned", cache=cache))
    assert Path(proc.stdout.strip()).name == pushed.store_path


def test_a_cache_without_the_prefix_is_a_miss_not_an_error(pushed: Pushed, seeded: Path, tmp_path: Path) -> None:
    """realize then goes on as without a cache: the wheel is fetched (from the lock's URL) and
    its bytecode compiled."""
    empty = tmp_path / "empty-cache"
    empty.mkdir()
    proc = ok(pushed.realize_b(seeded, cache=empty))
    assert "substitut" not in proc.stderr and "fetching 1 wheel" in proc.stderr and "compiled" in proc.stderr


@pytest.mark.parametrize("point", ["cache.before_blobs", "cache.before_manifest"])
def test_a_pull_killed_at_a_step_resumes(pushed: Pushed, seeded: Path, point: str) -> None:
    killed = pushed.realize_b(seeded, _ENVSTORE_TEST_CRASH_AT=point)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert not (seeded / "envs" / pushed.store_path).exists()
    proc = ok(pushed.realize_b(seeded))
    assert Path(proc.stdout.strip()).name == pushed.store_path
    assert "compiled" not in proc.stderr
    ok(run("--store", str(seeded), "verify", env=pushed.isolated()))


@pytest.mark.parametrize("rng_seed", [1, 2, 3])
def test_a_pull_killed_at_a_random_moment_resumes(pushed: Pushed, b_store: Path, rng_seed: int) -> None:
    args = ["--store", str(b_store), "realize", str(pushed.env_file), "--no-out-link", "--substituter", pushed.url(),
            "--trusted-key", pushed.public_key]
    proc = subprocess.Popen([STORE_BIN, *args], env=pushed.isolated(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(random.Random(rng_seed).uniform(0.2, 2.5))
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    again = ok(pushed.realize_b())
    prefix = Path(again.stdout.strip())
    assert prefix.name == pushed.store_path
    assert tree_snapshot(prefix) == tree_snapshot(pushed.a_root / "envs" / pushed.store_path)
    ok(run("--store", str(b_store), "verify", env=pushed.isolated()))


def test_two_pushers_at_once_leave_a_consistent_cache(pushed: Pushed, seeded: Path) -> None:
    """Two pushes of overlapping closures (the env file's prefix, and the prefix by its path)
    into one empty cache at the same moment: both succeed, the cache verifies, a pull works
    (into a store that has the interpreter: these pushes leave it out)."""
    cache = pushed.base / "cache-race"
    remove_store(cache)
    with pushed.a_in_place() as root:
        procs = [subprocess.Popen([STORE_BIN, "--store", str(root), "push", target, "--to", cache.as_uri(),
                                   "--no-interpreter"],
                                  env=pushed.home_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for target in (str(pushed.env_file), str(root / "envs" / pushed.store_path))]
        for p in procs:
            _out, err = p.communicate(timeout=180)
            assert p.returncode == 0, err
    verify = ok(run("cache", "verify", cache.as_uri(), "--trusted-key", pushed.public_key, env=pushed.home_env))
    assert verify.stdout == ""
    proc = ok(pushed.realize_b(seeded, cache=cache))
    assert Path(proc.stdout.strip()).name == pushed.store_path


def test_cache_gc_while_a_push_runs_keeps_what_the_push_wrote(pushed: Pushed, seeded: Path) -> None:
    """RELIABILITY row 59: a push paused after its objects and before its record (the moment
    nothing yet names them), a `store cache gc` keeping no root at all, then the push goes on:
    the grace period kept every object, so the record it publishes names only what is there."""
    cache = pushed.base / "cache-gc-race"
    remove_store(cache)
    gate = pushed.base / "gc-race-gate"
    remove_store(gate)
    gate.mkdir()
    roots = pushed.base / "no-roots"
    roots.write_text("")
    with pushed.a_in_place() as root:
        push = subprocess.Popen([STORE_BIN, "--store", str(root), "push", str(pushed.env_file), "--to", cache.as_uri(),
                                 "--no-interpreter"],
                                env={**pushed.home_env, "_ENVSTORE_TEST_PAUSE_AT": f"push.before_record:{gate}"},
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 120
            while not (gate / "paused").exists():
                assert push.poll() is None, push.communicate()
                assert time.monotonic() < deadline, "the push never reached its record"
                time.sleep(0.05)
            objects = sorted(p for p in cache.rglob("*") if p.is_file())
            assert any("blobs" in str(p) or "packs" in str(p) for p in objects)
            gc = ok(run("cache", "gc", cache.as_uri(), "--keep-roots", str(roots), env=pushed.home_env))
            assert "removed 0 records and 0 objects" in gc.stderr, gc.stderr
            assert sorted(p for p in cache.rglob("*") if p.is_file()) == objects
        finally:
            (gate / "release").touch()
            _out, err = push.communicate(timeout=180)
        assert push.returncode == 0, err
    ok(run("cache", "verify", cache.as_uri(), "--trusted-key", pushed.public_key, env=pushed.home_env))
    proc = ok(pushed.realize_b(seeded, cache=cache))
    assert Path(proc.stdout.strip()).name == pushed.store_path


def test_cache_verify_names_what_is_damaged(pushed: Pushed) -> None:
    cache = pushed.copy_cache("cache-verify")
    ok(run("cache", "verify", cache.as_uri(), "--trusted-key", pushed.public_key, env=pushed.home_env))
    _tampered_blob(cache, pushed.store_path)
    proc = run("cache", "verify", cache.as_uri(), env=pushed.home_env)
    assert proc.returncode == 1
    assert "does not match its name" in proc.stdout


def test_cache_gc_keeps_roots_and_young_objects(pushed: Pushed, tmp_path: Path) -> None:
    cache = pushed.copy_cache("cache-gc")
    stray = cache / "blobs-v1" / "00" / ("0" * 64 + ".zst")
    stray.parent.mkdir(exist_ok=True)
    stray.write_bytes(b"x")
    roots = tmp_path / "roots"
    roots.write_text(f"{pushed.store_path}\n")
    objects_before = sorted(p for p in cache.rglob("*") if p.is_file())
    # a stray object younger than the grace period survives (a push may be about to name it)
    proc = ok(run("cache", "gc", cache.as_uri(), "--keep-roots", str(roots), env=pushed.home_env))
    assert "removed 0 records and 0 objects" in proc.stderr, proc.stderr
    assert stray.exists()
    old = time.time() - 7200
    os.utime(stray, (old, old))
    ok(run("cache", "gc", cache.as_uri(), "--keep-roots", str(roots), env=pushed.home_env))
    assert not stray.exists()
    assert sorted(p for p in cache.rglob("*") if p.is_file()) == [p for p in objects_before if p != stray]
    ok(run("cache", "verify", cache.as_uri(), "--trusted-key", pushed.public_key, env=pushed.home_env))
    # no root kept, everything old: the cache empties (but for its info file)
    roots.write_text("")
    for p in cache.rglob("*"):
        os.utime(p, (old, old))
    ok(run("cache", "gc", cache.as_uri(), "--keep-roots", str(roots), env=pushed.home_env))
    assert [p.name for p in cache.rglob("*") if p.is_file()] == ["envstore-cache.json"]


def test_key_generate_and_show(tmp_path: Path) -> None:
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "cfg")}
    pub = ok(run("key", "generate", "--name", "ci-1", env=env)).stdout
    assert pub.count("\n") == 1 and pub.startswith("ci-1:")
    secret = tmp_path / "cfg" / "envstore" / "signing-key.sec"
    assert secret.stat().st_mode & 0o077 == 0
    assert ok(run("key", "show", env=env)).stdout == pub
    again = run("key", "generate", env=env)
    assert again.returncode == 1 and "exists already" in again.stderr and again.stdout == ""
    bad = run("realize", "--substituter", "file:///nowhere", "--trusted-key", "nonsense", str(tmp_path / "x.yml"),
              env=env)
    assert bad.returncode != 0 and "Traceback" not in bad.stderr


# S3: the same, against a real S3 server -----------------------------------------------------------
@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory):
    server = s3_server.start(tmp_path_factory.mktemp("s3"))
    yield server
    server.stop()


def test_push_and_pull_through_s3(pushed: Pushed, b_store: Path, s3: s3_server.S3Server) -> None:
    url = f"s3://{s3.bucket}/team"
    with pushed.a_in_place() as root:
        first = ok(run("--store", str(root), "push", str(pushed.env_file), "--to", url, env={**pushed.home_env, **s3.env()}))
        again = ok(run("--store", str(root), "push", str(pushed.env_file), "--to", url, env={**pushed.home_env, **s3.env()}))
    assert "pushed 1 prefix" in first.stderr and "nothing uploaded" in again.stderr, again.stderr
    args = ["--store", str(b_store), "realize", str(pushed.env_file), "--no-out-link", "--substituter", url]
    proc = ok(run(*args, env=pushed.isolated(ENVSTORE_TRUSTED_KEYS=pushed.public_key, **s3.env())))
    prefix = Path(proc.stdout.strip())
    assert prefix == b_store / "envs" / pushed.store_path
    assert "compiled" not in proc.stderr and "fetching 1 wheel" not in proc.stderr
    assert tree_snapshot(prefix) == tree_snapshot(pushed.a_root / "envs" / pushed.store_path)
    verify = ok(run("cache", "verify", url, "--trusted-key", pushed.public_key, env={**pushed.home_env, **s3.env()}))
    assert verify.stdout == ""


def test_a_tampered_s3_object_is_refused(pushed: Pushed, seeded: Path, s3: s3_server.S3Server) -> None:
    import obstore
    from obstore.store import S3Store

    url = f"s3://{s3.bucket}/tamper"
    with pushed.a_in_place() as root:
        ok(run("--store", str(root), "push", str(root / "envs" / pushed.store_path), "--to", url, "--no-interpreter",
               env={**pushed.home_env, **s3.env()}))
    bucket = S3Store(s3.bucket, prefix="tamper", endpoint=s3.endpoint, access_key_id=s3_server.ACCESS_KEY,
                     secret_access_key=s3_server.SECRET_KEY, region=s3_server.REGION,
                     client_options={"allow_http": True})
    doc = json.loads(bytes(obstore.get(bucket, f"records-v1/{pushed.store_path}.json").bytes()))
    key = f"packs-v1/{doc['packs'][0]}.pack"
    obstore.put(bucket, key, bytes(obstore.get(bucket, key).bytes())[:10])  # truncated
    args = ["--store", str(seeded), "realize", str(pushed.env_file), "--no-out-link", "--substituter", url,
            "--trusted-key", pushed.public_key]
    proc = ok(run(*args, env=pushed.isolated(**s3.env())))
    # refused in one line; realize went on without the cache: the wheel fetched and compiled here
    one_refusal(proc, "damaged")
    assert "fetching 1 wheel" in proc.stderr and "compiled" in proc.stderr
    assert Path(proc.stdout.strip()).name == pushed.store_path


def test_two_pushers_at_once_into_s3(pushed: Pushed, seeded: Path, s3: s3_server.S3Server) -> None:
    url = f"s3://{s3.bucket}/race"
    env = {**pushed.home_env, **s3.env()}
    with pushed.a_in_place() as root:
        procs = [subprocess.Popen([STORE_BIN, "--store", str(root), "push", target, "--to", url, "--no-interpreter"],
                                  env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for target in (str(pushed.env_file), str(root / "envs" / pushed.store_path))]
        for p in procs:
            _out, err = p.communicate(timeout=180)
            assert p.returncode == 0, err
    ok(run("cache", "verify", url, "--trusted-key", pushed.public_key, env=env))
    args = ["--store", str(seeded), "realize", str(pushed.env_file), "--no-out-link", "--substituter", url,
            "--trusted-key", pushed.public_key]
    assert Path(ok(run(*args, env=pushed.isolated(**s3.env()))).stdout.strip()).name == pushed.store_path


# issue 18, second part: interpreters by what is known before compiling; the config file --------
def test_python_import_takes_the_compiled_interpreter_from_the_cache(pushed: Pushed, tmp_path: Path) -> None:
    python = next((pushed.a_root / "python").glob("*-cpython-*")).name
    exe = shutil.which(f"python{'.'.join(python.rsplit('-', 1)[-1].split('.')[:2])}",
                       path=_pyenv_bin(python.rsplit("-", 1)[-1]))
    root = tmp_path / "store-i"
    proc = ok(run("--store", str(root), "python", "import", str(exe), "--substituter", pushed.url(),
                  "--trusted-key", pushed.public_key, env=pushed.home_env))
    assert Path(proc.stdout.strip()).name == python  # A's store path, not a new compile
    assert "taken from a binary cache" in proc.stderr and "compiling bytecode" not in proc.stderr, proc.stderr
    remove_store(root)


def test_the_config_file_names_the_cache_and_a_malformed_one_is_one_message(pushed: Pushed, seeded: Path) -> None:
    config = seeded / "config.toml"
    config.write_text(f'[cache]\nsubstituters = ["{pushed.url()}"]\ntrusted-keys = ["{pushed.public_key}"]\n')
    args = ["--store", str(seeded), "realize", str(pushed.env_file), "--no-out-link", "--offline"]
    proc = ok(run(*args, env=pushed.isolated()))
    assert Path(proc.stdout.strip()).name == pushed.store_path and "substituted" in proc.stderr
    config.write_text("[cache]\nsubstituters = 'not a list'\n")
    bad = run(*args, env=pushed.isolated())
    assert bad.returncode == 1 and bad.stdout == "" and "Traceback" not in bad.stderr
    errors = [line for line in bad.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and str(config) in errors[0] and "cache.substituters must be a list" in errors[0], bad.stderr
