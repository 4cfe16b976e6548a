"""The views' only door to the store: thin calls into ``nbtrack.tracking.query``.

Views never import ``nbtrack.storage``. Keeping every read in this module makes the
seam obvious and lets widgets take a ``source`` object with the same methods.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from nbtrack.tracking import query

RUN_ATTRIBUTES = ("run_id", "experiment", "name", "status", "start_time", "end_time", "duration_s")


def search_runs(experiment: str | Sequence[str] | None = None, filter: str = "") -> pd.DataFrame:
    """Runs of ``experiment`` matching ``filter`` (raises ``FilterError`` when malformed)."""
    return query.search_runs(experiment=experiment, filter=filter)


def count_runs(experiment: str | Sequence[str] | None = None, filter: str = "") -> int:
    """How many runs match (raises ``FilterError`` when malformed)."""
    return query.count_runs(experiment=experiment, filter=filter)


def tag_values(experiment: str | Sequence[str] | None = None) -> dict[str, list[str]]:
    """Tag keys present in the experiment, each with its distinct values."""
    return query.tag_values(experiment=experiment)


def metric_histories(run_ids: Sequence[str], keys: Sequence[str] | None = None) -> pd.DataFrame:
    """Every point of the given runs and keys: run_id, key, step, timestamp, value."""
    if not run_ids:
        return pd.DataFrame(columns=["run_id", "key", "step", "timestamp", "value"])
    return query.get_metric_histories(list(run_ids), keys=list(keys) if keys is not None else None)


def runs_frame(runs: Any) -> pd.DataFrame:
    """Return the ``search_runs`` rows of ``runs``, in the order given.

    Args:
        runs: Run ids, ``Run`` objects, a ``search_runs`` DataFrame (returned as is)
            or a filter string (searched across every experiment).

    Returns:
        One row per run that exists (deleted or unknown ids are dropped).
    """
    if isinstance(runs, pd.DataFrame) and "run_id" in runs.columns:
        return runs.reset_index(drop=True)
    if isinstance(runs, str):
        return query.search_runs(experiment="*", filter=runs)
    ids = query.resolve_run_ids(runs)
    if not ids:
        return query.search_runs(experiment="*", filter="attributes.run_id IN ('')")
    quoted = ", ".join(quote(i) for i in dict.fromkeys(ids))
    frame = query.search_runs(experiment="*", filter=f"attributes.run_id IN ({quoted})")
    position = {rid: i for i, rid in enumerate(dict.fromkeys(ids))}
    frame = frame.assign(_order=frame["run_id"].map(position)).sort_values("_order", kind="stable")
    return frame.drop(columns="_order").reset_index(drop=True)


def quote(value: object) -> str:
    """Quote a value for the filter grammar: single quotes, an inner quote doubled."""
    return "'" + str(value).replace("'", "''") + "'"
