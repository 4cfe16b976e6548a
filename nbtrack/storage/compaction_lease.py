"""Compactors take turns: ``compaction_lock`` (``flock`` locally, the lease remotely).

Local stores exclude compactors with ``flock`` on ``_locks/compact.lock``. Object
storage has no locks, but S3 (and S3-compatible servers) create an object only if none
exists under its name (``PUT`` with ``If-None-Match: *``), which is all a lease needs:

- The lease is a series of objects ``_locks/compact-<generation:012d>.json``; the highest
  generation is the current one. Its body names the holder (writer id, host, a random
  token).
- To acquire: list ``_locks/``. With no lease object, create generation 1; when the highest
  generation's object is older than ``NBTRACK_COMPACT_LEASE`` seconds (its holder died or
  stalled), create the next generation. Creation is exclusive, so of two compactors that
  try the same generation exactly one wins; the other finds the store busy.
- The holder confirms the lease before it makes each compacted file visible: its
  generation must still be the highest, with its token, and it rewrites its object (the
  renewal resets the expiry). A holder that stalled past the expiry and was overtaken
  stops without publishing.
- Releasing deletes the holder's object; older generations are deleted by the next holder.

What remains: a holder that stalls *between* its confirmation and its upload for longer
than the expiry can publish after a successor did. Readers still count every row once
(the newest compacted file wins and an overlapping older one is ignored, docs/format.md);
only the loser's work is wasted, and gc (which deletes only while it holds the lease)
cannot have deleted what the winner needs. Lease objects are aged on the store's clock
(``Leases.now``: this host's offset to the object store's ``LastModified``), and a merge is
named when it is planned, so the newer name is the later lease holder's as long as hosts'
clocks differ by less than the expiry.

Only file systems with a conditional create can hold a lease (``lease_unavailable``); on
the others compaction and gc run only when the caller vouches that it is the only one.
"""

from __future__ import annotations

import contextlib
import fcntl  # imported with the module, never by the compactor thread (fork safety)
import json
import logging
import os
import re
import secrets
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from nbtrack import config
from nbtrack.errors import StoreError
from nbtrack.storage import liveness
from nbtrack.storage._fs import FileSystem

if TYPE_CHECKING:
    from nbtrack.storage.store import ParquetStore

log = logging.getLogger("nbtrack")

LOCK_FOLDER = "_locks"
_NAME = re.compile(r"^compact-(\d{12})\.json$")


