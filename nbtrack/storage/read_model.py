"""The read model: DuckDB tables and views over a snapshot of the store, kept up to date
incrementally, and the one-row-per-run ("wide") shape that searches return.

How it stays cheap as a store grows and writers flush every second:

- **Raw tables load file by file.** Files are immutable, so when the snapshot changes only
  the files that appeared are read, and the rows of files that went away (replaced by a
  compacted file holding the same rows) are deleted. Metric files contribute one summary
  row per run and key (the file's latest point), never their points.
- **Current state is recomputed only for the runs that changed.** The run ids in new or
  vanished rows form ``_affected``; each current-state table (newest record wins, deleted
  runs removed) deletes and recomputes just those runs. A flush from one writer therefore
  costs in proportion to what it wrote, not to the store.
- **The wide shape is built on demand, with NumPy, not SQL.** ``wide(run_ids)`` pivots the
  long ``(run_id, key, value)`` rows of params, latest metrics and tags into one column per
  key by scattering into arrays. (A SQL pivot with one filtered aggregate per key grew with
  keys × rows: 20 runs × 600 keys took 11 s and 600 MB.) It is cached per snapshot.
- **``nt.sql`` gets its own connection** holding only the five public views
  (``sql_connection``), so internal tables (deleted runs among them) are out of reach.

Views (on a DuckDB connection that may read nothing but the store):

    runs(run_id, experiment, name, status, start_time, end_time, duration_s,
         parent_run_id, description)      a dead writer's RUNNING run reads KILLED, its
                                          end_time the time of its last record
                                          (docs/format.md, Liveness)
    params(run_id, key, value)          tags(run_id, key, value)
    metrics(run_id, key, step, timestamp, value)
    artifacts(run_id, path, size, sha256)
    latest_metrics(run_id, key, step, timestamp, value)   one row per run and key: highest
        step, then newest timestamp, then arrival order (``arrival_position``, row number)

Relations the tracking layer may query through ``ParquetStore.query`` (the internal
connection): ``runs``, ``params``, ``tags``, ``metrics``, ``latest_metrics``, ``artifacts``,
``experiments``, ``inputs``, and for deleted runs the raw tables ``_runs_raw``,
``_deletions_raw``, ``_params_raw``, ``_tags_raw``, ``_artifacts_raw``, ``_inputs_raw``.
Models and the registry (``nbtrack.models``): ``models`` (of current runs), ``models_all``
(deleted runs' too), ``registered_models``, ``model_versions``, ``model_aliases``,
``registry_tags`` (current state) and their ``_<table>_raw`` tables.
"""

from __future__ import annotations

import threading
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from nbtrack.storage import schema, wide_shape
from nbtrack.storage._fs import FileSystem
from nbtrack.storage.catalog import Snapshot
from nbtrack.storage.reader import connect
from nbtrack.storage.reader import sql_string as _sql_string

_DUCK_TYPES = {
    pa.string(): "VARCHAR",
    pa.int64(): "BIGINT",
    pa.float64(): "DOUBLE",
    pa.bool_(): "BOOLEAN",
    pa.timestamp("ms", tz="UTC"): "TIMESTAMPTZ",
}

#: Tables loaded into DuckDB memory file by file (metrics are summarised instead).
_CACHED = (
    "runs", "deletions", "params", "tags", "artifacts", "experiments", "inputs",
    *schema.MODEL_TABLES,
)

#: Memory DuckDB may use for one connection before it spills to its private temp folder.
MEMORY_LIMIT = "256MB"

#: Cells (runs × keys) up to which the wide shape of every run is cached per snapshot.
WIDE_CACHE_CELLS = 4_000_000


def _empty_select(table: str) -> str:
    sch = schema.SCHEMAS[table]
    cols = ", ".join(f"CAST(NULL AS {_DUCK_TYPES[f.type]}) AS {f.name}" for f in sch)
    return f"SELECT {cols} LIMIT 0"


