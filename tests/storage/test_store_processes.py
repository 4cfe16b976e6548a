"""Real processes: many writers at once, compaction under load, a writer killed mid-run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

import nbtrack as nt
from tests.conftest import python_env

WRITER = textwrap.dedent(
    """
    import sys, threading
    import nbtrack as nt
    proc, threads, points = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])

    def work(t):
        with nt.start_run(name=f"p{proc}-t{t}", params={"proc": proc, "thread": t},
                          tags={"group": "even" if t % 2 == 0 else "odd"}) as run:
            for i in range(points):
                run.log_metric("loss", i / points)
                if i % 100 == 0:
                    run.log_metrics({"a": i, "b": -i})
            run.set_tag("done", "yes")

    ts = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for t in ts: t.start()
    for t in ts: t.join()
    """
)

COMPACTOR = textwrap.dedent(
    """
    import sys, time, os
    from nbtrack.tracking import maintenance
    stop = sys.argv[1]
    while not os.path.exists(stop):
        maintenance.compact()
        time.sleep(0.05)
    maintenance.compact()
    """
)


def _spawn(code: str, args: list[str], store: Path, **env: str) -> subprocess.Popen[bytes]:
    e = python_env(store)
    e.update(env)
    return subprocess.Popen([sys.executable, "-c", code, *args], env=e, stderr=subprocess.PIPE)


@pytest.mark.slow
def test_four_processes_four_threads_and_a_compactor_lose_nothing(store_path, tmp_path):
    procs, threads, points = 4, 4, 3000
    stop = tmp_path / "stop"
    compactor = _spawn(COMPACTOR, [str(stop)], store_path, NBTRACK_GC_GRACE="0.5")
    writers = [
        _spawn(
            WRITER,
            [str(p), str(threads), str(points)],
            store_path,
            NBTRACK_FLUSH_INTERVAL="0.05",
            NBTRACK_AUTO_COMPACT="0",
        )
        for p in range(procs)
    ]
    counts_seen: list[int] = []
    while any(w.poll() is None for w in writers):
        counts_seen.append(int(nt.sql("SELECT count(*) AS n FROM metrics")["n"][0]))
        time.sleep(0.05)
    for w in writers:
        assert w.wait(120) == 0, w.stderr.read().decode() if w.stderr else ""
    stop.touch()
    assert compactor.wait(120) == 0, compactor.stderr.read().decode() if compactor.stderr else ""
    # Counts read while writers and the compactor ran never went down (no double counting,
    # no vanishing points mid-compaction).
    assert counts_seen == sorted(counts_seen)

    n_runs = procs * threads
    per_run = points + points // 100 * 2
    df = nt.search_runs()
    assert len(df) == n_runs
    assert set(df["status"]) == {"FINISHED"}
    assert set(df["tags.done"]) == {"yes"}
    assert nt.sql("SELECT count(*) AS n FROM metrics")["n"][0] == n_runs * per_run
    dup = nt.sql(
        "SELECT count(*) AS n FROM (SELECT run_id, key, step, count(*) c FROM metrics "
        "GROUP BY ALL HAVING c > 1)"
    )["n"][0]
    assert dup == 0
    for _, row in df.iterrows():
        hist = nt.get_metric_history(row["run_id"], "loss")
        assert list(hist["step"]) == list(range(points))
    assert len(nt.search_runs(filter="tags.group = 'even' AND params.proc >= 2")) == 4
    # Compaction happened: far fewer metric files than flushes.
    files = list((store_path / "metrics").rglob("*.parquet"))
    assert len(files) < 40


def test_compaction_changes_no_query_result(store, monkeypatch):
    # Explicit compaction only: the background compactor would race this test for the work.
    monkeypatch.setenv("NBTRACK_AUTO_COMPACT", "0")
    for i in range(40):
        with nt.start_run(params={"i": i}, tags={"k": str(i % 3)}) as r:
            r.log_metrics({"m": i, "n": -i}, step=0)
            r.log_metric("m", i + 0.5, step=1)
        store.flush()  # a segment per run, so compaction has work to do
    nt.delete_run(r.run_id)

    def snapshot() -> list[str]:
        return [
            nt.search_runs(order_by=["params.i ASC"])
            .drop(columns=["duration_s"])
            .to_json(date_format="iso"),
            nt.sql("SELECT * FROM metrics ORDER BY ALL").to_json(date_format="iso"),
            nt.sql("SELECT * FROM tags ORDER BY ALL").to_json(),
        ]

    before = snapshot()
    from nbtrack.tracking import maintenance

    stats = maintenance.compact()
    assert stats["merged_files"] > 0
    assert snapshot() == before
    os.environ["NBTRACK_GC_GRACE"] = "0"
    try:
        removed = maintenance.gc()
    finally:
        del os.environ["NBTRACK_GC_GRACE"]
    assert removed["replaced"] > 0
    assert snapshot() == before


def test_automatic_compaction_bounds_the_file_count(store_path, monkeypatch):
    monkeypatch.setenv("NBTRACK_COMPACT_FILES", "8")
    monkeypatch.setenv("NBTRACK_FLUSH_INTERVAL", "0.05")
    nt.set_store(str(store_path))
    for _ in range(60):
        with nt.start_run():
            pass
        time.sleep(0.01)
    assert len(nt.search_runs()) == 60
    from nbtrack.tracking.settings import get_store

    # The flusher compacts in the background; give it a moment on a loaded machine.
    deadline = time.time() + 20
    while True:
        snap = get_store().catalog.snapshot()
        visible = sum(len(p.visible) for p in snap.partitions["runs"])
        if visible <= 10 or time.time() > deadline:
            break
        time.sleep(0.1)
    assert visible <= 10
    assert len(nt.search_runs()) == 60


CRASHER = textwrap.dedent(
    """
    import sys, time
    import nbtrack as nt
    run = nt.start_run(name="doomed")
    print(run.id, flush=True)
    i = 0
    while True:
        run.log_metric("x", i)
        i += 1
        if i % 1000 == 0:
            time.sleep(0.01)
    """
)


def test_sigkilled_writer_keeps_flushed_points_and_reads_killed(store_path):
    proc = subprocess.Popen(
        [sys.executable, "-c", CRASHER],
        env={**python_env(store_path), "NBTRACK_FLUSH_INTERVAL": "0.1"},
        stdout=subprocess.PIPE,
    )
    assert proc.stdout is not None
    run_id = proc.stdout.readline().decode().strip()
    deadline = time.time() + 60
    while time.time() < deadline:
        df = nt.sql("SELECT count(*) AS n FROM metrics")
        if df["n"][0] > 5000:
            break
        time.sleep(0.1)
    # Look at the store through plain DuckDB right before the kill: what was flushed.
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    run = nt.get_run(run_id)
    assert run.status == "KILLED"
    hist = nt.get_metric_history(run_id, "x")
    n = len(hist)
    assert n > 5000
    # Every flushed point is there, in order, with no gaps or duplicates.
    assert list(hist["step"]) == list(range(n))
    assert list(hist["value"]) == [float(i) for i in range(n)]
    assert nt.search_runs()["status"].tolist() == ["KILLED"]
    # The store still opens in a fresh process.
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import nbtrack as nt, json; df = nt.search_runs(); "
            "print(json.dumps(df['status'].tolist()))",
        ],
        env=python_env(store_path),
        capture_output=True,
        check=True,
    )
    assert json.loads(out.stdout) == ["KILLED"]


def test_clean_exit_finishes_open_runs_and_flushes_everything(store_path):
    code = "import nbtrack as nt\nr = nt.start_run()\nfor i in range(12345): nt.log_metric('x', i)\nprint(r.id)"
    out = subprocess.run(
        [sys.executable, "-c", code], env=python_env(store_path), capture_output=True, check=True
    )
    run_id = out.stdout.decode().strip()
    assert nt.get_run(run_id).status == "FINISHED"
    assert len(nt.get_metric_history(run_id, "x")) == 12345


def test_uncaught_exception_at_exit_marks_run_failed(store_path):
    code = "import nbtrack as nt\nr = nt.start_run()\nprint(r.id, flush=True)\nnt.log_metric('x', 1)\nraise SystemError('boom')"
    out = subprocess.run(
        [sys.executable, "-c", code], env=python_env(store_path), capture_output=True
    )
    assert out.returncode == 1
    run_id = out.stdout.decode().strip()
    assert nt.get_run(run_id).status == "FAILED"
    assert nt.get_run(run_id).metrics == {"x": 1.0}


def test_plain_duckdb_reads_the_store_as_documented(store):
    for i in range(5):
        with nt.start_run(params={"i": i}) as r:
            for s in range(10):
                r.log_metric("loss", s * i)
        store.flush()  # one segment per run, so compaction has work to do
    from nbtrack.tracking import maintenance

    maintenance.compact()  # leaves replaced files on disk during the grace period
    root = str(store.fs.root)
    con = duckdb.connect()
    con.execute(
        f"SET VARIABLE files = (SELECT list(file ORDER BY file) FROM glob('{root}/metrics/*/*.parquet'))"
    )
    exact = con.sql(
        """
        WITH replaced AS (
          SELECT DISTINCT regexp_replace(file_name, '[^/]*$', '')
                 || unnest(CAST(json(decode(value)) AS VARCHAR[])) AS path
          FROM parquet_kv_metadata(getvariable('files'))
          WHERE decode(key) = 'nbtrack.replaces'
        )
        SELECT count(*), sum(value), count(DISTINCT experiment_id)
        FROM read_parquet(getvariable('files'), hive_partitioning = true, filename = true)
        WHERE filename NOT IN (SELECT path FROM replaced)
        """
    ).fetchall()[0]
    assert exact == (50, float(sum(s * i for i in range(5) for s in range(10))), 1)
    naive = con.sql(f"SELECT count(*) FROM read_parquet('{root}/metrics/*/*.parquet')").fetchall()[
        0
    ][0]
    assert naive > 50  # why the documented query matters
