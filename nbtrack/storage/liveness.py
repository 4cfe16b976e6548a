"""Writer liveness: lease files, host identity and the rule that makes a run KILLED.

While a writer has open runs it keeps ``_writers/<writer_id>.json`` (host, boot id, pid
namespace, pid, the pid's start time) and refreshes its mtime every ``NBTRACK_HEARTBEAT``
seconds. A reader decides that a writer is dead when, in the same pid namespace of the same
boot of the same host, the pid is gone (or was reused), or, from anywhere else (another host,
container or boot), the lease is older than ``NBTRACK_DEAD_AFTER`` seconds.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import time
from typing import Any

from nbtrack import config
from nbtrack.storage._fs import FileSystem

HOST = socket.gethostname()
#: Seconds between measurements of the offset between this host's clock and the store's.
_OFFSET_TTL = 300.0


def host_id() -> str:
    """This machine's name in leases: ``$NBTRACK_HOST_ID`` if set, else the hostname.

    Set it where hostnames are not unique (containers, job arrays): writers with different
    host ids never check each other's pids, only heartbeats.
    """
    return config.host_id() or HOST


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
    if lease.get("host") != host_id():
        return False
    if "boot_id" not in lease:  # a lease written before boot ids were recorded
        return True
    return bool(
        lease.get("boot_id") == BOOT_ID
        and BOOT_ID is not None
        and lease.get("pid_ns") == PID_NS
        and PID_NS is not None
    )


def identity(pid: int) -> dict[str, Any]:
    """What a lease says about its writer's process."""
    return {
        "host": host_id(),
        "boot_id": BOOT_ID,
        "pid_ns": PID_NS,
        "pid": pid,
        "pid_start": _pid_start(pid),
    }


class Leases:
    """Reads the leases of a store (cached: a lease's identity never changes)."""

    def __init__(self, fs: FileSystem) -> None:
        self.fs = fs
        self._cache: dict[str, dict[str, Any] | None] = {}
        self._offset: tuple[float, float] | None = None  # (server - local seconds, when)

    def now(self) -> float:
        """The store's clock now, in seconds since the epoch (lease mtimes are on it).

        On object storage an mtime is the server's clock, and this host's clock may be off
        by minutes: the offset is measured with a probe object (written, its
        ``LastModified`` read, deleted) at most every ``_OFFSET_TTL`` seconds. A reader that
        may not write keeps its own clock.
        """
        if not self.fs.is_remote:
            return time.time()
        if self._offset is None or time.monotonic() - self._offset[1] > _OFFSET_TTL:
            offset = 0.0
            probe = self.fs.join("_writers", f".clock-{secrets.token_hex(6)}.tmp")
            try:
                t0 = time.time()
                self.fs.write_atomic(probe, b"")
                mtime = self.fs.mtime(probe)
                t1 = time.time()
                self.fs.delete(probe)
                if mtime is not None:
                    offset = mtime - (t0 + t1) / 2
            except OSError:
                pass  # read-only access: assume the clocks agree
            self._offset = (offset, time.monotonic())
        return time.time() + self._offset[0]

    def read(self, owner: str) -> dict[str, Any] | None:
        if owner not in self._cache:
            try:
                self._cache[owner] = json.loads(
                    self.fs.read_bytes(self.fs.join("_writers", f"{owner}.json"))
                )
            except (OSError, ValueError):
                return None
        return self._cache[owner]

    def present(self) -> set[str]:
        """Writer ids with a lease now (for ``dead_writers(before=...)``: take it *before*
        the file snapshot). ``ParquetStore.refresh`` checks leases after the files instead
        (``dead_and_missing``), which needs no listing when no run is RUNNING."""
        return {
            f.name[: -len(".json")]
            for f in self.fs.list_files(self.fs.join("_writers"))
            if f.name.endswith(".json") and not f.name.startswith(".")
        }

    def dead_writers(
        self, owners: list[str], mine: str | None, before: set[str] | None = None
    ) -> dict[str, float]:
        """Owners (writer ids) among ``owners`` whose process is dead, with when it was last
        seen (lease mtime). ``mine`` (this process's writer) is never dead.

        ``before`` is ``present()`` taken before the snapshot that found these RUNNING runs.
        A writer ends a run by writing FINISHED, then deleting its lease; a lease that
        existed before the snapshot and is gone now may belong to a run that ended just
        after the snapshot, so it is not called dead on this read (the next one sees the
        FINISHED record). A lease missing before the snapshot, or a lease still there
        whose process is gone, is a dead writer.
        """
        dead, missing = self.dead_and_missing(owners, mine)
        for owner in missing:
            if before is not None and owner in before:
                continue  # ended between the snapshot and now: decided by the next read
            dead[owner] = missing[owner]
        return dead

    def dead_and_missing(
        self, owners: list[str], mine: str | None
    ) -> tuple[dict[str, float], dict[str, float]]:
        """Owners whose lease says their process is dead, and owners with no lease at all
        (dead, or their run ended since it was read as RUNNING: the caller tells the two
        apart by reading the files again), each with when it was last seen (or now)."""
        dead: dict[str, float] = {}
        missing: dict[str, float] = {}
        now = self.now() if owners else time.time()
        for owner in owners:
            if owner == mine:
                continue
            path = self.fs.join("_writers", f"{owner}.json")
            mtime = self.fs.mtime(path)
            lease = self.read(owner) if mtime is not None else None
            if lease is None:
                missing[owner] = mtime or now
                continue
            if _same_pid_space(lease):
                if not _pid_alive(int(lease["pid"]), lease.get("pid_start")):
                    dead[owner] = mtime or now
            elif mtime is None or now - mtime > config.dead_after():
                dead[owner] = mtime or now
        return dead, missing
