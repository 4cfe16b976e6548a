"""Compaction, garbage collection and health checks of a store.

Compaction merges the small visible files of one partition into one ``c-`` file whose
Parquet footer names every file it replaces (transitively: the parts of any compacted file
it merges too). The new file becomes visible in one atomic step; from then on readers drop
the replaced files, which ``gc`` deletes only after ``NBTRACK_GC_GRACE`` seconds so a scan
that started earlier can finish. Query results never change.

Compactors exclude each other with a lock file on local stores (writers never take it).
On object storage run one compactor at a time; if two race anyway, readers accept the
compacted file with the newest name and ignore the other (see ``FileCatalog``).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from nbtrack import config
from nbtrack.storage import schema, segments
from nbtrack.storage.store import ParquetStore

TARGET_BYTES = 128 * 1024 * 1024  # files above this size are left alone


@contextlib.contextmanager
def compaction_lock(store: ParquetStore, *, blocking: bool) -> Iterator[bool]:
    """Exclusive lock between compactors of a local store; yields False if busy."""
    if store.fs.is_remote:
        yield True
        return
    import fcntl

    folder = store.fs.join("_locks")
    os.makedirs(folder, exist_ok=True)
    fd = os.open(os.path.join(folder, "compact.lock"), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _read(store: ParquetStore, path: str, table: str) -> pa.Table:
    sch = schema.SCHEMAS[table]
    with store.fs.open_read(path) as fh:
        t = pq.read_table(fh)
    t = t.replace_schema_metadata(None)
    cols = []
    for f in sch:
        if f.name in t.column_names:
            cols.append(t.column(f.name).cast(f.type))
        else:
            cols.append(pa.nulls(len(t), f.type))
    return pa.table(cols, schema=sch)


def compact_partition(
    store: ParquetStore, table: str, folder_rel: str, *, min_files: int = 2
) -> dict[str, int]:
    """Merge the small visible files of one partition. Returns counts for reporting."""
    part = store.catalog.resolve_partition(folder_rel)
    small = sorted((f for f in part.visible if f.size < TARGET_BYTES), key=lambda f: f.name)
    if len(small) < min_files:
        return {"merged_files": 0, "rows": 0}
    replaces: set[str] = set()
    tables = []
    for f in small:
        path = store.fs.join(folder_rel, f.name)
        replaces.add(f.name)
        if f.name.startswith(segments.COMPACTED_PREFIX):
            replaces.update(segments.read_replaces(store.fs, path))
        tables.append(_read(store, path, table))
    merged = pa.concat_tables(tables)
    if table == "metrics":
        # Background work: a full sort regroups a run's points across the merged flushes.
        merged = merged.sort_by(schema.SORT_KEYS["metrics"])
    data = segments.encode(table, merged, sorted(replaces))
    name = segments.segment_name(segments.COMPACTED_PREFIX, store.writer_id, store.next_seq())
    segments.write_segment(store.fs, store.fs.join(folder_rel, name), data)
    return {"merged_files": len(small), "rows": merged.num_rows}


def compact(store: ParquetStore, *, min_files: int = 2, blocking: bool = True) -> dict[str, Any]:
    """Compact every partition of every table that has at least ``min_files`` small files."""
    store.flush()
    stats: dict[str, Any] = {"partitions": 0, "merged_files": 0, "rows": 0, "skipped": False}
    with compaction_lock(store, blocking=blocking) as got:
        if not got:
            stats["skipped"] = True
            return stats
        for table in schema.TABLES:
            for d in sorted(store.fs.list_dirs(store.fs.join(table))):
                if not d.startswith(schema.PARTITION_KEY + "="):
                    continue
                r = compact_partition(store, table, f"{table}/{d}", min_files=min_files)
                if r["merged_files"]:
                    stats["partitions"] += 1
                    stats["merged_files"] += r["merged_files"]
                    stats["rows"] += r["rows"]
    gc(store, only_expired=True)
    return stats


def auto_compact(store: ParquetStore) -> None:
    """Background hook: compact partitions where small files piled up (never blocks)."""
    threshold = config.compact_files()
    snap = store.catalog.snapshot()
    busy = [
        (t, p.folder)
        for t, parts in snap.partitions.items()
        for p in parts
        if sum(1 for f in p.visible if f.size < TARGET_BYTES) >= threshold
    ]
    if not busy:
        return
    with compaction_lock(store, blocking=False) as got:
        if not got:
            return
        for table, folder in busy:
            compact_partition(store, table, folder, min_files=threshold)
    gc(store, only_expired=True)


def gc(store: ParquetStore, *, only_expired: bool = True) -> dict[str, int]:
    """Delete replaced files, losing compactions and stale temporary files after the grace."""
    grace = config.gc_grace()
    now = time.time()
    removed = {"replaced": 0, "temporary": 0, "losers": 0}
    snap = store.catalog.snapshot()
    for parts in snap.partitions.values():
        for part in parts:
            listing = {f.name: f for f in store.fs.list_files(store.fs.join(part.folder))}
            for name, since in part.replaced.items():
                if name in listing and (not only_expired or now - since > grace):
                    store.fs.delete(store.fs.join(part.folder, name))
                    removed["replaced"] += 1
            for f in part.losers:
                if not only_expired or now - f.mtime > grace:
                    store.fs.delete(store.fs.join(part.folder, f.name))
                    removed["losers"] += 1
            for f in part.temporary:
                # A temp file younger than the grace may be a write in progress.
                if now - f.mtime > max(grace, 60.0):
                    store.fs.delete(store.fs.join(part.folder, f.name))
                    removed["temporary"] += 1
    for folder, info in _stray_temporaries(store):
        if now - info.mtime > max(grace, 60.0):
            store.fs.delete(store.fs.join(folder, info.name) if folder else store.fs.join(info.name))
            removed["temporary"] += 1
    return removed


def _stray_temporaries(store: ParquetStore) -> list[tuple[str, Any]]:
    """Temporary files outside table partitions: the store root, _writers/, blob folders."""
    from nbtrack.storage._fs import TMP_SUFFIX

    folders = ["", "_writers"]
    blobs = "artifacts/blobs"
    folders += [f"{blobs}/{d}" for d in store.fs.list_dirs(store.fs.join(blobs))]
    out = []
    for folder in folders:
        path = store.fs.join(folder) if folder else store.fs.root
        for info in store.fs.list_files(path):
            if info.name.startswith(".") and info.name.endswith(TMP_SUFFIX):
                out.append((folder, info))
    return out


def doctor(store: ParquetStore) -> list[dict[str, str]]:
    """Every problem found in the store, with the action to take."""
    problems: list[dict[str, str]] = []
    import warnings

    import duckdb

    # Look harder than a read does: parse every footer, and let DuckDB load everything so
    # files it cannot read get marked too.
    store.catalog.mark_bad(store.catalog.snapshot())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            store.refresh()
        except (duckdb.Error, OSError):
            pass  # what could not be read is reported below
    snap = store.catalog.snapshot()
    now = time.time()
    for parts in snap.partitions.values():
        for part in parts:
            for info, why in part.corrupt:
                problems.append(
                    {
                        "path": store.fs.join(part.folder, info.name),
                        "problem": f"unreadable segment ({why}); queries skip it",
                        "action": "move it out of the store (its records are lost) "
                        "or restore it from a backup",
                    }
                )
            for info in part.foreign:
                problems.append(
                    {
                        "path": store.fs.join(part.folder, info.name),
                        "problem": "file not written by nbtrack; queries ignore it",
                        "action": "move it out of the store",
                    }
                )
            for info in part.temporary:
                if now - info.mtime > 60:
                    problems.append(
                        {
                            "path": store.fs.join(part.folder, info.name),
                            "problem": "leftover temporary file of an interrupted write",
                            "action": "run `nbtrack gc`",
                        }
                    )
            waiting = [n for n in part.replaced if now - part.replaced[n] > config.gc_grace()]
            if waiting:
                problems.append(
                    {
                        "path": store.fs.join(part.folder),
                        "problem": f"{len(waiting)} compacted-away files still on disk",
                        "action": "run `nbtrack gc`",
                    }
                )
    for folder, info in _stray_temporaries(store):
        if now - info.mtime > 60:
            problems.append(
                {
                    "path": store.fs.join(folder, info.name) if folder else store.fs.join(info.name),
                    "problem": "leftover temporary file of an interrupted write",
                    "action": "run `nbtrack gc`",
                }
            )
    for table in schema.TABLES:
        for part in snap.partitions.get(table, []):
            small = sum(1 for f in part.visible if f.size < TARGET_BYTES)
            if small >= 4 * config.compact_files():
                problems.append(
                    {
                        "path": store.fs.join(part.folder),
                        "problem": f"{small} small segments slow queries down",
                        "action": "run `nbtrack compact`",
                    }
                )
    return problems
