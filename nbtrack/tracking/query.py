"""The read side: runs, metrics and SQL as pandas DataFrames, through the DuckDB views.

Every read first flushes what this process has buffered (so a process always reads its own
writes), then takes a fresh snapshot of the store's files.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa

from nbtrack.errors import (
    ArtifactError,
    FilterError,
    NbtrackError,
    QueryError,
    RunNotFoundError,
    StoreError,
)
from nbtrack.storage.reader import quote_ident
from nbtrack.tracking import _clock, lookup, settings
from nbtrack.tracking.filter import Node, compile_filter, parse_filter, referenced_keys
from nbtrack.tracking.run import Run, owned_run

if TYPE_CHECKING:
    import pandas as pd

    from nbtrack.storage.protocol import Reading, Store
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
_ATTRIBUTES = {
    "run_id": "run_id",
    "experiment": "experiment",
    "name": "name",
    "run_name": "name",
    "status": "status",
    "start_time": "start_time",
    "end_time": "end_time",
    "duration_s": "duration_s",
    "duration": "duration_s",
    "parent_run_id": "parent_run_id",
    # MLflow's spellings
    "run name": "name",
    "created": "start_time",
}
# MLflow keeps these attributes as system tags; ordering by the tag orders by the attribute.
_SYSTEM_TAGS = {"mlflow.runName": "name", "mlflow.parentRunId": "parent_run_id"}
_ORDER_RE = re.compile(
    r"""^\s*(?:(?P<tick>`?)(?P<kind>metrics?|params?|parameters?|tags?|attributes?|attr|run)(?P=tick)\.)?
        (?P<key>`(?:[^`]|``)+`|"(?:[^"]|"")+"|[\w.\-/:]+)
        (?:\s+(?P<dir>ASC|DESC))?\s*$""",
    re.IGNORECASE | re.VERBOSE,
)


def _store(store: Store | None) -> Store:
    return store if store is not None else settings.get_store()


def _run(sql: str, params: list[Any] | None = None, store: Store | None = None) -> pa.Table:
    st = _store(store)
    try:
        return st.query(sql, params)
    except duckdb.Error as exc:
        raise StoreError(f"reading the store failed: {exc}") from exc


def _to_pandas(table: pa.Table) -> pd.DataFrame:
    return table.to_pandas()


def _experiments(experiment: str | Sequence[str] | None) -> list[str] | None:
    """None means every experiment."""
    if experiment is None:
        return [settings.current_experiment()]
    if isinstance(experiment, str):
        return None if experiment == "*" else [experiment]
    names = list(experiment)
    if "*" in names:
        return None
    return names


@dataclass(frozen=True)
class _OrderKey:
    """One parsed ``order_by`` item: a wide-table column kind and key, or an attribute."""

    kind: str  # "metrics", "params", "tags" or "attributes"
    key: str  # for attributes: the ``runs`` column
    direction: str  # "ASC" or "DESC"


def _parse_order_by(order_by: Sequence[str] | str | None) -> list[_OrderKey] | None:
    """Parsed ``order_by`` items (MLflow's syntax: ``metrics.loss DESC``, ``created``).

    Raises:
        FilterError: an item is malformed, names an unknown attribute, or repeats a field.
    """
    if order_by is None:
        return None
    if isinstance(order_by, str):
        order_by = [order_by]
    out: list[_OrderKey] = []
    for item in order_by:
        m = _ORDER_RE.match(item or "") if isinstance(item, str) else None
        if not m:
            raise FilterError(
                f"cannot read order_by {item!r}; write e.g. 'metrics.loss ASC' or "
                "'attributes.start_time DESC'",
                item if isinstance(item, str) else "",
                0,
            )
        kind = (m.group("kind") or "attributes").lower()
        key = m.group("key")
        if key[0] in '`"':
            key = key[1:-1].replace(key[0] * 2, key[0])
        plural = {"metric": "metrics", "param": "params", "parameter": "params", "tag": "tags"}.get(
            kind.rstrip("s"), "attributes"
        )
        if plural == "tags" and key in _SYSTEM_TAGS:
            plural, key = "attributes", _SYSTEM_TAGS[key]
        if plural == "attributes":
            col = _ATTRIBUTES.get(key.lower())
            if col is None:
                raise FilterError(
                    f"unknown attribute {key!r} in order_by; use one of "
                    + ", ".join(sorted(set(_ATTRIBUTES))),
                    item,
                    m.start("key"),
                )
            key = col
        if any(k.kind == plural and k.key == key for k in out):
            raise FilterError(f"order_by names {plural}.{key} twice: {list(order_by)!r}", item, 0)
        out.append(_OrderKey(plural, key, (m.group("dir") or "ASC").upper()))
    return out


def order_sql(keys: list[_OrderKey] | None, column_of: Callable[[str, str], str | None]) -> str:
    """ORDER BY text over ``runs r``, with MLflow's rules.

    ``column_of(kind, key)`` gives the SQL of a metric/param/tag value (None: no run has it).
    Missing values sort last in both directions, and NaN metrics just before them (as
    MLflow's SQL store); params and tags order as text. Ties go newest first (start time
    descending, unless ordered by start time), then by run id.
    """
    parts = []
    by_start = False
    for k in keys or []:
        if k.kind == "attributes":
            expr = f"r.{k.key}"
            by_start = by_start or k.key == "start_time"
        else:
            col = column_of(k.kind, k.key)
            if col is None:
                continue  # no run has this key: ordering by it changes nothing
            expr = col
        if k.kind == "metrics":
            parts.append(f"CASE WHEN {expr} IS NULL THEN 2 WHEN isnan({expr}) THEN 1 ELSE 0 END")
        else:
            parts.append(f"CASE WHEN {expr} IS NULL THEN 1 ELSE 0 END")
        parts.append(f"{expr} {k.direction}")
    if not by_start:
        parts.append("r.start_time DESC")
    parts.append("r.run_id ASC")
    return ", ".join(parts)


def _parse(filter: str | None) -> Node | None:
    if filter is None:  # MLflow accepts filter_string=None
        return None
    if not isinstance(filter, str):
        raise FilterError(f"filter must be a string, got {type(filter).__name__}", "", 0)
    return parse_filter(filter)


def _where(
    experiment: str | Sequence[str] | None,
    node: Node | None,
    params: list[Any],
    wide: dict[str, list[str]] | None = None,
) -> str:
    """WHERE text over ``runs r`` (and, with ``wide``, the ``_wide`` table ``w``)."""
    clauses = []
    exps = _experiments(experiment)
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
    node = _parse(filter)  # malformed input fails before the store is touched
    order_keys = _parse_order_by(order_by)
    st = _store(store)
    # One snapshot for both reads: another thread may install a newer one meanwhile.
    with st.reading() as reading:
        table = search_table(reading, experiment, node, order_keys, max_results)
    return table.to_pandas()


def search_table(
    reading: Reading,
    experiment: str | Sequence[str] | None,
    node: Node | None,
    order_keys: list[_OrderKey] | None,
    max_results: int | None,
    offset: int = 0,
) -> pa.Table:
    """Matching runs as an Arrow table: attributes, then a column per param/metric/tag key
    that at least one of them has (``search_runs`` and the paged REST search share it).

    Raises:
        ExperimentNotFoundError: an experiment named explicitly does not exist.
    """
    lookup.check_experiments(reading, _experiments(experiment) if experiment is not None else None)
    attrs = _search_locked(reading, experiment, node, order_keys, max_results, offset)
    wide = reading.wide(attrs.column("run_id").combine_chunks())
    return pa.Table.from_arrays(
        [*attrs.columns, *wide.columns], names=[*attrs.column_names, *wide.column_names]
    )


def _search_locked(
    reading: Reading,
    experiment: str | Sequence[str] | None,
    node: Node | None,
    order_keys: list[_OrderKey] | None,
    max_results: int | None,
    offset: int = 0,
) -> pa.Table:
    """The matching runs' attributes, ordered and limited (the filter runs as semi-joins
    on the long tables, so its cost does not grow with the number of keys)."""
    params: list[Any] = []
    joins: list[str] = []
    join_params: list[Any] = []
    relation = {"metrics": "latest_metrics", "params": "params", "tags": "tags"}

    def column_of(kind: str, key: str) -> str | None:
        alias = f"o{len(joins)}"
        joins.append(
            f"LEFT JOIN (SELECT run_id, value FROM {relation[kind]} WHERE key = ?) {alias} "
            f"ON {alias}.run_id = r.run_id"
        )
        join_params.append(key)
        return f"{alias}.value"

    order = order_sql(order_keys, column_of)
    # The filter reads one column per key it names, from a small wide relation built for
    # this search only (the keys a filter names are few, however long it is).
    present = reading.keys
    wide: dict[str, list[str]] = {"params": [], "metrics": [], "tags": []}
    for kind, key in sorted(referenced_keys(node)):
        if key in set(present.get(kind, ())):
            wide[kind].append(key)
    wide_sql, wide_params = _filter_columns(wide)
    where = _where(experiment, node, params, wide)
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
    relation = {"metrics": "latest_metrics", "params": "params", "tags": "tags"}
    selects, params = [], []
    for kind, keys in wide.items():
        if not keys:
            continue
        aggs = ", ".join(
            f"any_value(value) FILTER (WHERE key = ?) AS {quote_ident(kind + '.' + k)}"
            for k in keys
        )
        params.extend(keys)
        selects.append(
            f"SELECT run_id, {aggs} FROM {relation[kind]} "
            "WHERE key IN (SELECT unnest(?::VARCHAR[])) GROUP BY run_id"
        )
        params.append(keys)
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
    where = _where(experiment, _parse(filter), params)
    t = _run(f"SELECT count(*) AS n FROM runs r WHERE {where}", params, store)
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
    t = _run("SELECT DISTINCT experiment FROM runs ORDER BY experiment", None, store)
    return [x for x in t.column(0).to_pylist() if x is not None]


def _fetch_run_row(run_id: str, store: Store) -> dict[str, Any]:
    """The ``runs`` row of a live run, by id or unique prefix.

    Raises:
        RunNotFoundError: no such run, or it is deleted (the message says how to restore it).
        AmbiguousRunIdError: a prefix that several runs share.
    """
    if not isinstance(run_id, str) or not run_id:
        raise RunNotFoundError(f"run id must be a non-empty string, got {run_id!r}")
    # Times as ms, not timestamps: converting a zoned timestamp to Python imports pandas
    # (~0.5 s), which a plain get_run should not pay.
    sql = (
        "SELECT run_id, experiment, name, status, parent_run_id, description, "
        "epoch_ms(start_time) AS s_ms, epoch_ms(end_time) AS e_ms FROM runs WHERE run_id = ?"
    )
    t = _run(sql, [run_id], store)
    if t.num_rows == 0:
        # Not a live run's full id: a prefix, a deleted run, or nothing (these raise).
        t = _run(sql, [lookup.resolve_run_id(run_id, store)], store)
        if t.num_rows == 0:  # deleted between the two reads
            raise RunNotFoundError(f"no run with id {run_id!r} in the store at {store.uri}")
    return t.to_pylist()[0]


def full_run_id(run_id: str, *, store: Store | None = None, allow_deleted: bool = False) -> str:
    """The full id of a run named by its id or a unique prefix (≥ 6 characters).

    Raises:
        RunNotFoundError: no such run (or it is deleted and ``allow_deleted`` is False).
        AmbiguousRunIdError: a prefix that several runs share (the message lists them).
    """
    return lookup.resolve_run_id(run_id, _store(store), allow_deleted=allow_deleted)


def get_run(run_id: str, *, store: Store | None = None) -> Run:
    """Read one run back: its attributes, params, latest metrics and tags.

    A run this process is logging to comes back as that live ``Run``; any other run as a
    read-only handle.

    Args:
        run_id: The run's id, or a prefix of it of at least 6 characters that no other run
            shares (as git abbreviates commits).
        store: The store to read; the current one (``set_store``) when None.

    Returns:
        A ``Run`` with ``.run_id``, ``.name``, ``.experiment``, ``.status``,
        ``.start_time``, ``.end_time``, ``.params``, ``.metrics`` (latest value per key)
        and ``.tags``.

    Raises:
        RunNotFoundError: no run has this id, or the run is deleted (the message says how
            to restore it).
        AmbiguousRunIdError: the prefix matches several runs (the message lists them).

    Example:
        >>> run = nt.get_run("3f2a9c")                 # doctest: +SKIP
        >>> run.status, run.params["lr"], run.metrics["loss"]  # doctest: +SKIP
        ('FINISHED', '0.01', 0.01)
    """
    st = _store(store)
    row = _fetch_run_row(run_id, st)
    live = owned_run(row["run_id"])
    if live is not None and live._store is st:
        return live
    return Run(
        st,
        run_id=row["run_id"],
        name=row["name"],
        experiment=row["experiment"],
        status=row["status"],
        start_ms=row["s_ms"],
        end_ms=row["e_ms"],
        parent_run_id=row["parent_run_id"],
        description=row["description"],
    )


def _kv(sql: str, run_id: str, store: Store | None) -> dict[str, Any]:
    t = _run(sql, [run_id], store)
    return dict(zip(t.column(0).to_pylist(), t.column(1).to_pylist(), strict=True))


def run_params(run_id: str, store: Store | None = None) -> dict[str, str]:
    return _kv("SELECT key, value FROM params WHERE run_id = ? ORDER BY key", run_id, store)


def run_metrics(run_id: str, store: Store | None = None) -> dict[str, float]:
    return _kv("SELECT key, value FROM latest_metrics WHERE run_id = ? ORDER BY key", run_id, store)


def run_tags(run_id: str, store: Store | None = None) -> dict[str, str]:
    return _kv("SELECT key, value FROM tags WHERE run_id = ? ORDER BY key", run_id, store)


def last_record_ns(run_id: str, *, store: Store | None = None) -> int:
    """The newest ``record_time`` among a run's records (0 when it has none)."""
    t = _run(
        "SELECT coalesce(max(t), 0) FROM ("
        "SELECT max(record_time) AS t FROM _runs_raw WHERE run_id = $1 "
        "UNION ALL SELECT max(record_time) FROM _params_raw WHERE run_id = $1 "
        "UNION ALL SELECT max(record_time) FROM _tags_raw WHERE run_id = $1 "
        "UNION ALL SELECT max(record_time) FROM _artifacts_raw WHERE run_id = $1 "
        "UNION ALL SELECT max(record_time) FROM _deletions_raw WHERE run_id = $1)",
        [run_id],
        _store(store),
    )
    return int(t.column(0)[0].as_py())


def max_steps(run_id: str, *, store: Store | None = None) -> dict[str, int]:
    """Highest step logged so far for each metric key of a run."""
    return _kv("SELECT key, max(step) FROM metrics WHERE run_id = ? GROUP BY key", run_id, store)


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

    st = _store(store)
    t = sorted_points(run_id, key, st)  # the store's query raises StoreError
    if t.num_rows == 0:
        row = _fetch_run_row(run_id, st)  # unknown/deleted runs raise here
        full = row["run_id"]
        if full != run_id:  # a prefix
            t = sorted_points(full, key, st)
        # A running run may not have logged the key yet (a reader polling it), and a killed
        # run may have lost its last points with its writer: empty, not a typo.
        if t.num_rows == 0 and row["status"] not in ("RUNNING", "KILLED"):
            keys = _run(
                "SELECT DISTINCT key FROM latest_metrics WHERE run_id = ?", [full], st
            ).column(0).to_pylist()
            raise lookup.missing_metric(full, key, keys)
    return _to_pandas(t)


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
    return _to_pandas(_run(sql, params, store))


def tag_values(
    experiment: str | Sequence[str] | None = None, *, store: Store | None = None
) -> dict[str, list[str]]:
    """Every tag key in the experiment(s) with its distinct values (sorted)."""
    params: list[Any] = []
    where = _where(experiment, None, params)
    t = _run(
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


def list_artifacts(run_id: str, *, store: Store | None = None) -> list[str]:
    """Paths of every artifact a run logged (``log_artifact``, ``log_text``, ``%%track``...).

    Args:
        run_id: The run's id or a unique prefix of it (at least 6 characters).
        store: The store to read; the current one when None.

    Returns:
        The artifact paths, sorted, e.g. ``["cell.py", "config.json", "plots/loss.html"]``.

    Raises:
        RunNotFoundError: no run has this id, or it is deleted.
        AmbiguousRunIdError: the prefix matches several runs.

    Example:
        >>> nt.list_artifacts(run.run_id)  # doctest: +SKIP
        ['config.json', 'notes.md']
    """
    st = _store(store)
    run_id = _fetch_run_row(run_id, st)["run_id"]
    t = _run("SELECT path FROM artifacts WHERE run_id = ? ORDER BY path", [run_id], st)
    return t.column(0).to_pylist()


def read_artifact(run_id: str, path: str, *, store: Store | None = None) -> bytes:
    """The bytes of one artifact of a run.

    Args:
        run_id: The run's id or a unique prefix of it (at least 6 characters).
        path: The artifact's path as ``list_artifacts`` gives it.
        store: The store to read; the current one when None.

    Returns:
        The artifact's content (decode text with ``.decode()``, JSON with ``json.loads``).

    Raises:
        RunNotFoundError: no run has this id, or it is deleted.
        AmbiguousRunIdError: the prefix matches several runs.
        ArtifactError: the run has no artifact at ``path``.

    Example:
        >>> json.loads(nt.read_artifact(run.run_id, "config.json"))  # doctest: +SKIP
        {'classes': 10}
    """
    st = _store(store)
    run_id = _fetch_run_row(run_id, st)["run_id"]
    t = _run("SELECT sha256 FROM artifacts WHERE run_id = ? AND path = ?", [run_id, path], st)
    if t.num_rows == 0:
        raise ArtifactError(
            f"run {run_id} has no artifact {path!r}; see nbtrack.list_artifacts({run_id!r})"
        )
    return st.read_blob(t.column(0)[0].as_py())


_ALLOWED_STATEMENTS = {"StatementType.SELECT"}


def sql(query: str, *, store: Store | None = None) -> pd.DataFrame:
    """Run one read-only SELECT over the views runs, params, metrics, tags, artifacts.

    ``runs`` has the attribute columns of ``search_runs``; ``params``/``tags`` are
    ``(run_id, key, value)``; ``metrics`` is ``(run_id, key, step, timestamp, value)``, one
    row per point; ``artifacts`` is ``(run_id, path, size, sha256)``. Deleted runs are
    not in them.

    Args:
        query: One DuckDB SELECT statement.
        store: The store to read; the current one when None.

    Returns:
        The result as a pandas DataFrame.

    Example:
        >>> nt.sql("SELECT status, count(*) AS n FROM runs GROUP BY status")  # doctest: +SKIP

    Raises:
        QueryError: the text is not a single SELECT, or DuckDB refused or failed it.
    """
    if not isinstance(query, str) or not query.strip():
        raise QueryError("nt.sql takes one SELECT statement as a string")
    try:
        statements = duckdb.extract_statements(query)
    except duckdb.Error as exc:
        raise QueryError(f"cannot parse the SQL: {str(exc).splitlines()[0]}") from exc
    if len(statements) != 1:
        raise QueryError(f"nt.sql runs exactly one statement; got {len(statements)}")
    kind = str(statements[0].type)
    if kind not in _ALLOWED_STATEMENTS:
        raise QueryError(
            f"nt.sql is read-only: {kind.split('.')[-1]} statements are refused; "
            "write a SELECT over runs, params, metrics, tags or artifacts"
        )
    st = _store(store)
    try:
        with st.reading() as reading:
            # A connection that holds nothing but the five public views (no internal
            # tables, so no deleted runs), sandboxed to the store like the main one.
            table = reading.sql(query)
    except duckdb.Error as exc:
        first = str(exc).splitlines()[0]
        raise QueryError(f"the query failed: {first}") from exc
    return _to_pandas(table)


def delete_run(run_id: str, *, store: Store | None = None) -> None:
    """Soft-delete a run: every read path hides it until ``restore_run``.

    Nothing is erased: the run's data stays in the store, ``search_runs(deleted=True)``
    and ``nbtrack runs list --deleted`` find it, ``restore_run`` brings it back.

    Args:
        run_id: The run's id or a unique prefix of it (at least 6 characters).
        store: The store; the current one when None.

    Raises:
        RunNotFoundError: no run has this id.
        AmbiguousRunIdError: the prefix matches several runs.

    Example:
        >>> nt.delete_run(run.run_id)  # doctest: +SKIP
        >>> nt.restore_run(run.run_id)  # doctest: +SKIP
    """
    _set_deleted(run_id, True, store)


def restore_run(run_id: str, *, store: Store | None = None) -> None:
    """Undo ``delete_run``: the run shows again in every read path.

    Restoring a run that is not deleted changes nothing.

    Args:
        run_id: The run's id or a unique prefix of it (at least 6 characters); deleted
            runs are listed by ``search_runs(experiment="*", deleted=True)``.
        store: The store; the current one when None.

    Raises:
        RunNotFoundError: no run (deleted or not) has this id.
        AmbiguousRunIdError: the prefix matches several runs.

    Example:
        >>> gone = nt.search_runs(experiment="*", deleted=True)  # doctest: +SKIP
        >>> nt.restore_run(gone.run_id[0])  # doctest: +SKIP
    """
    _set_deleted(run_id, False, store)


def _set_deleted(run_id: str, deleted: bool, store: Store | None) -> None:
    from nbtrack.storage.schema import experiment_id

    st = _store(store)
    run_id = lookup.resolve_run_id(run_id, st, allow_deleted=True)
    t = _run("SELECT experiment FROM _runs_raw WHERE run_id = ? LIMIT 1", [run_id], st)
    if t.num_rows == 0:
        raise RunNotFoundError(f"no run with id {run_id!r} in the store at {st.uri}")
    st.add_record(
        "deletions", experiment_id(t.column(0)[0].as_py()), (run_id, deleted, _clock.record_ns())
    )
    st.flush()
