"""Resource failures and permissions (RELIABILITY rows 18-25): a full disk, no inodes and a
file-size limit; parts of the store on other mounts; link failures through the core's test
hooks; a read-only store and another user's store. Filesystem faults run in a user and mount
namespace of the test's own (unshare -rm: a small tmpfs holding a copy of the session's template
store, or bind mounts); other users through setpriv (root only)."""

from __future__ import annotations

import re
import resource
import shutil
import signal
import subprocess
from pathlib import Path

from harness import (
    NOBODY, PY, Namespace, OtherUser, assert_store_valid, bulky_files, gc_and_check, imports, no_traceback,
    placed_files, realize_ok, run_store, site, store_fingerprint, wheel_dir, world_readable_dir, write_env,
)

NOBODY_NAME = "nobody" if NOBODY == 65534 else str(NOBODY)


def _tmpfs_with_old_env(ns: Namespace, template: Path, wheels, tmp_path: Path) -> tuple[Path, Path, Path]:
    """A tmpfs (in `ns`) holding a copy of the template store and one realized env: (tmpfs
    mount point, store, the old env's prefix)."""
    fs = tmp_path / "fs"
    store = ns.tmpfs_store(template, fs)
    old = ns.store(store, "realize", str(write_env(tmp_path / "old", ["tinya"])), *wheels.index_args())
    assert old.returncode == 0, old.stderr
    return fs, store, Path(old.stdout.strip())


def _refused_and_intact(ns: Namespace, store: Path, env: Path, old: Path, r, *wanted: str) -> None:
    """Rows 18/19: a clear error, nothing published (no prefix, no out-link, every blob whole),
    and the old env still verifies and imports."""
    no_traceback(r, *wanted)
    assert not (env.parent / ".envstore").exists()
    assert [p.name for p in ns.path(store / "envs").iterdir() if not p.name.startswith(".")] == [old.name]
    ns.assert_store_valid(store)
    verify = ns.store(store, "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert ns.check(str(old / "bin" / "python"), "-c", "import tinya; print(tinya.__version__)").strip() == "1.0"


def test_row18_disk_full_while_writing_blobs(namespace: Namespace, template_store: Path, wheels, tmp_path: Path):
    """Row 18: a tmpfs store (unshare -rm) with 8 MiB free and a 16 MiB filler file; an env whose
    blobs need 12 MiB fails with `No space left on device while writing blob for bigpkg 1.0
    (<path>)`; nothing is published; the old env verifies; after deleting the filler the same
    realize succeeds."""
    ns = namespace
    fs, store, old = _tmpfs_with_old_env(ns, template_store, wheels, tmp_path)
    big = wheel_dir(tmp_path / "w", "bigpkg", bulky_files("bigpkg", 3, 4 << 20))
    ns.leave_free(fs, 24 << 20)
    ns.check("dd", "if=/dev/zero", f"of={fs / 'filler'}", "bs=1M", "count=16")
    env = write_env(tmp_path / "big", ["bigpkg"])
    r = ns.store(store, "realize", str(env), *big)
    _refused_and_intact(ns, store, env, old, r, "No space left on device while writing blob for bigpkg 1.0 (",
                        str(store))
    ns.check("rm", str(fs / "filler"))
    again = ns.store(store, "realize", str(env), *big)
    assert again.returncode == 0, again.stderr
    ns.assert_store_valid(store)


def test_row19_inodes_exhausted(namespace: Namespace, template_store: Path, wheels, tmp_path: Path) -> None:
    """Row 19 (inodes): the tmpfs store has room but only 150 free inodes; a 400-file wheel fails
    with `No space left on device while writing blob for manyfiles 1.0 (<path>)`, nothing is
    published, the old env verifies; with more inodes the same realize succeeds."""
    ns = namespace
    fs, store, old = _tmpfs_with_old_env(ns, template_store, wheels, tmp_path)
    many = wheel_dir(tmp_path / "w", "manyfiles", {f"manyfiles/m{i}.py": b"x = %d\n" % i for i in range(400)})
    ns.leave_free(fs, 64 << 20, free_inodes=150)
    env = write_env(tmp_path / "many", ["manyfiles"])
    r = ns.store(store, "realize", str(env), *many)
    _refused_and_intact(ns, store, env, old, r, "No space left on device while writing blob for manyfiles 1.0 (")
    ns.leave_free(fs, 64 << 20, free_inodes=5000)
    again = ns.store(store, "realize", str(env), *many)
    assert again.returncode == 0, again.stderr
    ns.assert_store_valid(store)


def test_row19_write_limit_efbig(rstore: Path, wheels, tmp_path: Path) -> None:
    """Row 19 (write limit): RLIMIT_FSIZE makes a blob write fail with EFBIG: a clear error naming
    the package, no traceback, nothing published, old envs intact, and a re-run without the limit
    succeeds."""
    old = realize_ok(rstore, write_env(tmp_path / "old", ["tinya"]), wheels)
    args = wheel_dir(tmp_path / "w", "bigpkg", {"bigpkg/data.bin": bytes(range(256)) * 4096})
    env = write_env(tmp_path / "big", ["bigpkg"])

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (256 << 10, 256 << 10))

    r = subprocess.run(["store", "--store", str(rstore), "realize", str(env), *args],
                       capture_output=True, text=True, preexec_fn=limit, timeout=300)
    no_traceback(r, "File too large while writing blob for bigpkg 1.0 (")
    assert not (env.parent / ".envstore").exists()
    assert_store_valid(rstore)
    gc_and_check(rstore)
    assert old.is_dir()
    again = run_store(rstore, "realize", str(env), *args)
    assert again.returncode == 0, again.stderr
    assert_store_valid(rstore)


