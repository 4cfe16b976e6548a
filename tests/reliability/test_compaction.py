"""Compaction converges: repeated compaction keeps every partition down to a few files."""

from __future__ import annotations

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
