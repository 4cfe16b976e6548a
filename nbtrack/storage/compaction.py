"""Compaction, garbage collection and health checks of a store.

Compaction merges files of one partition, size tier by size tier (``tiers``: a file is
rewritten about log4(partition size) times, never a big file for a few new points), into a
``c-`` file whose Parquet footer names every file it replaces (transitively: the parts of
any compacted file it merges too); ``merging`` streams the rows with bounded memory, and
automatic compaction of a local store runs in a child process (``compactor``). The new file
becomes visible in one atomic step; from then on readers drop the replaced files, which
``gc`` deletes only after ``NBTRACK_GC_GRACE`` seconds so a scan that started earlier can
finish. Query results never change.

Compactors exclude each other with a lock file on local stores (writers never take it).
On object storage run one compactor at a time; if two race anyway, readers accept the
compacted file with the newest name and ignore the other (see ``FileCatalog``)."""

from __future__ import annotations

import contextlib
import fcntl  # imported here, never by the compactor thread (fork safety)
import logging
import os
import sys
import time
from collections.abc import Iterator
from typing import Any

import duckdb
import pyarrow as pa

from nbtrack import config
from nbtrack.storage import compactor, schema, segments, tiers
from nbtrack.storage.catalog import PartitionFiles
from nbtrack.storage.merging import Merger
from nbtrack.storage.reader import error_line
from nbtrack.storage.store import ParquetStore
from nbtrack.storage.tiers import TARGET_BYTES

log = logging.getLogger("nbtrack")


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
    budget: int | None = None,
    merger: Merger | None = None,
    max_merges: int = 64,
) -> dict[str, int]:
    """Merge a partition's files tier by tier (``tiers.plan_merge``) until none qualify.

    Every input is read in full by DuckDB, the reader that serves queries, before it is
    merged: a file that DuckDB cannot read is never merged (it stays in place, queries skip
    it and ``doctor`` lists it). The merged file must hold exactly its inputs' rows as DuckDB
    reads them before it is made visible (``merging``).

    Returns:
        Counts: ``merges`` done, ``merged_files``, ``rows`` written, ``bytes_read`` and
        ``bytes_written`` (the write amplification), ``unreadable`` inputs left in place.
    """
    if merger is None:
        with Merger(store.fs) as own:
            return compact_partition(
                store,
                table,
                folder_rel,
                min_files=min_files,
                budget=budget,
                merger=own,
                max_merges=max_merges,
            )
    counts = {
        "merges": 0,
        "merged_files": 0,
        "rows": 0,
        "bytes_read": 0,
        "bytes_written": 0,
        "unreadable": 0,
    }
    for _ in range(max_merges):
        part = store.catalog.resolve_partition(folder_rel)
        chosen = tiers.plan_merge(
            [tiers.Candidate(f.name, f.size, part.positions[f.name]) for f in part.visible],
            min_files=min_files,
            budget=budget,
        )
        if chosen is None:
            break
        replaces: set[str] = set()
        for c in chosen:
            replaces.add(c.name)
            if c.name.startswith(segments.COMPACTED_PREFIX):
                path = store.fs.join(folder_rel, c.name)
                replaces.update(segments.read_replaces(store.fs, path))
        name = segments.segment_name(segments.COMPACTED_PREFIX, store.writer_id, store.next_seq())
        done = merger.merge(
            table,
            [(store.fs.join(folder_rel, c.name), c.size) for c in chosen],
            sorted(replaces),
            store.fs.join(folder_rel, name),
        )
        for path, why in done.unreadable.items():
            # Left in place and skipped by every read from now on; `nbtrack doctor` lists it.
            store.catalog.mark_path_bad(path, f"DuckDB cannot read it: {why}")
            counts["unreadable"] += 1
        if done.unreadable:
            continue  # plan again without the files queries cannot read
        if done.refused is not None:
            log.warning("nbtrack: compaction of %s skipped: %s", folder_rel, done.refused)
            break
        if not done.merged:
            break
        counts["merges"] += 1
        counts["merged_files"] += len(done.merged)
        counts["rows"] += done.rows
        counts["bytes_read"] += done.bytes_in
        counts["bytes_written"] += done.bytes_out
    return counts


def _compact_all(
    store: ParquetStore, folders: list[tuple[str, str]], *, min_files: int, budget: int | None
) -> dict[str, Any]:
    stats: dict[str, Any] = {
        "partitions": 0,
        "merges": 0,
        "merged_files": 0,
        "rows": 0,
        "bytes_read": 0,
        "bytes_written": 0,
        "unreadable": 0,
    }
    with Merger(store.fs) as merger:
        for table, folder in folders:
            r = compact_partition(
                store, table, folder, min_files=min_files, budget=budget, merger=merger
            )
            for key in (
                "merges",
                "merged_files",
                "rows",
                "bytes_read",
                "bytes_written",
                "unreadable",
            ):
                stats[key] += r[key]
            stats["partitions"] += bool(r["merges"])
    return stats


