"""Garbage collection: deleting what no reader takes any more, once no reader can need it.

What gc deletes, and from when (``NBTRACK_GC_GRACE``, 60 s, counts from the moment no new
reader takes the file, so a reader that listed it just before can finish):

- a file a compacted file replaces: from the first accepted compacted file that replaced
  it (its mtime), and only once DuckDB has read that compacted file in full;
- a compacted file that lost a race with another compactor: from when it lost, i.e. the
  mtime of the accepted file that beats it (it may have been accepted until then);
- a temporary file of an interrupted write: from its own mtime (at least 60 s).

On object storage, gc deletes replaced and losing files only while it holds the compaction
lease (``compaction_lease``). A compactor that holds the lease can still publish a file that
beats an accepted one and makes the files that one replaced count again; gc must not have
deleted them by then. With the lease, that is left only to a holder that stalls for longer
than the whole lease expiry between its last check and its upload (docs/format.md).
Deletions are timed on the store's clock (``Leases.now``), so a host whose clock runs ahead
does not delete early.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa

from nbtrack import config
from nbtrack.storage.catalog import PartitionFiles
from nbtrack.storage.compaction_lease import Hold, compaction_lock
from nbtrack.storage.merging import Merger
from nbtrack.storage.reader import error_line

if TYPE_CHECKING:
    from nbtrack.storage.store import ParquetStore

log = logging.getLogger("nbtrack")


@contextlib.contextmanager
def _deletion_right(
    store: ParquetStore, hold: Hold | None, single_compactor: bool
) -> Iterator[bool]:
    """Whether gc may delete replaced and losing files now (see the module doc)."""
    if hold is not None or not store.fs.is_remote:
        yield True
        return
    with compaction_lock(store, blocking=False, single_compactor=single_compactor) as got:
        yield bool(got)


def gc(
    store: ParquetStore,
    *,
    only_expired: bool = True,
    hold: Hold | None = None,
    single_compactor: bool = False,
) -> dict[str, int]:
    """Delete replaced files, losing compactions and stale temporary files after the grace.

    A replaced file is deleted only once DuckDB has read in full the compacted file that
    replaces it; when it cannot, that compacted file is marked unreadable (queries fall
    back to the files it replaces, which stay) and counted under ``unreadable``.

    Args:
        store: The store.
        only_expired: Delete only files whose grace period has passed (False: ``--force``,
            for a store nobody reads now).
        hold: The compaction lock or lease the caller already holds (a compaction that
            collects after itself); without it gc takes the lease on object storage.
        single_compactor: The caller vouches that no compactor runs meanwhile, on a file
            system with no conditional write for the lease (``gs://``, ``az://`` ...).

    Returns:
        Files deleted: ``replaced``, ``temporary``, ``losers`` (of a compaction race);
        ``unreadable`` compacted files whose inputs were kept; ``kept`` replaced or losing
        files still there because their grace period has not passed yet; ``busy`` 1 when
        another compactor held the lease on object storage, so no replaced or losing file
        was deleted this time.

    Raises:
        StoreError: no conditional write for the lease and no ``single_compactor``.
    """
    grace = config.gc_grace()
    removed = {"replaced": 0, "temporary": 0, "losers": 0, "unreadable": 0, "kept": 0, "busy": 0}
    with _deletion_right(store, hold, single_compactor) as may_delete:
        # Listing first, clock second: every mtime listed is then at most ``now``.
        snap = store.catalog.snapshot()
        now = store.leases.now() if store.fs.is_remote else time.time()
        if not may_delete:
            removed["busy"] = 1
        else:
            with Merger(store.fs) as reader:
                for table, parts in snap.partitions.items():
                    for part in parts:
                        _gc_partition(store, reader, table, part, only_expired, now, grace, removed)
    for folder, info in stray_temporaries(store):
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
        if f.name not in listing:
            continue
        # From when it lost, not from its own mtime: it may have been accepted until then.
        if only_expired and now - part.lost_since.get(f.name, now) <= grace:
            removed["kept"] += 1
            continue
        store.fs.delete(store.fs.join(part.folder, f.name))
        removed["losers"] += 1
    for f in part.temporary:
        # A temp file younger than the grace may be a write in progress.
        if now - f.mtime > max(grace, 60.0):
            store.fs.delete(store.fs.join(part.folder, f.name))
            removed["temporary"] += 1


def stray_temporaries(store: ParquetStore) -> list[tuple[str, Any]]:
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
