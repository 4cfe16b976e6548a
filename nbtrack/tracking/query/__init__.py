"""The read side: runs, metrics and SQL as pandas DataFrames, through the DuckDB views.

Every read first flushes what this process has buffered (so a process always reads its own
writes), then takes a fresh snapshot of the store's files.

Modules
    This package's ``__init__`` is its door: the other layers (views, server, cli, mlflow,
    ipython) import the read API from ``nbtrack.tracking.query``. Inside, imports point
    downward only (an import-linter contract): :mod:`.run_search` (filter and order_by over
    the runs) uses :mod:`.runs` (one run by id; delete and restore) and :mod:`.order`
    (``order_by``); :mod:`.history` (metric points), :mod:`.artifacts` and
    :mod:`.user_sql` (``nt.sql``) stand beside them; all of them reach the store through
    :mod:`.reads`.
"""

from __future__ import annotations

from nbtrack.tracking.query.artifacts import list_artifacts, read_artifact
from nbtrack.tracking.query.history import get_metric_histories, get_metric_history
from nbtrack.tracking.query.run_search import (
    count_runs,
    list_experiments,
    resolve_run_ids,
    search_runs,
    tag_values,
)
from nbtrack.tracking.query.runs import (
    delete_run,
    full_run_id,
    get_run,
    restore_run,
    run_metrics,
    run_params,
    run_tags,
)
from nbtrack.tracking.query.user_sql import sql

__all__ = [
    "count_runs",
    "delete_run",
    "full_run_id",
    "get_metric_histories",
    "get_metric_history",
    "get_run",
    "list_artifacts",
    "list_experiments",
    "read_artifact",
    "resolve_run_ids",
    "restore_run",
    "run_metrics",
    "run_params",
    "run_tags",
    "search_runs",
    "sql",
    "tag_values",
]
