"""Compaction, garbage collection and health checks of a store.

Compaction merges files of one partition, size tier by size tier (``tiers``: a file is
rewritten about log4(partition size) times, never a big file for a few new points), into a
``c-`` file whose Parquet footer names every file it replaces (transitively: the parts of
any compacted file it merges too); ``merging`` streams the rows with bounded memory, and
automatic compaction of a local store runs in a child process (``compactor``). The new file
becomes visible in one atomic step; from then on readers drop the replaced files, which
``gc`` deletes only after ``NBTRACK_GC_GRACE`` seconds so a scan that started earlier can
finish. Query results never change.

Compactors exclude each other with a lock file on local stores (writers never take it), and
with the compaction lease on object storage (``compaction_lease``: an object created with a
conditional write, with expiry), where automatic compaction is off unless
``NBTRACK_AUTO_COMPACT=1``. Before a merged file is made visible its compactor confirms that
it still holds the lock or lease and that every input is still visible (no other compactor
merged it meanwhile). If two race anyway, readers accept the compacted file with the newest
name and ignore the other (see ``FileCatalog`` and docs/format.md)."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from typing import Any

import duckdb

from nbtrack import config
from nbtrack.storage import compactor, schema, segments, tiers
from nbtrack.storage.compaction_lease import Hold, compaction_lock, lease_unavailable
from nbtrack.storage.gc import gc, stray_temporaries
from nbtrack.storage.merging import Merger
from nbtrack.storage.store import ParquetStore
from nbtrack.storage.tiers import TARGET_BYTES

log = logging.getLogger("nbtrack")


def compact_partition(
    store: ParquetStore,
    table: str,
    folder_rel: str,
    *,
    min_files: int = 2,
    budget: int | None = None,
    merger: Merger | None = None,
    max_merges: int = 64,
    hold: Hold | None = None,
) -> dict[str, int]:
    """Merge a partition's files tier by tier (``tiers.plan_merge``) until none qualify.

    Every input is read in full by DuckDB, the reader that serves queries, before it is
    merged: a file that DuckDB cannot read is never merged (it stays in place, queries skip
    it and ``doctor`` lists it). The merged file must hold exactly its inputs' rows as DuckDB
    reads them before it is made visible (``merging``), and only if ``hold`` (the lock or
    lease taken by the caller) is still held and every input is still visible then.

    Returns:
        Counts: ``merges`` done, ``merged_files``, ``rows`` written, ``bytes_read`` and
        ``bytes_written`` (the write amplification), ``unreadable`` inputs left in place.
    """
    if merger is None:
        with Merger(store.fs) as own:
            return compact_partition(
                store, table, folder_rel, min_files=min_files, budget=budget, merger=own,
                max_merges=max_merges, hold=hold,
            )
    counts = {
        "merges": 0, "merged_files": 0, "rows": 0, "bytes_read": 0, "bytes_written": 0,
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
            before_publish=_ready_check(store, folder_rel, [c.name for c in chosen], hold),
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


def _ready_check(
    store: ParquetStore, folder_rel: str, inputs: list[str], hold: Hold | None
) -> Callable[[], str | None]:
    """The last check before a merged file is published (see ``compact_partition``)."""

    def ready() -> str | None:
        why = hold.check() if hold is not None else None
        if why is not None:
            return why
        visible = {f.name for f in store.catalog.resolve_partition(folder_rel).visible}
        gone = [n for n in inputs if n not in visible]
        if gone:
            return f"{len(gone)} of its inputs were compacted meanwhile by another compactor"
        return None

    return ready


def _compact_all(
    store: ParquetStore,
    folders: list[tuple[str, str]],
    *,
    min_files: int,
    budget: int | None,
    hold: Hold | None = None,
) -> dict[str, Any]:
    stats: dict[str, Any] = {
        "partitions": 0, "merges": 0, "merged_files": 0, "rows": 0, "bytes_read": 0,
        "bytes_written": 0, "unreadable": 0,
    }
    with Merger(store.fs) as merger:
        for table, folder in folders:
            r = compact_partition(
                store, table, folder, min_files=min_files, budget=budget, merger=merger,
                hold=hold,
            )
            for key in ("merges", "merged_files", "rows", "bytes_read", "bytes_written",
                        "unreadable"):
                stats[key] += r[key]
            stats["partitions"] += bool(r["merges"])
    return stats


def compact(
    store: ParquetStore,
    *,
    min_files: int = 2,
    blocking: bool = True,
    single_compactor: bool = False,
) -> dict[str, Any]:
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

    Raises:
        StoreError: the store's file system has no conditional write for the lease
            (``gs://``, ``az://`` ...) and ``single_compactor`` is not set (see
            ``compaction_lease.lease_unavailable``).
    """
    store.flush()
    with compaction_lock(store, blocking=blocking, single_compactor=single_compactor) as got:
        if not got:
            return {
                "partitions": 0, "merges": 0, "merged_files": 0, "rows": 0, "bytes_read": 0,
                "bytes_written": 0, "unreadable": 0, "removed": 0, "skipped": True,
            }
        folders = [
            (table, f"{table}/{d}")
            for table in schema.TABLES
            for d in sorted(store.fs.list_dirs(store.fs.join(table)))
            if d.startswith(schema.PARTITION_KEY + "=")
        ]
        stats = _compact_all(store, folders, min_files=min_files, budget=None, hold=got)
        # Under the lock or lease: on object storage no other compactor may publish while
        # gc deletes what the files it sees replace (see ``nbtrack.storage.gc``).
        stats["removed"] = gc(store, only_expired=True, hold=got)["replaced"]
    stats["skipped"] = False
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
        stats = _compact_all(
            store, busy, min_files=threshold, budget=tiers.AUTO_BUDGET_BYTES, hold=got
        )
        gc(store, only_expired=True, hold=got)
    return stats


#: Stores whose automatic compaction was refused (warned about once per process).
_refused: set[str] = set()


def auto_compact(store: ParquetStore) -> dict[str, Any] | None:
    """Background hook: ``merge_due``, in a separate process for a local store.

    The training process only plans (it reads file listings and footers): the merge runs in
    a child process (``nbtrack.storage.compactor``) at a lower CPU priority, so it takes no
    memory, GIL or DuckDB code pages from the training process. A store on object storage
    (whose file system object a child cannot rebuild) merges in this thread, within the same
    budget. Returns the counts, or None when nothing was due.
    """
    why = lease_unavailable(store.fs)
    if why is not None:
        # A writer never compacts where compactors cannot take turns (no conditional write).
        if store.fs.root not in _refused:
            _refused.add(store.fs.root)
            log.warning("nbtrack: no automatic compaction of %s: %s", store.fs.root, why)
        return None
    if not _due(store, config.compact_files()):
        return None
    if store.fs.is_remote or not sys.executable:
        return merge_due(store)
    return compactor.run_in_child(store.fs.root, store.background.stopping)


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
    for folder, info in stray_temporaries(store):
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
