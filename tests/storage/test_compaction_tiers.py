"""Size-tiered compaction: bounded write amplification, unchanged query results.

The process test (compaction beside a logging process) is in
``test_compaction_beside_logging.py``.
"""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest

import nbtrack as nt
from nbtrack.storage import compaction, merging, schema, segments, tiers
from nbtrack.storage.tiers import BASE_BYTES, Candidate, plan_merge, tier_of

KiB = 1024
MiB = 1024 * KiB


@pytest.fixture(autouse=True)
def _manual_compaction(monkeypatch: pytest.MonkeyPatch) -> None:
    # These tests run compaction themselves, at chosen moments.
    monkeypatch.setenv("NBTRACK_AUTO_COMPACT", "0")


# ---- the plan (pure) --------------------------------------------------------------------


def _files(*sizes: int) -> list[Candidate]:
    """Files in arrival order (positions 000, 001, ...)."""
    return [Candidate(f"s-{i:03d}", size, f"s-{i:03d}") for i, size in enumerate(sizes)]


def _names(plan: list[Candidate] | None) -> list[str] | None:
    return None if plan is None else [c.name for c in plan]


@pytest.mark.parametrize(
    ("size", "tier"),
    [
        pytest.param(0, 0, id="empty"),
        pytest.param(4 * BASE_BYTES - 1, 0, id="just-under-tier-1"),
        pytest.param(4 * BASE_BYTES, 1, id="tier-1"),
        pytest.param(16 * BASE_BYTES - 1, 1, id="just-under-tier-2"),
        pytest.param(16 * BASE_BYTES, 2, id="tier-2"),
        pytest.param(100 * MiB, 5, id="100MiB"),
    ],
)
def test_tier_is_log4_of_the_size_over_the_base(size: int, tier: int) -> None:
    assert tier_of(size) == tier


def test_a_tier_is_merged_only_once_it_holds_enough_files() -> None:
    small = 10 * KiB
    assert plan_merge(_files(*[small] * 3), min_files=4, budget=None) is None
    assert _names(plan_merge(_files(*[small] * 4), min_files=4, budget=None)) == [
        "s-000",
        "s-001",
        "s-002",
        "s-003",
    ]


def test_a_big_file_is_not_rewritten_for_a_few_new_segments() -> None:
    big = 20 * MiB  # tier 3
    # Explicit compaction (min_files=2, no budget): the small ones merge, the big one stays.
    plan = plan_merge(_files(big, 10 * KiB, 10 * KiB, 10 * KiB), min_files=2, budget=None)
    assert _names(plan) == ["s-001", "s-002", "s-003"]
    assert plan_merge(_files(big, 30 * KiB), min_files=2, budget=None) is None


def test_a_merge_never_spans_a_file_of_a_higher_tier() -> None:
    # Arrival order: 2 small, one 2 MiB flush (tier 2), 2 small. A merge of the four small
    # files would put rows on both sides of the big one in one file: never planned.
    sizes = (10 * KiB, 10 * KiB, 2 * MiB, 10 * KiB, 10 * KiB)
    assert _names(plan_merge(_files(*sizes), min_files=2, budget=None)) == ["s-000", "s-001"]
    assert plan_merge(_files(*sizes), min_files=3, budget=None) is None
    # The tier-2 window takes the stragglers along once it has enough tier-2 files.
    sizes = (10 * KiB, 2 * MiB, 10 * KiB, 2 * MiB, 3 * MiB, 2 * MiB)
    assert _names(plan_merge(_files(*sizes), min_files=4, budget=None)) == [
        "s-000",
        "s-001",
        "s-002",
        "s-003",
        "s-004",
        "s-005",
    ]


def test_automatic_compaction_stays_within_its_budget() -> None:
    budget = tiers.AUTO_BUDGET_BYTES
    # Four tier-3 files (5 MiB each) qualify, but 20 MiB exceeds the budget: left alone.
    assert plan_merge(_files(*[5 * MiB] * 4), min_files=4, budget=budget) is None
    assert plan_merge(_files(*[5 * MiB] * 4), min_files=4, budget=None) is not None
    # Over-budget tier 0: the oldest segments that fit are merged.
    plan = plan_merge(_files(*[200 * KiB] * 100), min_files=32, budget=budget)
    assert plan is not None
    assert sum(c.size for c in plan) <= budget
    assert _names(plan)[:2] == ["s-000", "s-001"]


