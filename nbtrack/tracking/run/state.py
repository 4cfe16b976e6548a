"""The state every part of a Run shares: identity, buffers, and whether it may still log.

:class:`RunState` holds what the logging mixins and the lifecycle read and write; only
the :class:`~nbtrack.tracking.run.Run` built on it is used outside this package.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from nbtrack import config
from nbtrack.errors import ReadOnlyRunError, RunFinishedError
from nbtrack.storage.schema import experiment_id as _experiment_id
from nbtrack.tracking import _clock

if TYPE_CHECKING:
    from nbtrack.storage.protocol import Store

__all__ = ["MetricListener", "RunState", "now_ns"]

MetricListener = Callable[[str, float, int, int], None]
"""``fn(key, value, step, timestamp_ms)``, called for every point logged to a run."""


def now_ns() -> int:
    """The record time of a write now (nanoseconds, never going backwards)."""
    return _clock.record_ns()


class RunState:
    """A run's identity and buffers, shared by its lifecycle and its logging methods.

    The constructor arguments are :class:`~nbtrack.tracking.run.Run`'s (documented there).
    """

    def __init__(
        self,
        store: Store,
        *,
        run_id: str,
        name: str,
        experiment: str,
        status: str,
        start_ms: int,
        end_ms: int | None = None,
        parent_run_id: str | None = None,
        description: str | None = None,
    ) -> None:
        self._store = store
        self.run_id = run_id
        self.name = name
        self.experiment = experiment
        self._experiment_id = _experiment_id(experiment)
        self._status = status
        self._start_ms = start_ms
        self._end_ms = end_ms
        self.parent_run_id = parent_run_id
        self.description = description
        self._lock = threading.Lock()
        self._params: dict[str, str] = {}
        self._next_step: dict[str, int] = {}
        self._listeners: list[MetricListener] = []
        self._listener_warned = False
        self._end_callbacks: list[Callable[[], None]] = []
        self._mb = store.metric_buffer(run_id, self._experiment_id)
        self._flush_at = config.flush_points()
        # A handle that this process did not start (get_run of a run another process owns)
        # is read-only; start_owned_run / resume_owned_run open it for writing.
        self._read_only = True
        # _finished: this handle takes no more records (the run ended, or it is read-only).
        self._finished = True
        self._owner_pid = os.getpid()

    def _write_state(self) -> None:
        self._store.add_record(
            "runs",
            self._experiment_id,
            (
                self.run_id,
                self.experiment,
                self.name,
                self._status,
                self._start_ms,
                self._end_ms,
                self.parent_run_id,
                self.description,
                self._store.writer_id,
                now_ns(),
            ),
        )

    def _check_open(self) -> None:
        if self._read_only and self._status == "RUNNING":
            raise ReadOnlyRunError(
                f"run {self.name!r} ({self.run_id}) is RUNNING in another process and this "
                "handle (from get_run) is read-only; log from the process that owns it, or "
                "once it has ended resume it with nbtrack.start_run(run_id=...)"
            )
        if self._finished:
            raise RunFinishedError(
                f"run {self.name!r} ({self.run_id}) has ended ({self._status}); "
                "start a new run to log more"
            )

    def _subscribe(self, attribute: str, fn: Callable[..., None]) -> Callable[[], None]:
        """Add ``fn`` to the callback list ``attribute``; return the function that removes it.

        The lists are replaced, never changed in place, so a caller iterating one without
        the lock (the logging hot path) never sees it change under it.
        """
        with self._lock:
            setattr(self, attribute, [*getattr(self, attribute), fn])

        def remove() -> None:
            with self._lock:
                setattr(self, attribute, [f for f in getattr(self, attribute) if f is not fn])

        return remove

    def _reset_after_fork(self) -> None:
        """Fresh lock and buffers in a forked child (the parent's are the parent's)."""
        self._lock = threading.Lock()
        self._mb = self._store.metric_buffer(self.run_id, self._experiment_id)
        self._end_callbacks = []  # the parent's sampler threads did not survive the fork
