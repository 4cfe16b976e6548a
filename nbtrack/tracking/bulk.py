"""Many runs at once, deleted runs included on request: search ids, then read their data.

``query.search_runs`` is the fast path over the live (not deleted) runs. MLflow's
``run_view_type`` also asks for deleted runs (``DELETED_ONLY``, ``ALL``), which every view
hides. Here the same relation names (``runs``, ``params``, ``tags``, ``latest_metrics``,
``inputs``) are rebuilt as CTEs over the raw records with a ``deleted`` flag, so the one
filter compiler (``filter.compile_filter``, subquery mode) and the one ORDER BY builder serve
every view type.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nbtrack.tracking import _clock
from nbtrack.tracking.filter import compile_filter
from nbtrack.tracking.query.order import order_sql, parse_order_by
from nbtrack.tracking.query.run_search import parse_filter_text

if TYPE_CHECKING:
    from nbtrack.storage import ParquetStore

ACTIVE_ONLY, DELETED_ONLY, ALL = "active", "deleted", "all"

_CTE = """
WITH _dl AS (
  SELECT run_id, deleted FROM _deletions_raw
  QUALIFY row_number() OVER (PARTITION BY run_id ORDER BY record_time DESC) = 1),
_last AS (
  SELECT * EXCLUDE (_file) FROM _runs_raw
  QUALIFY row_number() OVER (PARTITION BY run_id ORDER BY record_time DESC) = 1),
runs AS (
  SELECT a.run_id, a.experiment, a.name,
    CASE WHEN a.status = 'RUNNING' AND w.owner IS NOT NULL THEN 'KILLED' ELSE a.status END
      AS status,
    a.start_time,
    CASE WHEN a.status = 'RUNNING' AND w.owner IS NOT NULL THEN w.last_seen ELSE a.end_time END
      AS end_time,
    a.parent_run_id, a.description, coalesce(dl.deleted, false) AS deleted
  FROM _last a LEFT JOIN _dl dl USING (run_id) LEFT JOIN _dead_writers w ON a.owner = w.owner
  WHERE {deleted}),
params AS (
  SELECT run_id, key, arg_min(value, record_time) AS value FROM _params_raw
  WHERE run_id IN (SELECT run_id FROM runs) GROUP BY run_id, key),
tags AS (
  SELECT run_id, key, value FROM (
    SELECT run_id, key, value FROM _tags_raw WHERE run_id IN (SELECT run_id FROM runs)
    QUALIFY row_number() OVER (PARTITION BY run_id, key ORDER BY record_time DESC) = 1)
  WHERE value IS NOT NULL),
latest_metrics AS (
  SELECT run_id, key, max(step) AS step,
    arg_max(timestamp, [step, epoch_ms(timestamp)]) AS timestamp,
    arg_max(value, [step, epoch_ms(timestamp)]) AS value
  FROM _summary WHERE run_id IN (SELECT run_id FROM runs) GROUP BY run_id, key),
inputs AS (
  SELECT DISTINCT run_id, name, digest, source_type, source, schema, profile, context
  FROM _inputs_raw WHERE run_id IN (SELECT run_id FROM runs))
"""

_DELETED = {
    ACTIVE_ONLY: "NOT coalesce(dl.deleted, false)",
    DELETED_ONLY: "coalesce(dl.deleted, false)",
    ALL: "TRUE",
}


def _cte(view: str) -> str:
    if view not in _DELETED:
        raise ValueError(f"view must be one of {', '.join(_DELETED)}, got {view!r}")
    return _CTE.format(deleted=_DELETED[view])


def search_run_ids(
    store: ParquetStore,
    *,
    experiments: Sequence[str] | None,
    filter: str = "",
    order_by: Sequence[str] | str | None = None,
    max_results: int | None = None,
    view: str = ACTIVE_ONLY,
    mlflow_values: bool = False,
) -> list[str]:
    """Ids of the runs of ``experiments`` (None: all) matching ``filter``, ordered.

    Raises:
        FilterError: the filter or an order_by item is malformed.
    """
    node = parse_filter_text(filter)
    keys = parse_order_by(order_by)
    params: list[Any] = []
    clauses = []
    if experiments is not None:
        clauses.append("r.experiment IN (SELECT unnest(?::VARCHAR[]))")
        params.append(list(experiments))
    if node is not None:
        sql, fparams = compile_filter(node, alias="r", mlflow_values=mlflow_values)
        clauses.append(f"({sql})")
        params.extend(fparams)
    where = " AND ".join(clauses) or "TRUE"
    order_params: list[Any] = []
    order = order_sql(keys, lambda kind, key: _subquery(kind, key, order_params))
    sql = f"{_cte(view)} SELECT r.run_id FROM runs r WHERE {where} ORDER BY {order}"
    all_params = params + order_params
    if max_results is not None:
        sql += " LIMIT ?"
        all_params.append(max_results)
    t = store.query(sql, all_params)
    return t.column(0).to_pylist()


def _subquery(kind: str, key: str, params: list[Any]) -> str:
    rel = {"metrics": "latest_metrics", "params": "params", "tags": "tags"}[kind]
    # ORDER BY repeats the expression (missing/NaN rank, then value), so the key is a
    # quoted SQL string literal rather than a ``?`` parameter; quoting doubles any quote.
    literal = "'" + key.replace("'", "''") + "'"
    return f"(SELECT x.value FROM {rel} x WHERE x.run_id = r.run_id AND x.key = {literal})"


@dataclass
class RunRecord:
    """Everything about one run that MLflow's ``Run`` entity shows."""

    run_id: str
    experiment: str
    name: str | None
    status: str
    start_ms: int
    end_ms: int | None
    parent_run_id: str | None
    description: str | None
    deleted: bool
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, tuple[float, int, int]] = field(default_factory=dict)  # value, ts, step
    inputs: list[dict[str, Any]] = field(default_factory=list)


