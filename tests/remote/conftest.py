"""Fixtures for stores on object storage: a local S3-compatible server (moto) and memory://.

``moto_server`` runs once per session on a free loopback port; every test gets its own
bucket prefix. The credentials and endpoint reach s3fs the way a user's would: through the
standard ``AWS_*`` environment variables (s3fs/botocore read ``AWS_ENDPOINT_URL``).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

BUCKET = "nbtrack-tests"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a moto S3 server on 127.0.0.1, with the test bucket created."""
    pytest.importorskip("s3fs")
    exe = shutil.which("moto_server") or str(Path(sys.executable).with_name("moto_server"))
    if not os.path.exists(exe):
        pytest.skip("moto_server is not installed (pip install 'moto[server]')")
    port = _free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [exe, "-H", "127.0.0.1", "-p", str(port)], stdout=out, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 60
        while not _answers(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"moto_server did not start: {log.read_text()[-2000:]}")
            time.sleep(0.1)
        endpoint = f"http://127.0.0.1:{port}"
        import s3fs

        fs = s3fs.S3FileSystem(key="testing", secret="testing", endpoint_url=endpoint)
        fs.mkdir(BUCKET)
        yield endpoint
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def s3_env(endpoint: str) -> dict[str, str]:
    """The environment variables a user sets for an S3-compatible server."""
    return {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_DEFAULT_REGION": "us-east-1",
    }


@pytest.fixture
def s3_store(
    moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """``s3://bucket/<fresh prefix>``, set as NBTRACK_STORE, credentials in AWS_* variables."""
    for key, value in s3_env(moto_endpoint).items():
        monkeypatch.setenv(key, value)
    # A cache folder of its own (segment copies are keyed by URL, so sharing would be
    # safe, but a test counting cache hits needs a cold start).
    monkeypatch.setenv("NBTRACK_CACHE_DIR", str(tmp_path_factory.mktemp("segment-cache")))
    uri = f"s3://{BUCKET}/{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("NBTRACK_STORE", uri)
    import s3fs

    s3fs.S3FileSystem.clear_instance_cache()  # pick up the environment set above
    yield uri
    _release(uri)


@pytest.fixture
def memory_store(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh ``memory://`` store, set as NBTRACK_STORE."""
    uri = f"memory://nbtrack-{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("NBTRACK_STORE", uri)
    yield uri
    _release(uri)


@pytest.fixture(params=["s3", "memory"])
def remote_store(request: pytest.FixtureRequest) -> str:
    """Each test once on moto's S3 and once on fsspec's memory:// file system."""
    return str(request.getfixturevalue(f"{request.param}_store"))


def _release(uri: str) -> None:
    from nbtrack.tracking import settings
    from nbtrack.tracking.fluent.stack import ACTIVE

    for run in list(ACTIVE.stack):
        if not run.is_finished:
            run.end("KILLED")
    ACTIVE.stack.clear()
    from nbtrack.storage import release_store

    try:
        release_store(uri)
    except Exception:
        pass  # the test already reported what broke the store
    settings.SETTINGS.store_uri = None
