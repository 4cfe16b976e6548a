"""ParquetStore: one store URI, this process's writer into it, and the read path over it.

Writer identity: every process gets a ``writer_id`` (regenerated after ``fork``). All its
files carry that id, so writers never touch each other's files and need no lock. Liveness
(lease files, the KILLED rule) lives in ``liveness``; the background threads (flusher,
heartbeat, compactor) in ``background``.

Threads and forks: the background threads never import anything (every module they need is
imported here, in the thread that opens the store), so a ``fork`` at any moment cannot leave
a child waiting on an import lock; the locks a flush takes are held across ``fork`` by the
forking thread and renewed in the child.
"""

from __future__ import annotations

import atexit

# pyarrow's first pa.array() imports pandas, which imports concurrent.futures.thread, which
# registers a threading exit hook; at interpreter exit (our final flush) that registration
# fails with "can't register atexit after shutdown". Importing it now avoids that.
import concurrent.futures.thread  # noqa: F401
import contextlib
import hashlib
import json
import logging
import os
import re
import secrets
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import duckdb
import numpy  # noqa: F401 - imported before the flusher thread can need it (fork safety)
import pyarrow as pa
import pyarrow.compute
import pyarrow.parquet

from nbtrack import config
from nbtrack.errors import NbtrackWarning, StoreError
from nbtrack.storage import liveness, schema, segments
from nbtrack.storage._fs import TMP_SUFFIX, FileSystem, open_fs
from nbtrack.storage._remote_fs import warn_if_claims_not_exclusive
from nbtrack.storage.background import Background
from nbtrack.storage.buffer import Buffer, MetricBuffer
from nbtrack.storage.catalog import FileCatalog, Snapshot
from nbtrack.storage.liveness import Leases
from nbtrack.storage.protocol import Reading
from nbtrack.storage.read_model import ReadModel

_log = logging.getLogger("nbtrack")


#: How many times a read lists the store again when a file it listed was deleted meanwhile.
VANISHED_RETRIES = 5


