"""The compaction lease of a store on object storage: one compactor at a time, with expiry.

Local stores exclude compactors with ``flock`` (see ``compaction.compaction_lock``). Object
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
only the loser's work is wasted. Hosts' clocks are compared with the object store's
(``LastModified``) only to decide expiry, so the expiry must exceed the clock skew.
"""

from __future__ import annotations

import json
import re
import secrets
import time

from nbtrack import config
from nbtrack.storage import liveness
from nbtrack.storage._fs import FileSystem

LOCK_FOLDER = "_locks"
_NAME = re.compile(r"^compact-(\d{12})\.json$")


class CompactionLease:
    """This process's claim on the compaction lease of one store (see the module doc)."""

    def __init__(self, fs: FileSystem, writer_id: str, *, expiry: float | None = None) -> None:
        self.fs = fs
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
        if time.time() - gens[top] > self.expiry:
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
            if time.time() - gens[top] <= self.expiry:
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
