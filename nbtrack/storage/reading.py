"""``Reading``: several queries over one snapshot of a store's read model (the tracking
layer's door to reads; ``nbtrack.storage.protocol``), retried when gc deleted a file the
snapshot takes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa

from nbtrack.errors import StoreError

if TYPE_CHECKING:
    from nbtrack.storage.read_model import ReadModel
    from nbtrack.storage.store import ParquetStore

#: How many times a read lists the store again when a file it listed was deleted meanwhile.
VANISHED_RETRIES = 5


def may_have_vanished(exc: BaseException) -> bool:
    """Whether a DuckDB error may come from a file deleted after it was listed (an I/O
    error: "No files found", a missing object), as opposed to a bad query or file."""
    text = str(exc)
    return any(
        w in text
        for w in (
            "IO Error",
            "No files found",
            "No such file",
            "FileNotFound",
            "NoSuchKey",
            "Not Found",
            "404",
        )
    )


class StoreReading:
    """``Reading`` over a locked ReadModel (see ``nbtrack.storage.protocol``).

    Metric points are read when a query asks for them. If a file the snapshot takes was
    deleted meanwhile (a read that outlived the gc grace), the model moves to a fresh
    snapshot and the query runs again: each query still counts every row once, though
    later queries of the block then see the newer snapshot.
    """

    def __init__(self, model: ReadModel, store: ParquetStore) -> None:
        self._model = model
        self._store = store

    def _again(self, attempt: int, exc: duckdb.Error) -> bool:
        """After a failed query: True when the store moved on and the model now follows."""
        if attempt >= VANISHED_RETRIES or not may_have_vanished(exc):
            return False
        fresh = self._store.moved_on(self._store._installed)
        if fresh is None:
            return False
        self._model.install(fresh)  # the model's lock is re-entrant: we hold it already
        self._store._installed = fresh
        return True

    @property
    def keys(self) -> dict[str, list[str]]:
        return self._model.keys

    def query(self, sql: str, params: list[Any] | None = None) -> pa.Table:
        for attempt in range(VANISHED_RETRIES + 1):
            try:
                return self._model.execute(sql, params)
            except duckdb.Error as exc:
                if not self._again(attempt, exc):
                    raise StoreError(f"reading the store failed: {exc}") from exc
        raise AssertionError("unreachable: the last attempt returns or raises")

    def wide(self, run_ids: pa.Array) -> pa.Table:
        return self._model.wide(run_ids)

    def sql(self, text: str) -> pa.Table:
        """Raises duckdb.Error as is: nt.sql turns it into a QueryError with its text."""
        for attempt in range(VANISHED_RETRIES + 1):
            try:
                return self._model.sql_connection().sql(text).to_arrow_table()
            except duckdb.Error as exc:
                if not self._again(attempt, exc):
                    raise
        raise AssertionError("unreachable: the last attempt returns or raises")