def compact(store: ParquetStore, *, min_files: int = 2, blocking: bool = True) -> dict[str, Any]:
    """Compact every partition of every table, tier by tier, with no size budget.

    A tier is merged once it holds ``min_files`` files (see ``nbtrack.storage.tiers``): a big
    file is never rewritten for a few new points. Merges stream, so memory stays bounded
    whatever the partition's size.

    Returns:
        Counts: ``partitions`` compacted, ``merges`` done (one new file each),
        ``merged_files``, ``rows`` and ``bytes_read``/``bytes_written``, ``unreadable`` input
        files left in place (DuckDB cannot read them), ``removed`` replaced files already
        deleted by the gc that follows (only those past ``NBTRACK_GC_GRACE``), and
        ``skipped`` when another compactor held the lock.
    """
    store.flush()
    with compaction_lock(store, blocking=blocking) as got:
        if not got:
            return {
                "partitions": 0,
                "merges": 0,
                "merged_files": 0,
                "rows": 0,
                "bytes_read": 0,
                "bytes_written": 0,
                "unreadable": 0,
                "removed": 0,
                "skipped": True,
            }
        folders = [
            (table, f"{table}/{d}")
            for table in schema.TABLES
            for d in sorted(store.fs.list_dirs(store.fs.join(table)))
            if d.startswith(schema.PARTITION_KEY + "=")
        ]
        stats = _compact_all(store, folders, min_files=min_files, budget=None)
    stats["skipped"] = False
    stats["removed"] = gc(store, only_expired=True)["replaced"]
    return stats


def _due(store: ParquetStore, threshold: int) -> list[tuple[str, str]]:
    """(table, folder) of the partitions where a merge within the automatic budget is due."""
    snap = store.catalog.snapshot()
    return [
        (t, p.folder)
        for t, parts in snap.partitions.items()
        for p in parts
        if tiers.plan_merge(
            [tiers.Candidate(f.name, f.size, p.positions[f.name]) for f in p.visible],
            min_files=threshold,
            budget=tiers.AUTO_BUDGET_BYTES,
        )
        is not None
    ]


def merge_due(store: ParquetStore) -> dict[str, Any] | None:
    """Merge, in this process, the tiers that qualify within the automatic budget.

    Each merge reads at most ``tiers.AUTO_BUDGET_BYTES`` of input files (streamed); bigger
    merges are left to ``nbtrack compact``. Returns the counts, or None when nothing was due
    or another compactor held the lock.
    """
    threshold = config.compact_files()
    busy = _due(store, threshold)
    if not busy:
        return None
    with compaction_lock(store, blocking=False) as got:
        if not got:
            return None
        stats = _compact_all(store, busy, min_files=threshold, budget=tiers.AUTO_BUDGET_BYTES)
    gc(store, only_expired=True)
    return stats


def auto_compact(store: ParquetStore) -> dict[str, Any] | None:
    """Background hook: ``merge_due``, in a separate process for a local store.

    The training process only plans (it reads file listings and footers): the merge runs in
    a child process (``nbtrack.storage.compactor``) at a lower CPU priority, so it takes no
    memory, GIL or DuckDB code pages from the training process. A store on object storage
    (whose file system object a child cannot rebuild) merges in this thread, within the same
    budget. Returns the counts, or None when nothing was due.
    """
    if not _due(store, config.compact_files()):
        return None
    if store.fs.is_remote or not sys.executable:
        return merge_due(store)
    return compactor.run_in_child(store.fs.root, store.background.stopping)


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
    with Merger(store.fs) as reader:
        for table, parts in snap.partitions.items():
            for part in parts:
                _gc_partition(store, reader, table, part, only_expired, now, grace, removed)
    for folder, info in _stray_temporaries(store):
        if now - info.mtime > max(grace, 60.0):
            store.fs.delete(
                store.fs.join(folder, info.name) if folder else store.fs.join(info.name)
            )
            removed["temporary"] += 1
    return removed


# (path, size) -> None when DuckDB read the whole file, else why not (files never change).
_checked: dict[tuple[str, int], str | None] = {}


def _duckdb_problem(reader: Merger, path: str, table: str) -> str | None:
    """None when DuckDB reads every row of ``path``, streamed (checked once per file)."""
    folder, name = path.rsplit("/", 1) if "/" in path else ("", path)
    size = next((f.size for f in reader.fs.list_files(folder) if f.name == name), -1)
    if (path, size) not in _checked:
        try:
            reader.checksum([path], table)
            _checked[(path, size)] = None
        except (duckdb.Error, pa.ArrowException) as exc:
            _checked[(path, size)] = error_line(exc)
    return _checked[(path, size)]


def _gc_partition(
    store: ParquetStore,
    reader: Merger,
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
            problem = _duckdb_problem(reader, path, table)
            readable[keeper] = problem is None
            if problem is not None:
                store.catalog.mark_path_bad(path, f"DuckDB cannot read it: {problem}")
                removed["unreadable"] += 1
                log.warning(
                    "nbtrack: gc kept the files %s replaces: DuckDB cannot read it (%s)",
                    path,
                    problem,
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
                n
                for n, since in part.replaced.items()
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
                    "path": store.fs.join(folder, info.name)
                    if folder
                    else store.fs.join(info.name),
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