# ---- write amplification, measured on a real store ----------------------------------------


def _replaces_of_every_compacted_file(store_path: Path) -> dict[str, list[str]]:
    out = {}
    for f in store_path.glob("metrics/*/c-*.parquet"):
        out[f.name] = segments.read_replaces(nt.set_store(str(store_path)).fs, str(f))
    return out


def _log_flushes(store: Any, run: nt.Run, rng: np.random.Generator, n: int, points: int) -> None:
    for _ in range(n):
        for v in rng.random(points):
            run.log_metric("loss", float(v))
        store.flush()


def test_each_point_is_rewritten_a_logarithmic_number_of_times(
    store_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NBTRACK_COMPACT_FILES", "4")
    # Only the explicit flushes below write segments: on a loaded machine the background
    # flusher (1 s) could otherwise cut one batch in two (49 segments instead of 48).
    monkeypatch.setenv("NBTRACK_FLUSH_INTERVAL", "3600")
    store = nt.set_store(str(store_path))
    rng = np.random.default_rng(1)
    written = 0
    with nt.start_run() as run:
        for _ in range(48):
            _log_flushes(store, run, rng, 1, 4000)  # ~30 KiB segments
            r = compaction.merge_due(store)
            written += r["bytes_written"] if r else 0
    flushed = {f.name: f.stat().st_size for f in store_path.glob("metrics/*/s-*.parquet")}
    assert len(flushed) == 48
    data = sum(flushed.values())
    # How many compacted files each flushed segment went into = times its rows were written
    # again (replaced files stay on disk for the gc grace, so every compacted file is here).
    rewrites = dict.fromkeys(flushed, 0)
    for parts in _replaces_of_every_compacted_file(store_path).values():
        for name in parts:
            if name in rewrites:
                rewrites[name] += 1
    levels = math.ceil(math.log(data / 10_000, 4))  # tiers the data spans, from ~10 KiB up
    assert max(rewrites.values()) <= levels + 1, (rewrites, levels)
    assert written <= (levels + 1) * data, (written, data)
    assert len(nt.get_metric_history(run.id, "loss")) == 48 * 4000


def test_a_big_compacted_file_survives_a_few_new_segments(
    store_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NBTRACK_COMPACT_FILES", "4")
    monkeypatch.setenv("NBTRACK_FLUSH_POINTS", "10000000")
    store = nt.set_store(str(store_path))
    rng = np.random.default_rng(2)
    with nt.start_run() as run:
        _log_flushes(store, run, rng, 2, 200_000)  # two ~1.5 MiB segments
        compaction.compact(store)
        (big,) = store_path.glob("metrics/*/c-*.parquet")
        assert tier_of(big.stat().st_size) >= 2
        for _ in range(3):
            _log_flushes(store, run, rng, 1, 100)  # a few new points, three segments
            compaction.merge_due(store)
            stats = compaction.compact(store)
            assert stats["merges"] <= 1
    visible = {f.name for p in store.snapshot().partitions["metrics"] for f in p.visible}
    assert big.name in visible  # never rewritten
    for parts in _replaces_of_every_compacted_file(store_path).values():
        assert big.name not in parts
    assert len(visible) == 2  # the big file and one merge of the small ones
    assert len(nt.get_metric_history(run.id, "loss")) == 400_300


# ---- query results never change ------------------------------------------------------------


def _everything() -> dict[str, Any]:
    """Every query result a user can see, in a comparable form."""
    runs = nt.search_runs(order_by=["attributes.run_id"])
    runs = runs.drop(columns=["duration_s"])  # grows with the clock for RUNNING runs
    out: dict[str, Any] = {"search_runs": runs.astype(str).to_dict("list")}
    for table, order in [
        ("metrics", "run_id, key, step, timestamp, value"),
        ("params", "run_id, key"),
        ("tags", "run_id, key"),
    ]:
        frame = nt.sql(f"SELECT * FROM {table} ORDER BY {order}")
        out[table] = json.dumps(frame.astype(str).to_dict("list"))
    return out


def _diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for name in before:
        if before[name] != after[name]:
            b, a = before[name], after[name]
            if isinstance(b, dict):
                out[name] = {k: (b[k], a.get(k)) for k in b if b[k] != a.get(k)}
            else:
                out[name] = name
    return out


def _random_history(store: Any, rng: random.Random) -> None:
    """Runs, params, tags and metrics over flushes of very different sizes, with points that
    tie on step and timestamp across flushes (so the arrival tie-break decides the latest)."""
    stamp = 1_700_000_000_000
    runs = [nt.start_run(name=f"r{i}", nested=True) for i in range(rng.randint(1, 3))]
    for i, run in enumerate(runs):
        run.log_params({"lr": 0.1 * (i + 1), "seed": i})
    for round_ in range(rng.randint(10, 16)):
        run = rng.choice(runs)
        if rng.random() < 0.2:
            # A big flush (a higher tier) between small ones, its last tie point newest.
            run.log_metrics({"big": 1.0}, step=round_)
            for s in range(rng.randint(40_000, 60_000)):
                run.log_metric("wave", float(rng.random()), step=s)
            run.log_metric("tie", float(round_), step=7, timestamp=stamp)
        else:
            for _ in range(rng.randint(1, 30)):
                run.log_metric("acc", rng.random())
                if rng.random() < 0.3:
                    # Same key, step and timestamp again: only arrival order tells the latest.
                    run.log_metric("tie", float(rng.randint(100, 1000)), step=7, timestamp=stamp)
        if rng.random() < 0.3:
            run.set_tag("phase", f"p{round_}")
        store.flush()
        if rng.random() < 0.4:
            before = _everything()
            if rng.random() < 0.5:
                compaction.merge_due(store)
            else:
                compaction.compact(store)
            after = _everything()
            assert after == before, (round_, _diff(before, after))
    for run in reversed(runs):
        run.end()


@pytest.mark.parametrize("seed", range(4))
def test_query_results_never_change_across_compaction(
    store_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    rng = random.Random(seed)
    monkeypatch.setenv("NBTRACK_COMPACT_FILES", str(rng.choice([2, 3, 4, 8])))
    monkeypatch.setenv("NBTRACK_FLUSH_POINTS", "10000000")
    store = nt.set_store(str(store_path))
    _random_history(store, rng)
    before = _everything()
    compaction.compact(store)
    compaction.gc(store, only_expired=False)
    assert _everything() == before
    # search_runs's metrics.* columns are the latest values (arrival order breaks ties).
    assert "metrics.tie" in nt.search_runs().columns


def test_small_segments_on_both_sides_of_a_bigger_flush_are_not_merged_together(
    store_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The latest "tie" point is in the big flush; merging the small segments around it into
    # one file would place the first one's rows after the big flush (arrival order broken).
    monkeypatch.setenv("NBTRACK_FLUSH_POINTS", "10000000")
    store = nt.set_store(str(store_path))
    stamp = 1_700_000_000_000
    rng = np.random.default_rng(3)
    with nt.start_run() as run:
        run.log_metric("tie", 1.0, step=7, timestamp=stamp)
        store.flush()
        for s, v in enumerate(rng.random(60_000)):
            run.log_metric("wave", float(v), step=s)
        run.log_metric("tie", 2.0, step=7, timestamp=stamp)
        store.flush()
        for i in range(3):
            run.log_metric("acc", float(i))
            store.flush()
        sizes = sorted(f.stat().st_size for f in store_path.glob("metrics/*/s-*.parquet"))
        assert tier_of(sizes[-1]) >= 1 > tier_of(sizes[-2])
        assert compaction.compact(store)["merges"] >= 1
    assert nt.search_runs()["metrics.tie"].tolist() == [2.0]


# ---- the merge itself ------------------------------------------------------------------------


def test_a_merged_file_missing_rows_is_never_made_visible(
    store_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = nt.set_store(str(store_path))
    with nt.start_run() as run:
        for step in range(4):
            run.log_metric("x", float(step), step=step)
            store.flush()
    write = merging.Merger._write

    def lossy_write(
        self: merging.Merger, table: str, paths: list[str], replaces: list[str], staged: str
    ) -> int:
        n = write(self, table, paths, replaces, staged)
        if table == "metrics":  # drop the last row: DuckDB's count and hash sum must differ
            rows = pq.read_table(staged, schema=schema.SCHEMAS["metrics"])
            Path(staged).write_bytes(segments.encode(table, rows.slice(0, len(rows) - 1), replaces))
        return n

    monkeypatch.setattr(merging.Merger, "_write", lossy_write)
    folder = next(store_path.glob("metrics/*"))
    before = sorted(p.name for p in folder.iterdir())
    compaction.compact(store)
    assert sorted(p.name for p in folder.iterdir()) == before  # no c- file, no temporary
    assert nt.get_metric_history(run.id, "x")["value"].tolist() == [0.0, 1.0, 2.0, 3.0]


def test_a_merged_file_keeps_arrival_order_and_names_what_it_replaces(store_path: Path) -> None:
    store = nt.set_store(str(store_path))
    with nt.start_run() as run:
        for i in range(3):
            run.log_metric("x", float(i), step=0, timestamp=1_700_000_000_000)
            store.flush()
        first = sorted(p.name for p in store_path.glob("metrics/*/s-*.parquet"))
        compaction.compact(store)
        run.log_metric("x", 3.0, step=0, timestamp=1_700_000_000_000)
        store.flush()
        compaction.compact(store)
    (newest,) = sorted(store_path.glob("metrics/*/c-*.parquet"))[-1:]
    replaces = segments.read_replaces(store.fs, str(newest))
    # Transitively: the first compacted file, its three parts and the fourth segment.
    assert set(first) <= set(replaces)
    assert len(replaces) == 5
    rows = pq.read_table(newest).column("value").to_pylist()
    assert rows == [0.0, 1.0, 2.0, 3.0]  # arrival order kept
    assert nt.search_runs()["metrics.x"].tolist() == [3.0]


# ---- where automatic compaction runs ----------------------------------------------------------


def test_automatic_compaction_of_a_local_store_merges_in_a_child_process(
    store_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NBTRACK_COMPACT_FILES", "3")
    store = nt.set_store(str(store_path))
    with nt.start_run() as run:
        for step in range(3):
            run.log_metric("x", float(step), step=step)
            store.flush()
        stats = compaction.auto_compact(store)
    assert stats is not None
    assert stats["merged_files"] == 3
    (merged,) = store_path.glob("metrics/*/c-*.parquet")
    # The compacted file carries another writer's id: the child process wrote it.
    assert store.writer_id not in merged.name
    assert nt.get_metric_history(run.id, "x")["value"].tolist() == [0.0, 1.0, 2.0]
    assert compaction.auto_compact(store) is None  # nothing due any more


def test_automatic_compaction_of_a_remote_store_merges_here_within_the_budget(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import fsspec

    monkeypatch.setenv("NBTRACK_COMPACT_FILES", "3")
    uri = f"memory://nbtrack-tiers-{random.randrange(1 << 30)}"
    store = nt.set_store(uri)
    fs = fsspec.filesystem("memory")
    try:
        with nt.start_run() as run:
            for step in range(3):
                run.log_metric("x", float(step), step=step)
                store.flush()
            stats = compaction.auto_compact(store)
        assert stats is not None
        assert stats["merged_files"] == 3
        names = [p.rsplit("/", 1)[-1] for p in fs.glob(f"{uri}/metrics/*/c-*.parquet")]
        assert len(names) == 1
        assert store.writer_id in names[0]  # merged in this process
        assert not fs.glob(f"{uri}/metrics/*/.*")  # no temporary file left behind
        (path,) = fs.glob(f"{uri}/metrics/*/c-*.parquet")
        with fs.open(path, "rb") as fh:
            assert pq.read_table(fh).column("value").to_pylist() == [0.0, 1.0, 2.0]
    finally:
        fs.rm(uri, recursive=True)
