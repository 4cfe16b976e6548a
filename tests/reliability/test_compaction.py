"""Compaction converges: repeated compaction keeps every partition down to a few files."""

from __future__ import annotations

import os
import time
import warnings
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import nbtrack as nt
from nbtrack.errors import NbtrackWarning
from nbtrack.storage import compaction, merging, segments
from nbtrack.storage.schema import SCHEMAS, experiment_id
from nbtrack.storage.store import ParquetStore


def _visible(store: Any, table: str = "metrics") -> list[int]:
    return [len(p.visible) for p in store.snapshot().partitions.get(table, [])]


def _flushes(store: Any, run: nt.Run, start: int, n: int) -> None:
    for step in range(start, start + n):
        run.log_metric("x", float(step), step=step)
        store.flush()


def test_first_compaction_merges_every_small_file(store_path: Path) -> None:
    store = nt.set_store(str(store_path))
    with nt.start_run() as run:
        _flushes(store, run, 0, 5)
        assert _visible(store) == [5]
        compaction.compact(store)
        assert _visible(store) == [1]
    assert len(nt.get_metric_history(run.id, "x")) == 5


def test_compacting_again_merges_the_previous_compacted_file(store_path: Path) -> None:
    store = nt.set_store(str(store_path))
    with nt.start_run() as run:
        for round_ in range(3):
            _flushes(store, run, round_ * 3, 3)
            compaction.compact(store)
            assert _visible(store) == [1], f"round {round_}"
    assert len(nt.get_metric_history(run.id, "x")) == 9


def test_automatic_compaction_keeps_the_file_count_bounded(
    store_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NBTRACK_COMPACT_FILES", "4")
    store = nt.set_store(str(store_path))
    with nt.start_run() as run:
        for i in range(40):
            _flushes(store, run, i, 1)
            compaction.auto_compact(store)
        assert max(_visible(store)) <= 4, _visible(store)
    assert len(nt.get_metric_history(run.id, "x")) == 40


def _age_file(path: Path, seconds: float) -> None:
    old = time.time() - seconds
    os.utime(path, (old, old))


def test_gc_deletes_files_replaced_long_ago_even_while_compaction_continues(
    store_path: Path,
) -> None:
    store = nt.set_store(str(store_path))
    with nt.start_run() as run:
        _flushes(store, run, 0, 2)
        compaction.compact(store)
        folder = next((store_path / "metrics").glob("experiment_id=*"))
        first = sorted(folder.iterdir())
        # The first compaction and its parts happened an hour ago ...
        for f in first:
            _age_file(f, 3600)
        # ... and a new compaction just merged the old compacted file with a new segment.
        _flushes(store, run, 2, 1)
        compaction.compact(store)
    parts = [f for f in first if f.name.startswith("s-")]
    old_compacted = [f for f in first if f.name.startswith("c-")]
    assert len(parts) == 2
    assert len(old_compacted) == 1
    compaction.gc(store, only_expired=True)
    # Replaced an hour ago: past the grace, deleted. Replaced just now: kept for readers.
    assert [p.exists() for p in parts] == [False, False]
    assert old_compacted[0].exists()
    assert len(nt.get_metric_history(run.id, "x")) == 3


# ---- one unreadable file never becomes lost data (issue 9, item 1) ----------------------

POISON_MS = 2**62  # pyarrow writes it; DuckDB cannot turn it into a timestamp


def _good_runs(store: Any, n: int = 3, points: int = 10) -> dict[str, list[float]]:
    """``n`` finished runs, one metrics segment each; returns run id -> logged values."""
    logged = {}
    for i in range(n):
        with nt.start_run(name=f"good-{i}") as run:
            values = [float(100 * i + s) for s in range(points)]
            for s, v in enumerate(values):
                run.log_metric("x", v, step=s)
        store.flush()
        logged[run.id] = values
    return logged


def _poisoned_metrics(run_id: str) -> pa.Table:
    return pa.table(
        [
            pa.array([run_id, run_id]),
            pa.array(["x", "x"]),
            pa.array([1000, 1001], pa.int64()),
            pa.array([1_700_000_000_000, POISON_MS], pa.int64()).cast(pa.timestamp("ms", tz="UTC")),
            pa.array([-1.0, -2.0]),
        ],
        schema=SCHEMAS["metrics"],
    )


def _metrics_folder(store_path: Path) -> Path:
    return store_path / "metrics" / f"experiment_id={experiment_id('Default')}"


def _assert_every_good_point_reads(logged: dict[str, list[float]]) -> None:
    for run_id, values in logged.items():
        hist = nt.get_metric_history(run_id, "x")
        assert hist["value"].tolist() == values, run_id
        assert hist["step"].tolist() == list(range(len(values)))
    total = nt.sql("SELECT count(*) AS n, sum(value) AS s FROM metrics WHERE value >= 0")
    assert int(total["n"][0]) == sum(len(v) for v in logged.values())
    assert float(total["s"][0]) == sum(sum(v) for v in logged.values())


def test_compaction_never_merges_a_segment_duckdb_cannot_read(store_path: Path) -> None:
    store = nt.set_store(str(store_path))
    logged = _good_runs(store)
    folder = _metrics_folder(store_path)
    logged_segments = list(folder.iterdir())
    poisoned = folder / segments.segment_name(segments.SEGMENT_PREFIX, "wpoison00000", 1)
    pq.write_table(_poisoned_metrics(next(iter(logged))), poisoned)  # as pyarrow allows

    stats = compaction.compact(store)
    compaction.gc(store, only_expired=False)
    # Every good point survives compaction and gc, whatever else the partition holds.
    with pytest.warns(NbtrackWarning, match=poisoned.name):
        _assert_every_good_point_reads(logged)
    assert stats["unreadable"] == 1
    (merged,) = folder.glob("c-*.parquet")  # the three good segments, not the poisoned one
    assert segments.read_replaces(store.fs, str(merged)) == sorted(p.name for p in logged_segments)
    # The good segments are merged and gone; the poisoned one is left where it was.
    assert poisoned.exists()
    assert sorted(p.name[:2] for p in folder.iterdir()) == ["c-", "s-"]
    assert [p["path"] for p in compaction.doctor(store)] == [str(poisoned)]
    # ... also for a doctor that starts from nothing (as `nbtrack doctor` does).
    fresh = ParquetStore(str(store_path))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NbtrackWarning)
        problems = compaction.doctor(fresh)
    assert [p["path"] for p in problems] == [str(poisoned)]
    assert "unreadable" in problems[0]["problem"]


