"""The read path: DuckDB views over one snapshot of the store's files (``catalog``).

Views (created on one DuckDB connection that may read nothing but the store):

    runs(run_id, experiment, name, status, start_time, end_time, duration_s,
         parent_run_id, description)      a dead writer's RUNNING run reads KILLED, its
                                          end_time the time of its last record
                                          (docs/format.md, Liveness)
    params(run_id, key, value)          tags(run_id, key, value)
    metrics(run_id, key, step, timestamp, value)
    artifacts(run_id, path, size, sha256)
    latest_metrics(run_id, key, step, timestamp, value)   one row per run and key: highest
        step, then newest timestamp, then arrival order (``arrival_position``, row number)

docs/format.md gives the same rules as plain DuckDB and Polars code; a test runs that code.
"""

from __future__ import annotations

import threading
from typing import Any

import duckdb
import pyarrow as pa

from nbtrack.storage import schema
from nbtrack.storage._fs import FileSystem

# FileCatalog and quote_ident are imported from here by store.py and tracking/query.py.
from nbtrack.storage.catalog import FileCatalog, Snapshot
from nbtrack.storage.reader import connect, quote_ident, sql_string

__all__ = ["DuckViews", "FileCatalog", "Snapshot", "quote_ident"]


_DUCK_TYPES = {
    pa.string(): "VARCHAR",
    pa.int64(): "BIGINT",
    pa.float64(): "DOUBLE",
    pa.bool_(): "BOOLEAN",
    pa.timestamp("ms", tz="UTC"): "TIMESTAMPTZ",
}


def _empty_select(table: str) -> str:
    sch = schema.SCHEMAS[table]
    cols = ", ".join(f"CAST(NULL AS {_DUCK_TYPES[f.type]}) AS {f.name}" for f in sch)
    return f"SELECT {cols} LIMIT 0"


def _metrics_source(paths: list[str]) -> str:
    if not paths:
        return _empty_select("metrics")
    listed = ", ".join(sql_string(p) for p in paths)
    cols = ", ".join(f.name for f in schema.SCHEMAS["metrics"])
    return f"SELECT {cols} FROM read_parquet([{listed}], union_by_name = true)"


# Small tables live in DuckDB memory, loaded file by file: a file is immutable, so when the
# snapshot changes only the files that appeared are read and the rows of files that went
# away (replaced by a compacted file holding the same rows) are deleted, in one transaction.
_CACHED = ("runs", "deletions", "params", "tags", "artifacts")

# Current state, recomputed in one go whenever the snapshot changes (newest record wins,
# deleted runs removed), so that repeated reads of an unchanged store touch small tables only.
_MATERIALIZE = """
CREATE OR REPLACE TABLE _runs_cur AS
  SELECT * EXCLUDE (_file) FROM _runs_raw
  WHERE run_id NOT IN (
    SELECT run_id FROM (
      SELECT run_id, deleted FROM _deletions_raw
      QUALIFY row_number() OVER (PARTITION BY run_id ORDER BY record_time DESC) = 1
    ) WHERE deleted)
  QUALIFY row_number() OVER (PARTITION BY run_id ORDER BY record_time DESC) = 1;
CREATE OR REPLACE TABLE _last_record AS
  SELECT run_id, make_timestamptz(max(ms) * 1000) AS t FROM (
    SELECT run_id, greatest(epoch_ms(start_time), record_time // 1000000) AS ms FROM _runs_raw
    UNION ALL SELECT run_id, record_time // 1000000 FROM _params_raw
    UNION ALL SELECT run_id, record_time // 1000000 FROM _tags_raw
    UNION ALL SELECT run_id, record_time // 1000000 FROM _artifacts_raw
    UNION ALL SELECT run_id, epoch_ms(max_timestamp) FROM _metric_summary
  ) WHERE run_id IN (SELECT run_id FROM _runs_cur WHERE status = 'RUNNING')
  GROUP BY run_id;
CREATE OR REPLACE TABLE _params_cur AS
  SELECT run_id, key, arg_min(value, record_time) AS value FROM _params_raw
  WHERE run_id IN (SELECT run_id FROM _runs_cur)
  GROUP BY run_id, key;
CREATE OR REPLACE TABLE _tags_cur AS
  SELECT run_id, key, value FROM (
    SELECT run_id, key, value FROM _tags_raw
    WHERE run_id IN (SELECT run_id FROM _runs_cur)
    QUALIFY row_number() OVER (PARTITION BY run_id, key ORDER BY record_time DESC) = 1
  ) WHERE value IS NOT NULL;
CREATE OR REPLACE TABLE _latest_cur AS
  SELECT run_id, key, step, timestamp, value FROM _metric_summary
  WHERE run_id IN (SELECT run_id FROM _runs_cur)
  QUALIFY row_number() OVER (
    PARTITION BY run_id, key ORDER BY step DESC, timestamp DESC, pos DESC) = 1;
CREATE OR REPLACE TABLE _artifacts_cur AS
  SELECT run_id, path, size, sha256 FROM _artifacts_raw
  WHERE run_id IN (SELECT run_id FROM _runs_cur)
  QUALIFY row_number() OVER (PARTITION BY run_id, path ORDER BY record_time DESC) = 1;
"""

