"""One rule for the latest metric value, with an arrival-order tie-break (issue 9, item 6).

Latest = highest step; among equal steps the newest timestamp; among equal step and
timestamp the point logged last. Arrival order in the store is file order (flush files by
name, a compacted file at the newest flush file it replaces) and then row order in a file.
"""

from __future__ import annotations

from typing import Any

import pytest

import nbtrack as nt
from nbtrack.storage import compaction

T = 1_700_000_000_000  # ms


def _latest_everywhere(run_id: str) -> dict[str, Any]:
    """The latest value of ``x`` through every read path that reports one."""
    wide = nt.search_runs(experiment="*")
    row = wide[wide["run_id"] == run_id].iloc[0]
    from nbtrack.tracking import settings

    view = (
        settings.get_store()
        .query(f"SELECT value FROM latest_metrics WHERE run_id = '{run_id}' AND key = 'x'")
        .to_pandas()
    )
    return {
        "get_run": nt.get_run(run_id).metrics["x"],
        "search_runs": row["metrics.x"],
        "latest_metrics": view["value"][0],
    }


def _agree(run_id: str, expected: float) -> None:
    assert _latest_everywhere(run_id) == dict.fromkeys(
        ("get_run", "search_runs", "latest_metrics"), expected
    )
    hits = nt.search_runs(experiment="*", filter=f"metrics.x = {expected}")
    assert run_id in set(hits["run_id"])


@pytest.mark.parametrize(
    "flush_between", [pytest.param(False, id="one-flush"), pytest.param(True, id="a-flush-each")]
)
@pytest.mark.parametrize(
    "compact", [pytest.param(False, id="as-flushed"), pytest.param(True, id="compacted")]
)
def test_equal_step_and_timestamp_the_last_logged_wins(
    store: Any, flush_between: bool, compact: bool
) -> None:
    with nt.start_run() as run:
        # Other keys and steps around, so the tied points are not alone in their files.
        for step in range(5):
            run.log_metrics({"a": float(step), "b": -float(step)}, step=step)
        for value in (1.0, 2.0, 3.0, 4.0):
            run.log_metric("x", value, step=7, timestamp=T)
            run.log_metric("x", -value, step=6, timestamp=T + 10)  # lower step: never latest
            if flush_between:
                store.flush()
    if compact:
        compaction.compact(store)
        compaction.gc(store, only_expired=False)
    _agree(run.id, 4.0)


def test_a_tie_between_a_compacted_file_and_a_later_flush_goes_to_the_flush(store: Any) -> None:
    with nt.start_run() as run:
        for value in (1.0, 2.0):
            run.log_metric("x", value, step=3, timestamp=T)
            store.flush()
        compaction.compact(store)
        _agree(run.id, 2.0)
        run.log_metric("x", 5.0, step=3, timestamp=T)
        store.flush()
        _agree(run.id, 5.0)
        compaction.compact(store)  # the compacted file now merges the old one and the flush
        compaction.gc(store, only_expired=False)
        _agree(run.id, 5.0)
        run.log_metric("x", 6.0, step=3, timestamp=T)
    _agree(run.id, 6.0)


def test_the_newest_timestamp_beats_arrival_order_and_the_highest_step_beats_both(
    store: Any,
) -> None:
    with nt.start_run() as run:
        run.log_metric("x", 10.0, step=2, timestamp=T + 5)
        store.flush()
        run.log_metric("x", 20.0, step=2, timestamp=T)  # later, but an older timestamp
        _agree(run.id, 10.0)
        run.log_metric("x", 30.0, step=1, timestamp=T + 99)  # newer, but a lower step
        _agree(run.id, 10.0)
        run.log_metric("x", 40.0, step=3, timestamp=T - 99)  # the highest step
    _agree(run.id, 40.0)
    compaction.compact(store)
    compaction.gc(store, only_expired=False)
    _agree(run.id, 40.0)
