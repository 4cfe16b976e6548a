"""Load: many writer processes and threads, a compactor and a searcher on one store.

CI scale: 4 processes x 2 threads x 2,000 points, paced over a few seconds so that
compactions and searches interleave with the writes. ``NBTRACK_FULL_RELIABILITY=1`` runs
the size of issue 6: 8 processes x 4 threads x 25,000 points. Results are printed (run
pytest with ``-s``) and recorded in docs/reliability.md.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from _reliability import FULL, Child, files_under

import nbtrack as nt
from nbtrack.storage import compaction

if FULL:
    PROCS, THREADS, POINTS, PACE = 8, 4, 25_000, 0.0
else:
    PROCS, THREADS, POINTS, PACE = 4, 2, 2_000, 6.0

GRACE = 15.0  # NBTRACK_GC_GRACE: replaced files stay this long for readers mid-scan


@pytest.mark.slow
def test_parallel_writers_compactor_and_searcher_lose_and_duplicate_nothing(
    store_path: Path, tmp_path: Path
) -> None:
    env = {"NBTRACK_GC_GRACE": str(GRACE), "NBTRACK_COMPACT_FILES": "16"}
    stop = tmp_path / "stop"
    report_file = tmp_path / "search-report.json"
    t0 = time.monotonic()
    comp = Child(store_path, "compactor", stop, **env)
    search = Child(store_path, "searcher", stop, report_file, **env)
    comp.expect("ready")
    search.expect("ready")
    writers = [Child(store_path, "writer", p, THREADS, POINTS, PACE, **env) for p in range(PROCS)]
    run_ids: dict[str, str] = {}
    for w in writers:
        for _ in range(THREADS):
            _, rid, name = w.expect("run ").split()
            run_ids[rid] = name
    for w in writers:
        assert w.wait(timeout=1800) == 0, w.stderr()
    write_s = time.monotonic() - t0
    stop.touch()
    assert search.wait(timeout=600) == 0, search.stderr()
    assert comp.wait(timeout=600) == 0, comp.stderr()
    compacted = json.loads(comp.expect("compacted").split(" ", 1)[1])
    report = json.loads(report_file.read_text())

    # Every search during the run saw a consistent snapshot.
    assert report["n_violations"] == 0, report["violations"]
    assert report["reads"] >= 3, report
    assert compacted["merged_files"] > 0, compacted

    # Afterwards: every point exactly once, params and tags complete, runs FINISHED.
    nt.set_store(str(store_path))
    counts = nt.sql(
        "SELECT run_id, count(*) AS n, count(DISTINCT step) AS d, min(step) AS lo, "
        "max(step) AS hi, sum(value) AS s FROM metrics WHERE key = 'x' GROUP BY run_id"
    )
    assert sorted(counts["run_id"]) == sorted(run_ids)
    assert set(counts["n"]) == {POINTS}
    assert set(counts["d"]) == {POINTS}
    assert set(counts["lo"]) == {0}
    assert set(counts["hi"]) == {POINTS - 1}
    assert set(counts["s"]) == {POINTS * (POINTS - 1) / 2}
    total = int(nt.sql("SELECT count(*) AS n FROM metrics")["n"][0])
    assert total == len(run_ids) * (POINTS + 2)
    runs = nt.search_runs(experiment="*")
    assert len(runs) == PROCS * THREADS
    assert set(runs["status"]) == {"FINISHED"}
    assert set(runs["tags.progress"]) == {"done"}
    assert set(runs["params.points"]) == {str(POINTS)}
    for rid, name in run_ids.items():
        row = runs[runs["run_id"] == rid].iloc[0]
        assert row["name"] == name
        assert f"p{row['params.proc']}-t{row['params.thread']}" == name
        assert row["metrics.final/a"] == 1.0
        assert row["metrics.final/b"] == 2.0

    # File count stays bounded: the files a reader sees per partition stay few while
    # writing (compaction keeps up), and once the writers stop a compaction and gc leave
    # one file per partition. (Files on disk while compaction runs continuously are not
    # bounded today: core bug, see test_compaction.py::test_gc_deletes_...)
    max_files = report["max_files"]
    max_visible = report["max_visible_per_partition"]
    assert max_visible <= 64, max_visible
    store = nt.set_store(str(store_path))
    compaction.compact(store)
    compaction.gc(store, only_expired=False)
    snap = store.snapshot()
    n_partitions = 0
    for table, parts in snap.partitions.items():
        for part in parts:
            n_partitions += 1
            assert len(part.visible) == 1, (table, part.folder, len(part.visible))
    parquet = [f for f in files_under(store_path) if f.endswith(".parquet")]
    assert len(parquet) == n_partitions
    after = nt.sql("SELECT count(*) AS n, count(DISTINCT (run_id, key, step)) AS d FROM metrics")
    assert int(after["n"][0]) == int(after["d"][0]) == total
    print(
        f"\nload: {PROCS} procs x {THREADS} threads x {POINTS:,} points = "
        f"{len(run_ids) * POINTS:,} points in {write_s:.1f} s; "
        f"{report['reads']} snapshot reads + {report['searches']} searches, 0 violations; "
        f"compactor: {compacted['rounds']} rounds, {compacted['merged_files']} files merged; "
        f"max files on disk {max_files} (metrics {report['max_metric_files']}), max visible "
        f"per partition {max_visible}; "
        f"after compact+gc {len(parquet)} parquet files"
    )