def _metrics_source(paths: list[str]) -> str:
    if not paths:
        return _empty_select("metrics")
    listed = ", ".join(_sql_string(p) for p in paths)
    cols = ", ".join(f.name for f in schema.SCHEMAS["metrics"])
    return f"SELECT {cols} FROM read_parquet([{listed}], union_by_name = true)"


# Current-state tables in dependency order. ``{scope}`` restricts a recomputation to the
# affected runs (incremental) or is TRUE (the first install); ``{live}`` to the affected runs
# that are current (not deleted), a small table, so no statement hashes all of ``_runs_cur``. Each SELECT's columns are the
# table's columns, so ``INSERT INTO t <select>`` and ``CREATE TABLE t AS <select>`` agree.
_CURRENT: tuple[tuple[str, str], ...] = (
    (
        "_runs_cur",
        """SELECT * EXCLUDE (_file) FROM _runs_raw
  WHERE {scope} AND run_id NOT IN (
    SELECT run_id FROM (
      SELECT run_id, deleted FROM _deletions_raw WHERE {scope}
      QUALIFY row_number() OVER (PARTITION BY run_id ORDER BY record_time DESC) = 1
    ) WHERE deleted)
  QUALIFY row_number() OVER (PARTITION BY run_id ORDER BY record_time DESC) = 1""",
    ),
    (
        # When a run's last record was written (a KILLED run's end_time; docs/format.md).
        "_last_record",
        """SELECT run_id, make_timestamptz(max(ms) * 1000) AS t FROM (
    SELECT run_id, greatest(epoch_ms(start_time), record_time // 1000000) AS ms
      FROM _runs_raw WHERE {scope}
    UNION ALL SELECT run_id, record_time // 1000000 FROM _params_raw WHERE {scope}
    UNION ALL SELECT run_id, record_time // 1000000 FROM _tags_raw WHERE {scope}
    UNION ALL SELECT run_id, record_time // 1000000 FROM _artifacts_raw WHERE {scope}
    UNION ALL SELECT run_id, epoch_ms(max_timestamp) FROM _metric_summary WHERE {scope}
  ) WHERE run_id IN (SELECT run_id FROM _runs_cur WHERE status = 'RUNNING' AND {scope})
  GROUP BY run_id""",
    ),
    (
        "_params_cur",
        """SELECT run_id, key, arg_min(value, record_time) AS value FROM _params_raw
  WHERE {live}
  GROUP BY run_id, key""",
    ),
    (
        "_tags_cur",
        """SELECT run_id, key, value FROM (
    SELECT run_id, key, value FROM _tags_raw
    WHERE {live}
    QUALIFY row_number() OVER (PARTITION BY run_id, key ORDER BY record_time DESC) = 1
  ) WHERE value IS NOT NULL""",
    ),
    (
        # Runs whose summary rows come from more than one file: only their latest points
        # need ranking. The others (the common case after compaction, and every run
        # flushed once) have one summary row per key already: ``_latest_cur`` is a view
        # that reads those straight from ``_metric_summary``, never copied (1M rows at
        # 1,000 runs x 1,000 keys).
        "_multi_file_runs",
        """SELECT run_id FROM _metric_summary WHERE {scope}
  GROUP BY run_id HAVING min(_file) <> max(_file)""",
    ),
    (
        # Latest point: highest step, then newest timestamp, then arrival (file position).
        "_latest_multi",
        """SELECT run_id, key, step, timestamp, value FROM _metric_summary
  WHERE {live} AND run_id IN (SELECT run_id FROM _multi_file_runs WHERE {scope})
  QUALIFY row_number() OVER (
    PARTITION BY run_id, key ORDER BY step DESC, timestamp DESC, pos DESC) = 1""",
    ),
    (
        "_artifacts_cur",
        """SELECT run_id, path, size, sha256 FROM _artifacts_raw
  WHERE {live}
  QUALIFY row_number() OVER (PARTITION BY run_id, path ORDER BY record_time DESC) = 1""",
    ),
)

