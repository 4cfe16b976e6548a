"""Metric histories: every logged point of a run's metrics."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from nbtrack.tracking import lookup
from nbtrack.tracking.query.reads import current_store, fetch_run_row, run_sql, to_pandas

if TYPE_CHECKING:
    import pandas as pd

    from nbtrack.storage.protocol import Store

__all__ = ["get_metric_histories", "get_metric_history"]


def get_metric_history(run_id: str, key: str, *, store: Store | None = None) -> pd.DataFrame:
    """Every logged point of one metric of one run.

    Args:
        run_id: The run's id or a unique prefix of it (at least 6 characters).
        key: The metric key, e.g. ``"loss"``.
        store: The store to read; the current one when None.

    Returns:
        A DataFrame with columns ``step``, ``value``, ``timestamp`` (UTC), sorted by step,
        then time.

    Raises:
        RunNotFoundError: no run has this id, or it is deleted.
        AmbiguousRunIdError: the prefix matches several runs.
        MetricNotFoundError: the run has ended (FINISHED or FAILED) without logging
            ``key`` (the message lists the keys it has and suggests the closest). A RUNNING
            run that has not logged ``key`` yet, or a KILLED one whose writer died before
            its points were flushed, gives an empty frame instead.

    Example:
        >>> nt.get_metric_history(run.run_id, "loss").tail(2)  # doctest: +SKIP
            step     value                        timestamp
        98    98  0.010101 2026-11-30 20:41:54.120000+00:00
        99    99  0.010000 2026-11-30 20:41:54.121000+00:00
    """
    from nbtrack.tracking.series import sorted_points

    st = current_store(store)
    t = sorted_points(run_id, key, st)  # the store's query raises StoreError
    if t.num_rows == 0:
        row = fetch_run_row(run_id, st)  # unknown/deleted runs raise here
        full = row["run_id"]
        if full != run_id:  # a prefix
            t = sorted_points(full, key, st)
        # A running run may not have logged the key yet (a reader polling it), and a killed
        # run may have lost its last points with its writer: empty, not a typo.
        if t.num_rows == 0 and row["status"] not in ("RUNNING", "KILLED"):
            keys = (
                run_sql("SELECT DISTINCT key FROM latest_metrics WHERE run_id = ?", [full], st)
                .column(0)
                .to_pylist()
            )
            raise lookup.missing_metric(full, key, keys)
    return to_pandas(t)


def get_metric_histories(
    run_ids: Sequence[str], keys: Sequence[str] | None = None, *, store: Store | None = None
) -> pd.DataFrame:
    """Points of many runs and keys: columns run_id, key, step, timestamp, value."""
    params: list[Any] = [list(run_ids)]
    sql = "SELECT run_id, key, step, timestamp, value FROM metrics WHERE run_id IN (SELECT unnest(?::VARCHAR[]))"
    if keys is not None:
        sql += " AND key IN (SELECT unnest(?::VARCHAR[]))"
        params.append(list(keys))
    sql += " ORDER BY run_id, key, step, timestamp"
    return to_pandas(run_sql(sql, params, store))
