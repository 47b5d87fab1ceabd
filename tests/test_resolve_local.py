"""Resolver and index client against a local index served on 127.0.0.1 with crafted wheels."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from envstore.index import IndexClient, IndexConfig, IndexFetchError, IntegrityError, PackageNotFound
from envstore.lockfile import dumps_lock, read_lock
from envstore.resolve.lock import ResolutionError, lock_env, resolve
from envstore.spec import load_spec
from envstore.resolve.target import TargetPython
from local_index import LocalIndex, build_wheel, local_index  # noqa: F401 - fixture


@pytest.fixture(scope="session")
def target() -> TargetPython:
    return TargetPython.from_executable(sys.executable)


def lock(tmp_path: Path, index: LocalIndex, text: str, target: TargetPython, **kw) -> dict[str, str]:
    env = tmp_path / "env.yml"
    env.write_text(text)
    result = lock_env(env, None, IndexConfig((index.simple,)), target=target, **kw)
    return {p.name: p.version for p in result.packages}


def env(*deps: str, pip: tuple[str, ...] = ()) -> str:
    lines = ["name: t", "dependencies:"] + [f"  - {d}" for d in deps]
    if pip:
        lines += ["  - pip:"] + [f"    - '{p}'" for p in pip]
    return "\n".join(lines) + "\n"


def test_every_spec_form(tmp_path, local_index, target):
    for v in ("1.0", "2.1.0", "2.2.0", "2.2.5", "2.3.0"):
        local_index.add("fuzzy", v)
    for v in ("1.25", "1.26.4", "2.0"):
        local_index.add("ranged", v)
    for v in ("1.13.0", "1.13.1", "1.14.0"):
        local_index.add("exact", v)
    for v in ("0.1", "0.2"):
        local_index.add("bare", v)
    for v in ("1.2.0", "1.2.7", "1.3"):
        local_index.add("spaced", v)
    local_index.add("pytorch-name-check", "1.0")
    local_index.add("torch", "2.0")
    direct = build_wheel(tmp_path / "direct", "direct", "3.0")
    got = lock(tmp_path, local_index, env(
        "python=" + ".".join(target.version.split(".")[:2]), "fuzzy=2.2", "ranged>=1.26,<2", "exact==1.13.1",
        "bare", "spaced 1.2.*", "pytorch", pip=(f"direct @ {direct.as_uri()}",)), target)
    assert got == {"fuzzy": "2.2.5", "ranged": "1.26.4", "exact": "1.13.1", "bare": "0.2", "spaced": "1.2.7",
                   "torch": "2.0", "direct": "3.0"}


def test_extras_and_markers(tmp_path, local_index, target):
    local_index.add("app", "1.0", ["base>=1", 'winonly; sys_platform == "win32"', 'old; python_version < "3.0"'],
                    extras={"fast": ["speedup>=2"]})
    local_index.add("base", "1.0")
    local_index.add("speedup", "2.5")
    assert lock(tmp_path, local_index, env("app"), target) == {"app": "1.0", "base": "1.0"}
    got = lock(tmp_path, local_index, env(pip=("app[fast]", 'never; python_version < "3"')), target, upgrade=True)
    assert got == {"app": "1.0", "base": "1.0", "speedup": "2.5"}


def test_yanked_skipped_unless_pinned(tmp_path, local_index, target):
    local_index.add("y", "1.0")
    local_index.add("y", "2.0", yanked="broken build")
    assert lock(tmp_path, local_index, env("y"), target) == {"y": "1.0"}
    assert lock(tmp_path, local_index, env("y==2.0"), target) == {"y": "2.0"}


def test_requires_python_from_listing_and_metadata(tmp_path, local_index, target):
    local_index.add("rp", "1.0", requires_python=">=3.6")
    local_index.add("rp", "2.0", requires_python=">=3.99")  # listing says so
    e = local_index.add("rp", "3.0", requires_python=None)  # only METADATA says so
    e.path.unlink()
    local_index.projects["rp"].remove(e)
    local_index.add("rp", "3.0", requires_python=None)
    build_wheel(local_index.root / "files", "rp", "3.0", requires_python=">=3.99")  # overwrite with METADATA pin
    assert lock(tmp_path, local_index, env("rp"), target) == {"rp": "1.0"}


def test_conflict_names_both_sides(tmp_path, local_index, target):
    local_index.add("left", "1.0", ["shared<2"])
    local_index.add("right", "1.0", ["shared>=2"])
    local_index.add("shared", "1.0")
    local_index.add("shared", "2.0")
    with pytest.raises(ResolutionError) as e:
        lock(tmp_path, local_index, env("left", "right"), target)
    msg = str(e.value)
    assert "left 1.0 requires shared<2" in msg and "right 1.0 requires shared>=2" in msg, msg
    assert "env.yml:3 asks for left" in msg and "env.yml:4 asks for right" in msg, msg


def test_python_conflict(tmp_path, local_index, target):
    local_index.add("needsnew", "1.0", requires_python=">=3.99")
    with pytest.raises(ResolutionError) as e:
        lock(tmp_path, local_index, env("needsnew"), target)
    assert "python" in str(e.value) and "needsnew" in str(e.value)


def test_wheels_for_other_platforms_only(tmp_path, local_index, target):
    local_index.add("native", "1.0", tag="cp311-cp311-win_amd64")
    local_index.add("native", "1.0", tag="cp311-cp311-macosx_11_0_arm64")
    with pytest.raises(ResolutionError) as e:
        lock(tmp_path, local_index, env("native"), target)
    msg = str(e.value)
    assert "no wheel of native" in msg and "cp311-cp311-win_amd64" in msg and "macosx_11_0_arm64" in msg, msg


def test_404_vs_5xx_vs_timeout(tmp_path, local_index, target):
    spec_path = tmp_path / "env.yml"
    spec_path.write_text(env("missing"))
    spec = load_spec(spec_path)
    with IndexClient(IndexConfig((local_index.simple,)), retries=1, backoff=0.01) as c:
        with pytest.raises(PackageNotFound) as nf:
            resolve(spec, target, c)
    assert str(nf.value) == f"package 'missing' not found on {local_index.simple}"

    local_index.add("flaky", "1.0")
    spec_path.write_text(env("flaky"))
    spec = load_spec(spec_path)
    local_index.faults["/simple/flaky"] = ("status", 503)
    with IndexClient(IndexConfig((local_index.simple,)), retries=2, backoff=0.01) as c:
        with pytest.raises(IndexFetchError) as err:
            resolve(spec, target, c)
    assert "HTTP 503" in str(err.value) and f"{local_index.simple}flaky/" in str(err.value)
    assert local_index.hits.count("/simple/flaky/") == 3  # retried twice

    local_index.faults["/simple/flaky"] = ("sleep", 1.5)
    with IndexClient(IndexConfig((local_index.simple,)), timeout=0.3, retries=1, backoff=0.01) as c:
        with pytest.raises(IndexFetchError) as slow:
            resolve(spec, target, c)
    assert "timed out" in str(slow.value) and "flaky" in str(slow.value)
    assert "not found" not in str(slow.value)

    local_index.faults["/simple/flaky"] = ("status", 403)
    with IndexClient(IndexConfig((local_index.simple,)), retries=3, backoff=0.01) as c:
        hits = len(local_index.hits)
        with pytest.raises(IndexFetchError, match="HTTP 403"):
            resolve(spec, target, c)
        assert len(local_index.hits) == hits + 1  # a 4xx is not retried


def test_metadata_hash_mismatch(tmp_path, local_index, target):
    e = local_index.add("tampered", "1.0")
    local_index.faults["bad-sidecar"] = ("bad-sidecar", e.path.name)
    with pytest.raises(IntegrityError) as err:
        lock(tmp_path, local_index, env("tampered"), target)
    assert "metadata file hash mismatch" in str(err.value) and e.path.name in str(err.value)


@pytest.mark.parametrize("html_only", [False, True])
@pytest.mark.parametrize("mode", ["sidecar", "range", "full"])
def test_metadata_paths(tmp_path, local_index, target, html_only, mode):
    local_index.html_only = html_only
    local_index.no_range = mode == "full"
    local_index.add("meta", "1.0", ["dep"], sidecar=mode == "sidecar")
    local_index.add("dep", "1.0", sidecar=mode == "sidecar")
    store = tmp_path / "store"
    store.mkdir()

    class FakeStore:
        root = str(store)

    got = lock_env(_write(tmp_path, env("meta")), FakeStore(), IndexConfig((local_index.simple,)), target=target)
    assert {p.name: p.version for p in got.packages} == {"meta": "1.0", "dep": "1.0"}
    if mode == "range":
        assert not any(h.endswith(".metadata") for h in local_index.hits)
    if mode == "full":  # the whole wheel was downloaded: kept for realize
        assert list((store / "cache" / "wheels-v1").rglob("meta-1.0-py3-none-any.whl"))


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "env.yml"
    p.write_text(text)
    return p


def test_cache_revalidates_and_offline(tmp_path, local_index, target):
    local_index.add("cached", "1.0", ["dep"])
    local_index.add("dep", "1.0")

    class FakeStore:
        root = str(tmp_path / "store")

    path = _write(tmp_path, env("cached"))
    first = lock_env(path, FakeStore(), IndexConfig((local_index.simple,)), target=target)
    local_index.hits.clear()
    second = lock_env(path, FakeStore(), IndexConfig((local_index.simple,)), target=target)
    assert dumps_lock(first) == dumps_lock(second)
    # Pages revalidated (max-age=0 + ETag -> 304), metadata never refetched.
    assert sorted(local_index.hits) == ["/simple/cached/", "/simple/dep/"]
    local_index.hits.clear()
    third = lock_env(path, FakeStore(), IndexConfig((local_index.simple,), offline=True), target=target)
    assert local_index.hits == [] and dumps_lock(third) == dumps_lock(first)


def test_first_index_wins(tmp_path, local_index, target):
    from local_index import ServedIndex

    local_index.add("internal", "1.0")
    with ServedIndex(tmp_path / "evil") as evil:
        evil.add("internal", "99.0")  # a public squatter with a higher version
        evil.add("public", "1.0")
        env_path = _write(tmp_path, env("internal", "public"))
        got = lock_env(env_path, None, IndexConfig((local_index.simple, evil.simple)), target=target)
    assert {p.name: p.version for p in got.packages} == {"internal": "1.0", "public": "1.0"}
    assert got.package("internal").wheels[0].url.startswith(local_index.url)


def test_find_links_and_file_index(tmp_path, target):
    links = tmp_path / "links"
    build_wheel(links, "linked", "1.0", ["other"])
    build_wheel(links, "other", "2.0")
    env_path = _write(tmp_path, env("linked"))
    got = lock_env(env_path, None, IndexConfig((), find_links=(str(links),)), target=target)
    assert {p.name: p.version for p in got.packages} == {"linked": "1.0", "other": "2.0"}
    # the same directory laid out as a file:// simple index
    simple = tmp_path / "simple"
    for n in ("linked", "other"):
        (simple / n).mkdir(parents=True)
        for w in links.glob(f"{n}-*.whl"):
            (simple / n / w.name).write_bytes(w.read_bytes())
    got2 = lock_env(env_path, None, IndexConfig((simple.as_uri() + "/",)), target=target)
    assert {p.name: p.version for p in got2.packages} == {"linked": "1.0", "other": "2.0"}


def test_pins_kept_unless_upgrade(tmp_path, local_index, target):
    local_index.add("p", "1.0")
    local_index.add("q", "1.0")
    assert lock(tmp_path, local_index, env("p", "q"), target) == {"p": "1.0", "q": "1.0"}
    local_index.add("p", "2.0")
    local_index.add("q", "2.0")
    assert lock(tmp_path, local_index, env("p", "q"), target) == {"p": "1.0", "q": "1.0"}
    assert lock(tmp_path, local_index, env("p", "q"), target, upgrade_packages=["q"]) == {"p": "1.0", "q": "2.0"}
    assert lock(tmp_path, local_index, env("p", "q"), target, upgrade=True) == {"p": "2.0", "q": "2.0"}
    # a spec that no longer allows the pin moves it
    assert lock(tmp_path, local_index, env("p<2", "q"), target) == {"p": "1.0", "q": "2.0"}


def test_lock_is_deterministic_and_round_trips(tmp_path, local_index, target):
    local_index.add("det", "1.0", ["dep2"])
    local_index.add("dep2", "1.0")
    lock(tmp_path, local_index, env("det"), target)
    first = (tmp_path / "pylock.toml").read_bytes()
    (tmp_path / "pylock.toml").unlink()
    lock(tmp_path, local_index, env("det"), target)
    assert (tmp_path / "pylock.toml").read_bytes() == first
    assert dumps_lock(read_lock(tmp_path / "pylock.toml")).encode() == first