def read_runs(store: ParquetStore, run_ids: Sequence[str]) -> list[RunRecord]:
    """The runs with these ids (deleted ones too), in the order given; unknown ids skipped."""
    ids = list(run_ids)
    if not ids:
        return []
    cte = _cte(ALL)
    arg = [ids]
    sel = "WHERE run_id IN (SELECT unnest(?::VARCHAR[]))"
    base = store.query(
        f"{cte} SELECT run_id, experiment, name, status, epoch_ms(start_time) AS s, "
        f"epoch_ms(end_time) AS e, parent_run_id, description, deleted FROM runs {sel}",
        arg,
    )
    out: dict[str, RunRecord] = {}
    for r in base.to_pylist():
        out[r["run_id"]] = RunRecord(
            r["run_id"],
            r["experiment"],
            r["name"],
            r["status"],
            r["s"],
            r["e"],
            r["parent_run_id"],
            r["description"],
            bool(r["deleted"]),
        )
    for rel, attr in (("params", "params"), ("tags", "tags")):
        t = store.query(f"{cte} SELECT run_id, key, value FROM {rel} {sel}", arg)
        for rid, k, v in zip(*(t.column(i).to_pylist() for i in range(3)), strict=True):
            getattr(out[rid], attr)[k] = v
    t = store.query(
        f"{cte} SELECT run_id, key, value, epoch_ms(timestamp), step FROM latest_metrics {sel}",
        arg,
    )
    for rid, k, v, ts, step in zip(*(t.column(i).to_pylist() for i in range(5)), strict=True):
        out[rid].metrics[k] = (v, ts, step)
    t = store.query(f"{cte} SELECT * FROM inputs {sel} ORDER BY name, digest", arg)
    for row in t.to_pylist():
        out[row.pop("run_id")].inputs.append(row)
    return [out[i] for i in ids if i in out]


def metric_points(store: ParquetStore, run_id: str) -> list[tuple[str, int, int, float]]:
    """Every point of a run, deleted runs included: (key, step, timestamp_ms, value)."""
    t = store.query(
        "SELECT key, step, epoch_ms(timestamp), value FROM _metrics_raw WHERE run_id = ? "
        "ORDER BY key, step, timestamp",
        [run_id],
    )
    return list(zip(*(t.column(i).to_pylist() for i in range(4)), strict=True))


def artifact_index(store: ParquetStore, run_id: str) -> dict[str, str]:
    """Artifact path -> sha256 of a run, deleted runs included."""
    t = store.query(
        "SELECT path, sha256 FROM _artifacts_raw WHERE run_id = ? "
        "QUALIFY row_number() OVER (PARTITION BY path ORDER BY record_time DESC) = 1",
        [run_id],
    )
    return dict(zip(t.column(0).to_pylist(), t.column(1).to_pylist(), strict=True))


def search_records(
    store: ParquetStore,
    *,
    experiments: Sequence[str] | None,
    filter: str = "",
    order_by: Sequence[str] | str | None = None,
    max_results: int | None = None,
    view: str = ACTIVE_ONLY,
) -> list[dict[str, Any]]:
    """Matching runs as rows with ``search_runs``' columns, plus ``deleted``, ordered.

    Plain Python values straight from DuckDB (no pandas): the CLI's table reads these, and
    ``search_runs(deleted=...)`` turns them into a DataFrame. Times are aware UTC
    datetimes; a running run's duration runs to now.

    Raises:
        FilterError: the filter or an order_by item is malformed.
    """
    # One snapshot for the search and the reads: each ``store.query`` would list the
    # store's files again (most of this function's time on a store of small segments).
    with store.reading() as reading:
        ids = search_run_ids(
            reading,  # type: ignore[arg-type]
            experiments=experiments,
            filter=filter,
            order_by=order_by,
            max_results=max_results,
            view=view,
        )
        records = read_runs(reading, ids)  # type: ignore[arg-type]
    now_ms = time.time() * 1000
    out = []
    for r in records:
        end_ms = r.end_ms if r.end_ms is not None or r.status != "RUNNING" else now_ms
        row: dict[str, Any] = {
            "run_id": r.run_id,
            "experiment": r.experiment,
            "name": r.name,
            "status": r.status,
            "start_time": _clock.utc_from_ms(r.start_ms),
            "end_time": _clock.utc_from_ms(r.end_ms),
            "duration_s": (end_ms - r.start_ms) / 1000 if end_ms is not None else None,
            "parent_run_id": r.parent_run_id,
            "description": r.description,
            "deleted": r.deleted,
        }
        row.update({f"params.{k}": v for k, v in sorted(r.params.items())})
        row.update({f"metrics.{k}": v[0] for k, v in sorted(r.metrics.items())})
        row.update({f"tags.{k}": v for k, v in sorted(r.tags.items())})
        out.append(row)
    return out
