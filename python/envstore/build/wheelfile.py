"""Changes to a wheel a build produced, before it is ingested: an editable's PEP 610
`direct_url.json`, which installers write and backends do not, so that `pip freeze`,
`store list` and `store export` see the project the environment points at."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import zipfile
from pathlib import Path
from urllib.parse import unquote, urlsplit

DIRECT_URL = "direct_url.json"


def mark_editable(wheel: Path, project: Path) -> None:
    """Add `<name>.dist-info/direct_url.json` (PEP 610: the project's file URL, editable)."""
    mark_direct_url(wheel, {"url": project.absolute().as_uri(), "dir_info": {"editable": True}})


def mark_direct_url(wheel: Path, direct_url: dict) -> None:
    """Add `<name>.dist-info/direct_url.json` (PEP 610: where the wheel was built from) and its
    RECORD line to `wheel`, rewritten in place."""
    body = json.dumps(direct_url, sort_keys=True).encode()
    digest = base64.urlsafe_b64encode(hashlib.sha256(body).digest()).rstrip(b"=").decode()
    tmp = wheel.with_name(wheel.name + ".tmp")
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as dst:
        names = src.namelist()
        dist_info = next((n.split("/")[0] for n in names if n.count("/") == 1 and n.endswith(".dist-info/RECORD")), None)
        if dist_info is None:
            raise ValueError(f"{wheel.name} has no .dist-info/RECORD")
        ours = f"{dist_info}/{DIRECT_URL}"
        for info in src.infolist():
            if info.filename == ours:
                continue  # a backend that wrote one: ours says where this store built it from
            data = src.read(info)
            if info.filename == f"{dist_info}/RECORD":
                lines = [line for line in data.decode().splitlines() if line and not line.startswith(ours + ",")]
                lines.insert(len(lines) - 1 if lines and lines[-1].startswith(f"{dist_info}/RECORD,") else len(lines),
                             f"{ours},sha256={digest},{len(body)}")
                data = ("\n".join(lines) + "\n").encode()
            dst.writestr(info, data)
        dst.writestr(zipfile.ZipInfo(ours, date_time=(1980, 1, 1, 0, 0, 0)), body)
    os.replace(tmp, wheel)


def prefix_editables(prefix: Path) -> dict[str, str]:
    """The editable installs of a prefix (normalized name -> project directory), from their
    PEP 610 direct_url.json."""
    # lazy: packaging only when a prefix is looked at
    from packaging.utils import canonicalize_name

    out = {}
    for dist_info in prefix.glob("lib/python*/site-packages/*.dist-info"):
        project = editable_project(dist_info)
        if project is not None:
            out[canonicalize_name(dist_info.name[: -len(".dist-info")].rsplit("-", 1)[0])] = project
    return dict(sorted(out.items()))


def editable_project(dist_info: Path) -> str | None:
    """The project directory an installed distribution is an editable of (its direct_url.json),
    or None."""
    try:
        doc = json.loads((dist_info / DIRECT_URL).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or not (doc.get("dir_info") or {}).get("editable"):
        return None
    url = str(doc.get("url", ""))
    return unquote(urlsplit(url).path) if url.startswith("file:") else None
