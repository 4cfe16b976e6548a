"""How the read side reaches the store: the current store, one SQL read, a run's row.

Every read first flushes what this process has buffered (so a process always reads its own
writes), then takes a fresh snapshot of the store's files.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa

from nbtrack.errors import RunNotFoundError, StoreError
from nbtrack.tracking import lookup, settings

if TYPE_CHECKING:
    import pandas as pd

    from nbtrack.storage.protocol import Store

__all__ = [
    "current_store",
    "experiment_names",
    "fetch_run_row",
    "key_values",
    "run_sql",
    "to_pandas",
]


def current_store(store: Store | None) -> Store:
    return store if store is not None else settings.get_store()


def run_sql(sql: str, params: list[Any] | None = None, store: Store | None = None) -> pa.Table:
    st = current_store(store)
    try:
        return st.query(sql, params)
    except duckdb.Error as exc:
        raise StoreError(f"reading the store failed: {exc}") from exc


def to_pandas(table: pa.Table) -> pd.DataFrame:
    return table.to_pandas()


def experiment_names(experiment: str | Sequence[str] | None) -> list[str] | None:
    """None means every experiment."""
    if experiment is None:
        return [settings.current_experiment()]
    if isinstance(experiment, str):
        return None if experiment == "*" else [experiment]
    names = list(experiment)
    if "*" in names:
        return None
    return names


def fetch_run_row(run_id: str, store: Store) -> dict[str, Any]:
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
    t = run_sql(sql, [run_id], store)
    if t.num_rows == 0:
        # Not a live run's full id: a prefix, a deleted run, or nothing (these raise).
        t = run_sql(sql, [lookup.resolve_run_id(run_id, store)], store)
        if t.num_rows == 0:  # deleted between the two reads
            raise RunNotFoundError(f"no run with id {run_id!r} in the store at {store.uri}")
    return t.to_pylist()[0]


def key_values(sql: str, run_id: str, store: Store | None) -> dict[str, Any]:
    t = run_sql(sql, [run_id], store)
    return dict(zip(t.column(0).to_pylist(), t.column(1).to_pylist(), strict=True))