# The latest point of each run and key within each new metric file: highest step, then
# newest timestamp, then the last row (arrival order within a file); docs/format.md.
_SUMMARIZE_METRICS = """
INSERT INTO _metric_summary
  SELECT run_id, key, max(step),
    arg_max(timestamp, [step, epoch_ms(timestamp), file_row_number]),
    arg_max(value, [step, epoch_ms(timestamp), file_row_number]),
    max(timestamp), p.pos, filename
  FROM read_parquet(?::VARCHAR[], filename = true, file_row_number = true,
                    union_by_name = true)
  JOIN (SELECT unnest(?::VARCHAR[]) AS file, unnest(?::VARCHAR[]) AS pos) p
    ON p.file = filename
  GROUP BY run_id, key, filename, p.pos
"""

_VIEWS = """
CREATE OR REPLACE VIEW runs AS
  SELECT r.run_id, r.experiment, r.name,
    CASE WHEN r.status = 'RUNNING' AND d.owner IS NOT NULL THEN 'KILLED' ELSE r.status END
      AS status,
    r.start_time,
    CASE WHEN r.status = 'RUNNING' AND d.owner IS NOT NULL THEN l.t ELSE r.end_time END
      AS end_time,
    date_diff('millisecond', r.start_time,
      CASE WHEN r.status = 'RUNNING' AND d.owner IS NOT NULL THEN l.t
           ELSE coalesce(r.end_time, now()) END) / 1000.0 AS duration_s,
    r.parent_run_id, r.description
  FROM _runs_cur r
  LEFT JOIN _dead_writers d ON r.owner = d.owner
  LEFT JOIN _last_record l ON r.run_id = l.run_id;
CREATE OR REPLACE VIEW params AS SELECT run_id, key, value FROM _params_cur;
CREATE OR REPLACE VIEW tags AS SELECT run_id, key, value FROM _tags_cur;
CREATE OR REPLACE VIEW latest_metrics AS
  SELECT run_id, key, step, timestamp, value FROM _latest_cur;
CREATE OR REPLACE VIEW metrics AS
  SELECT run_id, key, step, timestamp, value FROM _metrics_raw
  WHERE run_id IN (SELECT run_id FROM _runs_cur);
CREATE OR REPLACE VIEW artifacts AS SELECT run_id, path, size, sha256 FROM _artifacts_cur;
"""


