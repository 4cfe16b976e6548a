"""DuckDB connections set up as every nbtrack read is, and whole-file reads through them.

The read path (``views``), compaction and gc all read segment files with DuckDB, so that a
file they trust is a file queries can read.
"""

from __future__ import annotations

import os

import duckdb
import pyarrow as pa

from nbtrack.errors import StoreError
from nbtrack.storage import schema
from nbtrack.storage._fs import FileSystem


def sql_string(text: str) -> str:
    """``text`` as a SQL string literal."""
    # Paths come from our own listing of the store, but the store root is user input:
    # quote it as a SQL string literal (a quote doubled), never paste it raw.
    return "'" + text.replace("'", "''") + "'"


def quote_ident(name: str) -> str:
    """A SQL identifier for ``name`` (column aliases cannot be parameters)."""
    return '"' + name.replace('"', '""') + '"'


def connect(
    fs: FileSystem,
    *,
    sandbox: bool,
    temp_directory: str | None = None,
    memory_limit: str | None = None,
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection set up as every nbtrack read is, its configuration locked.

    Args:
        fs: The store's file system (an fsspec one is registered with DuckDB).
        sandbox: Allow reading nothing but the store (the connection that runs ``nt.sql``).
        temp_directory: DuckDB's spill folder (the caller removes it); a private one is
            made when None.
        memory_limit: DuckDB's memory limit (e.g. ``"256MB"``); beyond it, it spills.

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
            con.register_filesystem(fs.duck_fs)  # type: ignore[union-attr]
        if sandbox:
            # Also for object storage: the registered file system would otherwise reach the
            # whole account (other buckets and prefixes), and DuckDB's own local file system
            # the machine. allowed_directories takes URLs as well as paths.
            root = fs.root.rstrip("/") + "/"
            con.execute(f"SET allowed_directories = [{sql_string(root)}]")
            # DuckDB allows reading its temp_directory (default <cwd>/.tmp): point it at a
            # private folder so nt.sql cannot read the user's working directory through it.
            if temp_directory is None:
                import tempfile

                temp_directory = tempfile.mkdtemp(prefix="nbtrack-duck-")
            con.execute(f"SET temp_directory = {sql_string(temp_directory)}")

            con.execute("SET enable_external_access = false")
        con.execute("SET TimeZone = 'UTC'")
        # Long OR chains in filters nest deeply once parsed.
        con.execute("SET max_expression_depth = 20000")
        con.execute(f"SET threads = {min(2, os.cpu_count() or 1)}")
        if memory_limit is not None:
            con.execute(f"SET memory_limit = {sql_string(memory_limit)}")
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
