"""ParquetStore: one store URI, this process's writer into it, and the read path over it.

Writer identity: every process gets a ``writer_id`` (regenerated after ``fork``). All its
files carry that id, so writers never touch each other's files and need no lock. While a
writer has open runs it keeps a lease file ``_writers/<writer_id>.json`` (host, boot id,
pid namespace, pid, the pid's start time) whose mtime a background thread refreshes every
``NBTRACK_HEARTBEAT`` seconds. A reader decides that a ``RUNNING`` run's writer is dead
when, in the same pid namespace of the same boot of the same host, the pid is gone (or was
reused), or, from anywhere else (another host, container or boot), the lease is older than
``NBTRACK_DEAD_AFTER`` seconds; such runs read ``KILLED``.

Threads and forks: the flusher thread runs only while runs are open and never imports
anything (every module it needs is imported here, in the thread that opens the store), so
a ``fork`` at any moment cannot leave a child waiting on an import lock; the locks it takes
are held across ``fork`` by the forking thread and renewed in the child.
"""

from __future__ import annotations

import atexit

# pyarrow's first pa.array() imports pandas, which imports concurrent.futures.thread, which
# registers a threading exit hook; at interpreter exit (our final flush) that registration
# fails with "can't register atexit after shutdown". Importing it now avoids that.
import concurrent.futures.thread  # noqa: F401
import hashlib
import json
import logging
import os
import secrets
import socket
import threading
import time
import warnings
from collections.abc import Callable
from typing import Any

import duckdb
import numpy  # noqa: F401 - imported before the flusher thread can need it (fork safety)
import pyarrow as pa
import pyarrow.compute
import pyarrow.parquet

from nbtrack import config
from nbtrack.errors import NbtrackError, NbtrackWarning, StoreError
from nbtrack.storage import schema, segments
from nbtrack.storage._fs import FileSystem, open_fs
from nbtrack.storage.buffer import Buffer, MetricBuffer
from nbtrack.storage.views import DuckViews, FileCatalog, Snapshot

HOST = socket.gethostname()
_log = logging.getLogger("nbtrack")


def _read_text(path: str) -> str | None:
    try:
        with open(path) as fh:
            return fh.read().strip()
    except OSError:
        return None


def _pid_namespace() -> str | None:
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return None


# Two processes can check each other's pids only inside one pid namespace of one boot of
# one host: containers share hostnames across pid namespaces, and a reboot reuses pids.
BOOT_ID = _read_text("/proc/sys/kernel/random/boot_id")
PID_NS = _pid_namespace()


