"""How `channels:` and `channel::name` are read on the conda route: the alias from
ENVSTORE_CHANNEL_ALIAS, else .condarc, else conda's default; custom_channels, defaults,
nodefaults, URLs and local paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from envstore.conda.channels import ChannelError, channel_urls, load_config, pin_spec


@pytest.fixture
def condarc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "condarc"
    monkeypatch.setenv("CONDARC", str(path))
    monkeypatch.delenv("ENVSTORE_CHANNEL_ALIAS", raising=False)

    def write(text: str) -> Path:
        path.write_text(text)
        return path
    return write


def test_alias_from_the_environment_beats_condarc(condarc, monkeypatch: pytest.MonkeyPatch) -> None:
    condarc("channel_alias: http://127.0.0.1:9/rc\n")
    assert load_config().url("conda-forge") == "http://127.0.0.1:9/rc/conda-forge"
    monkeypatch.setenv("ENVSTORE_CHANNEL_ALIAS", "http://127.0.0.1:9/env/")
    config = load_config()
    assert config.url("conda-forge") == "http://127.0.0.1:9/env/conda-forge"
    assert config.source == "ENVSTORE_CHANNEL_ALIAS"


def test_condas_default_alias_comes_from_rattler(condarc) -> None:
    condarc("")
    config = load_config()
    assert config.source == "conda's default"
    assert config.url("pytorch").startswith("https://") and config.url("pytorch").endswith("/pytorch")


def test_urls_paths_and_custom_channels(condarc, tmp_path: Path) -> None:
    condarc("channel_alias: http://127.0.0.1:9\ncustom_channels:\n  internal: http://127.0.0.1:8/base\n")
    config = load_config()
    assert config.url("https://127.0.0.1:7/x/") == "https://127.0.0.1:7/x"
    assert config.url("file:///srv/chan") == "file:///srv/chan"
    assert config.url("./chan", base=tmp_path) == (tmp_path / "chan").as_uri()
    assert config.url("internal") == "http://127.0.0.1:8/base/internal"
    assert config.url("pytorch/label/nightly") == "http://127.0.0.1:9/pytorch/label/nightly"


def test_defaults_nodefaults_and_condarc_channels(condarc) -> None:
    condarc("channel_alias: http://127.0.0.1:9\ndefault_channels:\n  - http://127.0.0.1:9/main\n"
            "channels:\n  - extra\n  - defaults\n")
    config = load_config()
    assert channel_urls(["pytorch", "defaults"], config) == [
        "http://127.0.0.1:9/pytorch", "http://127.0.0.1:9/main", "http://127.0.0.1:9/extra"]
    assert channel_urls(["pytorch", "nodefaults"], config) == [
        "http://127.0.0.1:9/pytorch", "http://127.0.0.1:9/extra"]


def test_no_channels_is_one_clear_error(condarc) -> None:
    condarc("")
    with pytest.raises(ChannelError) as e:
        channel_urls([], load_config())
    assert "no conda channels" in str(e.value) and e.value.hint


def test_channel_pinned_specs_name_their_channel_url(condarc) -> None:
    condarc("channel_alias: http://127.0.0.1:9\n")
    config = load_config()
    assert pin_spec("pytorch::pytorch>=2", config) == ("http://127.0.0.1:9/pytorch::pytorch>=2",
                                                       "http://127.0.0.1:9/pytorch")
    assert pin_spec("numpy=1.26", config) == ("numpy=1.26", None)


@pytest.mark.parametrize(("deps", "envstore", "reason"), [
    (["python=3.11", "numpy>=1.26", "pip"], None, None),
    (["pytorch::pytorch"], None, "'pytorch::pytorch' is channel-pinned"),
    (["numpy=1.26=py311h*"], None, "has a conda-only part"),
    (["openssl"], None, "openssl is a conda package with no Python-index equivalent"),
    (["numpy"], "conda", "the env file says `packages-from: conda`"),
    (["pytorch::pytorch", "openssl"], "pypi", None),
    (["python=3.11.8=hab00c5b_0_cpython"], None, None),  # python's own build string keeps the wheel route's message
])
def test_route_choice(tmp_path: Path, deps: list[str], envstore: str | None, reason: str | None) -> None:
    from envstore.spec.conda_env import conda_route

    text = "name: t\ndependencies:\n" + "".join(f"  - {d}\n" for d in deps)
    if envstore:
        text += f"envstore:\n  packages-from: {envstore}\n"
    env = tmp_path / "env.yml"
    env.write_text(text)
    got = conda_route(env)
    assert (got is None) if reason is None else (reason in got), got


def test_unknown_packages_from_is_refused_with_its_place(tmp_path: Path) -> None:
    from envstore.spec.conda_env import conda_route
    from envstore.spec.errors import SpecError

    env = tmp_path / "env.yml"
    env.write_text("name: t\ndependencies: [numpy]\nenvstore:\n  packages-from: anaconda\n")
    with pytest.raises(SpecError) as e:
        conda_route(env)
    assert "unknown packages-from 'anaconda'" in str(e.value) and "env.yml:4" in str(e.value)