class ParquetStore:
    """A store of Parquet segments at ``uri`` (a local path or an fsspec URL)."""

    def __init__(self, uri: str, fs: Any = None) -> None:
        config.check()
        self.uri = uri
        self.fs: FileSystem = open_fs(uri, fs)
        self.fs.ensure_root()
        self._check_format()
        self.buffer = Buffer()
        self.catalog = FileCatalog(self.fs)
        self._views: ReadModel | None = None
        self._installed: Snapshot | None = None  # the snapshot the views were last put on
        self._flush_lock = threading.Lock()
        self._seq = 0
        self._seq_lock = threading.Lock()
        self._new_writer()
        self._open_runs: set[str] = set()
        self.background = Background(self)
        self._lease_written = False
        self._last_heartbeat = 0.0
        # Set by the tracking layer (automatic compaction); run by the compactor thread.
        self.compact_hook: Callable[[ParquetStore], None] | None = None
        self.leases = Leases(self.fs)
        self.rejected: list[Any] = []  # records the buffer could not encode (reported)
        self._written_since_compact = 0  # segments written by any flush since the last check

    # ---- format -----------------------------------------------------------------------
    def _check_format(self) -> None:
        path = self.fs.join("format.json")
        try:
            try:
                # Read first: an existing store (the common case) costs one request.
                info = json.loads(self.fs.read_bytes(path))
            except FileNotFoundError:
                body = json.dumps({"format_version": schema.FORMAT_VERSION, "layout": "nbtrack"})
                self.fs.write_atomic(path, body.encode(), exclusive=True)
                return
        except (OSError, ValueError) as exc:
            raise StoreError(
                f"cannot open the store at {self.uri!r}: {exc}; check the path and its "
                "permissions, or point nbtrack.set_store() elsewhere"
            ) from exc
        version = info.get("format_version")
        if version != schema.FORMAT_VERSION:
            raise StoreError(
                f"the store at {self.uri!r} has format version {version}; this nbtrack "
                f"reads version {schema.FORMAT_VERSION}: upgrade nbtrack"
            )

    # ---- writer identity ----------------------------------------------------------------
    def _new_writer(self) -> None:
        self.pid = os.getpid()
        self.writer_id = f"w{secrets.token_hex(6)}"

    def after_fork(self) -> None:
        """In a forked child: new identity, no inherited records, no inherited thread."""
        self._new_writer()
        self.buffer.clear()
        self._flush_lock = threading.Lock()
        self._seq_lock = threading.Lock()
        self._open_runs = set()
        self.background = Background(self)  # the parent's threads do not exist here
        self._written_since_compact = 0
        self._lease_written = False
        # Never let the inherited DuckDB connection be destroyed in the child: that
        # segfaults. Keep it referenced for the child's life and open a new one on demand.
        if self._views is not None:
            _inherited.append(self._views)
        self._views = None
        self.catalog = FileCatalog(self.fs)

    def next_seq(self) -> int:
        with self._seq_lock:
            self._seq += 1
            return self._seq

    @property
    def lease_path(self) -> str:
        return self.fs.join("_writers", f"{self.writer_id}.json")

    def _lease_body(self) -> bytes:
        return json.dumps(
            {
                "writer_id": self.writer_id,
                **liveness.identity(self.pid),
                "started": time.time(),
            }
        ).encode()

    def heartbeat(self) -> None:
        """Write or refresh this writer's lease (called while runs are open)."""
        self.fs.touch(self.lease_path, self._lease_body())
        self._lease_written = True
        self._last_heartbeat = time.monotonic()

    # ---- write side ---------------------------------------------------------------------
    def run_opened(self, run_id: str) -> None:
        """Note an open run: ensures the lease and the background threads exist."""
        with self.background.lock:
            self._open_runs.add(run_id)
            if not self._lease_written:
                self.heartbeat()
        self.background.ensure()

    def run_closed(self, run_id: str) -> None:
        self._open_runs.discard(run_id)

    def has_open_runs(self) -> bool:
        return bool(self._open_runs)

    def take_written_count(self) -> int:
        """Segments written since the last call (the compactor is woken when > 0)."""
        n, self._written_since_compact = self._written_since_compact, 0
        return n

    def metric_buffer(self, run_id: str, experiment_id: str) -> MetricBuffer:
        return self.buffer.metric_buffer(run_id, experiment_id)

    def add_record(self, table: str, experiment_id: str, row: tuple[Any, ...]) -> None:
        self.buffer.add(table, experiment_id, row)

    def wake_flusher(self) -> None:
        self.background.wake_flush()

    def flush(self) -> list[tuple[str, str]]:
        """Write every pending record now. Returns the (table, partition) pairs written.

        Raises:
            StoreError: a write failed; the records stay buffered for the next flush.
        """
        with self._flush_lock:
            batch = self.buffer.take()
            written: list[tuple[str, str]] = []
            for i, (table, eid, rows) in enumerate(batch):
                folder = segments.partition_dir(self.fs, table, eid)
                name = segments.segment_name(
                    segments.SEGMENT_PREFIX, self.writer_id, self.next_seq()
                )
                try:
                    segments.write_segment(
                        self.fs, f"{folder}/{name}", segments.encode(table, rows)
                    )
                except OSError as exc:
                    self.buffer.give_back(batch[i:])
                    raise StoreError(
                        f"could not write to the store at {self.uri!r}: "
                        f"{exc.strerror or exc}; the records are kept in memory and "
                        "written at the next flush (free space or fix permissions)"
                    ) from exc
                except BaseException:
                    # Whatever went wrong, the records not written stay buffered.
                    self.buffer.give_back(batch[i:])
                    raise
                written.append((table, eid))
            self._written_since_compact += len(written)
        self._report_rejected()
        return written

    def _report_rejected(self) -> None:
        """Warn about records the buffer set aside (after the good ones are written)."""
        rejected = self.buffer.take_rejected()
        if not rejected:
            return
        self.rejected.extend(rejected)
        first = rejected[0]
        text = (
            f"nbtrack: {len(rejected)} record(s) could not be stored and were set aside "
            f"(first: {first.table} {first.row!r:.100}: {first.reason}); every other record "
            "was written. They are kept in ParquetStore.rejected for inspection."
        )
        _log.warning(text)
        if threading.current_thread() is threading.main_thread():
            warnings.warn(text, NbtrackWarning, stacklevel=3)

    def drop_lease(self) -> None:
        """Delete this writer's lease once no run is open (a dead lease means KILLED)."""
        if self._lease_written and not self._open_runs:
            try:
                self.fs.delete(self.lease_path)
            except OSError:
                return
            self._lease_written = False

    def close(self) -> None:
        """Flush, stop the background thread, drop the lease, close DuckDB.

        The store stays usable: a later write or read starts what it needs again.
        """
        self.background.stop()
        self.flush()
        self.drop_lease()
        views, self._views = self._views, None
        if views is not None:
            views.close()

    # ---- fork safety --------------------------------------------------------------------
    def _before_fork(self) -> None:
        # Hold the locks a flush takes, so the child never inherits one held mid-flush.
        self._flush_lock.acquire()
        self.buffer.lock.acquire()

    def _after_fork_in_parent(self) -> None:
        self.buffer.lock.release()
        self._flush_lock.release()

    # ---- blobs (artifacts) --------------------------------------------------------------
    def blob_path(self, sha: str) -> str:
        return self.fs.join("artifacts", "blobs", sha[:2], sha)

    def put_blob(self, data: bytes) -> str:
        """Store bytes content-addressed; identical content is stored once."""
        sha = hashlib.sha256(data).hexdigest()
        path = self.blob_path(sha)
        try:
            self.fs.write_atomic(path, data, exclusive=True)
        except OSError as exc:
            raise StoreError(f"could not write an artifact to the store: {exc}") from exc
        return sha

    def put_blob_file(self, path: str) -> tuple[str, int]:
        """Store a local file content-addressed, streamed; returns (sha256, size).

        The file is hashed first (in chunks), so content already in the store is not
        uploaded again; otherwise it is copied in chunks (a multipart upload on object
        storage), never read into memory whole.

        Raises:
            StoreError: the file could not be read or stored, or changed meanwhile.
        """
        try:
            h = hashlib.sha256()
            size = 0
            with open(path, "rb") as fh:
                while chunk := fh.read(1 << 20):
                    h.update(chunk)
                    size += len(chunk)
            sha = h.hexdigest()
            dest = self.blob_path(sha)
            if not self.fs.exists(dest):
                self.fs.upload_verified(path, dest, sha)
        except OSError as exc:
            raise StoreError(f"could not store {path!r} as an artifact: {exc}") from exc
        return sha, size

    def read_blob(self, sha: str) -> bytes:
        try:
            return self.fs.read_bytes(self.blob_path(sha))
        except OSError as exc:
            raise StoreError(f"artifact content {sha} is missing from the store: {exc}") from exc

    # ---- claims (allocation of registry version numbers) ---------------------------------
    def claim(self, key: str, data: bytes) -> bool:
        """Create the claim file ``registry/<key>`` unless it exists; True if this call did.

        A claim is created in one atomic, exclusive step (a hard link locally, a conditional
        PUT on object storage), so of several processes claiming the same key exactly one
        gets True. Claims are never deleted. ``key`` is made of names nbtrack chose
        (``[A-Za-z0-9_.-]`` segments separated by ``/``).

        Raises:
            StoreError: the claim could not be written (not because it exists).
        """
        path = self.fs.join("registry", *_claim_parts(key))
        warn_if_claims_not_exclusive(self.fs)  # gs://, az:// ...: not exclusive across hosts
        try:
            return self.fs.create_exclusive(path, data)
        except OSError as exc:
            raise StoreError(f"could not write to the store at {self.uri!r}: {exc}") from exc

    def claims(self, folder: str) -> list[str]:
        """Names of the claim files in ``registry/<folder>`` (temporary files excluded)."""
        path = self.fs.join("registry", *_claim_parts(folder))
        return sorted(
            f.name for f in self.fs.list_files(path)
            if not f.name.startswith(".") and not f.name.endswith(TMP_SUFFIX)
        )

    # ---- read side ----------------------------------------------------------------------
    def views(self) -> ReadModel:
        if self._views is None:
            self._views = ReadModel(self.fs)
        return self._views

    def snapshot(self) -> Snapshot:
        return self.catalog.snapshot()

    def refresh(self) -> ReadModel:
        """Flush this process's records, then point the views at the current files."""
        # Always go through flush(): it waits for a background flush in progress, whose
        # records are no longer in the buffer but not yet on disk either.
        self.flush()
        v = self.views()
        snap = self._install(v, self.catalog.snapshot(quick=True))
        # Files first, leases second. A writer ends a run by writing its FINISHED record,
        # then deleting its lease; so a RUNNING run whose lease is missing either has a dead
        # writer or ended after the files were listed. Only then are the files read again
        # (after the lease was found missing): a run still RUNNING there is dead. A read of
        # a store with no RUNNING run costs no lease request at all.
        mine = self.writer_id if os.getpid() == self.pid else None
        dead, missing = self.leases.dead_and_missing(v.running_owners(), mine)
        if missing:
            snap = self._install(v, self.catalog.snapshot())
            dead, missing = self.leases.dead_and_missing(v.running_owners(), mine)
            dead.update(missing)
        self._installed = snap
        self.catalog.warn_problems(snap)
        v.set_dead_writers(dead)
        return v

    def _dead_writers(self, owners: list[str], before: set[str] | None = None) -> dict[str, float]:
        mine = self.writer_id if os.getpid() == self.pid else None
        return self.leases.dead_writers(owners, mine, before)

    def _install(self, v: ReadModel, snap: Snapshot) -> Snapshot:
        """Put the read model on ``snap`` (or a fresher one); returns the snapshot used."""
        for attempt in range(VANISHED_RETRIES + 1):
            try:
                v.install(snap)
                return snap
            except duckdb.Error as exc:
                fresh = self.moved_on(snap) if _may_have_vanished(exc) else None
                if fresh is not None and attempt < VANISHED_RETRIES:
                    snap = fresh  # a listed file was deleted meanwhile: read the store anew
                    continue
                # A segment passed the cheap check but DuckDB cannot read it (bad pages, a
                # foreign schema): find such files one by one, skip them, and load the rest.
                bad = v.probe_new_files(snap)
                if not bad:
                    raise
                for path, why in bad.items():
                    self.catalog.mark_path_bad(path, why)
                snap = self.catalog.snapshot()
                v.install(snap)
                return snap
        raise AssertionError("unreachable: the last attempt returns or raises")

    @contextlib.contextmanager
    def reading(self) -> Iterator[Reading]:
        """One consistent snapshot for several reads (the read model's lock is held).

        Raises:
            StoreError: the store could not be read.
        """
        try:
            model = self.refresh()
        except duckdb.Error as exc:
            raise StoreError(f"reading the store failed: {exc}") from exc
        with model.lock:
            yield _Reading(model, self)

    def query(self, sql: str, params: list[Any] | None = None) -> pa.Table:
        """Run ``sql`` over fresh views and return an Arrow table.

        Raises:
            StoreError: DuckDB failed (a damaged file it could not skip, a bad query).
        """
        try:
            v = self.refresh()
            for attempt in range(VANISHED_RETRIES + 1):
                try:
                    return v.execute(sql, params)
                except duckdb.Error as exc:
                    # Metric points are read when queried: a file may have gone since the
                    # views were installed (deleted after the gc grace). Read anew.
                    if attempt == VANISHED_RETRIES or (
                        not (_may_have_vanished(exc) and self.moved_on(self._installed))
                        and not self.recover_from(exc)
                    ):
                        raise
                    v = self.refresh()
            raise AssertionError("unreachable: the last attempt returns or raises")
        except duckdb.Error as exc:
            raise StoreError(f"reading the store failed: {exc}") from exc

    def moved_on(self, snap: Snapshot | None) -> Snapshot | None:
        """A fresh snapshot if a file ``snap`` takes is no longer taken (deleted), else None.

        A reader that listed a file may find it gone when it reads it: gc deletes a replaced
        or losing file once its grace period has passed, and a reader may take longer than
        that. The fresh snapshot no longer takes it (the files that hold its rows instead
        are in it), so reading again from there counts every row once.
        """
        if snap is None:
            return None
        fresh = self.catalog.snapshot()
        before = {(p.folder, f.name) for parts in snap.partitions.values() for p in parts
                  for f in p.visible}
        after = {(p.folder, f.name) for parts in fresh.partitions.values() for p in parts
                 for f in p.visible}
        return fresh if before - after else None

    def recover_from(self, exc: BaseException) -> bool:
        """After a DuckDB read error, find files that are broken; True if any were."""
        text = str(exc)
        if not any(w in text for w in ("parquet", "Parquet", "magic", "No such file", "IO Error")):
            return False
        return self.catalog.mark_bad(self.catalog.snapshot()) > 0


