"""Core integrity (issue 9): nothing logged is lost, hidden or late.

Each test reproduces something seen on the old core: a bad record destroying a whole flush,
a run invisible for seconds behind a tight loop, a fork deadlocking or ending its parent's
run, the user's random state drawn from, exit codes ignored, a writable handle on another
process's run, a malformed setting killing the flusher, liveness by hostname alone, and
stores leaking threads, connections and temp folders. Children are plain ``python -c``
processes; every wait is on a state (a printed line, a file, a run visible), never a sleep.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from _reliability import child_env

import nbtrack as nt
from nbtrack.errors import (
    ActiveRunError,
    ConfigError,
    InvalidValueError,
    NbtrackWarning,
    ParamConflictError,
    ReadOnlyRunError,
)
from nbtrack.tracking import settings

TIMEOUT = 120


def _python(store: Path, code: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=child_env(store, **env),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )


def _wait_for(predicate, what: str, timeout: float = TIMEOUT):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


# ---- one bad record never hides or destroys other data ---------------------------------


def test_a_record_that_cannot_be_encoded_is_set_aside_and_every_other_record_is_written(
    store,
) -> None:
    ended = nt.start_run(name="ended-before")
    ended.log_params({"lr": 0.1})
    ended.log_metric("loss", 0.5, step=0)
    # Bypass validation, as a bug elsewhere could: records that cannot be encoded land in
    # the same flush as good records of two runs (one ended, one still open).
    open_run = nt.start_run(name="open", nested=True)
    open_run.log_metric("acc", 0.9, step=0)
    eid = open_run._experiment_id
    store.add_record("params", eid, (open_run.id, "path", "data/\udcff.csv", time.time_ns()))
    open_run._mb.append("acc", 1, 2**62, 1.0)
    with pytest.warns(NbtrackWarning, match=r"2 record\(s\) could not be stored"):
        open_run.end()
    ended.end()
    assert [r.table for r in store.rejected] == ["params", "metrics"]
    assert nt.get_run(ended.id).params == {"lr": "0.1"}
    assert nt.get_run(ended.id).metrics == {"loss": 0.5}
    assert list(nt.get_metric_history(open_run.id, "acc")["value"]) == [0.9]
    assert nt.get_run(open_run.id).status == "FINISHED"
    # Every file on disk reads in DuckDB (nothing poisoned was written).
    assert len(nt.sql("SELECT * FROM metrics")) == 2


def test_bad_values_are_refused_at_the_call_before_anything_is_written(run) -> None:
    with pytest.raises(InvalidValueError, match="outside years 1-9999"):
        run.log_metric("loss", 1.0, timestamp=2**62)
    with pytest.raises(InvalidValueError, match="not valid Unicode"):
        run.log_params({"ok": 1, "path": "data/\udcff.csv"})
    with pytest.raises(nt.ArtifactError, match="contains"):
        run.log_text("x", "a*b?.txt")
    run.end()
    got = nt.get_run(run.id)
    assert got.params == {}
    assert got.metrics == {}
    assert nt.list_artifacts(run.id) == []


def test_no_raw_duckdb_or_unicode_error_escapes_the_cli(store_path: Path) -> None:
    nt.set_store(str(store_path))
    with nt.start_run() as r:
        r.log_metric("x", 1.0)
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "nbtrack",
            "--store",
            str(store_path),
            "sql",
            "SELECT * FROM no_such_table",
        ],
        env=child_env(store_path),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert out.returncode == 1
    assert out.stderr.startswith("nbtrack: error:"), out.stderr
    assert "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


# ---- end_run is a durability point; start_run is visible at once ----------------------


def test_a_run_is_visible_to_another_process_when_start_run_returns_even_in_a_tight_loop(
    store_path: Path,
) -> None:
    stop = store_path.parent / "stop-tight-loop"
    code = f"""
        import os, sys, nbtrack as nt
        run = nt.start_run(name="tight")
        print("started", run.id, flush=True)
        i = 0
        while not os.path.exists({str(stop)!r}):
            nt.log_metric("x", float(i))
            i += 1
        run.end()
    """
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=child_env(store_path, NBTRACK_FLUSH_INTERVAL="1"),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().split()
        assert line[0] == "started", line
        run_id = line[1]
        nt.set_store(str(store_path))
        # No wait at all: the start record is on disk when start_run returns.
        found = nt.search_runs(experiment="*")
        assert list(found["run_id"]) == [run_id]
        assert list(found["status"]) == ["RUNNING"]
        # Points arrive while the loop still runs (the flusher is not starved).
        _wait_for(lambda: len(nt.get_metric_history(run_id, "x")) > 0, "points of the loop")
        assert proc.poll() is None
    finally:
        stop.touch()
        proc.wait(timeout=TIMEOUT)


def test_ending_a_run_writes_it_before_returning_so_plain_duckdb_sees_it(store_path: Path) -> None:
    import duckdb

    nt.set_store(str(store_path))
    store = settings.get_store()
    with nt.start_run(name="durable", params={"a": 1}) as r:
        for step in range(50):
            r.log_metric("loss", 1.0 / (step + 1), step=step)
    # Nothing is left for the flusher: the run's records are under their final names.
    assert store.buffer.is_empty()
    con = duckdb.connect()
    rows = con.sql(
        f"SELECT count(*) FROM read_parquet('{store_path}/metrics/*/*.parquet')"
    ).fetchall()
    assert rows == [(50,)]
    status = con.sql(
        f"SELECT status FROM read_parquet('{store_path}/runs/*/*.parquet') "
        "ORDER BY record_time DESC LIMIT 1"
    ).fetchall()
    assert status == [("FINISHED",)]


# ---- fork safety -------------------------------------------------------------------------


def test_a_fork_pool_started_right_after_start_run_does_not_deadlock(store_path: Path) -> None:
    # The old flusher imported pyarrow in its thread; a fork in that window left the child
    # waiting forever on the import lock. Repeat to cover many fork moments.
    code = """
        import multiprocessing as mp, nbtrack as nt

        def work(i):
            import pyarrow.parquet, duckdb  # the modules the flusher uses
            return i * i

        if __name__ == "__main__":
            for attempt in range(5):
                with nt.start_run(name=f"a{attempt}") as run:
                    for i in range(20000):
                        nt.log_metric("x", float(i))
                    with mp.get_context("fork").Pool(2) as pool:
                        assert pool.map(work, range(8)) == [i * i for i in range(8)]
            print("ok", flush=True)
    """
    out = _python(store_path, code, NBTRACK_FLUSH_INTERVAL="0.01")
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "ok"
    nt.set_store(str(store_path))
    runs = nt.search_runs(experiment="*")
    assert sorted(runs["name"]) == [f"a{i}" for i in range(5)]
    assert set(runs["status"]) == {"FINISHED"}


def test_a_forked_child_logs_into_its_parents_run_but_never_ends_it(store_path: Path) -> None:
    code = """
        import os, sys, nbtrack as nt
        run = nt.start_run(name="parent")
        run.log_metric("parent", 1.0, step=0)
        pid = os.fork()
        if pid == 0:
            run.log_metric("child", 2.0, step=0)
            sys.exit(0)  # a normal exit: atexit handlers run in the child
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        print(nt.get_run(run.id).status, flush=True)
        run.log_metric("parent", 3.0, step=1)
        run.end()
        print(run.id, flush=True)
    """
    out = _python(store_path, code)
    assert out.returncode == 0, out.stderr[-2000:]
    status_after_child, run_id = out.stdout.split()
    assert status_after_child == "RUNNING"
    nt.set_store(str(store_path))
    got = nt.get_run(run_id)
    assert got.status == "FINISHED"
    assert got.metrics == {"child": 2.0, "parent": 3.0}


# ---- the user's random state ---------------------------------------------------------------


def test_tracking_never_draws_from_the_global_random_state(store_path: Path) -> None:
    code = """
        import random, json, nbtrack as nt
        import numpy as np
        random.seed(1234)
        np.random.seed(1234)
        with nt.start_run() as run:      # the first run of the process
            nt.log_metric("x", 1.0)
        with nt.start_run():
            pass
        print(json.dumps([random.random(), float(np.random.random())]))
    """
    out = _python(store_path, code)
    assert out.returncode == 0, out.stderr[-2000:]
    import random

    import numpy as np

    random.seed(1234)
    np.random.seed(1234)
    assert json.loads(out.stdout) == [random.random(), float(np.random.random())]


# ---- run status at exit ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ending", "status"),
    [
        pytest.param("pass", "FINISHED", id="clean-exit"),
        pytest.param("sys.exit(0)", "FINISHED", id="sys.exit(0)"),
        pytest.param("sys.exit()", "FINISHED", id="sys.exit()"),
        pytest.param("sys.exit(3)", "FAILED", id="sys.exit(3)"),
        pytest.param("sys.exit('bad input')", "FAILED", id="sys.exit(message)"),
        pytest.param("raise RuntimeError('boom')", "FAILED", id="uncaught-exception"),
    ],
)
def test_an_open_run_is_ended_at_exit_with_the_right_status(
    store_path: Path, ending: str, status: str
) -> None:
    code = f"""
        import sys, nbtrack as nt
        run = nt.start_run()
        print(run.id, flush=True)
        {ending}
    """
    out = _python(store_path, code)
    run_id = out.stdout.split()[0]
    nt.set_store(str(store_path))
    assert nt.get_run(run_id).status == status


def test_a_bad_status_leaves_the_run_active_so_end_run_still_ends_it(store) -> None:
    run = nt.start_run()
    with pytest.raises(InvalidValueError, match="EXPLODED"):
        nt.end_run(status="EXPLODED")
    assert nt.active_run() is run
    assert run.status == "RUNNING"
    nt.end_run()
    assert nt.get_run(run.id).status == "FINISHED"
    with pytest.raises(InvalidValueError):
        run.end("EXPLODED")


# ---- time --------------------------------------------------------------------------------


def test_a_naive_datetime_timestamp_is_local_time(run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        naive = _dt.datetime(2024, 7, 1, 12, 0, 0)
        run.log_metric("m", 1.0, step=0, timestamp=naive)
        run.end()
        got = nt.get_metric_history(run.id, "m")["timestamp"][0]
        # 12:00 in New York (EDT, UTC-4) is 16:00 UTC, as naive.timestamp() says.
        assert got.to_pydatetime() == _dt.datetime(2024, 7, 1, 16, 0, tzinfo=_dt.timezone.utc)
        assert int(got.timestamp() * 1000) == int(naive.timestamp() * 1000)
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


# ---- another process's run: read-only handle, explicit resume ----------------------------


def test_get_run_of_a_run_owned_by_another_process_is_read_only(store_path: Path) -> None:
    stop = store_path.parent / "stop-owner"
    code = f"""
        import os, time, nbtrack as nt
        run = nt.start_run(name="elsewhere", params={{"lr": 0.1}})
        run.log_metric("x", 1.0, step=0)
        run._store.flush()
        print("run", run.id, flush=True)
        while not os.path.exists({str(stop)!r}):
            time.sleep(0.05)
        run.end()
    """
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=child_env(store_path),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        run_id = proc.stdout.readline().split()[1]
        nt.set_store(str(store_path))
        handle = nt.get_run(run_id)
        assert handle.status == "RUNNING"
        assert handle.is_read_only
        with pytest.raises(ReadOnlyRunError, match=r"start_run\(run_id=\.\.\.\)"):
            handle.log_metric("x", 5.0)
        with pytest.raises(ReadOnlyRunError):
            handle.log_params({"lr": 0.2})
        with pytest.raises(ActiveRunError, match="RUNNING in another live process"):
            nt.start_run(run_id=run_id)
    finally:
        stop.touch()
        proc.wait(timeout=TIMEOUT)
    assert nt.get_metric_history(run_id, "x")["value"].tolist() == [1.0]


def test_start_run_with_run_id_resumes_steps_and_keeps_params(store) -> None:
    with nt.start_run(name="first", params={"lr": 0.1}) as r:
        for _ in range(3):
            nt.log_metric("loss", 1.0)
    with pytest.raises(ParamConflictError, match="keeps its params"):
        nt.start_run(run_id=r.id, params={"lr": 0.2})
    assert nt.get_run(r.id).status == "FINISHED"  # the refused resume wrote nothing
    with nt.start_run(run_id=r.id, params={"lr": 0.1, "epochs": 5}) as again:
        assert again.id == r.id and again.name == "first"
        assert nt.get_run(r.id).status == "RUNNING"
        nt.log_metric("loss", 0.5)
        with pytest.raises(ParamConflictError):
            nt.log_param("lr", 0.3)
    got = nt.get_run(r.id)
    assert got.status == "FINISHED"
    assert got.params == {"epochs": "5", "lr": "0.1"}
    assert nt.get_metric_history(r.id, "loss")["step"].tolist() == [0, 1, 2, 3]
    with pytest.raises(nt.RunNotFoundError):
        nt.start_run(run_id="0" * 32)


# ---- settings, liveness, resources ----------------------------------------------------------


def test_a_malformed_flush_interval_is_a_clear_error_at_start_run(store_path: Path) -> None:
    code = """
        import nbtrack as nt
        try:
            nt.start_run()
        except nt.ConfigError as exc:
            print("ConfigError:", exc)
    """
    for bad in ("abc", "0", "-1", "nan"):
        out = _python(store_path, code, NBTRACK_FLUSH_INTERVAL=bad)
        assert out.returncode == 0, out.stderr[-2000:]
        assert out.stdout.startswith(f"ConfigError: NBTRACK_FLUSH_INTERVAL={bad!r}"), out.stdout


def test_a_setting_broken_while_running_does_not_stop_the_flusher(
    store, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = nt.start_run()
    monkeypatch.setenv("NBTRACK_FLUSH_INTERVAL", "abc")
    from nbtrack import config

    with pytest.raises(ConfigError):
        config.check()
    run.log_metric("x", 1.0, step=0)
    store.wake_flusher()
    _wait_for(lambda: store.buffer.is_empty(), "the flusher to write the point")
    assert store.background.is_running()
    run.end()


def test_liveness_checks_pids_only_inside_the_same_pid_namespace(store) -> None:
    from nbtrack.storage import liveness as store_mod

    dead_pid = 2**22 + 12345  # above pid_max: no such process
    leases = store.fs.join("_writers")
    os.makedirs(leases, exist_ok=True)
    same = {
        "host": store_mod.HOST,
        "boot_id": store_mod.BOOT_ID,
        "pid_ns": store_mod.PID_NS,
        "pid": dead_pid,
        "pid_start": None,
    }
    other_ns = {**same, "pid_ns": "pid:[1]"}
    for owner, body in (("wsame", same), ("wother", other_ns)):
        with open(os.path.join(leases, f"{owner}.json"), "w") as fh:
            json.dump(body, fh)
    dead = store._dead_writers(["wsame", "wother"])
    # Same namespace: the pid is checked and is gone. Another namespace (a container with
    # the same hostname): its pids mean nothing here; the fresh heartbeat says alive.
    assert "wsame" in dead
    assert "wother" not in dead


def test_stores_left_behind_keep_no_thread_connection_or_temp_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tempfile

    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    baseline = threading.active_count()
    for i in range(10):
        nt.set_store(str(tmp_path / f"store-{i}"))
        with nt.start_run() as r:
            r.log_metric("x", 1.0)
        assert len(nt.search_runs()) == 1  # opens the DuckDB connection and temp folder
    nt.set_store(str(tmp_path / "last"))

    def settled() -> bool:
        return threading.active_count() <= baseline + 1

    _wait_for(settled, "idle flusher threads to exit")
    assert len(list(scratch.glob("nbtrack-duck-*"))) <= 1


def test_the_cli_turns_an_unexpected_error_into_one_line(store_path: Path) -> None:
    nt.set_store(str(store_path))
    with nt.start_run():
        pass
    (store_path / "format.json").write_text("[1, 2]")  # valid JSON, not the expected object
    out = subprocess.run(
        [sys.executable, "-m", "nbtrack", "--store", str(store_path), "runs", "list"],
        env=child_env(store_path),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert out.returncode == 1
    assert out.stderr.startswith("nbtrack: error: unexpected"), out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    assert "NBTRACK_DEBUG=1" in out.stderr
