"""Faults: writers SIGKILLed at random and chosen moments, and writes that fail.

A killed writer loses at most what it had not flushed yet: every point of a completed
flush is in the store, the store always opens, and the temporary file of an interrupted
write is ignored by readers and removed by ``nbtrack gc`` once it is old enough.
"""

from __future__ import annotations

import errno
import json
import os
import random
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from _reliability import FULL, Child, age, run_cli, temp_files

import nbtrack as nt
from nbtrack.errors import StoreError
from nbtrack.storage import _fs, compaction

KILLS = 12 if FULL else 3


def _history_steps(run_id: str) -> list[int]:
    return [int(s) for s in nt.get_metric_history(run_id, "x")["step"]]


def _assert_store_opens_in_a_fresh_process(store_path: Path) -> list[dict[str, Any]]:
    res = run_cli(store_path, "runs", "list", "--json")
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def _wait_killed(run_id: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while nt.get_run(run_id).status != "KILLED":
        assert time.monotonic() < deadline, nt.get_run(run_id).status
        time.sleep(0.2)


@pytest.mark.parametrize("role", ["flusher", "flusher_compactor"])
@pytest.mark.parametrize("seed", range(KILLS))
def test_sigkill_at_a_random_moment_keeps_every_completed_flush(
    store_path: Path, role: str, seed: int
) -> None:
    rng = random.Random(f"{role}-{seed}")
    child = Child(store_path, role)
    run_id = child.expect("run ").split()[1]
    child.expect("flushed")
    # Let it log, flush (and compact) for a random while, then kill it mid-whatever.
    time.sleep(rng.uniform(0.0, 1.5))
    child.kill()
    flushed = max(int(line.split()[2]) for line in child.seen if line.startswith("flushed"))

    runs = _assert_store_opens_in_a_fresh_process(store_path)
    assert [r["run_id"] for r in runs] == [run_id]
    nt.set_store(str(store_path))
    steps = _history_steps(run_id)
    assert len(steps) == len(set(steps)), "a point was stored twice"
    assert set(range(flushed)) <= set(steps), f"lost points below the flushed mark {flushed}"
    assert steps == list(range(len(steps))), "the store holds a gap"
    _wait_killed(run_id)
    assert nt.get_run(run_id).params == {"kind": "flusher"}
    # Whatever the moment, nothing unreadable was left behind.
    problems = compaction.doctor(nt.set_store(str(store_path)))
    assert not [p for p in problems if "unreadable" in p["problem"]], problems


def _prepare_segments(store_path: Path, n: int = 6) -> tuple[str, int]:
    store = nt.set_store(str(store_path))
    with nt.start_run(name="before") as run:
        for i in range(n):
            for step in range(i * 10, i * 10 + 10):
                run.log_metric("x", float(step), step=step)
            store.flush()
    store.flush()
    return run.id, n * 10


PAUSES = [
    pytest.param("segment", id="segment"),
    pytest.param("compaction", id="compaction"),
    pytest.param("blob", id="blob"),
    pytest.param("format", id="format"),
]


@pytest.mark.parametrize("what", PAUSES)
def test_sigkill_between_temp_write_and_rename_leaves_a_temp_file_that_gc_removes(
    store_path: Path, what: str
) -> None:
    before_id, before_n = (None, 0) if what == "format" else _prepare_segments(store_path)
    if what == "format":
        store_path = store_path / "fresh"
    child = Child(store_path, "pause", what)
    line = child.expect("paused")
    child.kill()
    tmp = Path(line.split()[1])
    assert tmp.exists()
    assert tmp.name.startswith(".")
    assert tmp.name.endswith(".tmp")
    assert temp_files(store_path) == [tmp]

    # Readers ignore the temp file (a warning would fail this test: filterwarnings=error).
    _assert_store_opens_in_a_fresh_process(store_path)
    nt.set_store(str(store_path))
    if before_id is not None:
        assert _history_steps(before_id) == list(range(before_n))
    if what == "segment":
        victim = next(line.split()[1] for line in child.seen if line.startswith("run "))
        _wait_killed(victim)
        assert _history_steps(victim) == []  # the interrupted flush never became visible

    # A young temp file may be a write in progress: gc keeps it ...
    res = run_cli(store_path, "gc")
    assert res.returncode == 0, res.stderr
    assert tmp.exists()
    # ... and once it is old, doctor reports it and gc removes it.
    age([tmp])
    res = run_cli(store_path, "doctor", "--json")
    assert res.returncode == 1, res.stderr  # doctor exits 1 when it finds problems
    assert any(p["path"] == str(tmp) and "gc" in p["action"] for p in json.loads(res.stdout))
    res = run_cli(store_path, "gc")
    assert res.returncode == 0, res.stderr
    assert temp_files(store_path) == []
    if before_id is not None:
        assert _history_steps(before_id) == list(range(before_n))


# ---- failed writes -------------------------------------------------------------------


class _Failing:
    """Makes ``LocalFileSystem.write_atomic`` raise ``errno`` while ``on`` is set."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, code: int) -> None:
        self.code = code
        self.on = False
        self.calls = 0
        real = _fs.LocalFileSystem.write_atomic

        def write_atomic(fs: Any, path: str, data: bytes, *, exclusive: bool = False) -> bool:
            if self.on:
                self.calls += 1
                raise OSError(code, os.strerror(code), path)
            return real(fs, path, data, exclusive=exclusive)

        monkeypatch.setattr(_fs.LocalFileSystem, "write_atomic", write_atomic)


@pytest.mark.parametrize(
    "code", [errno.ENOSPC, errno.EACCES, errno.EROFS, errno.EDQUOT], ids=errno.errorcode.get
)
def test_a_failed_write_raises_at_the_next_flush_keeps_the_points_and_succeeds_on_retry(
    store_path: Path, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    failing = _Failing(monkeypatch, code)
    store = nt.set_store(str(store_path))
    run = nt.start_run(name="disk-full")
    for step in range(100):
        run.log_metric("x", float(step), step=step)
    store.flush()
    failing.on = True
    for step in range(100, 250):
        run.log_metric("x", float(step), step=step)  # logging itself never raises
    run.set_tag("phase", "while full")
    with pytest.raises(StoreError) as info:
        store.flush()
    message = str(info.value)
    assert os.strerror(code) in message
    assert "kept in memory" in message
    assert isinstance(info.value, nt.NbtrackError)
    # A read flushes first, so it reports the same failure instead of stale data.
    with pytest.raises(StoreError):
        nt.get_metric_history(run.id, "x")
    # Artifacts are written synchronously: the logging call itself raises, nothing recorded.
    with pytest.raises(StoreError):
        run.log_text("hello", "notes.txt")
    # Ending is a durability point: it says the final write failed; the run has ended in
    # memory and its records wait for space like the rest.
    with pytest.raises(StoreError, match="kept in memory"):
        run.end()
    assert run.is_finished
    with pytest.raises(StoreError):
        store.flush()
    assert failing.calls >= 3

    failing.on = False
    store.flush()
    assert _history_steps(run.id) == list(range(250))
    got = nt.get_run(run.id)
    assert got.status == "FINISHED"
    assert got.tags == {"phase": "while full"}
    assert nt.list_artifacts(run.id) == []
    assert store.buffer.is_empty()


def test_a_background_flush_failure_keeps_the_points_until_space_is_back(
    store_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NBTRACK_FLUSH_INTERVAL", "0.05")
    failing = _Failing(monkeypatch, errno.ENOSPC)
    store = nt.set_store(str(store_path))
    run = nt.start_run(name="background")
    failing.on = True
    for step in range(500):
        run.log_metric("x", float(step), step=step)
    deadline = time.monotonic() + 60
    while failing.calls < 3:  # the flusher thread tried and failed, more than once
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert store.background.flush_error is not None
    assert not store.buffer.is_empty()
    failing.on = False
    deadline = time.monotonic() + 60
    while not store.buffer.is_empty():  # the flusher thread catches up on its own
        assert time.monotonic() < deadline
        time.sleep(0.05)
    run.end()
    assert _history_steps(run.id) == list(range(500))


def _mount_tmpfs(path: Path, size: str) -> bool:
    path.mkdir()
    try:
        res = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
            capture_output=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return res.returncode == 0


def test_a_real_full_disk_raises_keeps_the_points_and_succeeds_once_space_is_back(
    tmp_path: Path,
) -> None:
    small = tmp_path / "small"
    if not _mount_tmpfs(small, "4m"):
        pytest.skip("cannot mount a tmpfs here (needs root); the injected OSError tests cover it")
    try:
        store_path = small / "store"
        store = nt.set_store(str(store_path))
        run = nt.start_run(name="tmpfs")
        for step in range(100):
            run.log_metric("x", float(step), step=step)
        store.flush()
        filler = small / "filler"
        with open(filler, "wb") as fh, pytest.raises(OSError) as full:
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
        assert full.value.errno == errno.ENOSPC
        for step in range(100, 2000):
            run.log_metric("x", float(step) * 1.37, step=step)
        with pytest.raises(StoreError, match="No space left on device"):
            store.flush()
        assert temp_files(store_path) == []  # the failed write cleaned up after itself
        filler.unlink()
        run.end()
        store.flush()
        steps = _history_steps(run.id)
        assert steps == list(range(2000))
        assert nt.get_run(run.id).status == "FINISHED"
    finally:
        subprocess.run(["umount", "-l", str(small)], capture_output=True, timeout=30)


def test_a_dead_writer_on_another_host_reads_killed_once_its_lease_is_stale(
    store_path: Path,
) -> None:
    child = Child(store_path, "flusher")
    run_id = child.expect("run ").split()[1]
    child.expect("flushed")
    child.kill()
    (lease,) = (store_path / "_writers").iterdir()
    # Pretend the writer ran on another machine: only the lease's age can tell it died.
    body = json.loads(lease.read_text())
    body["host"] = "another-host.example"
    lease.write_text(json.dumps(body))
    nt.set_store(str(store_path))
    assert nt.get_run(run_id).status == "RUNNING"
    age([lease], 25.0)  # older than NBTRACK_DEAD_AFTER (20 s)
    assert nt.get_run(run_id).status == "KILLED"
    assert nt.search_runs()["status"].tolist() == ["KILLED"]