def test_row20_gc_on_a_full_disk(namespace: Namespace, template_store: Path, wheels, tmp_path: Path) -> None:
    """Row 20: three dead prefixes and a filler file fill the tmpfs store to 100 %; `store gc`
    (which must open SQLite, whose WAL needs room: the store's 1 MiB reserve) exits 0, frees
    space and removes the dead prefixes; the live env survives."""
    ns = namespace
    fs, store, live = _tmpfs_with_old_env(ns, template_store, wheels, tmp_path)
    for pkg in ("tinyb", "tinyc", "tinyd"):
        env = write_env(tmp_path / pkg, [pkg])
        assert ns.store(store, "realize", str(env), *wheels.index_args()).returncode == 0
        shutil.rmtree(env.parent / ".envstore")
    assert ns.path(store / "reserve-v1").is_file(), "realize leaves the gc reserve"
    ns.fill(fs)
    assert ns.free(fs)[0] == 0
    r = ns.store(store, "gc")
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    assert ns.free(fs)[0] > 0, "gc freed space"
    assert [p.name for p in ns.path(store / "envs").iterdir() if not p.name.startswith(".")] == [live.name]
    ns.assert_store_valid(store, after_gc=True)


def test_row21_exdev(namespace: Namespace, template_store: Path, wheels, tmp_path: Path) -> None:
    """Row 21: parts of one store on different mounts (bind mounts in unshare -rm; a user could
    equally mount or symlink them elsewhere). envs/ on its own mount: realize's final rename
    gives EXDEV, refused with `store and environment must be on the same filesystem (EXDEV)`,
    nothing published. blobs-v1/ on its own mount: a prefix whose blobs all exist is built in the
    explicit, warned copy mode (verify passes and catches an edit to a copy); one that needs new
    blobs is refused with the same message."""
    ns = namespace
    _fs, store, _old = _tmpfs_with_old_env(ns, template_store, wheels, tmp_path)
    exdev = "store and environment must be on the same filesystem (EXDEV)"
    ns.bind(store / "envs")
    env = write_env(tmp_path / "b", ["tinyb"])
    r = ns.store(store, "realize", str(env), *wheels.index_args())
    no_traceback(r, exdev, str(store / "envs"))
    assert not (env.parent / ".envstore").exists()
    ns.assert_store_valid(store)
    ns.check("umount", str(store / "envs"))

    ns.bind(store / "blobs-v1")
    twin = ns.store(store, "realize", str(write_env(tmp_path / "twin", ["tinya"])), *wheels.index_args())
    assert twin.returncode == 0, twin.stderr
    assert re.search(r"warning: \d+ of \d+ files copied .* with EXDEV", twin.stderr), twin.stderr
    assert ns.store(store, "verify").returncode == 0
    copy = Path(twin.stdout.strip()) / "lib" / f"python{PY}" / "site-packages" / "tinya" / "__init__.py"
    ns.check("sh", "-c", f"chmod u+w {copy} && echo x > {copy}")
    found = ns.store(store, "verify")
    assert found.returncode != 0 and str(copy) in found.stdout, found.stdout
    assert ns.store(store, "verify", "--repair").returncode == 0
    r = ns.store(store, "realize", str(write_env(tmp_path / "c", ["tinyc"])), *wheels.index_args())
    no_traceback(r, exdev, "while writing blob for tinyc 3.0")
    ns.assert_store_valid(store)