class CompactionLease:
    """This process's claim on the compaction lease of one store (see the module doc)."""

    def __init__(
        self,
        fs: FileSystem,
        writer_id: str,
        *,
        expiry: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.fs = fs
        # Lease objects are aged by their mtime, which the store's clock sets: ``clock``
        # should be the store's (``Leases.now``), or a host whose clock runs ahead takes
        # over a live lease.
        self.clock = clock
        self.writer_id = writer_id
        self.expiry = config.compact_lease() if expiry is None else expiry
        self.token = secrets.token_hex(8)
        self.generation: int | None = None

    def _path(self, generation: int) -> str:
        return self.fs.join(LOCK_FOLDER, f"compact-{generation:012d}.json")

    def _body(self) -> bytes:
        return json.dumps(
            {
                "writer_id": self.writer_id,
                "host": liveness.host_id(),
                "token": self.token,
                "acquired": time.time(),
            }
        ).encode()

    def _generations(self) -> dict[int, float]:
        """Generation -> mtime of every lease object now listed."""
        out = {}
        for info in self.fs.list_files(self.fs.join(LOCK_FOLDER)):
            m = _NAME.match(info.name)
            if m:
                out[int(m.group(1))] = info.mtime
        return out

    def holder(self) -> dict[str, object] | None:
        """The current holder's record, or None when nobody holds a live lease."""
        gens = self._generations()
        if not gens:
            return None
        top = max(gens)
        if self.clock() - gens[top] > self.expiry:
            return None
        try:
            return dict(json.loads(self.fs.read_bytes(self._path(top))))
        except (OSError, ValueError):
            return None

    def acquire(self) -> bool:
        """Take the lease if it is free or expired. Returns False when another holds it."""
        gens = self._generations()
        if gens:
            top = max(gens)
            if self.clock() - gens[top] <= self.expiry:
                return False
            nxt = top + 1
        else:
            nxt = 1
        if not self.fs.create_exclusive(self._path(nxt), self._body()):
            return False  # another compactor took this generation first
        self.generation = nxt
        for g in gens:  # expired or released: nobody may act on them any more
            self.fs.delete(self._path(g))
        return True

    def confirm(self) -> bool:
        """True (and the lease renewed) if this process still holds the lease."""
        if self.generation is None:
            return False
        gens = self._generations()
        if not gens or max(gens) != self.generation:
            return False
        try:
            body = json.loads(self.fs.read_bytes(self._path(self.generation)))
        except (OSError, ValueError):
            return False
        if body.get("token") != self.token:
            return False
        self.fs.write_atomic(self._path(self.generation), self._body())
        return True

    def release(self) -> None:
        """Give the lease back (only this process's own generation is deleted)."""
        if self.generation is not None and self.confirm():
            self.fs.delete(self._path(self.generation))
        self.generation = None


class Hold:
    """What ``compaction_lock`` yields: true when held; ``check`` confirms it before a publish."""

    def __init__(self, held: bool, lease: CompactionLease | None = None) -> None:
        self.held = held
        self.lease = lease

    def __bool__(self) -> bool:
        return self.held

    def check(self) -> str | None:
        """None while the lock is still ours, else why a merged file must not be published."""
        if self.lease is not None and not self.lease.confirm():
            return "the compaction lease expired and another compactor took it"
        return None


def lease_unavailable(fs: FileSystem) -> str | None:
    """Why compactors cannot take turns on ``fs`` (None when they can).

    The lease needs an exclusive create that is one conditional request, so that of two
    hosts exactly one wins: S3's ``If-None-Match: *`` (``s3://``, S3-compatible servers).
    ``memory://`` is private to this process, whose threads take turns under a lock; local
    paths and ``file://`` use ``flock``. On any other fsspec file system (``gs://``,
    ``az://``, ``abfs://`` ...) nbtrack has no conditional write, so two compactors, or a
    compactor and gc, on two hosts could both think they hold the lease.
    """
    if not fs.is_remote or fs.exclusive_is_atomic:
        return None
    protocol = fs.root.split("://", 1)[0]
    return (
        f"compaction on {protocol}:// stores needs --single-compactor: nbtrack has no "
        f"conditional write on {protocol}://, so compactors on two hosts could both take the "
        "compaction lease; run `nbtrack compact --single-compactor` (and `nbtrack gc "
        "--single-compactor`) from one place only, e.g. one scheduled job, or use an s3:// "
        "store"
    )


@contextlib.contextmanager
def compaction_lock(
    store: ParquetStore, *, blocking: bool, single_compactor: bool = False
) -> Iterator[Hold]:
    """Exclusive lock between compactors; yields a false ``Hold`` if another holds it.

    Local stores use ``flock``; object storage the compaction lease, never waited for
    (``blocking`` applies to local stores only: a remote holder may keep it for minutes).
    ``single_compactor``: the caller vouches that no other compactor or gc runs on the
    store, for file systems without a conditional write (``lease_unavailable``).

    Raises:
        StoreError: the store's file system has no conditional write and the caller did
            not vouch (``single_compactor``).
    """
    why = lease_unavailable(store.fs)
    if why is not None:
        if not single_compactor:
            raise StoreError(why)
        yield Hold(True)  # no lease to confirm: the caller is the only compactor
        return
    if store.fs.is_remote:
        lease = CompactionLease(store.fs, store.writer_id, clock=store.leases.now)
        if not lease.acquire():
            yield Hold(False)
            return
        try:
            yield Hold(True, lease)
        finally:
            try:
                lease.release()
            except OSError as exc:  # it expires by itself
                log.warning("nbtrack: could not release the compaction lease: %s", exc)
        return
    folder = store.fs.join("_locks")
    os.makedirs(folder, exist_ok=True)
    fd = os.open(os.path.join(folder, "compact.lock"), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield Hold(False)
            return
        try:
            yield Hold(True)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
