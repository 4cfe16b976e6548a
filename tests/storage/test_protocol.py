"""The Store protocol is the only door from tracking to storage: tracking runs unchanged on a
second, in-memory implementation written here in a few dozen lines."""

from __future__ import annotations

import contextlib
import hashlib
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from nbtrack.storage import schema
from nbtrack.storage.buffer import MetricBuffer
from nbtrack.storage.protocol import Reading, Store
from nbtrack.tracking import query
from nbtrack.tracking.run import start_owned_run

_CURRENT = """
CREATE VIEW runs AS SELECT run_id, experiment, name, status, start_time, end_time,
    date_diff('millisecond', start_time, coalesce(end_time, now())) / 1000.0 AS duration_s,
    parent_run_id, description
  FROM runs_rows QUALIFY row_number() OVER (PARTITION BY run_id ORDER BY record_time DESC) = 1;
CREATE VIEW params AS SELECT run_id, key, arg_min(value, record_time) AS value
  FROM params_rows GROUP BY run_id, key;
CREATE VIEW tags AS SELECT run_id, key, value FROM (SELECT * FROM tags_rows
  QUALIFY row_number() OVER (PARTITION BY run_id, key ORDER BY record_time DESC) = 1)
  WHERE value IS NOT NULL;
CREATE VIEW metrics AS SELECT * FROM metrics_rows;
CREATE MACRO metric_points(rid, k) AS TABLE SELECT step, value, timestamp FROM metrics_rows
  WHERE run_id = rid AND key = k AND run_id IN (SELECT run_id FROM runs);
CREATE VIEW latest_metrics AS SELECT * FROM metrics_rows
  QUALIFY row_number() OVER (PARTITION BY run_id, key ORDER BY step DESC, timestamp DESC) = 1;
CREATE VIEW artifacts AS SELECT run_id, path, size, sha256 FROM artifacts_rows
  QUALIFY row_number() OVER (PARTITION BY run_id, path ORDER BY record_time DESC) = 1;
"""


