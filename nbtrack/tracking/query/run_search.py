"""Searching runs: the filter and order_by applied over the read model, as frames or Arrow."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from nbtrack.errors import FilterError, NbtrackError, QueryError
from nbtrack.storage.reader import quote_ident
from nbtrack.tracking import lookup
from nbtrack.tracking.filter import Node, compile_filter, parse_filter, referenced_keys
from nbtrack.tracking.filter.sql import RELATIONS
from nbtrack.tracking.query.order import OrderKey, order_sql, parse_order_by
from nbtrack.tracking.query.reads import current_store, experiment_names, run_sql
from nbtrack.tracking.query.runs import full_run_id
from nbtrack.tracking.run import Run

if TYPE_CHECKING:
    import pandas as pd

    from nbtrack.storage.protocol import Reading, Store

__all__ = [
    "RUN_COLUMNS",
    "count_runs",
    "list_experiments",
    "parse_filter_text",
    "resolve_run_ids",
    "search_runs",
    "search_table",
    "tag_values",
    "where_sql",
]

RUN_COLUMNS = (
    "run_id",
    "experiment",
    "name",
    "status",
    "start_time",
    "end_time",
    "duration_s",
    "parent_run_id",
    "description",
)


def parse_filter_text(filter: str | None) -> Node | None:
    if filter is None:  # MLflow accepts filter_string=None
        return None
    if not isinstance(filter, str):
        raise FilterError(f"filter must be a string, got {type(filter).__name__}", "", 0)
    return parse_filter(filter)


def where_sql(
    experiment: str | Sequence[str] | None,
    node: Node | None,
    params: list[Any],
    wide: dict[str, list[str]] | None = None,
) -> str:
    """WHERE text over ``runs r`` (and, with ``wide``, the ``_wide`` table ``w``)."""
    clauses = []
    exps = experiment_names(experiment)
    if exps is not None:
        clauses.append("r.experiment IN (SELECT unnest(?::VARCHAR[]))")
        params.append(exps)
    if node is not None:
        sql, fparams = compile_filter(node, alias="r", wide=wide)
        clauses.append(f"({sql})")
        params.extend(fparams)
    return " AND ".join(clauses) if clauses else "TRUE"


def search_runs(
    experiment: str | Sequence[str] | None = None,
    filter: str | None = "",
    order_by: Sequence[str] | str | None = None,
    max_results: int | None = None,
    *,
    store: Store | None = None,
) -> pd.DataFrame:
    """Runs matching ``filter`` as a wide DataFrame, newest first by default.

    Columns: run_id, experiment, name, status, start_time, end_time, duration_s,
    parent_run_id, description, then ``params.<k>``, ``metrics.<k>`` (latest value) and
    ``tags.<k>`` for every key that at least one matching run has.

    Raises:
        FilterError: the filter or an order_by item is malformed (with the position).
    """
    if max_results is not None and (
        isinstance(max_results, bool) or not isinstance(max_results, int) or max_results < 0
    ):
        raise QueryError(f"max_results must be a non-negative integer, got {max_results!r}")
    node = parse_filter_text(filter)  # malformed input fails before the store is touched
    order_keys = parse_order_by(order_by)
    st = current_store(store)
    # One snapshot for both reads: another thread may install a newer one meanwhile.
    with st.reading() as reading:
        table = search_table(reading, experiment, node, order_keys, max_results)
    return table.to_pandas()


def search_table(
    reading: Reading,
    experiment: str | Sequence[str] | None,
    node: Node | None,
    order_keys: list[OrderKey] | None,
    max_results: int | None,
    offset: int = 0,
) -> pa.Table:
    """Matching runs as an Arrow table: attributes, then a column per param/metric/tag key
    that at least one of them has (``search_runs`` and the paged REST search share it).

    Raises:
        ExperimentNotFoundError: an experiment named explicitly does not exist.
    """
    lookup.check_experiments(
        reading, experiment_names(experiment) if experiment is not None else None
    )
    attrs = _search_locked(reading, experiment, node, order_keys, max_results, offset)
    wide = reading.wide(attrs.column("run_id").combine_chunks())
    return pa.Table.from_arrays(
        [*attrs.columns, *wide.columns], names=[*attrs.column_names, *wide.column_names]
    )


def _search_locked(
    reading: Reading,
    experiment: str | Sequence[str] | None,
    node: Node | None,
    order_keys: list[OrderKey] | None,
    max_results: int | None,
    offset: int = 0,
) -> pa.Table:
    """The matching runs' attributes, ordered and limited (the filter runs as semi-joins
    on the long tables, so its cost does not grow with the number of keys)."""
    params: list[Any] = []
    joins: list[str] = []
    join_params: list[Any] = []

    def column_of(kind: str, key: str) -> str | None:
        alias = f"o{len(joins)}"
        joins.append(
            f"LEFT JOIN (SELECT run_id, value FROM {RELATIONS[kind]} WHERE key = ?) {alias} "
            f"ON {alias}.run_id = r.run_id"
        )
        join_params.append(key)
        return f"{alias}.value"

    order = order_sql(order_keys, column_of)
    # The filter reads one column per key it names, from a small wide relation built for
    # this search only (the keys a filter names are few, however long it is). A key no run
    # has is a column of NULLs there: the same result as leaving it out, without asking
    # the read model for every key of the store first.
    wide: dict[str, list[str]] = {"params": [], "metrics": [], "tags": []}
    for kind, key in sorted(referenced_keys(node)):
        if kind in wide:  # (attributes are columns of ``runs``)
            wide[kind].append(key)
    wide_sql, wide_params = _filter_columns(wide)
    where = where_sql(experiment, node, params, wide)
    cols = ", ".join("r." + c for c in RUN_COLUMNS)
    query = (
        f"SELECT {cols} FROM runs r {' '.join(joins)} LEFT JOIN ({wide_sql}) w "
        f"ON w.run_id = r.run_id WHERE {where} ORDER BY {order}"
    )
    all_params = join_params + wide_params + params
    if max_results is not None:
        query += " LIMIT ?"
        all_params.append(max_results)
    if offset:
        query += " OFFSET ?"
        all_params.append(offset)
    return reading.query(query, all_params)


def _filter_columns(wide: dict[str, list[str]]) -> tuple[str, list[Any]]:
    """SQL of a relation ``(run_id, "<kind>.<key>" ...)`` for the given keys, and its params."""
    selects, params = [], []
    for kind, keys in wide.items():
        if not keys:
            continue
        if len(keys) == 1:
            # One row per run and key already (each relation's current state is unique on
            # (run_id, key)): no pivot needed, and the aggregation was half the search.
            selects.append(
                f"SELECT run_id, value AS {quote_ident(kind + '.' + keys[0])} "
                f"FROM {RELATIONS[kind]} WHERE key = ?"
            )
            params.append(keys[0])
            continue
        aggs = ", ".join(
            f"any_value(value) FILTER (WHERE key = ?) AS {quote_ident(kind + '.' + k)}"
            for k in keys
        )
        params.extend(keys)
        # Constants (not a subquery), so a metrics file read in place is scanned for these
        # keys only (Parquet filter pushdown).
        marks = ", ".join("?" for _ in keys)
        selects.append(
            f"SELECT run_id, {aggs} FROM {RELATIONS[kind]} WHERE key IN ({marks}) GROUP BY run_id"
        )
        params.extend(keys)
    if not selects:
        return "SELECT NULL::VARCHAR AS run_id LIMIT 0", []
    sql = f"SELECT * FROM ({selects[0]})"
    for other in selects[1:]:
        sql += f" FULL OUTER JOIN ({other}) USING (run_id)"
    return sql, params


def count_runs(
    experiment: str | Sequence[str] | None = None,
    filter: str | None = "",
    *,
    store: Store | None = None,
) -> int:
    params: list[Any] = []
    where = where_sql(experiment, parse_filter_text(filter), params)
    t = run_sql(f"SELECT count(*) AS n FROM runs r WHERE {where}", params, store)
    return int(t.column(0)[0].as_py())


def list_experiments(*, store: Store | None = None) -> list[str]:
    """Names of the experiments that hold at least one (not deleted) run, sorted.

    Args:
        store: The store to read; the current one when None.

    Returns:
        The experiment names.

    Example:
        >>> nt.list_experiments()  # doctest: +SKIP
        ['Default', 'mnist']
    """
    t = run_sql("SELECT DISTINCT experiment FROM runs ORDER BY experiment", None, store)
    return [x for x in t.column(0).to_pylist() if x is not None]


def tag_values(
    experiment: str | Sequence[str] | None = None, *, store: Store | None = None
) -> dict[str, list[str]]:
    """Every tag key in the experiment(s) with its distinct values (sorted)."""
    params: list[Any] = []
    where = where_sql(experiment, None, params)
    t = run_sql(
        "SELECT t.key, list(DISTINCT t.value ORDER BY t.value) AS vals FROM tags t "
        f"JOIN runs r ON r.run_id = t.run_id WHERE {where} GROUP BY t.key ORDER BY t.key",
        params,
        store,
    )
    return dict(zip(t.column(0).to_pylist(), t.column(1).to_pylist(), strict=True))


def resolve_run_ids(runs: Any, *, store: Store | None = None) -> list[str]:
    """Run ids from a list of ids, a list of Run objects, a search_runs DataFrame or a filter."""
    if runs is None:
        return []
    if isinstance(runs, str):
        df = search_runs(experiment="*", filter=runs, store=store)
        return list(df["run_id"])
    if isinstance(runs, Run):
        return [runs.run_id]
    if hasattr(runs, "columns") and "run_id" in getattr(runs, "columns", ()):
        return [str(x) for x in runs["run_id"]]
    if isinstance(runs, Iterable):
        out = []
        for item in runs:
            if isinstance(item, Run):
                out.append(item.run_id)
            elif isinstance(item, str):
                # A full id is taken as is (no lookup); a shorter text may be a prefix.
                is_full = len(item) >= 32
                out.append(item if is_full else full_run_id(item, store=store))
            else:
                raise NbtrackError(
                    f"runs must be run ids, Run objects, a search_runs DataFrame or a filter; "
                    f"got an item of type {type(item).__name__}"
                )
        return out
    raise NbtrackError(
        "runs must be run ids, Run objects, a search_runs DataFrame or a filter string; "
        f"got {type(runs).__name__}"
    )
