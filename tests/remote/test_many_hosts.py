"""Many writers on many hosts sharing one S3 store (moto), as separate machines would.

Each writer process gets its own host identity (``NBTRACK_HOST_ID``) and a wall clock off
by up to ±5 minutes. Nothing may be lost or counted twice; a dead writer on another host is
found by its heartbeats alone (no pid checks across hosts); a run handed from a fast clock
to a slow one keeps its records in order.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import nbtrack as nt
from nbtrack.storage import liveness
from nbtrack.storage._fs import open_fs

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def _writer(host: str, skew_s: float, *args: str, **env: str) -> subprocess.Popen[str]:
    full = {**os.environ, "NBTRACK_HOST_ID": host, "SKEW_S": str(skew_s), **env}
    full["PYTHONPATH"] = str(ROOT)
    return subprocess.Popen(
        [sys.executable, str(HERE / "_host_writer.py"), *args], env=full, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )


def _finish(proc: subprocess.Popen[str]) -> str:
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]
    return out.strip()


@pytest.mark.slow
def test_sixteen_hosts_lose_and_duplicate_nothing(s3_store: str) -> None:
    runs, points = 2, 40
    procs = [
        _writer(f"host-{i:02d}", (-300.0 if i % 2 else 300.0) * (i % 3) / 2, "sweep",
                str(runs), str(points))
        for i in range(16)
    ]
    for p in procs:
        assert _finish(p) == "done"
    nt.set_store(s3_store)
    df = nt.search_runs(experiment="hosts")
    assert len(df) == 16 * runs
    assert set(df["status"]) == {"FINISHED"}
    assert sorted(df["tags.host"].unique()) == [f"host-{i:02d}" for i in range(16)]
    got = nt.sql(
        "SELECT count(*) AS n, count(DISTINCT (run_id, step)) AS d, sum(value) AS s "
        "FROM metrics"
    )
    assert int(got["n"][0]) == int(got["d"][0]) == 16 * runs * points
    expected = 16 * runs * sum(1.0 / (s + 1) for s in range(points))
    assert abs(float(got["s"][0]) - expected) < 1e-9
    assert set(df["metrics.loss"]) == {1.0 / points}


def test_a_run_handed_to_a_host_with_a_slower_clock_keeps_its_order(s3_store: str) -> None:
    run_id = _finish(_writer("fast-host", 300.0, "start"))
    assert _finish(_writer("slow-host", -300.0, "resume", run_id)) == "done"
    nt.set_store(s3_store)
    run = nt.get_run(run_id)
    assert run.status == "FINISHED"
    # The slow host's tag came last: it wins although its clock reads 10 minutes earlier.
    assert run.tags["stage"] == "slow-host"
    hist = nt.get_metric_history(run_id, "loss")
    assert list(hist["step"]) == list(range(10))
    assert run.metrics["loss"] == 9.0


def test_a_writer_killed_on_another_host_reads_killed_by_heartbeat(
    s3_store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = {"NBTRACK_HEARTBEAT": "0.5", "NBTRACK_DEAD_AFTER": "4"}
    for key, value in fast.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("NBTRACK_HOST_ID", "reader-host")
    victim = _writer("doomed-host", 300.0, "hang", **fast)
    try:
        run_id = victim.stdout.readline().strip()  # type: ignore[union-attr]
        assert run_id, victim.stderr.read()  # type: ignore[union-attr]
        nt.set_store(s3_store)
        assert nt.get_run(run_id).status == "RUNNING"
        # Alive and beating for longer than the dead-after window: still RUNNING.
        time.sleep(5)
        assert nt.get_run(run_id).status == "RUNNING"
    finally:
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=60)
    deadline = time.monotonic() + 90
    while nt.get_run(run_id).status != "KILLED":
        assert time.monotonic() < deadline, "the dead writer's run never read KILLED"
        time.sleep(0.5)


@pytest.mark.slow
def test_a_reader_whose_clock_runs_ahead_still_sees_live_writers(
    s3_store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lease ages are taken on the store's clock, not the reader's (5 min fast here)."""
    fast = {"NBTRACK_HEARTBEAT": "0.5", "NBTRACK_DEAD_AFTER": "4"}
    for key, value in fast.items():
        monkeypatch.setenv(key, value)
    writer = _writer("busy-host", 0.0, "hang", **fast)
    try:
        run_id = writer.stdout.readline().strip()  # type: ignore[union-attr]
        assert run_id, writer.stderr.read()  # type: ignore[union-attr]
        assert _finish(_writer("ahead-host", 300.0, "status", run_id, **fast)) == "RUNNING"
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=60)
    deadline = time.monotonic() + 120
    while _finish(_writer("ahead-host", 300.0, "status", run_id, **fast)) != "KILLED":
        assert time.monotonic() < deadline, "the dead writer's run never read KILLED"


def test_no_pid_checks_across_hosts(s3_store: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A lease from another host whose pid means nothing here is judged by its age alone."""
    monkeypatch.setenv("NBTRACK_HOST_ID", "reader-host")
    fs = open_fs(s3_store)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    dead_pid = int(dead.stdout)  # exited: no such process here any more
    ident = liveness.identity(dead_pid)
    for owner, host in (("wforeign", "other-host"), ("wlocal", "reader-host")):
        lease = {**ident, "host": host, "writer_id": owner, "pid_start": "1"}
        fs.write_atomic(fs.join("_writers", f"{owner}.json"), json.dumps(lease).encode())
    leases = liveness.Leases(fs)
    dead_writers = leases.dead_writers(["wforeign", "wlocal"], mine=None)
    # Same host (and boot and pid namespace): the pid is gone, so it is dead at once.
    assert "wlocal" in dead_writers
    # Another host: a fresh lease is alive, whatever its pid says here.
    assert "wforeign" not in dead_writers