# The latest point of each current run and key (see ``_multi_file_runs``).
_LATEST_VIEW = """
CREATE OR REPLACE VIEW _latest_cur AS
  SELECT run_id, key, step, timestamp, value FROM _metric_summary
  WHERE run_id IN (SELECT run_id FROM _runs_cur)
    AND run_id NOT IN (SELECT run_id FROM _multi_file_runs)
  UNION ALL
  SELECT run_id, key, step, timestamp, value FROM _latest_multi
"""

_EXPERIMENTS_CUR = """
CREATE OR REPLACE TABLE _experiments_cur AS
  SELECT * EXCLUDE (_file, record_time) FROM _experiments_raw
  QUALIFY row_number() OVER (PARTITION BY id ORDER BY record_time DESC) = 1
"""

_AFFECTED_SCOPE = "run_id IN (SELECT run_id FROM _affected)"
_AFFECTED_LIVE = "run_id IN (SELECT run_id FROM _affected_live)"
_ALL_LIVE = "run_id IN (SELECT run_id FROM _runs_cur)"

# The latest point of each run and key within each new metric file: highest step, then
# newest timestamp, then the last row (arrival order within a file); docs/format.md.
_SUMMARIZE_METRICS = """
INSERT INTO _metric_summary
  SELECT run_id, key, max(step),
    arg_max(timestamp, [step, epoch_ms(timestamp), file_row_number]),
    arg_max(value, [step, epoch_ms(timestamp), file_row_number]),
    max(timestamp), p.pos, filename, count(*)
  FROM read_parquet(?::VARCHAR[], filename = true, file_row_number = true,
                    union_by_name = true)
  JOIN (SELECT unnest(?::VARCHAR[]) AS file, unnest(?::VARCHAR[]) AS pos) p
    ON p.file = filename
  GROUP BY run_id, key, filename, p.pos
"""

# A file whose footer says it holds one row per (run_id, key) is its own summary.
_LOAD_UNIQUE_METRICS = """
INSERT INTO _metric_summary
  SELECT run_id, key, step, timestamp, value, timestamp, p.pos, filename, 1
  FROM read_parquet(?::VARCHAR[], filename = true, union_by_name = true)
  JOIN (SELECT unnest(?::VARCHAR[]) AS file, unnest(?::VARCHAR[]) AS pos) p
    ON p.file = filename
"""

#: Trust the writers' ``nbtrack.unique_run_key`` footer flag (tests turn it off to check
#: that the flag changes no result).
USE_UNIQUE_FLAG = True

_RUNS_VIEW = """
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
  LEFT JOIN _last_record l ON r.run_id = l.run_id"""

