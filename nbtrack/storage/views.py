"""The read path: a consistent snapshot of the segment files and DuckDB views over it.

A snapshot lists every partition folder once, drops temporary files, unreadable files
(with one warning each) and every file that an accepted compacted file replaces. Because a
compacted file becomes visible in one atomic step and the files it replaces are deleted only
after a grace period, each snapshot counts every record exactly once.

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
    # name -> the accepted compacted file that hides it now (gc checks that file first)
    hidden_by: dict[str, str] = field(default_factory=dict)
    # visible name -> its place in arrival order (see ``arrival_position``)
    positions: dict[str, str] = field(default_factory=dict)
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

    def positions(self, fs: FileSystem, table: str) -> dict[str, str]:
        """Path -> arrival position of every visible file of ``table``."""
        return {
            fs.join(part.folder, name): pos
            for part in self.partitions.get(table, [])
            for name, pos in part.positions.items()
        }

    def key(self) -> tuple[Any, ...]:
        return tuple(
            (t, p.folder, tuple(sorted(f.name for f in p.visible)))
            for t, parts in sorted(self.partitions.items())
            for p in parts
        )


def arrival_position(name: str, replaces: list[str]) -> str:
    """Where a file's rows stand in arrival order, as a string that sorts like it.

    Rows arrive in file order, then row order within a file: a flush keeps the order of
    the calls (the buffer groups points by key with a stable sort), and compaction
    concatenates its inputs in name order and sorts stably. A flushed (``s-``) file stands
    at its own name (its time and writer sequence); a compacted (``c-``) file at the
    largest ``s-`` name it replaces, i.e. at its newest rows.
    """
    if name.startswith(segments.COMPACTED_PREFIX):
        parts = [r for r in replaces if r.startswith(segments.SEGMENT_PREFIX)]
        if parts:
            return max(parts)
    return name


class FileCatalog:
    """Lists and resolves segment files; caches facts about immutable files."""

    def __init__(self, fs: FileSystem) -> None:
        self.fs = fs
        self._replaces: dict[str, list[str]] = {}
        self._bad: dict[tuple[str, int], str | None] = {}
        self._warned: set[str] = set()
        self._lock = threading.Lock()
        # (path, size) -> None when DuckDB read the whole file, else why not
        self._duck_checked: dict[tuple[str, int], str | None] = {}

    def _problem(self, path: str, info: FileInfo) -> str | None:
        # Footers are checked once per (path, size): files never change once visible.
        key = (path, info.size)
        if key not in self._bad:
            problem = segments.check_readable(self.fs, path, info.size)
            if problem is None:
                # Once per new file: a footer read, so a Parquet file of another shape
                # under a segment name is skipped instead of breaking every query.
                table = path[len(self.fs.root) :].strip("/").split("/", 1)[0]
                if table in schema.SCHEMAS:
                    problem = segments.check_schema(self.fs, path, table)
            self._bad[key] = problem
        return self._bad[key]

    def mark_path_bad(self, path: str, why: str) -> None:
        """Skip ``path`` from now on (DuckDB could not read it)."""
        for key in [k for k in self._bad if k[0] == path]:
            self._bad[key] = why
        folder, name = path.rsplit("/", 1) if "/" in path else ("", path)
        for info in self.fs.list_files(folder):
            if info.name == name:
                self._bad[(path, info.size)] = why

    def duckdb_problem(self, reader: SegmentReader, path: str, table: str) -> str | None:
        """None when DuckDB reads every row of ``path`` (checked once per file), else why not."""
        folder, name = path.rsplit("/", 1) if "/" in path else ("", path)
        size = next((f.size for f in self.fs.list_files(folder) if f.name == name), -1)
        key = (path, size)
        if key not in self._duck_checked:
            self._duck_checked[key] = reader.problem(path, table)
        return self._duck_checked[key]

    def mark_bad(self, snap: Snapshot) -> int:
        """Check every visible file's footer in full; mark failures. Returns how many."""
        found = 0
        for parts in snap.partitions.values():
            for part in parts:
                for info in part.visible:
                    path = self.fs.join(part.folder, info.name)
                    problem = segments.check_footer(self.fs, path)
                    if problem is not None:
                        self._bad[(path, info.size)] = problem
                        found += 1
        return found

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
        # Accept compacted files newest name first. A newer compacted file that merged an
        # older one names it (and its parts) in its footer, so the older one is dropped.
        # A compacted file whose inputs overlap an accepted one without being replaced by it
        # lost a race with another compactor and is ignored entirely.
        dropped: set[str] = set()
        by_name = {f.name: f for f in good}
        compacted = sorted(
            (f for f in good if f.name.startswith(segments.COMPACTED_PREFIX)),
            key=lambda f: f.name,
            reverse=True,
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
                part.hidden_by.setdefault(name, f.name)
        # A file's grace period runs from the first compaction that replaced it, not from
        # the newest one that lists it again (transitively): older compacted files that are
        # themselves replaced now still tell when that was.
        for f in compacted:
            if f.name in loser_names:
                continue
            for name in self._replaced_by(self.fs.join(folder_rel, f.name)):
                if name in part.replaced and f.mtime < part.replaced[name]:
                    part.replaced[name] = f.mtime
        for name, info in by_name.items():
            if name in loser_names:
                part.losers.append(info)
            elif name not in dropped:
                part.visible.append(info)
                part.positions[name] = arrival_position(
                    name, self._replaced_by(self.fs.join(folder_rel, name))
                    if name.startswith(segments.COMPACTED_PREFIX) else []
                )
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
                for info, problem in [
                    *part.corrupt,
                    *((f, "not an nbtrack segment") for f in part.foreign),
                ]:
                    path = self.fs.join(part.folder, info.name)
                    if path not in self._warned:
                        self._warned.add(path)
                        warnings.warn(
                            f"nbtrack: skipping {path} ({problem}); "
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


def quote_ident(name: str) -> str:
    """A SQL identifier for ``name`` (column aliases cannot be parameters)."""
    return '"' + name.replace('"', '""') + '"'


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


def connect(fs: FileSystem, *, sandbox: bool) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection set up as every nbtrack read is, its configuration locked.

    Args:
        fs: The store's file system (an fsspec one is registered with DuckDB).
        sandbox: Allow reading nothing but the store (the connection that runs ``nt.sql``).

    Raises:
        StoreError: DuckDB refused a setting.
    """
    con = duckdb.connect(":memory:")
    try:
        # First, so that no statement here can draw it either: DuckDB draws a progress bar
        # on stdout for statements that run past a threshold (2 s); in a notebook or a CLI
        # pipe that is noise in the user's output.
        con.execute("SET enable_progress_bar = false")
        con.execute("SET enable_progress_bar_print = false")
        if fs.is_remote:
            con.register_filesystem(fs.fs)  # type: ignore[union-attr]
        elif sandbox:
            root = fs.root.rstrip("/") + "/"
            con.execute(f"SET allowed_directories = [{_sql_string(root)}]")
            # DuckDB allows reading its temp_directory (default <cwd>/.tmp): point it at a
            # private folder so nt.sql cannot read the user's working directory through it.
            import tempfile

            con.execute(
                f"SET temp_directory = {_sql_string(tempfile.mkdtemp(prefix='nbtrack-duck-'))}"
            )

            con.execute("SET enable_external_access = false")
        con.execute("SET TimeZone = 'UTC'")
        # Long OR chains in filters nest deeply once parsed.
        con.execute("SET max_expression_depth = 20000")
        con.execute(f"SET threads = {min(2, os.cpu_count() or 1)}")
        con.execute("SET lock_configuration = true")
    except duckdb.Error as exc:
        con.close()
        raise StoreError(f"cannot set up DuckDB over the store: {exc}") from exc
    return con


def error_line(exc: BaseException) -> str:
    """The first line of an error's message (DuckDB's run on for several)."""
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__


class SegmentReader:
    """Reads whole segment files with DuckDB, the reader that serves every query.

    Compaction and gc use it so that a file they trust is a file queries can read: pyarrow
    writes values (e.g. timestamps past year 294247 in microseconds) that DuckDB refuses.
    Use it as a context manager: the connection is closed at the end (never left for a
    forked child to destroy).
    """

    def __init__(self, fs: FileSystem) -> None:
        self.fs = fs
        self.con = connect(fs, sandbox=False)

    def __enter__(self) -> SegmentReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.con.close()

    def read(self, paths: str | list[str], table: str, *, sort: bool = False) -> pa.Table:
        """Every row of ``paths`` (one file or several) in ``table``'s schema.

        Rows come in arrival order: files in the order given, rows in file order. With
        ``sort``, they are ordered by the table's sort keys, arrival order among equals
        (what a stable sort of the concatenated files gives).

        Raises:
            duckdb.Error: DuckDB cannot read one of the files (so no query can).
        """
        files = [paths] if isinstance(paths, str) else list(paths)
        sch = schema.SCHEMAS[table]
        cols = ", ".join(quote_ident(f.name) for f in sch)
        keys = [quote_ident(k) for k, _ in schema.SORT_KEYS[table]] if sort else []
        order = ", ".join([*keys, "_i", "file_row_number"])
        got = self.con.sql(
            f"SELECT {cols} FROM read_parquet(?::VARCHAR[], filename = true, "
            "file_row_number = true, union_by_name = true) "
            "JOIN (SELECT unnest(?::VARCHAR[]) AS filename, "
            "unnest(range(len(?::VARCHAR[]))) AS _i) USING (filename) "
            f"ORDER BY {order}",
            params=[files, files, files],
        ).to_arrow_table()
        return pa.table([got.column(i).cast(f.type) for i, f in enumerate(sch)], schema=sch)

    def problem(self, path: str, table: str) -> str | None:
        """None when DuckDB reads every row and column of ``path``, else why not."""
        try:
            self.read(path, table)
        except (duckdb.Error, pa.ArrowException) as exc:
            return error_line(exc)
        return None

    def problem_in_bytes(self, data: bytes, table: str) -> str | None:
        """None when DuckDB reads the Parquet file ``data`` in full, else why not.

        Checks a file before it is made visible: it goes through a private temporary file.
        """
        import tempfile

        fd, tmp = tempfile.mkstemp(prefix="nbtrack-check-", suffix=".parquet")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            return self.problem(tmp, table)
        finally:
            os.unlink(tmp)


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