def _may_have_vanished(exc: BaseException) -> bool:
    """Whether a DuckDB error may come from a file deleted after it was listed (an I/O
    error: "No files found", a missing object), as opposed to a bad query or file."""
    text = str(exc)
    return any(
        w in text
        for w in ("IO Error", "No files found", "No such file", "FileNotFound", "NoSuchKey",
                  "Not Found", "404")
    )


class _Reading:
    """``Reading`` over a locked ReadModel (see ``nbtrack.storage.protocol``).

    Metric points are read when a query asks for them. If a file the snapshot takes was
    deleted meanwhile (a read that outlived the gc grace), the model moves to a fresh
    snapshot and the query runs again: each query still counts every row once, though
    later queries of the block then see the newer snapshot.
    """

    def __init__(self, model: ReadModel, store: ParquetStore) -> None:
        self._model = model
        self._store = store

    def _again(self, attempt: int, exc: duckdb.Error) -> bool:
        """After a failed query: True when the store moved on and the model now follows."""
        if attempt >= VANISHED_RETRIES or not _may_have_vanished(exc):
            return False
        fresh = self._store.moved_on(self._store._installed)
        if fresh is None:
            return False
        self._model.install(fresh)  # the model's lock is re-entrant: we hold it already
        self._store._installed = fresh
        return True

    @property
    def keys(self) -> dict[str, list[str]]:
        return self._model.keys

    def query(self, sql: str, params: list[Any] | None = None) -> pa.Table:
        for attempt in range(VANISHED_RETRIES + 1):
            try:
                return self._model.execute(sql, params)
            except duckdb.Error as exc:
                if not self._again(attempt, exc):
                    raise StoreError(f"reading the store failed: {exc}") from exc
        raise AssertionError("unreachable: the last attempt returns or raises")

    def wide(self, run_ids: pa.Array) -> pa.Table:
        return self._model.wide(run_ids)

    def sql(self, text: str) -> pa.Table:
        """Raises duckdb.Error as is: nt.sql turns it into a QueryError with its text."""
        for attempt in range(VANISHED_RETRIES + 1):
            try:
                return self._model.sql_connection().sql(text).to_arrow_table()
            except duckdb.Error as exc:
                if not self._again(attempt, exc):
                    raise
        raise AssertionError("unreachable: the last attempt returns or raises")