class DuckViews:
    """One DuckDB connection, restricted to reading the store, with the views over it."""

    def __init__(self, fs: FileSystem) -> None:
        self.fs = fs
        self.lock = threading.RLock()
        con = connect(fs, sandbox=True)
        # Writers found dead (last_seen: their lease's mtime, informative only: a KILLED
        # run's end_time comes from the data, so it is the same for every reader and read).
        con.execute("CREATE TEMP TABLE _dead_writers (owner VARCHAR, last_seen TIMESTAMPTZ)")
        self.con = con
        self._key: tuple[Any, ...] | None = None
        self._dead: frozenset[tuple[str, float]] = frozenset()
        self.owners: list[str] = []
        self.keys: dict[str, list[str]] = {"params": [], "metrics": [], "tags": []}

    def _setup_tables(self) -> None:
        for table in _CACHED:
            cols = ", ".join(f"{f.name} {_DUCK_TYPES[f.type]}" for f in schema.SCHEMAS[table])
            self.con.execute(f"CREATE TABLE _{table}_raw ({cols}, _file VARCHAR)")
        # Per metric file and run and key: the latest point in that file, the file's arrival
        # position (ties between files) and its newest timestamp (a KILLED run's end_time).
        self.con.execute(
            "CREATE TABLE _metric_summary (run_id VARCHAR, key VARCHAR, step BIGINT, "
            "timestamp TIMESTAMPTZ, value DOUBLE, max_timestamp TIMESTAMPTZ, pos VARCHAR, "
            "_file VARCHAR)"
        )
        self.con.execute(f"CREATE OR REPLACE VIEW _metrics_raw AS {_empty_select('metrics')}")
        self.con.execute(_MATERIALIZE)
        self._build_wide({"params": [], "metrics": [], "tags": []})
        self.con.execute(_VIEWS)
        self._loaded: dict[str, set[str]] = {t: set() for t in (*_CACHED, "metrics")}

    def install(self, snap: Snapshot) -> None:
        """Bring the in-memory tables and views up to the snapshot (incrementally)."""
        key = snap.key()
        if key == self._key:
            return
        with self.lock:
            if self._key is None:
                self._setup_tables()
            self.con.execute("BEGIN TRANSACTION")
            try:
                for table in (*_CACHED, "metrics"):
                    visible = snap.paths(self.fs, table)
                    vis_set = set(visible)
                    loaded = self._loaded[table]
                    gone = sorted(loaded - vis_set)
                    new = [p for p in visible if p not in loaded]
                    target = "_metric_summary" if table == "metrics" else f"_{table}_raw"
                    if gone:
                        self.con.execute(
                            f"DELETE FROM {target} WHERE _file IN (SELECT unnest(?::VARCHAR[]))",
                            [gone],
                        )
                    if new:
                        if table == "metrics":
                            pos = snap.positions(self.fs, "metrics")
                            self.con.execute(_SUMMARIZE_METRICS, [new, new, [pos[p] for p in new]])
                        else:
                            cols = ", ".join(f.name for f in schema.SCHEMAS[table])
                            self.con.execute(
                                f"INSERT INTO _{table}_raw SELECT {cols}, filename FROM "
                                "read_parquet(?::VARCHAR[], filename = true, union_by_name = true)",
                                [new],
                            )
                    if table == "metrics" and (gone or new):
                        self.con.execute(
                            f"CREATE OR REPLACE VIEW _metrics_raw AS {_metrics_source(visible)}"
                        )
                    self._loaded[table] = vis_set
                self.con.execute(_MATERIALIZE)
                self.owners = [
                    r[0]
                    for r in self.con.execute(
                        "SELECT DISTINCT owner FROM _runs_cur WHERE status = 'RUNNING' "
                        "AND owner IS NOT NULL"
                    ).fetchall()
                ]
                keys: dict[str, list[str]] = {"params": [], "metrics": [], "tags": []}
                for kind, name in self.con.execute(
                    "SELECT 'params', key FROM _params_cur GROUP BY key UNION ALL "
                    "SELECT 'metrics', key FROM _latest_cur GROUP BY key UNION ALL "
                    "SELECT 'tags', key FROM _tags_cur GROUP BY key ORDER BY 1, 2"
                ).fetchall():
                    keys[kind].append(name)
                self.keys = keys
                self._build_wide(keys)
                self.con.execute("COMMIT")
            except BaseException:
                self.con.execute("ROLLBACK")
                self._key = None
                self._reset_tables()
                raise
            self._key = key

    def _build_wide(self, keys: dict[str, list[str]]) -> None:
        """One row per run with a column per key: ``params.<k>``, ``metrics.<k>``, ``tags.<k>``.

        Built once per snapshot change, so a search only filters and joins it.
        """
        pieces, joins, params = [], [], []
        for kind, rel in (
            ("params", "_params_cur"),
            ("metrics", "_latest_cur"),
            ("tags", "_tags_cur"),
        ):
            if not keys[kind]:
                continue
            aggs = ", ".join(
                f"any_value(value) FILTER (WHERE key = ?) AS {quote_ident(kind + '.' + k)}"
                for k in keys[kind]
            )
            params.extend(keys[kind])
            pieces.append(f"_{kind} AS (SELECT run_id, {aggs} FROM {rel} GROUP BY run_id)")
            joins.append(f"LEFT JOIN _{kind} USING (run_id)")
        with_clause = f"WITH {', '.join(pieces)} " if pieces else ""
        self.con.execute(
            f"CREATE OR REPLACE TABLE _wide AS {with_clause}"
            f"SELECT r.run_id, * EXCLUDE (run_id) FROM (SELECT run_id FROM _runs_cur) r "
            f"{' '.join(joins)}",
            params,
        )

    def probe_new_files(self, snap: Snapshot) -> dict[str, str]:
        """Read each not-yet-loaded file alone; return the ones DuckDB fails on, with why."""
        bad: dict[str, str] = {}
        for table in (*_CACHED, "metrics"):
            cols = ", ".join(f.name for f in schema.SCHEMAS[table])
            loaded = self._loaded.get(table, set()) if hasattr(self, "_loaded") else set()
            for path in snap.paths(self.fs, table):
                if path in loaded:
                    continue
                try:
                    with self.lock:
                        # Reads every column of every row: bad pages fail here too.
                        self.con.sql(
                            f"SELECT {cols} FROM read_parquet(?)", params=[path]
                        ).to_arrow_table()
                except duckdb.Error as exc:
                    bad[path] = str(exc).splitlines()[0][:200]
        return bad

    def _reset_tables(self) -> None:
        """After a failed update start over: drop every cached row."""
        for table in _CACHED:
            self.con.execute(f"DELETE FROM _{table}_raw")
        self.con.execute("DELETE FROM _metric_summary")
        self._loaded = {t: set() for t in (*_CACHED, "metrics")}
        self._key = ("reset",)

    def running_owners(self) -> list[str]:
        """Writers of runs whose newest record says RUNNING (as of the last install)."""
        return list(self.owners)

    def set_dead_writers(self, dead: dict[str, float]) -> None:
        frozen = frozenset(dead.items())
        if frozen == self._dead:
            return
        with self.lock:
            self.con.execute("DELETE FROM _dead_writers")
            if dead:
                self.con.executemany(
                    "INSERT INTO _dead_writers VALUES (?, to_timestamp(?))",
                    [[k, v] for k, v in dead.items()],
                )
            self._dead = frozen

    def execute(self, sql: str, params: list[Any] | None = None) -> pa.Table:
        with self.lock:
            return self.con.sql(sql, params=params or None).to_arrow_table()
