"""Run: the handle on one run, its attributes, its lifecycle and its params and tags."""

from __future__ import annotations

import datetime as _dt
import os
import time
import warnings
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from nbtrack.errors import NbtrackWarning, ParamConflictError
from nbtrack.tracking import _clock, validation
from nbtrack.tracking.run import registry
from nbtrack.tracking.run.artifact_logging import ArtifactLogging
from nbtrack.tracking.run.metric_logging import MetricLogging
from nbtrack.tracking.run.state import now_ns
from nbtrack.tracking.validation import check_key

if TYPE_CHECKING:
    from nbtrack.storage.protocol import Store

__all__ = ["Run"]


class Run(MetricLogging, ArtifactLogging):
    """One run: what ``start_run`` returns and ``get_run`` reads back.

    Attributes: ``run_id`` (also ``id``), ``name``, ``experiment``, ``status``,
    ``start_time``, ``end_time`` (UTC datetimes), ``parent_run_id``, ``description``,
    and ``params``, ``metrics`` (latest value per key) and ``tags`` as dicts. The logging
    methods of the fluent API (``log_metric``, ``log_params``, ``set_tag``, ``log_artifact``
    ...) exist on the run too, for a run that is not the active one. Use it as a context
    manager (``FINISHED`` at the end of the block, ``FAILED`` if it raises) or call
    ``end()``. Build one with ``nt.start_run``; the constructor is internal.

    Args:
        store: The store the run lives in.
        run_id: The run's id.
        name: The run's name.
        experiment: The experiment's name.
        status: ``RUNNING``, ``FINISHED``, ``FAILED`` or ``KILLED``.
        start_ms: Start time in ms since the epoch.
        end_ms: End time in ms since the epoch, None while running.
        parent_run_id: The parent of a nested run.
        description: Free text.

    Raises:
        RunFinishedError: a logging method is called after the run ended.
        ReadOnlyRunError: a logging method is called on another process's run.

    Example:
        >>> with nt.start_run(name="baseline") as run:
        ...     run.log_metric("loss", 0.5)
        >>> nt.get_run(run.run_id).metrics
        {'loss': 0.5}
    """

    # ---- identity and state ------------------------------------------------------------
    @property
    def id(self) -> str:
        return self.run_id

    @property
    def status(self) -> str:
        return self._status

    @property
    def store(self) -> Store:
        """The store this run writes to (nbtrack.models writes a run's models there)."""
        return self._store

    def check_open(self) -> None:
        """Raise unless this handle may still log to the run.

        Raises:
            ReadOnlyRunError: another process owns the running run.
            RunFinishedError: the run has ended.
        """
        self._check_open()

    @property
    def is_finished(self) -> bool:
        """True once the run has ended (its status is no longer RUNNING)."""
        return self._status != "RUNNING"

    @property
    def is_read_only(self) -> bool:
        """True for a handle on a run this process does not own (see ``start_run(run_id=)``)."""
        return self._read_only

    @property
    def start_time(self) -> _dt.datetime:
        t = _clock.utc_from_ms(self._start_ms)
        assert t is not None
        return t

    @property
    def end_time(self) -> _dt.datetime | None:
        return _clock.utc_from_ms(self._end_ms)

    @property
    def duration_s(self) -> float:
        end = self._end_ms if self._end_ms is not None else time.time_ns() // 1_000_000
        return (end - self._start_ms) / 1000.0

    @property
    def params(self) -> dict[str, str]:
        """Params of the run, as stored (read from the store, this process's writes first)."""
        return _read_pairs(
            self._store, "SELECT key, value FROM params WHERE run_id = ? ORDER BY key", self.run_id
        )

    @property
    def metrics(self) -> dict[str, float]:
        """Latest value of each metric (highest step; newest among equal steps)."""
        return _read_pairs(
            self._store,
            "SELECT key, value FROM latest_metrics WHERE run_id = ? ORDER BY key",
            self.run_id,
        )

    @property
    def tags(self) -> dict[str, str]:
        """Tags of the run (deleted tags are gone)."""
        return _read_pairs(
            self._store, "SELECT key, value FROM tags WHERE run_id = ? ORDER BY key", self.run_id
        )

    def __repr__(self) -> str:
        return (
            f"<Run {self.name!r} id={self.run_id} experiment={self.experiment!r} "
            f"status={self._status}>"
        )

    def _repr_html_(self) -> str:
        from html import escape

        colour = {"RUNNING": "#1f77b4", "FINISHED": "#2ca02c", "FAILED": "#d62728"}.get(
            self._status, "#ff7f0e"
        )
        return (
            f"<div><b>{escape(self.name)}</b> <code>{self.run_id}</code> "
            f"<span style='color:{colour};font-weight:bold'>{self._status}</span> "
            f"· experiment <i>{escape(self.experiment)}</i> · {self.duration_s:.2f} s</div>"
        )

    # ---- lifecycle ---------------------------------------------------------------------
    def end(self, status: str = "FINISHED") -> None:
        """End the run with ``status`` (FINISHED, FAILED or KILLED).

        When this returns, the run's records are durable under their final names: another
        process, plain DuckDB (docs/format.md) or a ``kill -9`` right after sees the whole
        run. Ending a run that has already ended is a no-op. In a process forked from the
        owner, ``end`` only writes the points logged here: the owner ends the run.

        Raises:
            InvalidValueError: ``status`` is not FINISHED, FAILED or KILLED (the run stays
                open).
            StoreError: the final write failed; the records stay in memory and the
                background flusher retries them.
        """
        status = validation.status_value(status)
        if self._read_only:
            if self._status == "RUNNING":
                self._check_open()
            return
        if os.getpid() != self._owner_pid:
            # A forked child (or an attached worker) never ends its parent's run; it makes
            # its own points durable.
            self._store.flush()
            if self._owner_pid == -1 and not self._finished:
                self._finished = True
                self._store.run_closed(self.run_id)
            return
        if not self._finished:
            self._run_end_callbacks()
        with self._lock:
            if self._finished:
                return
            self._finished = True
            self._status = status
            self._end_ms = time.time_ns() // 1_000_000
            self._write_state()
            self._mb.closed = True
        registry.release(self.run_id)
        try:
            self._store.flush()
        finally:
            self._store.run_closed(self.run_id)

    def on_end(self, fn: Callable[[], None]) -> Callable[[], None]:
        """Call ``fn()`` when the run ends, before its last records are written.

        Used by the system metrics sampler (which stops and takes a last sample). Returns a
        function that unregisters ``fn``. A failing ``fn`` is reported and never stops the
        run from ending.
        """
        return self._subscribe("_end_callbacks", fn)

    def _run_end_callbacks(self) -> None:
        with self._lock:
            callbacks, self._end_callbacks = self._end_callbacks, []
        for fn in callbacks:
            try:
                fn()
            # Ending the run matters more than a helper's cleanup (a sampler's last sample).
            except Exception as exc:  # noqa: BLE001
                warnings.warn(
                    f"nbtrack: a run-end callback failed and is ignored: {exc}",
                    NbtrackWarning,
                    stacklevel=3,
                )

    def __enter__(self) -> Run:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            status = "FINISHED"
        elif issubclass(exc_type, KeyboardInterrupt):
            status = "KILLED"
        else:
            status = "FAILED"
        # The fluent API's stack drops ended runs by itself (fluent.stack.stack).
        self.end(status)

    # ---- params and tags ---------------------------------------------------------------
    def log_param(self, key: str, value: Any) -> None:
        """Log a param; logging the same key again with a different value is an error."""
        self.log_params({key: value})

    def log_params(self, params: Mapping[str, Any]) -> None:
        self._check_open()
        checked = validation.checked_texts(params, "param", "log_params")
        now = now_ns()
        with self._lock:
            for k, text in checked.items():
                old = self._params.get(k)
                if old is not None and old != text:
                    raise ParamConflictError(
                        f"param {k!r} of run {self.run_id} is already {old!r}; a param "
                        f"cannot change (tried {text[:60]!r}); use a metric or a tag for "
                        "values that change"
                    )
            for k, text in checked.items():
                if k in self._params:
                    continue
                self._params[k] = text
                self._store.add_record("params", self._experiment_id, (self.run_id, k, text, now))

    def set_tag(self, key: str, value: Any) -> None:
        self.set_tags({key: value})

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        self._check_open()
        checked = validation.checked_texts(tags, "tag", "set_tags")
        now = now_ns()
        for k, text in checked.items():
            self._store.add_record("tags", self._experiment_id, (self.run_id, k, text, now))

    def delete_tag(self, key: str) -> None:
        self._check_open()
        check_key(key, "tag key")
        self._store.add_record("tags", self._experiment_id, (self.run_id, key, None, now_ns()))


def _read_pairs(store: Store, sql: str, run_id: str) -> dict[str, Any]:
    t = store.query(sql, [run_id])
    return dict(zip(t.column(0).to_pylist(), t.column(1).to_pylist(), strict=True))
