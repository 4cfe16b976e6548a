"""Merging segment files into one compacted file, streamed, with bounded memory.

A merge never holds its inputs in memory: DuckDB scans them in arrival order (one thread,
insertion order kept, ``memory_limit`` set) and hands over batches of
``BATCH_ROWS`` rows that a pyarrow ``ParquetWriter`` appends to a staged temporary file.
Its memory stays near one batch plus DuckDB's scan buffers, whatever the inputs' size.

What queries can read is checked by the reader that serves them, DuckDB, at both ends:

- every input is scanned in full first (``count(*)`` and an order-independent sum of row
  hashes); an input DuckDB cannot read is reported and never merged;
- the staged file must give DuckDB the same count and hash sum as its inputs together,
  i.e. hold exactly their rows, before it is made visible in one atomic step.

Rows keep arrival order: inputs in the order given (the caller's arrival order), rows in
file order, which the latest-metric tie-break relies on (docs/format.md). The output is not
re-sorted: a sort would need all rows at once.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from nbtrack.storage import schema, segments
from nbtrack.storage._fs import FileSystem
from nbtrack.storage.reader import error_line, quote_ident

#: Rows per batch handed from DuckDB to the Parquet writer (and per output row group).
BATCH_ROWS = 16_384
#: DuckDB's buffer memory for one merge; scans stream, so this bounds it.
DUCKDB_MEMORY = "32MB"


@dataclass
class MergeResult:
    """What one merge did: the rows and bytes written, and the inputs it refused."""

    rows: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    merged: list[str] = field(default_factory=list)
    # path -> why DuckDB cannot read it (never merged; the caller marks it)
    unreadable: dict[str, str] = field(default_factory=dict)
    # why the merged file was not made visible (None when it was)
    refused: str | None = None


class Merger:
    """A DuckDB connection set up for merging: one thread, bounded memory, UTC.

    Use it as a context manager so the connection is closed (never left for a forked
    child to destroy).
    """

    def __init__(self, fs: FileSystem) -> None:
        self.fs = fs
        self._spill = tempfile.mkdtemp(prefix="nbtrack-merge-")
        self.con = duckdb.connect(
            ":memory:",
            config={
                "threads": 1,
                "memory_limit": DUCKDB_MEMORY,
                "preserve_insertion_order": True,
                "temp_directory": self._spill,
            },
        )
        if fs.is_remote:
            self.con.register_filesystem(fs.duck_fs)  # type: ignore[union-attr]
        self.con.execute("SET TimeZone = 'UTC'")
        self.con.execute("SET enable_progress_bar = false")
        self.con.execute("SET enable_progress_bar_print = false")

    def __enter__(self) -> Merger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.con.close()
        try:
            os.rmdir(self._spill)
        except OSError:
            pass  # DuckDB left spill files: the OS temp folder is cleaned eventually

    def checksum(self, paths: list[str], table: str) -> tuple[int, int]:
        """(rows, sum of row hashes) of ``paths`` as DuckDB reads them, every column decoded.

        Raises:
            duckdb.Error: DuckDB cannot read one of the files (so no query can).
        """
        cols = ", ".join(quote_ident(f.name) for f in schema.SCHEMAS[table])
        got = self.con.sql(
            f"SELECT count(*), coalesce(sum(hash({cols})), 0)::VARCHAR "
            "FROM read_parquet(?::VARCHAR[], union_by_name = true)",
            params=[paths],
        ).fetchall()
        return int(got[0][0]), int(got[0][1])  # an aggregate returns one row

    def merge(
        self,
        table: str,
        inputs: list[tuple[str, int]],
        replaces: list[str],
        dest: str,
        *,
        before_publish: Callable[[], str | None] | None = None,
    ) -> MergeResult:
        """Merge ``inputs`` ((path, size) in arrival order) into a new file at ``dest``.

        ``replaces`` goes into the footer (``nbtrack.replaces``). Inputs DuckDB cannot read
        are left out of the result and listed in ``unreadable``; with fewer than two
        readable inputs nothing is written. ``before_publish`` is called last, before the
        merged file is made visible: a reason returned refuses the publication.
        """
        out = MergeResult()
        good: list[tuple[str, int]] = []
        rows = hashes = 0
        for path, size in inputs:
            try:
                n, h = self.checksum([path], table)
            except (duckdb.Error, pa.ArrowException) as exc:
                out.unreadable[path] = error_line(exc)
                continue
            good.append((path, size))
            rows += n
            hashes += h
        if len(good) < 2 or out.unreadable:
            # The caller marks the unreadable files; the next round plans without them.
            return out
        staged = self.fs.staging_path(dest)
        try:
            written = self._write(table, [p for p, _ in good], replaces, staged)
            try:
                check = self.checksum([staged], table)
            except (duckdb.Error, pa.ArrowException) as exc:
                out.refused = f"DuckDB cannot read the merged file: {error_line(exc)}"
                return out
            if check != (rows, hashes) or written != rows:
                out.refused = (
                    f"the merged file holds {check[0]} rows, its inputs {rows} "
                    "(or their contents differ)"
                )
                return out
            out.bytes_out = os.path.getsize(staged)
            why = before_publish() if before_publish is not None else None
            if why is not None:
                out.refused = why
                return out
            self.fs.publish(staged, dest)
            staged = ""
        finally:
            if staged:
                try:
                    os.unlink(staged)
                except FileNotFoundError:
                    pass
        out.rows = rows
        out.bytes_in = sum(s for _, s in good)
        out.merged = [p for p, _ in good]
        return out

    def unique_run_key(self, paths: list[str]) -> bool:
        """Whether metrics files ``paths`` together hold one row per (run_id, key).

        Only asked when each input says so in its footer; then the inputs must also share
        no (run_id, key), counted by DuckDB (in the compactor, off the logging path).
        """
        flagged = self.con.sql(
            "SELECT count(DISTINCT file_name) FROM parquet_kv_metadata(?::VARCHAR[]) "
            "WHERE decode(key) = ? AND decode(value) = '1'",
            params=[paths, schema.UNIQUE_META.decode()],
        ).fetchall()[0][0]
        if int(flagged) != len(paths):
            return False
        got = self.con.sql(
            "SELECT count(*), (SELECT count(*) FROM (SELECT DISTINCT run_id, key FROM "
            "read_parquet(?::VARCHAR[]))) FROM read_parquet(?::VARCHAR[])",
            params=[paths, paths],
        ).fetchall()[0]
        return int(got[0]) == int(got[1])

    def _write(self, table: str, paths: list[str], replaces: list[str], staged: str) -> int:
        """Stream the rows of ``paths`` in order into ``staged``; returns rows written."""
        sch = schema.SCHEMAS[table]
        unique = table == "metrics" and self.unique_run_key(paths)
        meta = segments.footer_metadata(replaces, unique_run_key=unique)
        cols = ", ".join(quote_ident(f.name) for f in sch)
        # One thread and preserve_insertion_order: files in list order, rows in file order.
        reader = self.con.sql(
            f"SELECT {cols} FROM read_parquet(?::VARCHAR[], union_by_name = true)",
            params=[paths],
        ).to_arrow_reader(BATCH_ROWS)
        written = 0
        with pq.ParquetWriter(
            staged, sch.with_metadata(meta), **segments.writer_options(table)
        ) as writer:
            for batch in reader:
                arrays = [batch.column(i).cast(f.type) for i, f in enumerate(sch)]
                writer.write_batch(pa.RecordBatch.from_arrays(arrays, schema=sch))
                written += batch.num_rows
        return written
