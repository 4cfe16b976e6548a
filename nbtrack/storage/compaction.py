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
import fcntl  # imported here, never by the compactor thread (fork safety)
import logging
import os
import time
from collections.abc import Iterator
from typing import Any

import duckdb
import pyarrow as pa

from nbtrack import config
from nbtrack.storage import schema, segments
from nbtrack.storage.catalog import PartitionFiles
from nbtrack.storage.reader import SegmentReader, error_line
from nbtrack.storage.store import ParquetStore

log = logging.getLogger("nbtrack")

TARGET_BYTES = 128 * 1024 * 1024  # files above this size are left alone


@contextlib.contextmanager
def compaction_lock(store: ParquetStore, *, blocking: bool) -> Iterator[bool]:
    """Exclusive lock between compactors of a local store; yields False if busy."""
    if store.fs.is_remote:
        yield True
        return
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


def compact_partition(
    store: ParquetStore,
    table: str,
    folder_rel: str,
    *,
    min_files: int = 2,
    reader: SegmentReader | None = None,
) -> dict[str, int]:
    """Merge the small visible files of one partition. Returns counts for reporting.

    Every input is read by DuckDB, the reader that serves queries: a file that DuckDB
    cannot read is never merged (it stays in place, queries skip it and ``doctor`` lists
    it). The merged file is read back by DuckDB before it is made visible.
    """
    if reader is None:
        with SegmentReader(store.fs) as own:
            return compact_partition(store, table, folder_rel, min_files=min_files, reader=own)
    counts = {"merged_files": 0, "rows": 0, "unreadable": 0}
    part = store.catalog.resolve_partition(folder_rel)
    small = sorted((f for f in part.visible if f.size < TARGET_BYTES), key=lambda f: f.name)
    if len(small) < min_files:
        return counts
    paths = [store.fs.join(folder_rel, f.name) for f in small]
    # Inputs in name order; metrics sorted with arrival order among equal keys (what the
    # "latest" metric rule breaks ties with), other tables left in arrival order.
    try:
        merged = reader.read(paths, table, sort=table == "metrics")
    except (duckdb.Error, pa.ArrowException):
        # Some input is unreadable: find it, leave it in place (every read skips it from
        # now on and `nbtrack doctor` lists it), and merge the others.
        good = []
        for path in paths:
            problem = reader.problem(path, table)
            if problem is None:
                good.append(path)
            else:
                store.catalog.mark_path_bad(path, f"DuckDB cannot read it: {problem}")
                counts["unreadable"] += 1
        if len(good) < 2:
            return counts
        paths = good
        try:
            merged = reader.read(paths, table, sort=table == "metrics")
        except (duckdb.Error, pa.ArrowException) as exc:
            # Each file read alone but not together (one vanished meanwhile?): next time.
            log.warning("nbtrack: compaction of %s skipped: %s", folder_rel, error_line(exc))
            return counts
    replaces: set[str] = set()
    for path in paths:
        name = path.rsplit("/", 1)[-1]
        replaces.add(name)
        if name.startswith(segments.COMPACTED_PREFIX):
            replaces.update(segments.read_replaces(store.fs, path))
    data = segments.encode(table, merged, sorted(replaces))
    problem = reader.problem_in_bytes(data, table)
    if problem is not None:
        log.warning("nbtrack: compaction of %s skipped: DuckDB cannot read the result (%s)",
                    folder_rel, problem)
        return counts
    name = segments.segment_name(segments.COMPACTED_PREFIX, store.writer_id, store.next_seq())
    segments.write_segment(store.fs, store.fs.join(folder_rel, name), data)
    counts["merged_files"] = len(paths)
    counts["rows"] = merged.num_rows
    return counts