class MemoryReading:
    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    @property
    def keys(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for kind, rel in (("params", "params"), ("metrics", "latest_metrics"), ("tags", "tags")):
            out[kind] = [
                r[0] for r in self.con.sql(f"SELECT DISTINCT key FROM {rel} ORDER BY 1").fetchall()
            ]
        return out

    def query(self, sql: str, params: list[Any] | None = None) -> pa.Table:
        return self.con.sql(sql, params=params or None).to_arrow_table()

    def wide(self, run_ids: pa.Array) -> pa.Table:
        ids = run_ids.to_pylist()
        cols: dict[str, list[Any]] = {}
        for kind, rel in (("params", "params"), ("metrics", "latest_metrics"), ("tags", "tags")):
            for run_id, key, value in self.con.sql(
                f"SELECT run_id, key, value FROM {rel}"
            ).fetchall():
                if run_id in ids:
                    cols.setdefault(f"{kind}.{key}", [None] * len(ids))[ids.index(run_id)] = value
        return pa.table(cols) if cols else pa.table({})

    def sql(self, text: str) -> pa.Table:
        return self.query(text)


class MemoryStore:
    """Records in Python lists; reads build a DuckDB database from them each time."""

    def __init__(self) -> None:
        self.uri = "memory://protocol-test"
        self.writer_id = "wmemory"
        self.rows: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
        self.buffers: dict[str, MetricBuffer] = {}
        self.blobs: dict[str, bytes] = {}
        self.open_runs: set[str] = set()

    def add_record(self, table: str, experiment_id: str, row: tuple[Any, ...]) -> None:
        self.rows[table].append(row)

    def metric_buffer(self, run_id: str, experiment_id: str) -> MetricBuffer:
        return self.buffers.setdefault(run_id, MetricBuffer(run_id, experiment_id))

    def flush(self) -> list[tuple[str, str]]:
        for mb in self.buffers.values():
            table = mb.drain([])
            if table is not None:
                for r in table.to_pylist():
                    ts = int(r["timestamp"].timestamp() * 1000)
                    self.rows["metrics"].append((r["run_id"], r["key"], r["step"], ts, r["value"]))
        return []

    def wake_flusher(self) -> None:
        pass

    def run_opened(self, run_id: str) -> None:
        self.open_runs.add(run_id)

    def run_closed(self, run_id: str) -> None:
        self.open_runs.discard(run_id)

    def put_blob(self, data: bytes) -> str:
        sha = hashlib.sha256(data).hexdigest()
        self.blobs[sha] = data
        return sha

    def put_blob_file(self, path: str) -> tuple[str, int]:
        with open(path, "rb") as fh:
            data = fh.read()
        return self.put_blob(data), len(data)

    def read_blob(self, sha: str) -> bytes:
        return self.blobs[sha]

    def claim(self, key: str, data: bytes) -> bool:
        if key in self.blobs:
            return False
        self.blobs[key] = data
        return True

    def claims(self, folder: str) -> list[str]:
        return sorted(k.rsplit("/", 1)[1] for k in self.blobs if k.startswith(folder + "/"))

    def query(self, sql: str, params: list[Any] | None = None) -> pa.Table:
        with self.reading() as reading:
            return reading.query(sql, params)

    @contextlib.contextmanager
    def reading(self) -> Iterator[Reading]:
        self.flush()
        con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")
        for table in ("runs", "params", "tags", "metrics", "artifacts"):
            sch = schema.SCHEMAS[table]
            cols = list(zip(*self.rows[table], strict=True)) or [[] for _ in sch]
            arrays = [
                pa.array(c, pa.int64()).cast(f.type)
                if pa.types.is_timestamp(f.type)
                else pa.array(c, f.type)
                for c, f in zip(cols, sch, strict=True)
            ]
            con.register(f"{table}_rows", pa.table(arrays, schema=sch))
        con.execute(_CURRENT)
        try:
            yield MemoryReading(con)
        finally:
            con.close()


def test_both_implementations_satisfy_the_protocol(store: Any) -> None:
    assert isinstance(store, Store)
    assert isinstance(MemoryStore(), Store)
    with store.reading() as reading:
        assert isinstance(reading, Reading)


def test_tracking_runs_unchanged_on_a_second_store() -> None:
    mem = MemoryStore()
    run = start_owned_run(
        mem,
        experiment="e",
        name="mem-run",
        parent_run_id=None,
        description=None,
        params={"lr": 0.1},
        tags={"team": "a"},
    )
    for step in range(5):
        run.log_metric("loss", 1.0 / (step + 1))
    run.log_text("hello", "notes.txt")
    run.end()
    other = start_owned_run(
        mem,
        experiment="e",
        name="other",
        parent_run_id=None,
        description=None,
        params={"lr": 0.5},
        tags=None,
    )
    other.log_metric("loss", 0.9)
    other.end("FAILED")

    got = query.get_run(run.id, store=mem)  # the live handle: owned by this process
    assert got.params == {"lr": "0.1"}
    assert got.metrics == {"loss": pytest.approx(0.2)}
    assert got.tags == {"team": "a"}
    found = query.search_runs(experiment="*", filter="params.lr = '0.1'", store=mem)
    assert list(found["run_id"]) == [run.id]
    assert found["metrics.loss"].tolist() == [pytest.approx(0.2)]
    ordered = query.search_runs(experiment="*", order_by=["metrics.loss DESC"], store=mem)
    assert list(ordered["name"]) == ["other", "mem-run"]
    assert list(query.get_metric_history(run.id, "loss", store=mem)["step"]) == [0, 1, 2, 3, 4]
    assert query.read_artifact(run.id, "notes.txt", store=mem) == b"hello"
    assert dict(zip(ordered["name"], ordered["status"], strict=True)) == {
        "other": "FAILED",
        "mem-run": "FINISHED",
    }
