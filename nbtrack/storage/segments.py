"""Parquet segment files: naming, encoding, atomic writing, footer reading.

A segment is immutable once visible. Its name says who wrote it and when::

    s-<time_ns:020d>-<writer_id>-<seq:06d>.parquet     a flush by one writer
    c-<time_ns:020d>-<writer_id>-<seq:06d>.parquet     a compacted file (names what it replaces)

Temporary files start with a dot and end in ``.tmp`` so no reader glob (``*.parquet``)
ever matches them.
"""

from __future__ import annotations

import io
import json
import time
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from nbtrack.storage import schema
from nbtrack.storage._fs import FileSystem

SEGMENT_PREFIX = "s-"
COMPACTED_PREFIX = "c-"


def segment_name(kind: str, writer_id: str, seq: int) -> str:
    """File name of a new segment (``kind`` is ``s-`` or ``c-``)."""
    return f"{kind}{time.time_ns():020d}-{writer_id}-{seq:06d}.parquet"


def is_data_file(name: str) -> bool:
    """True for names a reader may consider (never temporary files)."""
    return name.endswith(".parquet") and not name.startswith(".")


def partition_dir(fs: FileSystem, table: str, experiment_id: str) -> str:
    return fs.join(table, f"{schema.PARTITION_KEY}={experiment_id}")


def footer_metadata(
    replaces: list[str] | None = None, *, unique_run_key: bool = False
) -> dict[bytes, bytes]:
    """Parquet key-value metadata of a segment (and the files a compacted one replaces).

    ``unique_run_key``: a metrics file holding one row per (run_id, key) says so, and a
    reader takes its rows as their own latest points without grouping them.
    """
    meta = {schema.FORMAT_META: str(schema.FORMAT_VERSION).encode()}
    if replaces is not None:
        meta[schema.REPLACES_META] = json.dumps(sorted(replaces)).encode()
    if unique_run_key:
        meta[schema.UNIQUE_META] = b"1"
    return meta


def writer_options(table_name: str) -> dict[str, Any]:
    """Options of ``pyarrow.parquet`` writers for ``table_name``'s segments."""
    if table_name == "metrics":
        # Delta encoding makes sorted steps and timestamps nearly free; byte-stream-split
        # lets zstd find the shared exponent bytes of float values.
        return {
            "compression": "zstd",
            "use_dictionary": ["run_id", "key"],
            "column_encoding": {
                "step": "DELTA_BINARY_PACKED",
                "timestamp": "DELTA_BINARY_PACKED",
                "value": "BYTE_STREAM_SPLIT",
            },
            "write_statistics": True,
        }
    return {"compression": "zstd"}


def encode(table_name: str, table: pa.Table, replaces: list[str] | None = None) -> bytes:
    """Parquet bytes for ``table``, sorted and encoded for its kind of data."""
    if table_name != "metrics":
        # Metric rows arrive grouped by run and key from the buffer (and from compaction's
        # inputs); sorting millions of strings here would cost more than the write.
        table = table.sort_by(schema.SORT_KEYS[table_name])
    unique = (table.schema.metadata or {}).get(schema.UNIQUE_META) == b"1"
    table = table.replace_schema_metadata(footer_metadata(replaces, unique_run_key=unique))
    sink = io.BytesIO()
    pq.write_table(table, sink, row_group_size=1 << 20, **writer_options(table_name))
    return sink.getvalue()


def write_segment(fs: FileSystem, path: str, data: bytes) -> None:
    """Make ``data`` visible under ``path`` in one atomic step."""
    fs.write_atomic(path, data)


def read_replaces(fs: FileSystem, path: str) -> list[str]:
    """Names of the files a compacted file replaces (from its Parquet footer)."""
    with fs.open_read(path) as fh:
        md = pq.read_metadata(fh)
    kv = md.metadata or {}
    raw = kv.get(schema.REPLACES_META)
    return list(json.loads(raw)) if raw else []


def check_readable(fs: FileSystem, path: str, size: int) -> str | None:
    """None when ``path`` looks like a whole Parquet file, else a short reason.

    Cheap on purpose (two tiny reads): it checks both magic markers and that the footer
    length fits the file, which catches truncated, empty and foreign files. A file that
    passes and still fails in DuckDB is caught by the read path and checked in full.
    """
    if size < 12:
        return f"{size} bytes is too small for a Parquet file"
    try:
        with fs.open_read(path) as fh:
            head = fh.read(4)
            fh.seek(size - 8)
            tail = fh.read(8)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"cannot read it: {exc}"
    if head != b"PAR1" or tail[4:] != b"PAR1":
        return "no Parquet magic bytes (truncated or not a Parquet file)"
    footer = int.from_bytes(tail[:4], "little")
    if footer + 12 > size:
        return "footer length exceeds the file size (truncated)"
    return None


def check_footer(fs: FileSystem, path: str) -> str | None:
    """None when the whole Parquet footer parses, else a short reason (slower, thorough)."""
    try:
        with fs.open_read(path) as fh:
            pq.read_metadata(fh)
    except FileNotFoundError:
        return None
    except (OSError, pa.ArrowException) as exc:
        return str(exc).splitlines()[0][:200]
    return None


def check_schema(fs: FileSystem, path: str, table: str) -> str | None:
    """None when the file has every column of ``table`` with its type, else why not."""
    try:
        with fs.open_read(path) as fh:
            found = pq.read_schema(fh)
    except FileNotFoundError:
        return None
    except (OSError, pa.ArrowException) as exc:
        return str(exc).splitlines()[0][:200]
    for field in schema.SCHEMAS[table]:
        idx = found.get_field_index(field.name)
        if idx < 0:
            return f"not a {table} segment: column {field.name!r} is missing"
        got = found.field(idx).type
        if pa.types.is_dictionary(got):
            got = got.value_type
        if got != field.type:
            return f"not a {table} segment: column {field.name!r} is {got}, expected {field.type}"
    return None
