"""The read path: a consistent snapshot of the segment files and DuckDB views over it.

A snapshot lists every partition folder once, drops temporary files, unreadable files
(with one warning each) and every file that an accepted compacted file replaces. Because a
compacted file becomes visible in one atomic step and the files it replaces are deleted only
after a grace period, each snapshot counts every record exactly once.

Views (created on one DuckDB connection that may read nothing but the store):

    runs(run_id, experiment, name, status, start_time, end_time, duration_s,
         parent_run_id, description)
    params(run_id, key, value)          tags(run_id, key, value)
    metrics(run_id, key, step, timestamp, value)
    artifacts(run_id, path, size, sha256)
    latest_metrics(run_id, key, step, timestamp, value)   one row per run and key
"""

from __future__ import annotations

import os
import threading
import warnings
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa

from nbtrack.errors import NbtrackWarning, StoreError
from nbtrack.storage import schema, segments
from nbtrack.storage._fs import TMP_SUFFIX, FileInfo, FileSystem


@dataclass
class PartitionFiles:
    """Resolved files of one partition folder."""

    folder: str
    visible: list[FileInfo] = field(default_factory=list)
    # name -> mtime of the accepted compacted file that replaces it (for gc)
    replaced: dict[str, float] = field(default_factory=dict)
    losers: list[FileInfo] = field(default_factory=list)
    temporary: list[FileInfo] = field(default_factory=list)
    corrupt: list[tuple[FileInfo, str]] = field(default_factory=list)
    foreign: list[FileInfo] = field(default_factory=list)


@dataclass
class Snapshot:
    """Every table's partitions, resolved."""

    partitions: dict[str, list[PartitionFiles]]

    def paths(self, fs: FileSystem, table: str) -> list[str]:
        out = []
        for part in self.partitions.get(table, []):
            out.extend(fs.join(part.folder, f.name) for f in part.visible)
        return out

    def key(self) -> tuple[Any, ...]:
        return tuple(
            (t, p.folder, tuple(sorted(f.name for f in p.visible)))
            for t, parts in sorted(self.partitions.items())
            for p in parts
        )


class FileCatalog:
    """Lists and resolves segment files; caches facts about immutable files."""

    def __init__(self, fs: FileSystem) -> None:
        self.fs = fs
        self._replaces: dict[str, list[str]] = {}
        self._bad: dict[tuple[str, int], str | None] = {}
        self._warned: set[str] = set()
        self._lock = threading.Lock()

    def _problem(self, path: str, info: FileInfo) -> str | None:
        # Footers are checked once per (path, size): files never change once visible.
        key = (path, info.size)
        if key not in self._bad:
            self._bad[key] = segments.check_readable(self.fs, path)
        return self._bad[key]

    def _replaced_by(self, path: str) -> list[str]:
        if path not in self._replaces:
            self._replaces[path] = segments.read_replaces(self.fs, path)
        return self._replaces[path]

    def resolve_partition(self, folder_rel: str) -> PartitionFiles:
        part = PartitionFiles(folder_rel)
        folder = self.fs.join(folder_rel)
        data: list[FileInfo] = []
        for info in self.fs.list_files(folder):
            if info.name.endswith(TMP_SUFFIX) and info.name.startswith("."):
                part.temporary.append(info)
            elif not segments.is_data_file(info.name) or not (
                info.name.startswith(segments.SEGMENT_PREFIX)
                or info.name.startswith(segments.COMPACTED_PREFIX)
            ):
                part.foreign.append(info)
            else:
                data.append(info)
        good: list[FileInfo] = []
        for info in data:
            path = self.fs.join(folder_rel, info.name)
            problem = self._problem(path, info)
            if problem is None:
                good.append(info)
            else:
                part.corrupt.append((info, problem))
        # Accept compacted files oldest name first; one whose inputs overlap an already
        # accepted one lost a race with another compactor and is ignored entirely.
        dropped: set[str] = set()
        by_name = {f.name: f for f in good}
        compacted = sorted(
            (f for f in good if f.name.startswith(segments.COMPACTED_PREFIX)),
            key=lambda f: f.name,
        )
        loser_names: set[str] = set()
        for f in compacted:
            if f.name in dropped:
                continue
            replaces = set(self._replaced_by(self.fs.join(folder_rel, f.name)))
            if replaces & dropped:
                loser_names.add(f.name)
                continue
            for name in replaces:
                dropped.add(name)
                part.replaced[name] = f.mtime
        for name, info in by_name.items():
            if name in loser_names:
                part.losers.append(info)
            elif name not in dropped:
                part.visible.append(info)
        return part

    def snapshot(self, tables: tuple[str, ...] = schema.TABLES) -> Snapshot:
        with self._lock:
            parts: dict[str, list[PartitionFiles]] = {}
            for table in tables:
                folders = sorted(self.fs.list_dirs(self.fs.join(table)))
                parts[table] = [
                    self.resolve_partition(f"{table}/{d}")
                    for d in folders
                    if d.startswith(schema.PARTITION_KEY + "=")
                ]
            return Snapshot(parts)

    def warn_problems(self, snap: Snapshot) -> None:
        for parts in snap.partitions.values():
            for part in parts:
                for info, problem in part.corrupt:
                    path = self.fs.join(part.folder, info.name)
                    if path not in self._warned:
                        self._warned.add(path)
                        warnings.warn(
                            f"nbtrack: skipping unreadable segment {path} ({problem}); "
                            "run `nbtrack doctor` for what to do",
                            NbtrackWarning,
                            stacklevel=4,
                        )


_DUCK_TYPES = {
    pa.string(): "VARCHAR",
    pa.int64(): "BIGINT",
    pa.float64(): "DOUBLE",
    pa.bool_(): "BOOLEAN",
    pa.timestamp("ms", tz="UTC"): "TIMESTAMPTZ",
}


