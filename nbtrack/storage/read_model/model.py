"""``ReadModel``: one DuckDB connection over a snapshot of the store, its keys, the wide
shape of runs (cached per snapshot) and the ``nt.sql`` connection (see the package doc)."""

from __future__ import annotations

import re
import threading
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from nbtrack.storage import schema, wide_shape
from nbtrack.storage._fs import FileSystem
from nbtrack.storage.catalog import Snapshot
from nbtrack.storage.read_model.loading import FileLoading
from nbtrack.storage.read_model.statements import _CACHED, _metrics_source, runs_view
from nbtrack.storage.reader import connect

#: Memory DuckDB may use for one connection before it spills to its private temp folder.
MEMORY_LIMIT = "256MB"

# A query that reads metric points: it names ``metrics`` (not ``latest_metrics`` or a
# ``"metrics.<key>"`` column), ``metric_points`` or ``_metrics_raw``.
_READS_POINTS = re.compile(r'(?<![\w".])metrics(?![\w".])|metric_points|_metrics_raw')

#: Cells (runs × keys) up to which the wide shape of every run is cached per snapshot.
WIDE_CACHE_CELLS = 4_000_000

#: Cells (runs × keys) pivoted at a time when the wide cache is built.
PIVOT_SLICE_CELLS = 250_000


