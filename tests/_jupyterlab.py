"""A real JupyterLab server on loopback for the browser tests (one harness for all of them)."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
REPO = Path(__file__).resolve().parents[1]


def require_chromium() -> None:
    """Skip without Debian's chromium; in CI its absence is a failure, never a skip."""
    if Path(CHROMIUM).exists():
        return
    reason = f"{CHROMIUM} is absent (apt-get install chromium fonts-dejavu-core)"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"CI must run the browser test, but {reason}")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def running_lab(
    root: Path, tmp_path: Path, store: Path, extra_args: tuple[str, ...] = ()
) -> Iterator[tuple[str, str]]:
    """JupyterLab serving ``root`` with NBTRACK_STORE=``store``; yields (url, token).

    ``extra_args`` go to the server's command line (e.g. ``--NbtrackApp.stores=[...]``).
    """
    settings = tmp_path / "lab-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    # No news/update toast over the page.
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    port, token = _free_port(), secrets.token_hex(16)
    env = dict(os.environ)
    env.update(
        NBTRACK_STORE=str(store),
        JUPYTERLAB_SETTINGS_DIR=str(tmp_path / "lab-settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "workspaces"),
        JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
        PYTHONPATH=str(REPO) + os.pathsep + env.get("PYTHONPATH", ""),
    )
    log_path = tmp_path / "lab.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jupyterlab",
                "--ip=127.0.0.1",
                f"--port={port}",
                "--port-retries=0",
                f"--IdentityProvider.token={token}",
                "--allow-root",
                "--ServerApp.open_browser=False",
                f"--ServerApp.root_dir={root}",
                # Language servers and terminals are not needed and add seconds to start-up.
                "--ServerApp.jpserver_extensions={'jupyter_lsp': False, "
                "'jupyter_server_terminals': False}",
                *extra_args,
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        url = f"http://127.0.0.1:{port}"
        begun = time.monotonic()
        try:
            deadline = begun + 60
            while True:
                try:
                    with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2):
                        break
                except OSError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    raise RuntimeError("JupyterLab did not start:\n" + log_path.read_text())
                time.sleep(0.25)
            print(f"[browser test] JupyterLab up in {time.monotonic() - begun:.1f} s")
            yield url, token
        finally:
            # The server and its kernels share one process group (start_new_session).
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=15)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(proc.pid, signal.SIGKILL)


def run_python(code: str, store: Path, timeout: float = 120, **env: str) -> str:
    """Run ``code`` in a separate Python process writing to ``store``; its stdout."""
    from tests.conftest import python_env

    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**python_env(store), **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def lab_api(url: str, token: str, path: str) -> dict:
    """GET ``/nbtrack/api/<path>`` of a running lab, as JSON."""
    with urllib.request.urlopen(f"{url}/nbtrack/api/{path}?token={token}", timeout=10) as r:
        return json.load(r)