def _sql_string(text: str) -> str:
    # Paths come from our own listing of the store, but the store root is user input:
    # quote it as a SQL string literal (a quote doubled), never paste it raw.
    return "'" + text.replace("'", "''") + "'"


def _raw_source(table: str, paths: list[str]) -> str:
    sch = schema.SCHEMAS[table]
    if not paths:
        cols = ", ".join(f"CAST(NULL AS {_DUCK_TYPES[f.type]}) AS {f.name}" for f in sch)
        return f"SELECT {cols} LIMIT 0"
    listed = ", ".join(_sql_string(p) for p in paths)
    cols = ", ".join(f.name for f in sch)
    return f"SELECT {cols} FROM read_parquet([{listed}], union_by_name = true)"


_DERIVED_VIEWS = """
CREATE OR REPLACE VIEW _runs_latest AS
  SELECT * FROM _runs_raw
  QUALIFY row_number() OVER (PARTITION BY run_id ORDER BY record_time DESC) = 1;
CREATE OR REPLACE VIEW _deleted AS
  SELECT run_id FROM (
    SELECT run_id, deleted FROM _deletions_raw
    QUALIFY row_number() OVER (PARTITION BY run_id ORDER BY record_time DESC) = 1
  ) WHERE deleted;
CREATE OR REPLACE VIEW runs AS
  SELECT r.run_id, r.experiment, r.name,
    CASE WHEN r.status = 'RUNNING' AND d.owner IS NOT NULL THEN 'KILLED' ELSE r.status END
      AS status,
    r.start_time,
    CASE WHEN r.status = 'RUNNING' AND d.owner IS NOT NULL THEN d.last_seen ELSE r.end_time END
      AS end_time,
    date_diff('millisecond', r.start_time,
      CASE WHEN r.status = 'RUNNING' AND d.owner IS NOT NULL THEN d.last_seen
           ELSE coalesce(r.end_time, now()) END) / 1000.0 AS duration_s,
    r.parent_run_id, r.description
  FROM _runs_latest r
  LEFT JOIN _dead_writers d ON r.owner = d.owner
  WHERE r.run_id NOT IN (SELECT run_id FROM _deleted);
CREATE OR REPLACE VIEW _live_runs AS SELECT run_id FROM runs;
CREATE OR REPLACE VIEW params AS
  SELECT run_id, key, arg_min(value, record_time) AS value FROM _params_raw
  WHERE run_id IN (SELECT run_id FROM _live_runs)
  GROUP BY run_id, key;
CREATE OR REPLACE VIEW tags AS
  SELECT run_id, key, value FROM (
    SELECT run_id, key, value FROM _tags_raw
    WHERE run_id IN (SELECT run_id FROM _live_runs)
    QUALIFY row_number() OVER (PARTITION BY run_id, key ORDER BY record_time DESC) = 1
  ) WHERE value IS NOT NULL;
CREATE OR REPLACE VIEW metrics AS
  SELECT run_id, key, step, timestamp, value FROM _metrics_raw
  WHERE run_id IN (SELECT run_id FROM _live_runs);
CREATE OR REPLACE VIEW latest_metrics AS
  SELECT run_id, key, max(step) AS step,
    arg_max(timestamp, [step, epoch_ms(timestamp)]) AS timestamp,
    arg_max(value, [step, epoch_ms(timestamp)]) AS value
  FROM metrics GROUP BY run_id, key;
CREATE OR REPLACE VIEW artifacts AS
  SELECT run_id, path, size, sha256 FROM _artifacts_raw
  WHERE run_id IN (SELECT run_id FROM _live_runs)
  QUALIFY row_number() OVER (PARTITION BY run_id, path ORDER BY record_time DESC) = 1;
"""


class DuckViews:
    """One DuckDB connection, restricted to reading the store, with the views over it."""

    def __init__(self, fs: FileSystem) -> None:
        self.fs = fs
        self.lock = threading.RLock()
        con = duckdb.connect(":memory:")
        try:
            if fs.is_remote:
                con.register_filesystem(fs.fs)  # type: ignore[union-attr]
            else:
                root = fs.root.rstrip("/") + "/"
                con.execute(f"SET allowed_directories = [{_sql_string(root)}]")
                con.execute("SET enable_external_access = false")
            con.execute("SET TimeZone = 'UTC'")
            con.execute(f"SET threads = {min(2, os.cpu_count() or 1)}")
            con.execute("SET lock_configuration = true")
        except duckdb.Error as exc:
            raise StoreError(f"cannot set up DuckDB over the store: {exc}") from exc
        con.execute("CREATE TEMP TABLE _dead_writers (owner VARCHAR, last_seen TIMESTAMPTZ)")
        self.con = con
        self._key: tuple[Any, ...] | None = None
        self._dead: frozenset[tuple[str, float]] = frozenset()

    def install(self, snap: Snapshot) -> None:
        """(Re)create the views when the snapshot's file set changed."""
        key = snap.key()
        if key == self._key:
            return
        with self.lock:
            for table in schema.TABLES:
                src = _raw_source(table, snap.paths(self.fs, table))
                self.con.execute(f"CREATE OR REPLACE VIEW _{table}_raw AS {src}")
            if self._key is None:
                self.con.execute(_DERIVED_VIEWS)
            self._key = key

    def running_owners(self) -> list[str]:
        with self.lock:
            rows = self.con.execute(
                "SELECT DISTINCT owner FROM _runs_latest WHERE status = 'RUNNING' "
                "AND owner IS NOT NULL"
            ).fetchall()
        return [r[0] for r in rows]

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
