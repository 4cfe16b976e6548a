"""Run: one tracked execution — its lifecycle, and every way to log to it.

A Run started in this process owns its records: params, metrics and tags are buffered in
memory and flushed by the store (on size, on a timer, at ``end``, at exit). A Run object
is safe to use from any thread.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import threading
import time
import warnings
import weakref
from array import array
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nbtrack import config
from nbtrack.errors import (
    ArtifactError,
    InvalidValueError,
    NbtrackWarning,
    ParamConflictError,
    ReadOnlyRunError,
    RunFinishedError,
)
from nbtrack.storage.schema import experiment_id as _experiment_id
from nbtrack.tracking import _clock, validation
from nbtrack.tracking.validation import _valid_keys, check_key, metric_value

if TYPE_CHECKING:
    from nbtrack.storage.protocol import Store

MetricListener = Callable[[str, float, int, int], None]

# Runs started in this process and not yet ended, by id (for get_run and exit handling).
_owned: weakref.WeakValueDictionary[str, Run] = weakref.WeakValueDictionary()
_owned_strong: dict[str, Run] = {}
_owned_lock = threading.Lock()


def _utc(ms: int | None) -> _dt.datetime | None:
    if ms is None:
        return None
    return _dt.datetime.fromtimestamp(ms / 1000, tz=_dt.timezone.utc)


def _now_ns() -> int:
    return _clock.record_ns()


class Run:
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
        t = _utc(self._start_ms)
        assert t is not None
        return t

    @property
    def end_time(self) -> _dt.datetime | None:
        return _utc(self._end_ms)

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
                _now_ns(),
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
        with _owned_lock:
            _owned_strong.pop(self.run_id, None)
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
        with self._lock:
            self._end_callbacks = [*self._end_callbacks, fn]

        def remove() -> None:
            with self._lock:
                self._end_callbacks = [f for f in self._end_callbacks if f is not fn]

        return remove

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
        # The fluent API's stack drops ended runs by itself (fluent._stack).
        self.end(status)

    # ---- metrics -----------------------------------------------------------------------
    def add_metric_listener(self, fn: MetricListener) -> Callable[[], None]:
        """Call ``fn(key, value, step, timestamp_ms)`` for every point logged to this run."""
        with self._lock:
            self._listeners = [*self._listeners, fn]

        def remove() -> None:
            with self._lock:
                self._listeners = [f for f in self._listeners if f is not fn]

        return remove

    def _notify(self, key: str, value: float, step: int, ts: int) -> None:
        for fn in self._listeners:
            try:
                fn(key, value, step, ts)
            # A broken listener (a live plot) must never stop the training loop.
            except Exception as exc:  # noqa: BLE001
                if not self._listener_warned:
                    self._listener_warned = True
                    warnings.warn(
                        f"nbtrack: a metric listener failed and is ignored: {exc}",
                        NbtrackWarning,
                        stacklevel=3,
                    )

    def log_metric(
        self, key: str, value: Any, step: int | None = None, timestamp: Any = None
    ) -> None:
        """Log one point. ``step=None`` is one past the highest step logged for ``key``."""
        if self._finished:
            self._check_open()
        if key.__class__ is not str or key not in _valid_keys:
            check_key(key, "metric key")
        v = value if value.__class__ is float else metric_value(value)
        ts = (
            time.time_ns() // 1_000_000 if timestamp is None else validation.timestamp_ms(timestamp)
        )
        if step is not None and (
            step.__class__ is not int or not -9223372036854775808 <= step <= 9223372036854775807
        ):
            step = validation.step_value(step)
        mb = self._mb
        with mb.lock:
            ns = self._next_step
            if step is None:
                step = ns.get(key, 0)
                ns[key] = step + 1
            elif step >= ns.get(key, 0):
                ns[key] = step + 1
            code = mb.code_of.get(key)
            mb.codes.append(mb.code(key) if code is None else code)
            mb.steps.append(step)
            mb.timestamps.append(ts)
            mb.values.append(v)
            n = len(mb.codes)
        if n >= self._flush_at:
            self._store.wake_flusher()
        if self._listeners:
            self._notify(key, v, step, ts)

    def log_metrics(
        self, metrics: Mapping[str, Any], step: int | None = None, timestamp: Any = None
    ) -> None:
        """Log several metrics at one step (each key's own next step when ``step`` is None)."""
        self._check_open()
        if not isinstance(metrics, Mapping):
            raise InvalidValueError(
                f"log_metrics takes a dict of key -> number, got {type(metrics).__name__}"
            )
        keys = list(metrics)
        for k in keys:
            if k.__class__ is not str or k not in _valid_keys:
                check_key(k, "metric key")
        vals = [v if v.__class__ is float else metric_value(v) for v in metrics.values()]
        ts = (
            time.time_ns() // 1_000_000 if timestamp is None else validation.timestamp_ms(timestamp)
        )
        if step is not None:
            step = validation.step_value(step)
        n_keys = len(keys)
        mb = self._mb
        with mb.lock:
            ns = self._next_step
            if step is None:
                steps = [ns.get(k, 0) for k in keys]
                for k, s in zip(keys, steps, strict=True):
                    ns[k] = s + 1
                mb.steps.extend(steps)
            else:
                for k in keys:
                    if step >= ns.get(k, 0):
                        ns[k] = step + 1
                mb.steps.extend([step] * n_keys)
            if keys == mb.last_keys:  # a training loop logs the same dict every step
                mb.codes.extend(mb.last_codes)
            else:
                code_of = mb.code_of
                codes = [code_of[k] if k in code_of else mb.code(k) for k in keys]
                mb.last_keys, mb.last_codes = keys, array("i", codes)
                mb.codes.extend(mb.last_codes)
            mb.timestamps.extend([ts] * n_keys)
            mb.values.extend(vals)
            n = len(mb.codes)
        if n >= self._flush_at:
            self._store.wake_flusher()
        if self._listeners:
            for i, k in enumerate(keys):
                s = step if step is not None else steps[i]
                self._notify(k, vals[i], s, ts)

    # ---- params and tags ---------------------------------------------------------------
    def log_param(self, key: str, value: Any) -> None:
        """Log a param; logging the same key again with a different value is an error."""
        self.log_params({key: value})

    def log_params(self, params: Mapping[str, Any]) -> None:
        self._check_open()
        checked = validation.checked_texts(params, "param", "log_params")
        now = _now_ns()
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
        now = _now_ns()
        for k, text in checked.items():
            self._store.add_record("tags", self._experiment_id, (self.run_id, k, text, now))

    def delete_tag(self, key: str) -> None:
        self._check_open()
        check_key(key, "tag key")
        self._store.add_record("tags", self._experiment_id, (self.run_id, key, None, _now_ns()))

    # ---- artifacts ---------------------------------------------------------------------
    def _add_artifact(self, path: str, data: bytes) -> str:
        if not path:
            raise ArtifactError("artifact name is empty; give a file name such as 'model.pkl'")
        sha = self._store.put_blob(data)
        self._store.add_record(
            "artifacts", self._experiment_id, (self.run_id, path, len(data), sha, _now_ns())
        )
        return path

    def log_artifact(
        self, local_path: str | os.PathLike[str], artifact_path: str | None = None
    ) -> str:
        """Copy a file into the run; returns its path inside the run."""
        self._check_open()
        folder = validation.artifact_path(artifact_path)
        src = Path(local_path)
        if not src.is_file():
            raise ArtifactError(f"cannot log {str(src)!r}: no such file")
        name = validation.artifact_path(src.name, "artifact name")
        path = f"{folder}/{name}" if folder else name
        return self._add_artifact_file(path, src)

    def _add_artifact_file(self, path: str, src: Path) -> str:
        """Store the file at ``src`` as artifact ``path``, streamed (never read whole)."""
        sha, size = self._store.put_blob_file(str(src))
        self._store.add_record(
            "artifacts", self._experiment_id, (self.run_id, path, size, sha, _now_ns())
        )
        return path

    def log_artifacts(
        self, local_dir: str | os.PathLike[str], artifact_path: str | None = None
    ) -> list[str]:
        """Copy a folder's files into the run; symlinks that point outside it are skipped."""
        self._check_open()
        folder = validation.artifact_path(artifact_path)
        root = Path(local_dir)
        if not root.is_dir():
            raise ArtifactError(f"cannot log {str(root)!r}: no such folder")
        real_root = root.resolve()
        # Every name is checked before anything is stored; files are then streamed one by one.
        items: list[tuple[str, Path]] = []
        for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
            for d in list(dirnames):
                full = Path(dirpath) / d
                if full.is_symlink():
                    target = full.resolve()
                    if not target.is_relative_to(real_root):
                        warnings.warn(
                            f"nbtrack: skipped {full}: a symlink pointing outside {root}",
                            NbtrackWarning,
                            stacklevel=2,
                        )
                        dirnames.remove(d)
            for fname in sorted(filenames):
                full = Path(dirpath) / fname
                target = full.resolve()
                if not target.is_relative_to(real_root):
                    warnings.warn(
                        f"nbtrack: skipped {full}: a symlink pointing outside {root}",
                        NbtrackWarning,
                        stacklevel=2,
                    )
                    continue
                if not target.is_file():
                    continue
                rel = full.relative_to(root).as_posix()
                rel = validation.artifact_path(rel, "artifact name")
                items.append((f"{folder}/{rel}" if folder else rel, target))
        return [self._add_artifact_file(p, src) for p, src in items]

    def log_text(self, text: str, name: str) -> str:
        self._check_open()
        if not isinstance(text, str):
            raise InvalidValueError(f"log_text takes a str, got {type(text).__name__}")
        path = validation.artifact_path(name, "artifact name")
        return self._add_artifact(path, validation.text(text, "log_text's text").encode())

    def log_dict(self, obj: Any, name: str) -> str:
        self._check_open()
        path = validation.artifact_path(name, "artifact name")
        try:
            body = json.dumps(obj, indent=2, default=str, allow_nan=True)
        except (TypeError, ValueError) as exc:
            raise InvalidValueError(f"log_dict could not serialise the object: {exc}") from exc
        return self._add_artifact(path, body.encode())

    def log_figure(self, fig: Any, name: str) -> str:
        """Store a plotly figure (.html or .json) or a matplotlib figure (.png, .svg, .pdf)."""
        self._check_open()
        path = validation.artifact_path(name, "artifact name")
        if hasattr(fig, "savefig"):
            import io

            buf = io.BytesIO()
            fmt = path.rsplit(".", 1)[-1] if "." in path else "png"
            fig.savefig(buf, format=fmt)
            return self._add_artifact(path, buf.getvalue())
        if hasattr(fig, "to_plotly_json"):
            if path.endswith(".json"):
                return self._add_artifact(path, fig.to_json().encode())
            html = fig.to_html(include_plotlyjs="cdn", full_html=True)
            return self._add_artifact(path, html.encode())
        raise InvalidValueError(
            f"log_figure takes a plotly or matplotlib figure, got {type(fig).__name__}"
        )


def start_owned_run(
    store: Store,
    *,
    experiment: str,
    name: str | None,
    parent_run_id: str | None,
    description: str | None,
    params: Mapping[str, Any] | None,
    tags: Mapping[str, Any] | None,
) -> Run:
    """Create a RUNNING run owned by this process (inputs validated before any record).

    The run's start record (with its params and tags) is written before this returns, so
    other processes see the run at once.
    """
    from nbtrack.tracking._names import new_run_id, new_run_name

    experiment = validation.experiment_name(experiment)
    name = validation.run_name(name)
    description = validation.description(description)
    checked_params = validation.checked_texts(params or {}, "param", "start_run(params=)")
    checked_tags = validation.checked_texts(tags or {}, "tag", "start_run(tags=)")
    run = Run(
        store,
        run_id=new_run_id(),
        name=name or new_run_name(),
        experiment=experiment,
        status="RUNNING",
        start_ms=time.time_ns() // 1_000_000,
        parent_run_id=parent_run_id,
        description=description,
    )
    return open_owned(run, checked_params, checked_tags)


def open_owned(run: Run, params: dict[str, str], tags: dict[str, str]) -> Run:
    """Make ``run`` this process's to write: start record, params, tags, visible at once."""
    store = run._store
    run._read_only = False
    run._finished = False
    store.run_opened(run.run_id)
    run._write_state()
    if params:
        run.log_params(params)
    if tags:
        run.set_tags(tags)
    with _owned_lock:
        _owned[run.run_id] = run
        _owned_strong[run.run_id] = run
    _install_exit_handlers()
    # Visible to other processes as soon as start_run returns (DESIGN.md §2.4).
    store.flush()
    return run


def attach_worker(store: Store, run: Run) -> Run:
    """Make ``run`` (RUNNING, owned by another process) writable here as a worker.

    A worker handle logs metrics, params, tags and artifacts under this process's own
    writer identity (DESIGN.md §2.3: no lock, nothing lost) and never ends the run: its
    ``end()`` only makes the points logged here durable. The owner ends the run.
    """
    run._read_only = False
    run._finished = False
    run._owner_pid = -1  # never this process: end() flushes and returns
    store.run_opened(run.run_id)  # starts this process's background flusher
    return run


def _read_pairs(store: Store, sql: str, run_id: str) -> dict[str, Any]:
    t = store.query(sql, [run_id])
    return dict(zip(t.column(0).to_pylist(), t.column(1).to_pylist(), strict=True))


def owned_run(run_id: str) -> Run | None:
    return _owned.get(run_id)


_exit_installed = False
_uncaught = False
_exit_code: Any = None


def _install_exit_handlers() -> None:
    """End open runs at exit: FINISHED on a clean exit, FAILED otherwise.

    "Otherwise" is an uncaught exception (seen through ``sys.excepthook``, chained to the
    previous hook) or ``sys.exit(code)`` with a non-zero code (seen through a wrapper that
    records the code and calls the previous ``sys.exit``). A bare ``raise SystemExit(3)``
    cannot be observed from Python and still reads FINISHED.
    """
    global _exit_installed
    if _exit_installed:
        return
    _exit_installed = True
    import atexit
    import sys

    previous_hook = sys.excepthook

    def hook(tp: Any, value: Any, tb: Any) -> None:
        global _uncaught
        _uncaught = True
        previous_hook(tp, value, tb)

    previous_exit = sys.exit

    def exit(status: Any = None) -> None:
        global _exit_code
        _exit_code = status
        previous_exit(status)

    exit.__doc__ = previous_exit.__doc__
    sys.excepthook = hook
    sys.exit = exit
    atexit.register(_end_open_runs)


def _exit_failed() -> bool:
    code = _exit_code
    return _uncaught or (code is not None and code != 0)


def _end_open_runs() -> None:
    status = "FAILED" if _exit_failed() else "FINISHED"
    with _owned_lock:
        runs = list(_owned_strong.values())
    for run in runs:
        try:
            run.end(status)
        # At exit nobody can handle the error; report it and end the other runs.
        except Exception as exc:  # noqa: BLE001
            import sys

            print(f"nbtrack: could not end run {run.run_id}: {exc}", file=sys.stderr)


def _after_fork_in_child() -> None:
    """A forked child owns none of its parent's runs: it never ends them at exit.

    Its handles keep working for logging points (written under the child's own writer id,
    into fresh buffers: the parent's pending points are the parent's to write).
    """
    global _owned_lock
    _owned_lock = threading.Lock()
    _owned_strong.clear()
    for run in list(_owned.values()):
        run._lock = threading.Lock()
        run._mb = run._store.metric_buffer(run.run_id, run._experiment_id)
        run._end_callbacks = []  # the parent's sampler threads did not survive the fork


os.register_at_fork(after_in_child=_after_fork_in_child)
