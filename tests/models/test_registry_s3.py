"""The registry on object storage: version claims are conditional PUTs, racing writers agree.

Runs against a local S3-compatible server (``moto_server``), as TOOLCHAIN.md describes.
"""

from __future__ import annotations

import multiprocessing
import shutil
import socket
import subprocess
import sys
import time
import uuid
import warnings
from pathlib import Path

import pytest

import nbtrack as nt

pytest.importorskip("s3fs")
MOTO = shutil.which("moto_server") or str(Path(sys.executable).with_name("moto_server"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def s3_endpoint():
    if not Path(MOTO).exists():
        pytest.skip("needs moto[server]")
    port = _free_port()
    proc = subprocess.Popen([MOTO, "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail("moto_server did not start")
            time.sleep(0.2)
    yield url
    proc.terminate()
    proc.wait(timeout=30)


@pytest.fixture
def s3_store(s3_endpoint, monkeypatch):
    import s3fs

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    bucket = f"b{uuid.uuid4().hex[:12]}"
    s3fs.S3FileSystem(key="testing", secret="testing", endpoint_url=s3_endpoint).mkdir(bucket)
    uri = f"s3://{bucket}/store"
    yield nt.set_store(uri)
    from nbtrack.storage import release_store

    release_store(uri)  # no background thread left talking to a server about to stop


class Const:
    def __init__(self, v: float) -> None:
        self.v = v

    def predict(self, df):
        return [self.v] * len(df)


def test_a_claim_on_s3_is_won_once(s3_store):
    assert s3_store.claim("m/versions/v000000001.json", b"a") is True
    assert s3_store.claim("m/versions/v000000001.json", b"b") is False
    assert s3_store.fs.read_bytes(s3_store.fs.join("registry/m/versions/v000000001.json")) == b"a"


def _register(args: tuple[str, str, int]) -> list[int]:
    uri, model_uri, n = args
    nt.set_store(uri)
    return [nt.register_model(model_uri, "raced").version for _ in range(n)]


@pytest.mark.slow
def test_racing_processes_on_s3_get_distinct_dense_versions(s3_store):
    with nt.start_run(), warnings.catch_warnings():
        warnings.simplefilter("ignore", nt.NbtrackWarning)
        info = nt.log_model(Const(4.0), "m")
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(4) as pool:
        results = pool.map(_register, [(s3_store.uri, info.model_uri, 3)] * 4)
    versions = sorted(v for r in results for v in r)
    assert versions == list(range(1, 13))
    nt.set_model_alias("raced", "champion", 12)
    assert nt.load_model("models:/raced@champion").v == 4.0