def test_row22_filesystem_without_hardlinks(rstore: Path, wheels, tmp_path: Path) -> None:
    """Row 22, hook _ENVSTORE_TEST_LINK_ERRNO=EPERM (every link(2) the store makes fails, as on
    a filesystem without hardlinks): copy mode, per file and said. Realize succeeds with a warning
    naming EPERM; blobs still publish (a no-replace rename); every file of the prefix is a copy
    and no blob gained a link; verify passes and still catches an edit to a copy. A link error
    with no fallback (ENOSPC) fails cleanly and leaves no half-linked prefix."""
    old = realize_ok(rstore, write_env(tmp_path / "old", ["tinya"]), wheels)
    links_before = {p: p.stat().st_nlink for p in (rstore / "blobs-v1").rglob("*") if p.is_file()}
    r = run_store(rstore, "realize", str(write_env(tmp_path / "new", ["tinyb"])), *wheels.index_args(),
                  env={"_ENVSTORE_TEST_LINK_ERRNO": "EPERM"})
    assert r.returncode == 0, r.stderr
    assert re.search(r"warning: (\d+) of \1 files copied .* instead of hardlinked \(\1 with EPERM", r.stderr), r.stderr
    new = Path(r.stdout.strip())
    files = placed_files(rstore, new)
    assert files and all((new / rel).stat().st_nlink == 1 for rel in files), "every file is a copy"
    assert all(p.stat().st_nlink == n for p, n in links_before.items()), "no blob gained a link"
    assert imports(new, "tinyb").stdout.strip() == "2.0"
    assert run_store(rstore, "verify").returncode == 0
    copy = site(new) / "tinyb" / "__init__.py"
    copy.chmod(0o644)
    copy.write_text("__version__ = '6.6'\n")
    found = run_store(rstore, "verify")
    assert found.returncode != 0 and str(copy) in found.stdout and old.name not in found.stdout, found.stdout
    assert run_store(rstore, "verify", "--repair").returncode == 0
    assert imports(new, "tinyb").stdout.strip() == "2.0"

    # A link error that has no fallback: an error naming the file, nothing published.
    twin = write_env(tmp_path / "twin", ["tinya"])  # every blob exists: the failure is in materialize
    r = run_store(rstore, "realize", str(twin), *wheels.index_args(), env={"_ENVSTORE_TEST_LINK_ERRNO": "ENOSPC"})
    no_traceback(r, "No space left on device")
    assert not (twin.parent / ".envstore").exists()
    assert not [p for p in (rstore / "envs").iterdir() if p.name.endswith("-twin")]
    assert_store_valid(rstore)
    gc_and_check(rstore)