# Models and the registry (small tables: plain views, no incremental current state).
# ``models_all`` keeps the models of deleted runs: a registered version still loads them.
_MODEL_VIEWS = """
CREATE OR REPLACE VIEW models_all AS
  SELECT * EXCLUDE (_file) FROM _models_raw
  QUALIFY row_number() OVER (PARTITION BY run_id, name ORDER BY record_time DESC, _file DESC) = 1;
CREATE OR REPLACE VIEW models AS
  SELECT * EXCLUDE (record_time) FROM models_all WHERE run_id IN (SELECT run_id FROM _runs_cur);
CREATE OR REPLACE VIEW registered_models AS
  WITH newest AS (
    SELECT * EXCLUDE (_file) FROM _registered_models_raw
    QUALIFY row_number() OVER (PARTITION BY name ORDER BY record_time DESC, _file DESC) = 1),
  created AS (
    SELECT name, min(creation_time) AS creation_time, max(record_time) AS last_updated
    FROM _registered_models_raw GROUP BY name)
  SELECT n.name, n.description, c.creation_time, c.last_updated // 1000000 AS last_updated_time
  FROM newest n JOIN created c USING (name) WHERE NOT n.deleted;
CREATE OR REPLACE VIEW model_versions AS
  WITH newest AS (
    SELECT * EXCLUDE (_file) FROM _model_versions_raw
    QUALIFY row_number() OVER (
      PARTITION BY name, version ORDER BY record_time DESC, _file DESC) = 1),
  created AS (
    SELECT name, version, min(creation_time) AS creation_time, max(record_time) AS last_updated
    FROM _model_versions_raw GROUP BY name, version)
  SELECT n.name, n.version, n.run_id, n.model_name, n.source, n.description,
         c.creation_time, c.last_updated // 1000000 AS last_updated_time
  FROM newest n JOIN created c USING (name, version)
  WHERE NOT n.deleted AND n.name IN (SELECT name FROM registered_models);
CREATE OR REPLACE VIEW model_aliases AS
  SELECT a.name, a.alias, a.version FROM (
    SELECT * FROM _model_aliases_raw
    QUALIFY row_number() OVER (
      PARTITION BY name, alias ORDER BY seq DESC, record_time DESC, writer DESC) = 1) a
  WHERE a.version IS NOT NULL AND EXISTS (
    SELECT 1 FROM model_versions v WHERE v.name = a.name AND v.version = a.version);
CREATE OR REPLACE VIEW registry_tags AS
  SELECT name, version, key, value FROM (
    SELECT * FROM _registry_tags_raw
    QUALIFY row_number() OVER (
      PARTITION BY name, version, key ORDER BY record_time DESC, _file DESC) = 1)
  WHERE value IS NOT NULL AND name IN (SELECT name FROM registered_models);
"""

_VIEWS = f"""
CREATE OR REPLACE VIEW runs AS {_RUNS_VIEW};
CREATE OR REPLACE VIEW params AS SELECT run_id, key, value FROM _params_cur;
CREATE OR REPLACE VIEW tags AS SELECT run_id, key, value FROM _tags_cur;
CREATE OR REPLACE VIEW latest_metrics AS
  SELECT run_id, key, step, timestamp, value FROM _latest_cur;
CREATE OR REPLACE VIEW metrics AS
  SELECT run_id, key, step, timestamp, value FROM _metrics_raw
  WHERE run_id IN (SELECT run_id FROM _runs_cur);
-- One series of a current run, in the files' order (each file is in step order): the
-- ``metrics`` view's join with the current runs loses that order, and sorting 10M points
-- costs more than reading them. A run that is not current gives no rows.
CREATE OR REPLACE MACRO metric_points(rid, k) AS TABLE
  SELECT step, value, timestamp FROM _metrics_raw
  WHERE run_id = rid AND key = k AND EXISTS (SELECT 1 FROM _runs_cur WHERE run_id = rid);
CREATE OR REPLACE VIEW artifacts AS SELECT run_id, path, size, sha256 FROM _artifacts_cur;
CREATE OR REPLACE VIEW experiments AS
  SELECT id AS experiment_id, * EXCLUDE (id) FROM _experiments_cur;
CREATE OR REPLACE VIEW inputs AS
  SELECT DISTINCT run_id, name, digest, source_type, source, schema, profile, context
  FROM _inputs_raw WHERE run_id IN (SELECT run_id FROM _runs_cur);
{_MODEL_VIEWS}"""


#: What ``nt.sql`` sees: exactly these five views (DESIGN.md §3).
PUBLIC_VIEWS = ("runs", "params", "metrics", "tags", "artifacts")


