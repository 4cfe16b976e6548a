"""The store's background threads: flusher, heartbeat and compactor, each on its own timer.

Three threads, so that no one of them can hold up another (DESIGN.md §2.4):

- the **flusher** writes buffered records every ``NBTRACK_FLUSH_INTERVAL`` seconds or when
  woken (a full buffer), and wakes the compactor when segments were written;
- the **heartbeat** refreshes this writer's lease every ``NBTRACK_HEARTBEAT`` seconds while
  runs are open, however long a flush or a compaction takes;
- the **compactor** runs the store's compaction hook when woken, off the flush path.

They run only while the store has open runs or buffered records: each leaves when idle
(the heartbeat drops the lease as it goes) and ``ensure`` starts them again. None of them
imports anything (fork safety: see ``nbtrack.storage.store``), and none ever raises: a
failure is kept, logged and warned once, and the records stay buffered for the next try.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

from nbtrack import config
from nbtrack.errors import NbtrackError

if TYPE_CHECKING:
    from nbtrack.storage.store import ParquetStore

_log = logging.getLogger("nbtrack")

#: How long the compactor waits for work before it checks whether it may leave.
COMPACTOR_IDLE_S = 5.0


def _setting(read: object, default: float) -> float:
    try:
        return float(read())  # type: ignore[operator]
    except NbtrackError:  # checked when the store opened; a later bad change falls back
        return default


class Background:
    """The three threads of one store (recreated in a forked child)."""

    def __init__(self, store: ParquetStore) -> None:
        self.store = store
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.flush_wake = threading.Event()
        self.compact_wake = threading.Event()
        self.threads: dict[str, threading.Thread] = {}
        self.flush_error: BaseException | None = None
        self.compactions = 0  # compaction rounds run (for tests and doctor)

    # ---- control ----------------------------------------------------------------------
    def ensure(self) -> None:
        """Start whichever thread is not running (the store has work or open runs)."""
        targets = {
            "flusher": self._flusher,
            "heartbeat": self._heartbeat,
            "compactor": self._compactor,
        }
        with self.lock:
            self.stopping.clear()
            for name, target in targets.items():
                t = self.threads.get(name)
                if t is None or not t.is_alive():
                    t = threading.Thread(target=target, name=f"nbtrack-{name}", daemon=True)
                    self.threads[name] = t
                    t.start()

    def wake_flush(self) -> None:
        self.flush_wake.set()

    def wake_compaction(self) -> None:
        self.compact_wake.set()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop every thread and wait for them (a flush in progress completes first)."""
        self.stopping.set()
        self.flush_wake.set()
        self.compact_wake.set()
        with self.lock:
            threads = list(self.threads.values())
            self.threads.clear()
        for t in threads:
            if t is not threading.current_thread():
                t.join(timeout)

    def is_running(self) -> bool:
        with self.lock:
            return any(t.is_alive() for t in self.threads.values())

    def _idle(self) -> bool:
        store = self.store
        return not store.has_open_runs() and store.buffer.is_empty()

    def _leave(self, name: str) -> bool:
        """True (and forget the thread) when ``name`` may stop: nothing left to do."""
        with self.lock:
            if self._idle() and not self.compact_wake.is_set():
                if self.threads.get(name) is threading.current_thread():
                    del self.threads[name]
                return True
        return False

    # ---- the threads ------------------------------------------------------------------
    def _flusher(self) -> None:
        warned = False
        while not self.stopping.is_set():
            self.flush_wake.wait(_setting(config.flush_interval, 1.0))
            self.flush_wake.clear()
            if self.stopping.is_set():
                return
            try:
                self.store.flush()
                self.flush_error = None
                warned = False
            # The background flush must never kill the user's process.
            except Exception as exc:  # noqa: BLE001
                self.flush_error = exc
                if not warned:
                    _log.warning("nbtrack: background flush failed: %s", exc)
                    warned = True
                continue
            if self.store.take_written_count():
                self.compact_wake.set()
            if self._leave("flusher"):
                return

    def _heartbeat(self) -> None:
        store = self.store
        while not self.stopping.is_set():
            self.stopping.wait(_setting(config.heartbeat_interval, 5.0))
            if self.stopping.is_set():
                return
            if store.has_open_runs():
                try:
                    store.heartbeat()
                # A lease that cannot be refreshed now is refreshed at the next beat.
                except Exception as exc:  # noqa: BLE001
                    _log.warning("nbtrack: heartbeat failed: %s", exc)
                continue
            with self.lock:
                if not store.has_open_runs():
                    store.drop_lease()
                    if self.threads.get("heartbeat") is threading.current_thread():
                        del self.threads["heartbeat"]
                    return

    def _compactor(self) -> None:
        store = self.store
        warned = False
        while not self.stopping.is_set():
            if not self.compact_wake.wait(COMPACTOR_IDLE_S):
                if self._leave("compactor"):
                    return
                continue
            if self.stopping.is_set():
                return
            self.compact_wake.clear()
            hook = store.compact_hook
            if hook is None or not config.auto_compact(remote=store.fs.is_remote):
                continue
            started = time.monotonic()
            try:
                hook(store)
                self.compactions += 1
                warned = False
            # Compaction is housekeeping: a failure leaves the files as they are.
            except Exception as exc:  # noqa: BLE001
                if not warned:
                    _log.warning("nbtrack: background compaction failed: %s", exc)
                    warned = True
            _log.debug("nbtrack: compaction round took %.3f s", time.monotonic() - started)