_CLAIM_PART = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


def _claim_parts(key: str) -> list[str]:
    parts = key.split("/")
    if not all(_CLAIM_PART.fullmatch(p) and p not in (".", "..") for p in parts):
        raise StoreError(f"bad claim key {key!r}")  # nbtrack builds keys; never user text
    return parts


_stores: dict[str, ParquetStore] = {}
_inherited: list[Any] = []  # DuckDB objects inherited through fork, never closed
_stores_lock = threading.Lock()


def _normalize(uri: str) -> str:
    if "://" not in uri:
        return os.path.abspath(os.path.expanduser(uri))
    return uri.rstrip("/")


def open_store(uri: str, fs: Any = None) -> ParquetStore:
    """The process-wide ParquetStore for ``uri`` (one writer per process and store)."""
    key = _normalize(uri)
    with _stores_lock:
        store = _stores.get(key)
        if store is None:
            store = _stores[key] = ParquetStore(key, fs)
            # multiprocessing clears finalizers in a child, then runs after-fork hooks: this
            # one registers the child's final flush (fork children exit with os._exit).
            import multiprocessing.util as mp_util

            mp_util.register_after_fork(store, _register_exit_flush)
        return store


def release_store(uri: str) -> None:
    """Close the store at ``uri`` if this process opened it and has no open run there.

    Its thread, DuckDB connection and temp folder go away; the object stays usable and
    reopens what it needs on the next use (Run handles may still point at it).
    """
    with _stores_lock:
        store = _stores.get(_normalize(uri))
    if store is not None and not store._open_runs:
        store.close()


def _before_fork() -> None:
    _stores_lock.acquire()
    for store in list(_stores.values()):
        store._before_fork()


def _after_fork_in_parent() -> None:
    for store in list(_stores.values()):
        store._after_fork_in_parent()
    _stores_lock.release()


def _after_fork_in_child() -> None:
    global _stores_lock
    _stores_lock = threading.Lock()
    for store in list(_stores.values()):
        store.after_fork()


def _register_exit_flush(_store: ParquetStore) -> None:
    """In a multiprocessing child: flush before it leaves by os._exit (atexit never runs)."""
    import multiprocessing.util as mp_util

    mp_util.Finalize(None, _close_all, exitpriority=100)


os.register_at_fork(
    before=_before_fork,
    after_in_parent=_after_fork_in_parent,
    after_in_child=_after_fork_in_child,
)


def _close_all() -> None:
    for store in list(_stores.values()):
        try:
            store.close()
        # At interpreter exit there is nobody left to raise to: report and go on.
        except Exception as exc:  # noqa: BLE001
            import sys

            print(f"nbtrack: final flush failed for {store.uri}: {exc}", file=sys.stderr)


atexit.register(_close_all)