class ReadModel:
    """One DuckDB connection, restricted to reading the store, with the views over it."""

    def __init__(self, fs: FileSystem) -> None:
        self.fs = fs
        self.lock = threading.RLock()
        self._tmpdir: str | None = None
        if not fs.is_remote:
            import tempfile

            self._tmpdir = tempfile.mkdtemp(prefix="nbtrack-duck-")
        con = connect(fs, sandbox=True, temp_directory=self._tmpdir, memory_limit=MEMORY_LIMIT)
        # Writers found dead (last_seen: their lease's mtime, informative only: a KILLED
        # run's end_time comes from the data, so it is the same for every reader and read).
        con.execute("CREATE TEMP TABLE _dead_writers (owner VARCHAR, last_seen TIMESTAMPTZ)")
        self.con = con
        self._key: tuple[Any, ...] | None = None
        self._dead: frozenset[tuple[str, float]] = frozenset()
        self.owners: list[str] = []
        self._keys: dict[str, list[str]] | None = None
        self._wide_cache: pa.Table | None = None
        # Runs changed since the wide cache was built: their rows are re-pivoted on demand.
        self._wide_stale: set[str] = set()
        self._wide_asked = False
        self._affected_ids: list[str] = []
        self._visible_metrics: list[str] = []
        self._sql_con: duckdb.DuckDBPyConnection | None = None
        self._sql_key: tuple[Any, ...] | None = None
        self.last_install: dict[str, int] = {}  # what the last install did (tests, benchmarks)

    # ---- install ----------------------------------------------------------------------
    def _setup_tables(self) -> None:
        for table in _CACHED:
            cols = ", ".join(f"{f.name} {_DUCK_TYPES[f.type]}" for f in schema.SCHEMAS[table])
            self.con.execute(f"CREATE TABLE _{table}_raw ({cols}, _file VARCHAR)")
        # Per metric file and run and key: the latest point in that file, the file's arrival
        # position (ties between files) and its newest timestamp (a KILLED run's end_time).
        self.con.execute(
            "CREATE TABLE _metric_summary (run_id VARCHAR, key VARCHAR, step BIGINT, "
            "timestamp TIMESTAMPTZ, value DOUBLE, max_timestamp TIMESTAMPTZ, pos VARCHAR, "
            "_file VARCHAR, n BIGINT)"
        )
        self.con.execute("CREATE TABLE _affected (run_id VARCHAR)")
        self.con.execute("CREATE TABLE _affected_live (run_id VARCHAR)")
        self.con.execute(f"CREATE OR REPLACE VIEW _metrics_raw AS {_empty_select('metrics')}")
        for name, select in _CURRENT:
            self.con.execute(f"CREATE TABLE {name} AS {select.format(scope='TRUE', live=_ALL_LIVE)}")
        self.con.execute(_LATEST_VIEW)
        self.con.execute(_EXPERIMENTS_CUR)
        self.con.execute(_VIEWS)
        self._loaded: dict[str, set[str]] = {t: set() for t in (*_CACHED, "metrics")}

    def install(self, snap: Snapshot) -> None:
        """Bring the tables and views up to the snapshot, recomputing only changed runs."""
        key = snap.key()
        if key == self._key:
            return
        with self.lock:
            if self._key is None:
                self._setup_tables()
            self.con.execute("BEGIN TRANSACTION")
            try:
                self._load(snap)
                self.con.execute("COMMIT")
            except BaseException:
                self.con.execute("ROLLBACK")
                self._key = None
                self._reset_tables()
                raise
            self._key = key
            self._keys = None
            if self._wide_cache is not None:
                self._wide_stale.update(self._affected_ids)

    def _load(self, snap: Snapshot) -> None:
        con = self.con
        con.execute("DELETE FROM _affected")
        stats = {"new_files": 0, "gone_files": 0, "affected_runs": 0}
        experiments_changed = False
        for table in (*_CACHED, "metrics"):
            visible = snap.paths(self.fs, table)
            vis_set = set(visible)
            loaded = self._loaded[table]
            gone = sorted(loaded - vis_set)
            new = [p for p in visible if p not in loaded]
            if not gone and not new:
                continue
            target = "_metric_summary" if table == "metrics" else f"_{table}_raw"
            if gone and new:
                swapped_gone, swapped_new = self._relabel_compacted(snap, table, target, gone, new)
                gone = [p for p in gone if p not in swapped_gone]
                new = [p for p in new if p not in swapped_new]
                stats["relabelled_files"] = stats.get("relabelled_files", 0) + len(swapped_new)
            stats["new_files"] += len(new)
            stats["gone_files"] += len(gone)
            # Tables whose rows belong to a run (the registry's do not) mark it affected.
            has_run = table not in ("experiments", *schema.REGISTRY_TABLES)
            if table == "experiments":
                experiments_changed = True
            if gone:
                if has_run:
                    con.execute(
                        f"INSERT INTO _affected SELECT DISTINCT run_id FROM {target} "
                        "WHERE _file IN (SELECT unnest(?::VARCHAR[]))",
                        [gone],
                    )
                con.execute(
                    f"DELETE FROM {target} WHERE _file IN (SELECT unnest(?::VARCHAR[]))", [gone]
                )
            if new:
                if table == "metrics":
                    pos = snap.positions(self.fs, "metrics")
                    flagged = self._unique_files(new) if USE_UNIQUE_FLAG else set()
                    for sql, paths in (
                        (_LOAD_UNIQUE_METRICS, [p for p in new if p in flagged]),
                        (_SUMMARIZE_METRICS, [p for p in new if p not in flagged]),
                    ):
                        if paths:
                            con.execute(sql, [paths, paths, [pos[p] for p in paths]])
                else:
                    cols = ", ".join(f.name for f in schema.SCHEMAS[table])
                    con.execute(
                        f"INSERT INTO _{table}_raw SELECT {cols}, filename FROM "
                        "read_parquet(?::VARCHAR[], filename = true, union_by_name = true)",
                        [new],
                    )
                if has_run:
                    con.execute(
                        f"INSERT INTO _affected SELECT DISTINCT run_id FROM {target} "
                        "WHERE _file IN (SELECT unnest(?::VARCHAR[]))",
                        [new],
                    )
            if table == "metrics":
                con.execute(f"CREATE OR REPLACE VIEW _metrics_raw AS {_metrics_source(visible)}")
                self._visible_metrics = visible
            self._loaded[table] = vis_set
        self._affected_ids = [
            r[0] for r in con.execute("SELECT DISTINCT run_id FROM _affected").fetchall()
        ]
        n = len(self._affected_ids)
        stats["affected_runs"] = n
        if n:
            for name, select in _CURRENT:
                con.execute(f"DELETE FROM {name} WHERE {_AFFECTED_SCOPE}")
                sql = select.format(scope=_AFFECTED_SCOPE, live=_AFFECTED_LIVE)
                con.execute(f"INSERT INTO {name} {sql}")
                if name == "_runs_cur":
                    con.execute("DELETE FROM _affected_live")
                    con.execute(
                        f"INSERT INTO _affected_live SELECT run_id FROM _runs_cur "
                        f"WHERE {_AFFECTED_SCOPE}"
                    )
        if experiments_changed:
            con.execute(_EXPERIMENTS_CUR)
        self.owners = [
            r[0]
            for r in con.execute(
                "SELECT DISTINCT owner FROM _runs_cur WHERE status = 'RUNNING' "
                "AND owner IS NOT NULL"
            ).fetchall()
        ]
        self.last_install = stats

    def _unique_files(self, paths: list[str]) -> set[str]:
        """The metrics files among ``paths`` whose footer says one row per (run_id, key)."""
        rows = self.con.execute(
            "SELECT DISTINCT file_name FROM parquet_kv_metadata(?::VARCHAR[]) "
            "WHERE decode(key) = ? AND decode(value) = '1'",
            [paths, schema.UNIQUE_META.decode()],
        ).fetchall()
        return {r[0] for r in rows}

    def _relabel_compacted(
        self, snap: Snapshot, table: str, target: str, gone: list[str], new: list[str]
    ) -> tuple[set[str], set[str]]:
        """Take a compaction as what it is: the same rows under a new file name.

        A new compacted file whose rows are exactly those of loaded files it replaces (its
        row count equals theirs, and it holds at least their rows by construction) changes
        no current state: the loaded rows are relabelled to it and no run is recomputed.
        Metric summaries are merged: per run and key the latest of the replaced files'
        latest points (highest step, newest timestamp, then the later input, which is also
        the later row in the merged file), at the compacted file's arrival position.
        Returns the gone and new paths handled this way.
        """
        hiding: dict[str, list[str]] = {}
        new_set = set(new)
        for part in snap.partitions.get(table, []):
            for name, by in part.hidden_by.items():
                path, c_path = self.fs.join(part.folder, name), self.fs.join(part.folder, by)
                if c_path in new_set:
                    hiding.setdefault(c_path, []).append(path)
        gone_set = set(gone)
        done_gone: set[str] = set()
        done_new: set[str] = set()
        count_col = "sum(n)" if table == "metrics" else "count(*)"
        positions = snap.positions(self.fs, table) if table == "metrics" and hiding else {}
        for c_path, hidden in hiding.items():
            mine = [p for p in hidden if p in gone_set]
            if not mine:
                continue
            have = self.con.execute(
                f"SELECT coalesce({count_col}, 0) FROM {target} "
                "WHERE _file IN (SELECT unnest(?::VARCHAR[]))",
                [mine],
            ).fetchall()[0][0]
            rows = self.con.execute(
                "SELECT count(*) FROM read_parquet(?)", [c_path]
            ).fetchall()[0][0]
            if int(have) != int(rows):
                continue  # it holds rows this model never loaded: load it normally
            if table == "metrics":
                self.con.execute(
                    """INSERT INTO _metric_summary
  SELECT run_id, key, max(step),
    arg_max(timestamp, {'s': step, 't': epoch_ms(timestamp), 'p': pos}),
    arg_max(value, {'s': step, 't': epoch_ms(timestamp), 'p': pos}),
    max(max_timestamp), ?, ?, sum(n)
  FROM _metric_summary WHERE _file IN (SELECT unnest(?::VARCHAR[]))
  GROUP BY run_id, key""",
                    [positions[c_path], c_path, mine],
                )
                self.con.execute(
                    "DELETE FROM _metric_summary WHERE _file IN (SELECT unnest(?::VARCHAR[]))",
                    [mine],
                )
            else:
                self.con.execute(
                    f"UPDATE {target} SET _file = ? WHERE _file IN (SELECT unnest(?::VARCHAR[]))",
                    [c_path, mine],
                )
            done_gone.update(mine)
            done_new.add(c_path)
        return done_gone, done_new

    # ---- the wide shape ---------------------------------------------------------------
    @property
    def keys(self) -> dict[str, list[str]]:
        """Every param, metric and tag key of the current runs (sorted), per kind."""
        with self.lock:
            if self._keys is None:
                keys: dict[str, list[str]] = {"params": [], "metrics": [], "tags": []}
                for kind, name in self.con.execute(
                    "SELECT 'params', key FROM _params_cur GROUP BY key UNION ALL "
                    "SELECT 'metrics', key FROM _latest_cur GROUP BY key UNION ALL "
                    "SELECT 'tags', key FROM _tags_cur GROUP BY key ORDER BY 1, 2"
                ).fetchall():
                    keys[kind].append(name)
                self._keys = keys
            return self._keys

    def wide(self, run_ids: pa.Array) -> pa.Table:
        """One row per id in ``run_ids`` (in that order): ``params.<k>``, ``metrics.<k>``,
        ``tags.<k>`` for every key that at least one of these runs has."""
        with self.lock:
            n_keys = sum(len(v) for v in self.keys.values())
            n_runs = self.con.execute("SELECT count(*) FROM _runs_cur").fetchall()[0][0]
            # The first call pivots only the runs asked for (a cold search returns a few
            # runs of thousands); from the second on, every run's row is cached.
            cacheable = n_keys * n_runs <= WIDE_CACHE_CELLS
            if cacheable and (self._wide_cache is not None or self._wide_asked):
                cache = self._wide_cache_now(n_runs)
                rows = pc.index_in(run_ids, value_set=cache.column(0).combine_chunks())
                picked = cache.take(rows)
                n = len(picked)
                keep = [i for i, col in enumerate(picked.columns) if i and col.null_count < n]
                return picked.select(keep)
            self._wide_asked = True
            return wide_shape.pivot(self.con, run_ids, run_ids).drop_columns(["run_id"])

    def _wide_cache_now(self, n_runs: int) -> pa.Table:
        """The wide shape of every run: built once, then only changed runs are re-pivoted."""
        cache = self._wide_cache
        if cache is not None and len(self._wide_stale) * 4 > max(n_runs, 64):
            cache = None  # most rows changed: a full pivot is cheaper
        if cache is None:
            every = self.con.sql("SELECT run_id FROM _runs_cur ORDER BY run_id")
            cache = wide_shape.pivot(self.con, every.to_arrow_table().column(0), None)
        elif self._wide_stale:
            stale = sorted(self._wide_stale)
            rest = cache.filter(pc.invert(pc.is_in(cache.column(0), pa.array(stale, pa.string()))))
            live = self.con.sql(
                "SELECT run_id FROM _runs_cur WHERE run_id IN (SELECT unnest(?::VARCHAR[])) "
                "ORDER BY run_id",
                params=[stale],
            ).to_arrow_table().column(0).combine_chunks()
            fresh = wide_shape.pivot(self.con, live, live)
            cache = pa.concat_tables([rest, fresh], promote_options="default")
            if cache.column_names != rest.column_names:
                # A new key: keep the columns in the order a full pivot gives them.
                kinds = {kind: i for i, (kind, _, _) in enumerate(wide_shape.WIDE_KINDS)}
                names = sorted(
                    cache.column_names[1:],
                    key=lambda c: (kinds[c.split(".", 1)[0]], c.split(".", 1)[1]),
                )
                cache = cache.select(["run_id", *names])
        self._wide_cache = cache
        self._wide_stale = set()
        return cache

    # ---- nt.sql -------------------------------------------------------------------------
    def sql_connection(self) -> duckdb.DuckDBPyConnection:
        """A connection whose catalog holds only the five public views, at this snapshot.

        Call with ``lock`` held. ``runs``, ``params``, ``tags`` and ``artifacts`` are the
        current rows (small); ``metrics`` reads the visible metric files.
        """
        if self._sql_con is None:
            self._sql_con = connect(
                self.fs, sandbox=True, temp_directory=self._tmpdir, memory_limit=MEMORY_LIMIT
            )
        con = self._sql_con
        state = (self._key, self._dead)
        if state != self._sql_key:
            for name in ("runs", "params", "tags", "artifacts"):
                con.register(name, self.con.sql(f"SELECT * FROM {name}").to_arrow_table())
            con.execute(
                f"CREATE OR REPLACE TEMP VIEW metrics AS SELECT * FROM "
                f"({_metrics_source(self._visible_metrics)}) "
                "WHERE run_id IN (SELECT run_id FROM runs)"
            )
            self._sql_key = state
        return con

    # ---- upkeep -----------------------------------------------------------------------
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
        for name, _ in _CURRENT:
            self.con.execute(f"DELETE FROM {name}")
        self._loaded = {t: set() for t in (*_CACHED, "metrics")}
        self._key = ("reset",)
        self._wide_cache = None
        self._wide_stale = set()

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

    def close(self) -> None:
        """Close the connections and remove the private temp folder."""
        import shutil

        with self.lock:
            self.con.close()
            if self._sql_con is not None:
                self._sql_con.close()
                self._sql_con = None
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None


DuckViews = ReadModel  # the name the store and older code use
