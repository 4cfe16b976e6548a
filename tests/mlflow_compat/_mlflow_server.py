"""A real ``mlflow server`` subprocess on loopback, for the tests that import from or talk to
one (one harness: start, wait until ``/health`` says OK, stop)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, proc: subprocess.Popen, timeout: float) -> None:
    """Wait until the server at ``url`` answers ``/health`` with OK; fail if it exits."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if urllib.request.urlopen(f"{url}/health", timeout=5).read().strip() == b"OK":
                return
        except OSError:
            pass
        if proc.poll() is not None:
            pytest.fail(f"mlflow server exited with {proc.returncode}")
        if time.monotonic() > deadline:
            pytest.fail(f"mlflow server not healthy after {timeout} s")
        time.sleep(0.5)


@contextmanager
def running_mlflow_server(
    backend_store_uri: str,
    artifact_args: Sequence[str],
    *,
    cwd: Path | None = None,
    log: Path | None = None,
    timeout: float = 240,
) -> Iterator[str]:
    """Run ``mlflow server`` (one worker) until the block ends; yields its URL.

    Args:
        backend_store_uri: Where it keeps runs, e.g. ``sqlite:///<tmp>/mlflow.db``.
        artifact_args: Its artifact options (``--default-artifact-root ...`` or
            ``--serve-artifacts --artifacts-destination ...``).
        cwd: Its working folder.
        log: A file for its output; None discards it.
        timeout: Seconds it may take to become healthy.
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    out = open(log, "wb") if log is not None else subprocess.DEVNULL  # noqa: SIM115
    proc = subprocess.Popen(
        [
            os.path.join(os.path.dirname(sys.executable), "mlflow"),
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--backend-store-uri",
            backend_store_uri,
            *artifact_args,
            "--workers",
            "1",
        ],
        cwd=cwd,
        stdout=out,
        stderr=subprocess.STDOUT if log is not None else subprocess.DEVNULL,
    )
    try:
        wait_healthy(url, proc, timeout)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=60)
        if log is not None:
            out.close()