def compact(store: ParquetStore, *, min_files: int = 2, blocking: bool = True) -> dict[str, Any]:
    """Compact every partition of every table that has at least ``min_files`` small files.

    Returns:
        Counts: ``partitions`` and ``merged_files`` merged (one new file per partition),
        ``rows`` written, ``unreadable`` input files left in place (DuckDB cannot read
        them), ``removed`` replaced files already deleted by the gc that follows (only those
        past ``NBTRACK_GC_GRACE``), and ``skipped`` when another compactor held the lock.
    """
    store.flush()
    stats: dict[str, Any] = {
        "partitions": 0, "merged_files": 0, "rows": 0, "unreadable": 0, "removed": 0,
        "skipped": False,
    }
    with compaction_lock(store, blocking=blocking) as got:
        if not got:
            stats["skipped"] = True
            return stats
        with SegmentReader(store.fs) as reader:
            for table in schema.TABLES:
                for d in sorted(store.fs.list_dirs(store.fs.join(table))):
                    if not d.startswith(schema.PARTITION_KEY + "="):
                        continue
                    r = compact_partition(
                        store, table, f"{table}/{d}", min_files=min_files, reader=reader
                    )
                    stats["unreadable"] += r["unreadable"]
                    if r["merged_files"]:
                        stats["partitions"] += 1
                        stats["merged_files"] += r["merged_files"]
                        stats["rows"] += r["rows"]
    stats["removed"] = gc(store, only_expired=True)["replaced"]
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
        with SegmentReader(store.fs) as reader:
            for table, folder in busy:
                compact_partition(store, table, folder, min_files=threshold, reader=reader)
    gc(store, only_expired=True)


def gc(store: ParquetStore, *, only_expired: bool = True) -> dict[str, int]:
    """Delete replaced files, losing compactions and stale temporary files after the grace.

    A replaced file is deleted only once DuckDB has read in full the compacted file that
    replaces it; when it cannot, that compacted file is marked unreadable (queries fall
    back to the files it replaces, which stay) and counted under ``unreadable``.

    Returns:
        Files deleted: ``replaced``, ``temporary``, ``losers`` (of a compaction race);
        ``unreadable`` compacted files whose inputs were kept; ``kept`` replaced files still
        on disk because their grace period has not passed yet.
    """
    grace = config.gc_grace()
    now = time.time()
    removed = {"replaced": 0, "temporary": 0, "losers": 0, "unreadable": 0, "kept": 0}
    snap = store.catalog.snapshot()
    with SegmentReader(store.fs) as reader:
        for table, parts in snap.partitions.items():
            for part in parts:
                _gc_partition(store, reader, table, part, only_expired, now, grace, removed)
    for folder, info in _stray_temporaries(store):
        if now - info.mtime > max(grace, 60.0):
            store.fs.delete(store.fs.join(folder, info.name) if folder else store.fs.join(info.name))
            removed["temporary"] += 1
    return removed


def _gc_partition(
    store: ParquetStore,
    reader: SegmentReader,
    table: str,
    part: PartitionFiles,
    only_expired: bool,
    now: float,
    grace: float,
    removed: dict[str, int],
) -> None:
    listing = {f.name: f for f in store.fs.list_files(store.fs.join(part.folder))}
    readable: dict[str, bool] = {}
    for name, since in part.replaced.items():
        if name not in listing:
            continue  # deleted by an earlier gc; the compacted file still names it
        if only_expired and now - since <= grace:
            removed["kept"] += 1
            continue
        keeper = part.hidden_by.get(name)
        if keeper is None:
            continue
        if keeper not in readable:
            path = store.fs.join(part.folder, keeper)
            problem = store.catalog.duckdb_problem(reader, path, table)
            readable[keeper] = problem is None
            if problem is not None:
                store.catalog.mark_path_bad(path, f"DuckDB cannot read it: {problem}")
                removed["unreadable"] += 1
                log.warning(
                    "nbtrack: gc kept the files %s replaces: DuckDB cannot read it (%s)",
                    path, problem,
                )
        if readable[keeper]:
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
            # The compacted file names every file it replaced, also those gc already deleted:
            # only the ones still on disk are waiting for gc.
            on_disk = {f.name for f in store.fs.list_files(store.fs.join(part.folder))}
            waiting = [
                n for n, since in part.replaced.items()
                if n in on_disk and now - since > config.gc_grace()
            ]
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
