"""The one door between tracking and storage: the ``Store`` protocol.

The tracking layer (runs, the fluent API, search, SQL) sees a store only through these
methods. ``ParquetStore`` implements them over Parquet segments and DuckDB; a test double
or a remote store is another implementation, not another branch in tracking
(tests/storage/test_protocol.py runs tracking over a small in-memory one).

Write side: records are buffered (``add_record``, ``metric_buffer``) and made durable by
``flush``; ``run_opened``/``run_closed`` tell the store which runs this process owns (for
liveness and its background threads). Read side: ``query`` runs SQL over the read model's
relations (see ``nbtrack.storage.read_model``); ``reading()`` holds one consistent snapshot
for several reads (``keys``, ``query``, ``wide``, ``sql``).

The relations ``query`` sees: the views ``runs``, ``params``, ``tags``, ``metrics``,
``latest_metrics``, ``artifacts``, ``experiments``, ``inputs`` and the registry's, and the
table macro ``metric_points(run_id, key)`` (step, value, timestamp of one series of a
current run, each file's rows in step order: histories sort only when files interleave).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import pyarrow as pa

    from nbtrack.storage.buffer import MetricBuffer


@runtime_checkable
class Reading(Protocol):
    """One consistent snapshot of the store, valid inside ``Store.reading()``."""

    @property
    def keys(self) -> dict[str, list[str]]:
        """Every param, metric and tag key of the current runs, per kind."""
        ...

    def query(self, sql: str, params: list[Any] | None = None) -> pa.Table:
        """SQL over the read model's relations (runs, params, tags, latest_metrics ...)."""
        ...

    def wide(self, run_ids: pa.Array) -> pa.Table:
        """One row per run id: ``params.<k>``, ``metrics.<k>``, ``tags.<k>`` columns."""
        ...

    def sql(self, text: str) -> pa.Table:
        """A user's SELECT, on a connection that sees only the five public views."""
        ...


@runtime_checkable
class Store(Protocol):
    """What the tracking layer needs from a store."""

    uri: str
    writer_id: str

    # ---- write side ---------------------------------------------------------------------
    def add_record(self, table: str, experiment_id: str, row: tuple[Any, ...]) -> None: ...

    def metric_buffer(self, run_id: str, experiment_id: str) -> MetricBuffer: ...

    def flush(self) -> list[tuple[str, str]]: ...

    def wake_flusher(self) -> None: ...

    def run_opened(self, run_id: str) -> None: ...

    def run_closed(self, run_id: str) -> None: ...

    def put_blob(self, data: bytes) -> str: ...

    def put_blob_file(self, path: str) -> tuple[str, int]: ...

    def read_blob(self, sha: str) -> bytes: ...

    def claim(self, key: str, data: bytes) -> bool: ...

    def claims(self, folder: str) -> list[str]: ...

    # ---- read side ----------------------------------------------------------------------
    def query(self, sql: str, params: list[Any] | None = None) -> pa.Table: ...

    def reading(self) -> AbstractContextManager[Reading]: ...