def test_gc_keeps_the_originals_of_a_compacted_file_duckdb_cannot_read(
    store_path: Path,
) -> None:
    store = nt.set_store(str(store_path))
    logged = _good_runs(store)
    folder = _metrics_folder(store_path)
    originals = sorted(p.name for p in folder.iterdir())
    # A compacted file that claims to replace them but holds a value DuckDB cannot read
    # (as an older nbtrack that merged with pyarrow wrote).
    merged = pa.concat_tables(
        [pq.read_table(folder / n, schema=SCHEMAS["metrics"]) for n in originals]
        + [_poisoned_metrics(next(iter(logged)))]
    )
    bad = folder / segments.segment_name(segments.COMPACTED_PREFIX, "wpoison00000", 2)
    bad.write_bytes(segments.encode("metrics", merged, originals))

    removed = compaction.gc(store, only_expired=False)
    assert removed["replaced"] == 0
    assert removed["unreadable"] == 1
    assert sorted(p.name for p in folder.iterdir()) == sorted([*originals, bad.name])
    with pytest.warns(NbtrackWarning, match=bad.name):
        _assert_every_good_point_reads(logged)
    assert str(bad) in [p["path"] for p in compaction.doctor(store)]


def test_a_compacted_file_duckdb_cannot_read_is_never_made_visible(
    store_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = nt.set_store(str(store_path))
    logged = _good_runs(store)
    write = merging.Merger._write

    def faulty_write(
        self: merging.Merger, table: str, paths: list[str], replaces: list[str], staged: str
    ) -> int:
        n = write(self, table, paths, replaces, staged)
        if table == "metrics":  # only the compacted metrics file gets a value DuckDB refuses
            rows = pa.concat_tables(
                [
                    pq.read_table(staged, schema=SCHEMAS["metrics"]),
                    _poisoned_metrics(next(iter(logged))),
                ]
            )
            Path(staged).write_bytes(segments.encode(table, rows, replaces))
            return n + 2
        return n

    monkeypatch.setattr(merging.Merger, "_write", faulty_write)
    folder = _metrics_folder(store_path)
    before = sorted(p.name for p in folder.iterdir())
    stats = compaction.compact(store)
    assert stats["merged_files"] > 0  # the other tables were compacted
    assert sorted(p.name for p in folder.iterdir()) == before
    compaction.gc(store, only_expired=False)
    _assert_every_good_point_reads(logged)