def test_row23_link_limit_emlink(rstore: Path, wheels, tmp_path: Path) -> None:
    """Row 23, hook _ENVSTORE_TEST_MAX_LINKS=3 (link(2) fails with EMLINK on a blob with 3 links,
    as at ext4's 65,000): five envs share tinya. Each realize succeeds; the first two link
    tinya's files, the other three get copies (per file: their other files are still
    hardlinked); no blob exceeds 3 links; the copies are said in a warning; verify passes."""
    links_before = {p: p.stat().st_nlink for p in (rstore / "blobs-v1").rglob("*") if p.is_file()}
    hook = {"_ENVSTORE_TEST_MAX_LINKS": "3"}
    envs = [["tinya"], ["tinyb"], ["tinya", "tinyc"], ["tinya", "tinyd"], ["tinya", "tinye"]]
    prefixes = []
    for i, packages in enumerate(envs):
        r = run_store(rstore, "realize", str(write_env(tmp_path / f"e{i}", packages)), *wheels.index_args(), env=hook)
        assert r.returncode == 0, r.stderr
        assert i < 2 or "with EMLINK" in r.stderr, r.stderr
        prefixes.append(Path(r.stdout.strip()))
    for p in prefixes:
        for rel, blob in placed_files(rstore, p).items():
            assert blob.stat().st_nlink <= max(3, links_before.get(blob, 0)), (p.name, rel)
    shared = [(p / rel).stat().st_ino == blob.stat().st_ino
              for p in prefixes for rel, blob in placed_files(rstore, p).items() if rel.endswith("tinya/__init__.py")]
    assert shared == [True, True, False, False, False], "two links to tinya's blob, then copies"
    last = placed_files(rstore, prefixes[4])
    own = next(rel for rel in last if rel.endswith("tinye/__init__.py"))
    assert (prefixes[4] / own).stat().st_ino == last[own].stat().st_ino, "the rest is still hardlinked"
    for p, mod in zip(prefixes, ["tinya", "tinyb", "tinyc", "tinyd", "tinye"]):
        assert imports(p, mod).returncode == 0
    verify = run_store(rstore, "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert_store_valid(rstore)


def test_row24_read_only_store(template_store: Path, wheels) -> None:
    """Row 24: a store made read-only (chmod -R a-w), used by uid 65534 (setpriv, when the suite
    runs as root, whom chmod does not stop; else by the current user): `list`, `verify` and `run`
    work; realizing a new env is refused with `store is read-only` and changes nothing in the
    store (fingerprint: every entry's mode, owner, link count, mtime and hash)."""
    with world_readable_dir() as d:
        user = OtherUser(d, or_self=True)
        store, index = user.setup(template_store, wheels)
        prefix = realize_ok(store, write_env(d / "a", ["tinya"]), wheels)
        env = user.project("b", ["tinyb"])
        subprocess.run(["chmod", "-R", "a-w", str(store)], check=True)
        before = store_fingerprint(store)
        listed = user.store(store, "list")
        assert listed.returncode == 0 and prefix.name in listed.stdout, listed.stderr
        verify = user.store(store, "verify")
        assert verify.returncode == 0, verify.stdout + verify.stderr
        ran = user.store(store, "run", "-f", str(d / "a" / "env.yml"), "--", "python", "-c",
                         "import tinya; print(tinya.__version__)")
        assert ran.returncode == 0 and ran.stdout.strip() == "1.0", ran.stderr
        r = user.store(store, "realize", str(env), *index)
        no_traceback(r, "store is read-only", str(store), "hint:")
        assert sorted(p.name for p in env.parent.iterdir()) == ["env.yml"], "no lock or out-link either"
        assert store_fingerprint(store) == before


def test_row24_read_only_bind_mount(namespace: Namespace, rstore: Path, wheels, tmp_path: Path) -> None:
    """Row 24, the other way to make a store read-only: a read-only bind mount over it (in
    unshare -rm), where even root cannot write. The same guarantees: `list`, `verify` and `run`
    work, realize of a new env is refused with `store is read-only` naming the read-only
    filesystem, and the store is unchanged."""
    ns = namespace
    a = write_env(tmp_path / "a", ["tinya"])
    prefix = realize_ok(rstore, a, wheels)
    ns.bind(rstore)
    ns.check("mount", "-o", "remount,bind,ro", str(rstore))
    before = store_fingerprint(rstore)
    listed = ns.store(rstore, "list")
    assert listed.returncode == 0 and prefix.name in listed.stdout, listed.stderr
    assert ns.store(rstore, "verify").returncode == 0
    ran = ns.store(rstore, "run", "-f", str(a), "--", "python", "-c", "import tinya; print(tinya.__version__)")
    assert ran.returncode == 0 and ran.stdout.strip() == "1.0", ran.stderr
    r = ns.store(rstore, "realize", str(write_env(tmp_path / "b", ["tinyb"])), *wheels.index_args())
    no_traceback(r, f"store is read-only: {rstore} is on a read-only filesystem")
    assert store_fingerprint(rstore) == before


def test_row25_another_users_store(template_store: Path, wheels) -> None:
    """Row 25: a store created by root, realize run as uid 65534: refused before any write with
    a message naming the owner (`belongs to root (uid 0) ... you are nobody`) and a hint naming
    fs.protected_hardlinks; the store is untouched; `run` of an env it holds still works. Then
    the kernel's own EPERM: with the store's directories and database opened up to everyone,
    realize as 65534 succeeds, copying (per file, warned) the root-owned blobs that
    fs.protected_hardlinks refuses to link, and verify passes."""
    with world_readable_dir() as d:
        user = OtherUser(d)
        store, index = user.setup(template_store, wheels)
        realize_ok(store, write_env(d / "a", ["tinya"]), wheels)
        env = user.project("b", ["tinya", "tinyb"])
        before = store_fingerprint(store)
        r = user.store(store, "realize", str(env), *index)
        no_traceback(r, "store is read-only for you", "belongs to root (uid 0)", f"you are {NOBODY_NAME}",
                     "fs.protected_hardlinks")
        assert store_fingerprint(store) == before
        assert sorted(p.name for p in env.parent.iterdir()) == ["env.yml"]
        ran = user.store(store, "run", "-f", str(d / "a" / "env.yml"), "--", "python", "-c", "import tinya")
        assert ran.returncode == 0, ran.stderr

        if Path("/proc/sys/fs/protected_hardlinks").read_text().strip() != "1":
            return
        shared = [store, *(store / d for d in ("envs", "envs/.locks", "tmp", "manifests-v1", "blobs-v1")),
                  *(store / "blobs-v1").iterdir()]
        for p in shared:
            p.chmod(0o777)
        for name in ("db-v1.sqlite", "lock"):
            (store / name).chmod(0o666)
        r = user.store(store, "realize", str(env), *index)
        assert r.returncode == 0, r.stderr
        assert "with EPERM" in r.stderr and "fs.protected_hardlinks" in r.stderr, r.stderr
        verify = run_store(store, "verify")
        assert verify.returncode == 0, verify.stdout + verify.stderr
        assert_store_valid(store)