class ReadModel(FileLoading):
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
        # Where each run's row is in the wide cache (changed runs' rows are appended, their
        # old rows left unreferenced: ``_wide_unused`` of them, until the next full build).
        self._wide_rows: dict[str, int] = {}
        self._wide_unused = 0
        # Runs changed since the wide cache was built: their rows are re-pivoted on demand.
        self._wide_stale: set[str] = set()
        self._wide_asked = False
        self._affected_ids: list[str] = []
        self._visible_metrics: list[str] = []
        self._metrics_view_stale = False
        self._sql_con: duckdb.DuckDBPyConnection | None = None
        self._sql_key: tuple[Any, ...] | None = None
        self.last_install: dict[str, int] = {}  # what the last install did (tests, benchmarks)

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

    # ---- the wide shape ---------------------------------------------------------------
    @property
    def keys(self) -> dict[str, list[str]]:
        """Every param, metric and tag key of the current runs (sorted), per kind."""
        with self.lock:
            if self._keys is None:
                keys: dict[str, list[str]] = {"params": [], "metrics": [], "tags": []}
                # A current run's metric keys are those of its summary rows (ranked or
                # not), so the keys skip ``_latest_cur``'s ranking and multi-file split.
                for kind, name in self.con.execute(
                    "SELECT 'params', key FROM _params_cur GROUP BY key UNION ALL "
                    "SELECT 'metrics', key FROM _summary "
                    "WHERE run_id IN (SELECT run_id FROM _runs_cur) GROUP BY key UNION ALL "
                    "SELECT 'tags', key FROM _tags_cur GROUP BY key ORDER BY 1, 2"
                ).fetchall():
                    keys[kind].append(name)
                self._keys = keys
            return self._keys

    def wide(self, run_ids: pa.Array) -> pa.Table:
        """One row per id in ``run_ids`` (in that order): ``params.<k>``, ``metrics.<k>``,
        ``tags.<k>`` for every key that at least one of these runs has."""
        with self.lock:
            # The first call pivots only the runs asked for (a cold search returns a few
            # runs of thousands); from the second on, every run's row is cached while the
            # cache holds at most WIDE_CACHE_CELLS cells (judged by its own shape once built,
            # so a search after a flush does not count every key of the store).
            cache = self._wide_cache
            cacheable = False
            if cache is not None:
                cacheable = (cache.num_columns - 1) * cache.num_rows <= WIDE_CACHE_CELLS
                if not cacheable:
                    self._wide_cache = None
            elif self._wide_asked:
                n_keys = sum(len(v) for v in self.keys.values())
                cacheable = n_keys * self._n_runs() <= WIDE_CACHE_CELLS
            if cacheable:
                cache = self._wide_cache_now()
                where = self._wide_rows
                rows = [where.get(i, -1) for i in run_ids.to_pylist()]
                if -1 in rows:  # (a run the cache never saw: not one of this snapshot's)
                    self._wide_cache = None
                    return wide_shape.pivot(self.con, run_ids, run_ids).drop_columns(["run_id"])
                picked = cache.take(pa.array(rows, pa.int64()))
                n = len(picked)
                keep = [i for i, col in enumerate(picked.columns) if i and col.null_count < n]
                return picked.select(keep)
            self._wide_asked = True
            return wide_shape.pivot(self.con, run_ids, run_ids).drop_columns(["run_id"])

    def _n_runs(self) -> int:
        return int(self.con.execute("SELECT count(*) FROM _runs_cur").fetchall()[0][0])

    def _wide_cache_now(self) -> pa.Table:
        """The wide shape of every run: built once, then only changed runs are re-pivoted."""
        cache = self._wide_cache
        if cache is not None and (len(self._wide_stale) + self._wide_unused) * 2 > max(
            cache.num_rows, 64
        ):
            cache = None  # most rows changed: a full pivot is cheaper
        if cache is None:
            every = self.con.sql("SELECT run_id FROM _runs_cur ORDER BY run_id")
            ids = every.to_arrow_table().column(0).combine_chunks()
            # In slices of about PIVOT_SLICE_CELLS cells: one pivot of 1,000 runs x 1,109
            # keys held 1.1M long rows at once (+120 MB peak); the cache itself is 10 MB.
            n_keys = max(1, sum(len(v) for v in self.keys.values()))
            step = max(1, PIVOT_SLICE_CELLS // n_keys)
            if len(ids) <= step:
                cache = wide_shape.pivot(self.con, ids, None)
            else:
                parts = [
                    wide_shape.pivot(self.con, ids[i : i + step], ids[i : i + step])
                    for i in range(0, len(ids), step)
                ]
                joined = pa.concat_tables(parts, promote_options="default")
                cache = _in_key_order(joined).combine_chunks()
            self._wide_rows = {run_id: i for i, run_id in enumerate(ids.to_pylist())}
            self._wide_unused = 0
        elif self._wide_stale:
            stale = sorted(self._wide_stale)
            # The stale runs that are current, and whether a file read in place holds one.
            found = self.con.sql(
                "SELECT run_id, run_id IN (SELECT run_id FROM _file_runs WHERE run_id IN "
                "(SELECT unnest($ids::VARCHAR[]))) AS in_place FROM _runs_cur "
                "WHERE run_id IN (SELECT unnest($ids::VARCHAR[])) ORDER BY run_id",
                params={"ids": stale},
            ).to_arrow_table()
            live = found.column(0).combine_chunks()
            in_place = pc.any(found.column(1)).as_py()
            relations = None if in_place else {"metrics": "_latest_copied"}
            fresh = wide_shape.pivot(self.con, live, live, relations)
            # Their new rows go at the end; rows of runs no longer current stay unreferenced.
            where = self._wide_rows
            for run_id in stale:
                if where.pop(run_id, None) is not None:
                    self._wide_unused += 1
            start = cache.num_rows
            where.update((run_id, start + i) for i, run_id in enumerate(live.to_pylist()))
            before = cache.column_names
            cache = pa.concat_tables([cache, fresh], promote_options="default")
            if cache.column_names != before:
                cache = _in_key_order(cache)  # a new key: where a full pivot puts it
            if cache.column(0).num_chunks > 16:
                cache = cache.combine_chunks()
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
            if bool(dead) != bool(self._dead):
                self.con.execute(runs_view(bool(dead)))
            self._dead = frozen

    def execute(self, sql: str, params: list[Any] | None = None) -> pa.Table:
        with self.lock:
            if self._metrics_view_stale and _READS_POINTS.search(sql):
                self.con.execute(
                    "CREATE OR REPLACE VIEW _metrics_raw AS "
                    + _metrics_source(self._visible_metrics)
                )
                self._metrics_view_stale = False
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


def _in_key_order(table: pa.Table) -> pa.Table:
    """``run_id``, then the columns in the order a full pivot gives them (kind, then key)."""
    kinds = {kind: i for i, (kind, _, _) in enumerate(wide_shape.WIDE_KINDS)}
    names = sorted(
        table.column_names[1:], key=lambda c: (kinds[c.split(".", 1)[0]], c.split(".", 1)[1])
    )
    return table.select(["run_id", *names])


DuckViews = ReadModel  # the name the store and older code use
