"""The clock of record times: never backwards in a process, and past what a run already has.

A record's ``record_time`` (ns since the epoch) decides which record of a run is newest
(docs/format.md: the newest record wins). Wall clocks step back (NTP) and differ between
hosts (skew), so the raw clock could make a later record look older. This clock is a
Lamport clock over the wall clock: each reading is greater than the previous one in this
process, and a process that takes over a run (a resume, possibly on another host with a
slower clock) first ``observe``\\ s the run's newest record time, so everything it writes
for the run is newer than what is already there.
"""

from __future__ import annotations

import datetime as _dt
import os
import threading
import time


class RecordClock:
    """Strictly increasing nanosecond timestamps, at least the wall clock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = 0

    def now_ns(self) -> int:
        with self._lock:
            now = time.time_ns()
            self._last = now if now > self._last else self._last + 1
            return self._last

    def observe(self, ns: int) -> None:
        """Make every later reading greater than ``ns`` (a record time seen in the store)."""
        with self._lock:
            if ns > self._last:
                self._last = ns

    def _after_fork(self) -> None:
        self._lock = threading.Lock()  # never inherit it held by another thread


CLOCK = RecordClock()
os.register_at_fork(after_in_child=CLOCK._after_fork)


def record_ns() -> int:
    """The ``record_time`` of a new record."""
    return CLOCK.now_ns()


def utc_from_ms(ms: float | None) -> _dt.datetime | None:
    """A time in milliseconds since the epoch as a UTC datetime (None stays None)."""
    return None if ms is None else _dt.datetime.fromtimestamp(ms / 1000, tz=_dt.timezone.utc)
