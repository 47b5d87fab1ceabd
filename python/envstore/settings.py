"""Every environment variable envstore reads, declared once with its meaning.
Nothing else in the package reads os.environ for configuration."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class EnvVar:
    name: str
    doc: str

    def get(self) -> str | None:
        value = os.environ.get(self.name)
        return value if value else None


STORE_ROOT = EnvVar("ENVSTORE_ROOT", "Store directory used when --store is not given.")
FSYNC = EnvVar(
    "ENVSTORE_FSYNC",
    "Set to 0 to skip fsync when publishing (throwaway stores only: a crash can then leave "
    "truncated blobs).",
)
XDG_DATA_HOME = EnvVar("XDG_DATA_HOME", "Base of the default store (~/.local/share if unset).")

# Index configuration (issue 3). Flags win over these; these win over pip's configuration.
INDEX_URL = EnvVar("ENVSTORE_INDEX_URL", "Primary package index (simple API) URL; overrides pip's.")
EXTRA_INDEX_URL = EnvVar(
    "ENVSTORE_EXTRA_INDEX_URL",
    "Further index URLs, space-separated, consulted only for names the primary does not know.",
)
FIND_LINKS = EnvVar("ENVSTORE_FIND_LINKS", "Directories or HTML pages of wheels, space-separated.")
OFFLINE = EnvVar("ENVSTORE_OFFLINE", "Set to 1 to resolve from the HTTP cache in the store alone.")
# pip's own configuration, read (never written) so envstore uses the index the user already set up.
PIP_INDEX_URL = EnvVar("PIP_INDEX_URL", "pip's index URL, used when no envstore setting is given.")
PIP_EXTRA_INDEX_URL = EnvVar("PIP_EXTRA_INDEX_URL", "pip's extra index URLs (space-separated).")
PIP_FIND_LINKS = EnvVar("PIP_FIND_LINKS", "pip's find-links locations (space-separated).")
PIP_CONFIG_FILE = EnvVar("PIP_CONFIG_FILE", "An extra pip configuration file read after the standard ones.")
PIP_CERT = EnvVar("PIP_CERT", "CA bundle for HTTPS, as pip uses it.")
PIP_DEFAULT_TIMEOUT = EnvVar(
    "PIP_DEFAULT_TIMEOUT",
    "pip's socket timeout in seconds (pip.conf `timeout`): the connect and read timeout of every index "
    "request and wheel download.",
)
PIP_TIMEOUT = EnvVar("PIP_TIMEOUT", "pip's socket timeout under its other name; PIP_DEFAULT_TIMEOUT wins.")
XDG_CONFIG_HOME = EnvVar("XDG_CONFIG_HOME", "Base of the user's pip.conf (~/.config if unset).")
XDG_CONFIG_DIRS = EnvVar("XDG_CONFIG_DIRS", "Site-wide pip.conf locations (/etc/xdg if unset).")
PYENV_ROOT = EnvVar("PYENV_ROOT", "Where pyenv keeps interpreters; scanned when no interpreter is named.")
PATH = EnvVar("PATH", "Searched for python3.X executables when choosing an interpreter to lock for.")
# Interpreters (issue 4).
PYTHON_URL = EnvVar(
    "ENVSTORE_PYTHON_URL",
    "URL template for `store python install`: a python-build-standalone install_only archive, "
    "with {version}, {triple} and {build} filled in; point it at a mirror (http(s):// or file://).",
)
PYTHON_BUILD = EnvVar(
    "ENVSTORE_PYTHON_BUILD", "The python-build-standalone release tag put in {build} of ENVSTORE_PYTHON_URL."
)
UV_PYTHON_INSTALL_DIR = EnvVar(
    "UV_PYTHON_INSTALL_DIR", "Where uv keeps the interpreters it manages; scanned by discovery."
)

# Shims and shell integration (issue 6). The shim binary itself reads only PATH and
# ENVSTORE_SHIM_HOPS; it is declared here so the whole set is in one place.
SHELL = EnvVar("SHELL", "The user's shell: started by `store shell`, the dialect of `store activate`.")
SHIM_HOPS = EnvVar(
    "ENVSTORE_SHIM_HOPS",
    "Set by the native shim when it falls through to the next PATH entry (<name>:<count>); "
    "it refuses a ninth hop, so two shim directories on PATH cannot loop.",
)

# Binary caches (issue 18): substituters, trust, and the standard AWS configuration of S3.
SUBSTITUTERS = EnvVar(
    "ENVSTORE_SUBSTITUTERS",
    "Binary caches consulted before the index, space-separated (s3://BUCKET[/PATH], file:///PATH); "
    "--substituter adds to them.",
)
TRUSTED_KEYS = EnvVar(
    "ENVSTORE_TRUSTED_KEYS",
    "Public keys (NAME:BASE64, space-separated) whose signatures make a cache's prefix records trusted; "
    "--trusted-key adds to them.",
)
ALLOW_UNSIGNED = EnvVar(
    "ENVSTORE_ALLOW_UNSIGNED",
    "Set to 1 to accept a cache's records that no trusted key signed (as --allow-unsigned); 0 turns "
    "`allow-unsigned` of the config file off.",
)
RUN_POST_LINK_SCRIPTS = EnvVar(
    "ENVSTORE_RUN_POST_LINK_SCRIPTS",
    "Set to 1 to run conda packages' post-link scripts (as an env file's `post-link-scripts: run`); "
    "they are skipped by default.",
)
AWS_ACCESS_KEY_ID = EnvVar("AWS_ACCESS_KEY_ID", "S3 access key of an s3:// cache.")
AWS_SECRET_ACCESS_KEY = EnvVar("AWS_SECRET_ACCESS_KEY", "S3 secret key of an s3:// cache.")
AWS_SESSION_TOKEN = EnvVar("AWS_SESSION_TOKEN", "S3 session token of an s3:// cache (temporary credentials).")
AWS_REGION = EnvVar("AWS_REGION", "S3 region of an s3:// cache.")
AWS_DEFAULT_REGION = EnvVar("AWS_DEFAULT_REGION", "S3 region when AWS_REGION is unset.")
AWS_ENDPOINT_URL = EnvVar(
    "AWS_ENDPOINT_URL", "S3 endpoint of an s3:// cache (MinIO, Ceph, R2, SeaweedFS ...); http:// is allowed."
)
AWS_PROFILE = EnvVar("AWS_PROFILE", "Profile of the AWS config and credentials files (default: `default`).")
AWS_CONFIG_FILE = EnvVar("AWS_CONFIG_FILE", "The AWS config file (~/.aws/config if unset).")
AWS_SHARED_CREDENTIALS_FILE = EnvVar(
    "AWS_SHARED_CREDENTIALS_FILE", "The AWS credentials file (~/.aws/credentials if unset)."
)

TEST_CRASH_AT = EnvVar(
    "_ENVSTORE_TEST_CRASH_AT",
    "Test hook: SIGKILL the process at a named point (realize.before_link, blob.before_publish, "
    "prefix.before_rename, prefix.after_rename, switch.before_rename, gc.mid_sweep, cache.before_blobs, "
    "cache.before_manifest).",
)

TEST_PAUSE_AT = EnvVar(
    "_ENVSTORE_TEST_PAUSE_AT",
    "Test hook: <point>:<dir> — at that point create <dir>/paused and wait for <dir>/release.",
)

TEST_LINK_ERRNO = EnvVar(
    "_ENVSTORE_TEST_LINK_ERRNO",
    "Test hook: every hardlink the store makes fails with this errno (a name such as EPERM, EXDEV, "
    "EMLINK, or a number), as on a filesystem without hardlinks.",
)

TEST_MAX_LINKS = EnvVar(
    "_ENVSTORE_TEST_MAX_LINKS",
    "Test hook: a hardlink to a blob that already has this many links fails with EMLINK, as at a "
    "filesystem's link limit.",
)

ALL = (
    STORE_ROOT, FSYNC, XDG_DATA_HOME, INDEX_URL, EXTRA_INDEX_URL, FIND_LINKS, OFFLINE,
    PIP_INDEX_URL, PIP_EXTRA_INDEX_URL, PIP_FIND_LINKS, PIP_CONFIG_FILE, PIP_CERT, PIP_DEFAULT_TIMEOUT,
    PIP_TIMEOUT, XDG_CONFIG_HOME, XDG_CONFIG_DIRS, PYENV_ROOT, PATH, PYTHON_URL, PYTHON_BUILD,
    UV_PYTHON_INSTALL_DIR, SHELL, SHIM_HOPS, SUBSTITUTERS, TRUSTED_KEYS, ALLOW_UNSIGNED, AWS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION, AWS_DEFAULT_REGION, AWS_ENDPOINT_URL, AWS_PROFILE,
    AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE, TEST_CRASH_AT, TEST_PAUSE_AT, TEST_LINK_ERRNO, TEST_MAX_LINKS,
)


def test_hook(point: str) -> None:
    """Test-only points (RELIABILITY.md): `_ENVSTORE_TEST_CRASH_AT=<point>` kills the process
    there; `_ENVSTORE_TEST_PAUSE_AT=<point>:<dir>` creates <dir>/paused and waits for <dir>/release."""
    if TEST_CRASH_AT.get() == point:
        os.kill(os.getpid(), 9)
    pause = TEST_PAUSE_AT.get()
    if pause and pause.split(":", 1)[0] == point:
        import time
        from pathlib import Path

        gate = Path(pause.split(":", 1)[1])
        (gate / "paused").touch()
        while not (gate / "release").exists():
            time.sleep(0.02)


def test_link_faults() -> dict[str, int]:
    """The link-failure test hooks as keyword arguments of `envstore._core.Store` (the core
    itself reads no environment variable)."""
    faults: dict[str, int] = {}
    errno_name = TEST_LINK_ERRNO.get()
    if errno_name:
        import errno

        faults["test_link_errno"] = int(errno_name) if errno_name.isdigit() else getattr(errno, errno_name.upper())
    max_links = TEST_MAX_LINKS.get()
    if max_links:
        faults["test_max_links"] = int(max_links)
    return faults


def truthy(value: str | None) -> bool:
    """An on/off variable: 1, true, yes, on (any case) are on."""
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def fsync_enabled() -> bool:
    return FSYNC.get() not in ("0", "false", "no", "off")
