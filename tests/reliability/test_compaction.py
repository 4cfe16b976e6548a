"""Compaction converges: repeated compaction keeps every partition down to a few files."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

import nbtrack as nt
from nbtrack.storage import compaction


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