def _pid_start(pid: int) -> str | None:
    """Start time of a process in clock ticks since boot (Linux), to detect pid reuse."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            data = fh.read()
    except OSError:
        return None
    # The command name may hold spaces and parentheses: split after the last ')'.
    fields = data[data.rfind(b")") + 2 :].split()
    return fields[19].decode() if len(fields) > 19 else None


def _pid_alive(pid: int, start: str | None) -> bool:
    if os.path.isdir("/proc"):
        now = _pid_start(pid)
        if now is None:
            return False
        return start is None or now == start
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _same_pid_space(lease: dict[str, Any]) -> bool:
    """True when the lease's pid can be checked here: same host, boot and pid namespace."""
    if lease.get("host") != HOST:
        return False
    if "boot_id" not in lease:  # a lease written before boot ids were recorded
        return True
    return bool(
        lease.get("boot_id") == BOOT_ID and BOOT_ID is not None
        and lease.get("pid_ns") == PID_NS and PID_NS is not None
    )


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
        self._views: DuckViews | None = None
        self._flush_lock = threading.Lock()
        self._seq = 0
        self._seq_lock = threading.Lock()
        self._new_writer()
        self._open_runs: set[str] = set()
        self._thread: threading.Thread | None = None
        self._thread_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lease_written = False
        self._last_heartbeat = 0.0
        self._flush_error: BaseException | None = None
        self._compact_hook: Callable[[ParquetStore], None] | None = None
        self._lease_cache: dict[str, dict[str, Any] | None] = {}
        self.rejected: list[Any] = []  # records the buffer could not encode (reported)
        self._written_since_compact = 0  # segments written by any flush since the last check

    # ---- format -----------------------------------------------------------------------
    def _check_format(self) -> None:
        path = self.fs.join("format.json")
        try:
            if not self.fs.exists(path):
                body = json.dumps({"format_version": schema.FORMAT_VERSION, "layout": "nbtrack"})
                self.fs.write_atomic(path, body.encode(), exclusive=True)
                return
            info = json.loads(self.fs.read_bytes(path))
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
        self._thread = None
        self._thread_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
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
                "host": HOST,
                "boot_id": BOOT_ID,
                "pid_ns": PID_NS,
                "pid": self.pid,
                "pid_start": _pid_start(self.pid),
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
        """Note an open run: ensures the lease and the background flusher exist."""
        with self._thread_lock:
            self._open_runs.add(run_id)
        if not self._lease_written:
            self.heartbeat()
        self._ensure_thread()

    def run_closed(self, run_id: str) -> None:
        self._open_runs.discard(run_id)

    def metric_buffer(self, run_id: str, experiment_id: str) -> MetricBuffer:
        return self.buffer.metric_buffer(run_id, experiment_id)

    def add_record(self, table: str, experiment_id: str, row: tuple[Any, ...]) -> None:
        self.buffer.add(table, experiment_id, row)

    def wake_flusher(self) -> None:
        self._wake.set()

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
                name = segments.segment_name(segments.SEGMENT_PREFIX, self.writer_id, self.next_seq())
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

    def _ensure_thread(self) -> None:
        with self._thread_lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stop.clear()
            t = threading.Thread(target=self._loop, name="nbtrack-flusher", daemon=True)
            self._thread = t
            t.start()

    def _interval(self) -> float:
        try:
            return config.flush_interval()
        except NbtrackError:  # checked when the store opened; a later bad change falls back
            return 1.0

    def _loop(self) -> None:
        warned = False
        while not self._stop.is_set():
            self._wake.wait(self._interval())
            self._wake.clear()
            if self._stop.is_set():
                break
            try:
                self.flush()
                if self._open_runs and (
                    time.monotonic() - self._last_heartbeat >= config.heartbeat_interval()
                ):
                    self.heartbeat()
                # Segments written since the last look, by this thread or by a caller's
                # synchronous flush (start_run, end_run): maybe time to compact.
                if self._written_since_compact and self._compact_hook is not None:
                    self._written_since_compact = 0
                    if config.auto_compact():
                        self._compact_hook(self)
                self._flush_error = None
                warned = False
            # The background flush must never kill the user's process: the error is kept,
            # logged and warned once, and the records stay buffered for the next try.
            except Exception as exc:  # noqa: BLE001
                self._flush_error = exc
                if not warned:
                    _log.warning("nbtrack: background flush failed: %s", exc)
                    warned = True
                continue
            with self._thread_lock:
                # Idle: no open run and nothing buffered. Leave; run_opened starts a new one.
                if not self._open_runs and self.buffer.is_empty():
                    self._drop_lease()
                    self._thread = None
                    return

    def _drop_lease(self) -> None:
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
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=30)
        self._thread = None
        self.flush()
        self._drop_lease()
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

    def read_blob(self, sha: str) -> bytes:
        try:
            return self.fs.read_bytes(self.blob_path(sha))
        except OSError as exc:
            raise StoreError(f"artifact content {sha} is missing from the store: {exc}") from exc

    # ---- read side ----------------------------------------------------------------------
    def views(self) -> DuckViews:
        if self._views is None:
            self._views = DuckViews(self.fs)
        return self._views

    def snapshot(self) -> Snapshot:
        return self.catalog.snapshot()

    def refresh(self) -> DuckViews:
        """Flush this process's records, then point the views at the current files."""
        # Always go through flush(): it waits for a background flush in progress, whose
        # records are no longer in the buffer but not yet on disk either.
        self.flush()
        snap = self.catalog.snapshot()
        v = self.views()
        try:
            v.install(snap)
        except duckdb.Error:
            # A segment passed the cheap check but DuckDB cannot read it (bad pages, a
            # foreign schema): find such files one by one, skip them, and load the rest.
            bad = v.probe_new_files(snap)
            if not bad:
                raise
            for path, why in bad.items():
                self.catalog.mark_path_bad(path, why)
            snap = self.catalog.snapshot()
            v.install(snap)
        self.catalog.warn_problems(snap)
        v.set_dead_writers(self._dead_writers(v.running_owners()))
        return v

    def _read_lease(self, owner: str) -> dict[str, Any] | None:
        if owner not in self._lease_cache:
            try:
                self._lease_cache[owner] = json.loads(
                    self.fs.read_bytes(self.fs.join("_writers", f"{owner}.json"))
                )
            except (OSError, ValueError):
                return None
        return self._lease_cache[owner]

    def _dead_writers(self, owners: list[str]) -> dict[str, float]:
        dead: dict[str, float] = {}
        now = time.time()
        for owner in owners:
            if owner == self.writer_id and os.getpid() == self.pid:
                continue
            path = self.fs.join("_writers", f"{owner}.json")
            mtime = self.fs.mtime(path)
            lease = self._read_lease(owner) if mtime is not None else None
            if lease is None:
                dead[owner] = mtime or now
                continue
            if _same_pid_space(lease):
                if not _pid_alive(int(lease["pid"]), lease.get("pid_start")):
                    dead[owner] = mtime or now
            elif mtime is None or now - mtime > config.dead_after():
                dead[owner] = mtime or now
        return dead

    def query(self, sql: str, params: list[Any] | None = None) -> pa.Table:
        """Run ``sql`` over fresh views and return an Arrow table.

        Raises:
            StoreError: DuckDB failed (a damaged file it could not skip, a bad query).
        """
        try:
            v = self.refresh()
            try:
                return v.execute(sql, params)
            except duckdb.Error as exc:
                if not self.recover_from(exc):
                    raise
                return self.refresh().execute(sql, params)
        except duckdb.Error as exc:
            raise StoreError(f"reading the store failed: {exc}") from exc

    def recover_from(self, exc: BaseException) -> bool:
        """After a DuckDB read error, find files that are broken; True if any were."""
        text = str(exc)
        if not any(w in text for w in ("parquet", "Parquet", "magic", "No such file", "IO Error")):
            return False
        return self.catalog.mark_bad(self.catalog.snapshot()) > 0


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
