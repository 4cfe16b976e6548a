"""Helpers shared by the integration tests."""

from __future__ import annotations

from typing import Any

import nbtrack as nt


def run_inputs(run_id: str) -> list[Any]:
    """The input (dataset) records of a run."""
    from nbtrack.tracking import records, settings

    return records.run_inputs(settings.get_store(), run_id)


def only_run(**filters: Any) -> Any:
    """The one top-level run of the current experiment."""
    df = nt.search_runs()
    df = df[df.parent_run_id.isna()]
    assert len(df) == 1, df[["run_id", "name"]]
    return nt.get_run(df.run_id.iloc[0])


def history(run_id: str, key: str) -> list[tuple[int, float]]:
    """(step, value) pairs of one metric, in step order."""
    h = nt.get_metric_history(run_id, key).sort_values("step")
    return list(zip(h.step.astype(int).tolist(), h.value.astype(float).tolist(), strict=True))
