"""The module-level API: ``nt.start_run``, ``nt.log_metric`` ... shims over ``Run``.

The active run is per thread (a stack, for nested runs). We keep it in a ``threading.local``
rather than a ContextVar: ipykernel may run each cell in a copied context, and a run
started in one cell must still be active in the next.
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from nbtrack import config
from nbtrack.errors import (
    ActiveRunError,
    ConfigError,
    InvalidValueError,
    NbtrackWarning,
    NoActiveRunError,
    ParamConflictError,
    RunFinishedError,
)
from nbtrack.tracking import _clock, query, ranks, settings, system_metrics, validation
from nbtrack.tracking.query.runs import last_record_ns, max_steps
from nbtrack.tracking.run import Run, attach_worker, open_owned, owned_run, start_owned_run

#: The tag that groups the runs of one job (``start_run(group=...)``).
GROUP_TAG = "nbtrack.group"

if TYPE_CHECKING:
    from nbtrack.storage.protocol import Store


class _ActiveRuns(threading.local):
    def __init__(self) -> None:
        self.stack: list[Run] = []


_active = _ActiveRuns()


def _stack() -> list[Run]:
    """This thread's open runs, innermost last (ended runs are dropped wherever they are)."""
    st = _active.stack
    if any(r._finished for r in st):
        st[:] = [r for r in st if not r._finished]
    return st


def active_run() -> Run | None:
    """The run active in this thread (the innermost one when runs are nested), or None.

    Returns:
        The active ``Run``, or None when no run is active in this thread.

    Example:
        >>> with nt.start_run(name="probe") as run:
        ...     assert nt.active_run() is run
        >>> nt.active_run() is None
        True
    """
    st = _stack()
    return st[-1] if st else None


def _require(what: str) -> Run:
    st = _stack()
    if not st:
        raise NoActiveRunError(what)
    return st[-1]


def start_run(
    name: str | None = None,
    experiment: str | None = None,
    params: Mapping[str, Any] | None = None,
    tags: Mapping[str, Any] | None = None,
    nested: bool = False,
    description: str | None = None,
    *,
    run_id: str | None = None,
    group: str | None = None,
    log_system_metrics: bool | None = None,
) -> Run:
    """Start a run and make it active in this thread; use it as a context manager.

    The run is visible to other processes when this returns. With ``run_id``, resume an
    ended run instead (as MLflow resumes runs): it becomes RUNNING again, each metric's
    ``step=None`` continues after its highest step, and its params keep their values.

    Args:
        name: run name (generated, e.g. ``swift-otter-42``, when None).
        experiment: experiment name; default the current one (``set_experiment``).
        params: params to log at once.
        tags: tags to set at once.
        nested: start a child of the active run instead of refusing.
        description: free text shown with the run.
        run_id: resume this run (its id or a unique prefix of ≥ 6 characters) rather than
            start a new one (``name`` must be None).
        group: a group id shared by the runs of one job (the ranks of a distributed
            training, the trials of a sweep): stored as the tag ``nbtrack.group``, so
            ``search_runs(filter="tags.nbtrack.group = 'job-17'")`` finds them together.
        log_system_metrics: sample CPU, memory, disk, network and GPU use into
            ``system/...`` metrics on a thread that stops with the run (see
            ``nbtrack.tracking.system_metrics``); None follows ``NBTRACK_SYSTEM_METRICS``.

    Raises:
        ActiveRunError: a run is already active here and ``nested`` is False, or the run
            to resume is RUNNING in a live process.
        ConfigError: ``log_system_metrics=True`` and psutil is not installed.
        RunNotFoundError: ``run_id`` names no run.
        ParamConflictError: ``params`` changes a param of the resumed run.

    Example:
        >>> with nt.start_run(name="baseline", params={"lr": 0.01}) as run:
        ...     nt.log_metric("loss", 0.5)
    """
    if group is not None:
        tags = {**(tags or {}), GROUP_TAG: validation.text(str(group), "group")}
    sample_system = config.system_metrics() if log_system_metrics is None else log_system_metrics
    if sample_system:
        if log_system_metrics:
            system_metrics.require_psutil()  # a clear error before the run exists
        else:
            sample_system = _psutil_or_warn()
        config.system_metrics_interval()  # a bad NBTRACK_SYSTEM_METRICS_INTERVAL fails here
        if sample_system and run_id is None:
            # Each rank of a distributed job samples its own hardware: say which rank.
            tags = {**ranks.rank_tags(), **(tags or {})}
    st = _stack()
    if st and not nested:
        raise ActiveRunError(
            f"run {st[-1].name!r} ({st[-1].run_id}) is still active in this thread; end it "
            "first (nbtrack.end_run()) or pass nested=True to start a child run"
        )
    if run_id is not None:
        if name is not None or description is not None:
            raise ActiveRunError(
                "start_run(run_id=...) resumes a run as it is; rename or describe it "
                "after it has started, not with name= or description="
            )
        run = _resume(settings.get_store(), run_id, experiment=experiment, params=params, tags=tags)
        st.append(run)
        if sample_system:
            system_metrics.attach_sampler(run)
        return run
    parent = st[-1].run_id if st and nested else None
    exp = experiment if experiment is not None else settings.current_experiment()
    run = start_owned_run(
        settings.get_store(),
        experiment=exp,
        name=name,
        parent_run_id=parent,
        description=description,
        params=params,
        tags=tags,
    )
    st.append(run)
    if sample_system:
        system_metrics.attach_sampler(run)
    return run


def _psutil_or_warn() -> bool:
    try:
        system_metrics.require_psutil()
    except ConfigError as exc:
        warnings.warn(f"NBTRACK_SYSTEM_METRICS=1 is ignored: {exc}", NbtrackWarning, stacklevel=3)
        return False
    return True


def attach_run(run_id: str) -> Run:
    """A handle to log into a RUNNING run that another process owns (a pool worker).

    This is how the workers of a ``multiprocessing`` (spawn) pool or of a distributed job
    log into their parent's run: the parent starts the run and passes ``run.run_id`` to the
    workers; each worker calls ``attach_run(run_id)`` and logs. Every worker writes its own
    segment files, so nothing is locked and nothing is lost; the handle is not made active
    (use its methods) and its ``end()`` only makes the worker's points durable — the
    parent ends the run. ``step=None`` counts per handle, so give workers explicit steps
    or their own keys (``worker3/loss``).

    Raises:
        RunNotFoundError: no such run.
        RunFinishedError: the run has ended.

    Args:
        run_id: the parent's run id (or a unique prefix of ≥ 6 characters).

    Example:
        >>> run = nt.attach_run(parent_run_id)  # doctest: +SKIP
        >>> run.log_metric("worker0/loss", 0.5, step=1)  # doctest: +SKIP
    """
    store = settings.get_store()
    old = query.get_run(run_id, store=store)
    if old.status != "RUNNING":
        raise RunFinishedError(
            f"run {old.name!r} ({run_id}) has ended ({old.status}); a worker can only "
            "attach to a RUNNING run"
        )
    live = owned_run(run_id)
    if live is not None and live._owner_pid == os.getpid() and not live.is_finished:
        return live  # this process owns it: log into the owner's handle
    return attach_worker(store, old)


def end_run(status: str = "FINISHED") -> None:
    """End the active run of this thread (no-op when there is none).

    When this returns the run's records are durable (see ``Run.end``). A ``with
    nt.start_run():`` block calls it for you (``FAILED`` when the block raises).

    Args:
        status: ``"FINISHED"`` (the default), ``"FAILED"`` or ``"KILLED"``.

    Raises:
        InvalidValueError: ``status`` is not FINISHED, FAILED or KILLED; the run stays
            active, so a corrected ``end_run`` still ends it.

    Example:
        >>> run = nt.start_run(name="manual")
        >>> nt.log_metric("loss", 0.3)
        >>> nt.end_run()
        >>> nt.get_run(run.run_id).status
        'FINISHED'
    """
    status = validation.status_value(status)
    run = active_run()
    if run is None:
        return
    run.end(status)


def log_param(key: str, value: Any) -> None:
    """Log one param (a setting of the run, e.g. a learning rate) to the active run.

    Params are stored as text (``str(value)``) and are set once: logging the same key
    again with the same value is a no-op, with another value an error.

    Args:
        key: The param name (letters, digits, ``_ - . / : `` and spaces; ≤ 250 chars).
        value: Any value; stored as ``str(value)`` (at most 6,000 characters).

    Raises:
        NoActiveRunError: no run is active in this thread (use ``start_run`` or ``%%track``).
        InvalidKeyError: ``key`` breaks the key rule.
        InvalidValueError: the value's text is too long.
        ParamConflictError: the run already has ``key`` with another value.

    Example:
        >>> with nt.start_run():
        ...     nt.log_param("lr", 0.01)
    """
    _require("log_param").log_param(key, value)


def log_params(params: Mapping[str, Any]) -> None:
    """Log several params at once to the active run (all or none: bad input writes nothing).

    Args:
        params: Param names to values; each value is stored as ``str(value)``.

    Raises:
        NoActiveRunError: no run is active in this thread (use ``start_run`` or ``%%track``).
        InvalidKeyError: a key breaks the key rule.
        InvalidValueError: ``params`` is not a mapping, or a value is too long.
        ParamConflictError: the run already has a key with another value.

    Example:
        >>> with nt.start_run():
        ...     nt.log_params({"batch_size": 64, "optimizer": "adam"})
    """
    _require("log_params").log_params(params)


def log_metric(key: str, value: Any, step: int | None = None, timestamp: Any = None) -> None:
    """Log one point of a metric (a number that changes as the run goes) to the active run.

    Points are buffered and flushed within about a second, so this is cheap in a training
    loop; ``end_run`` waits until every point is durable.

    Args:
        key: The metric name, e.g. ``"loss"`` or ``"val/acc"``.
        value: A real number (int, float, a numpy scalar or 0-d array); NaN and ±inf are
            kept as such.
        step: The step (an int ≥ 0); None means one past the highest step logged so far
            for this key in this run (0 for the first point).
        timestamp: Milliseconds since the epoch (as MLflow) or a ``datetime``; None means
            now.

    Raises:
        NoActiveRunError: no run is active in this thread (use ``start_run`` or ``%%track``).
        InvalidKeyError: ``key`` breaks the key rule.
        InvalidValueError: ``value`` is not a real number, or ``step``/``timestamp`` is
            out of range.

    Example:
        >>> with nt.start_run():
        ...     for epoch in range(3):
        ...         nt.log_metric("loss", 1 / (epoch + 1))   # steps 0, 1, 2
    """
    # The hot path of a training loop: plain attribute reads only.
    st = _active.stack
    if not st or st[-1]._finished:
        _require("log_metric")
        st = _active.stack
    st[-1].log_metric(key, value, step, timestamp)


def log_metrics(metrics: Mapping[str, Any], step: int | None = None, timestamp: Any = None) -> None:
    """Log one point of several metrics at once to the active run.

    Args:
        metrics: Metric names to values (real numbers).
        step: The step of every point; None gives each key its own next step.
        timestamp: Milliseconds since the epoch or a ``datetime``; None means now.

    Raises:
        NoActiveRunError: no run is active in this thread (use ``start_run`` or ``%%track``).
        InvalidKeyError: a key breaks the key rule.
        InvalidValueError: ``metrics`` is not a mapping, a value is not a real number, or
            ``step``/``timestamp`` is out of range (nothing is logged then).

    Example:
        >>> with nt.start_run():
        ...     nt.log_metrics({"loss": 0.42, "acc": 0.87}, step=10)
    """
    _require("log_metrics").log_metrics(metrics, step, timestamp)


def set_tag(key: str, value: Any) -> None:
    """Set a tag (a label you can filter on and change later) on the active run.

    Unlike a param, a tag may be set again: the newest value wins.

    Args:
        key: The tag name; ``nbtrack.*`` names are reserved for what ``%%track`` records.
        value: Any value; stored as ``str(value)`` (at most 8,000 characters).

    Raises:
        NoActiveRunError: no run is active in this thread (use ``start_run`` or ``%%track``).
        InvalidKeyError: ``key`` breaks the key rule.
        InvalidValueError: the value's text is too long.

    Example:
        >>> with nt.start_run():
        ...     nt.set_tag("stage", "dev")
    """
    _require("set_tag").set_tag(key, value)


def set_tags(tags: Mapping[str, Any]) -> None:
    """Set several tags at once on the active run (all or none: bad input writes nothing).

    Args:
        tags: Tag names to values; each value is stored as ``str(value)``.

    Raises:
        NoActiveRunError: no run is active in this thread (use ``start_run`` or ``%%track``).
        InvalidKeyError: a key breaks the key rule.
        InvalidValueError: ``tags`` is not a mapping, or a value is too long.

    Example:
        >>> with nt.start_run():
        ...     nt.set_tags({"team": "vision", "stage": "dev"})
    """
    _require("set_tags").set_tags(tags)


def delete_tag(key: str) -> None:
    """Remove a tag from the active run (a no-op when the run has no such tag).

    Args:
        key: The tag name.

    Raises:
        NoActiveRunError: no run is active in this thread (use ``start_run`` or ``%%track``).
        InvalidKeyError: ``key`` breaks the key rule.

    Example:
        >>> with nt.start_run():
        ...     nt.set_tag("draft", "yes")
        ...     nt.delete_tag("draft")
    """
    _require("delete_tag").delete_tag(key)


def log_artifact(local_path: str | os.PathLike[str], artifact_path: str | None = None) -> str:
    """Copy a local file into the active run's artifacts.

    Args:
        local_path: The file to copy.
        artifact_path: A folder inside the run's artifacts to put it in (relative, no
            ``..``); None puts it at the top.

    Returns:
        The artifact's path in the run, e.g. ``"plots/loss.png"``.

    Raises:
        NoActiveRunError: no run is active in this thread (use ``start_run`` or ``%%track``).
        ArtifactError: ``artifact_path`` is absolute or climbs out (``..``), or the source
            is missing.

    Example:
        >>> with nt.start_run() as run:                      # doctest: +SKIP
        ...     nt.log_artifact("model.pkl", artifact_path="models")
        'models/model.pkl'
    """
    return _require("log_artifact").log_artifact(local_path, artifact_path)


def log_artifacts(local_dir: str | os.PathLike[str], artifact_path: str | None = None) -> list[str]:
    """Copy every file under a local folder into the active run's artifacts.

    A symlink that points outside the folder is skipped with a warning.

    Args:
        local_dir: The folder to copy (its subfolders too).
        artifact_path: A folder inside the run's artifacts to put the files in; None
            puts them at the top.

    Returns:
        The artifact paths of the copied files.

    Raises:
        NoActiveRunError: no run is active in this thread (use ``start_run`` or ``%%track``).
        ArtifactError: ``artifact_path`` is absolute or climbs out (``..``), or the source
            is missing.

    Example:
        >>> with nt.start_run():                             # doctest: +SKIP
        ...     nt.log_artifacts("outputs/", artifact_path="outputs")
    """
    return _require("log_artifacts").log_artifacts(local_dir, artifact_path)


def log_text(text: str, name: str) -> str:
    """Save a string as a text artifact of the active run (UTF-8).

    Args:
        text: The text.
        name: The artifact's path in the run, e.g. ``"notes.md"`` or ``"logs/train.txt"``.

    Returns:
        The artifact's path.

    Raises:
        NoActiveRunError: no run is active in this thread (use ``start_run`` or ``%%track``).
        InvalidValueError: ``text`` is not a string.
        ArtifactError: ``name`` is absolute or climbs out (``..``).

    Example:
        >>> with nt.start_run() as run:
        ...     nt.log_text("lr was too high", "notes.md")
        'notes.md'
    """
    return _require("log_text").log_text(text, name)


def log_dict(obj: Any, name: str) -> str:
    """Save a dict (or list) as a JSON artifact of the active run (indented, UTF-8).

    Args:
        obj: A dict, list or other JSON value; values JSON cannot hold are written as
            ``str(value)``.
        name: The artifact's path in the run, e.g. ``"config.json"``.

    Returns:
        The artifact's path.

    Raises:
        NoActiveRunError: no run is active in this thread (use ``start_run`` or ``%%track``).
        InvalidValueError: ``obj`` cannot be serialised.
        ArtifactError: ``name`` is absolute or climbs out (``..``).

    Example:
        >>> with nt.start_run() as run:
        ...     nt.log_dict({"classes": 10}, "config.json")
        'config.json'
    """
    return _require("log_dict").log_dict(obj, name)


def log_figure(fig: Any, name: str) -> str:
    """Save a plotly or matplotlib figure as an artifact of the active run.

    A plotly figure is saved as JSON when ``name`` ends in ``.json``, else as an HTML page
    (which loads plotly.js from its CDN when opened); a matplotlib figure as an image in the
    format of ``name``'s extension (``.png``, ``.svg``, ``.pdf`` ...; PNG when it has none).

    Args:
        fig: A ``plotly.graph_objects.Figure`` or a ``matplotlib.figure.Figure``.
        name: The artifact's path in the run, e.g. ``"plots/loss.html"``.

    Returns:
        The artifact's path.

    Raises:
        NoActiveRunError: no run is active in this thread (use ``start_run`` or ``%%track``).
        InvalidValueError: ``fig`` is neither a plotly nor a matplotlib figure.
        ArtifactError: ``name`` is absolute or climbs out (``..``).

    Example:
        >>> import plotly.graph_objects as go
        >>> with nt.start_run():
        ...     nt.log_figure(go.Figure(go.Scatter(y=[3, 1, 2])), "plots/curve.html")
        'plots/curve.html'
    """
    return _require("log_figure").log_figure(fig, name)


def _resume(
    store: Store,
    run_id: str,
    *,
    experiment: str | None,
    params: Mapping[str, Any] | None,
    tags: Mapping[str, Any] | None,
) -> Run:
    """Take over an ended (or killed) run: steps continue, params keep their values.

    Raises:
        RunNotFoundError: no such run (or it is deleted).
        ActiveRunError: the run is RUNNING in a live process (this one included).
        InvalidValueError: ``experiment`` is not the run's experiment.
        ParamConflictError: ``params`` changes a param the run already has.
    """
    checked_params = validation.checked_texts(params or {}, "param", "start_run(params=)")
    checked_tags = validation.checked_texts(tags or {}, "tag", "start_run(tags=)")
    run_id = query.full_run_id(run_id, store=store)  # a unique prefix names the run too
    live = owned_run(run_id)
    if live is not None and not live.is_finished and live._owner_pid == os.getpid():
        raise ActiveRunError(f"run {live.name!r} ({run_id}) is already open in this process")
    old = query.get_run(run_id, store=store)
    if old.status == "RUNNING":
        raise ActiveRunError(
            f"run {old.name!r} ({run_id}) is RUNNING in another live process; end it "
            "there first (a run has one writer at a time)"
        )
    if experiment is not None and experiment != old.experiment:
        raise InvalidValueError(
            f"run {run_id} belongs to experiment {old.experiment!r}, not {experiment!r}"
        )
    run = Run(
        store,
        run_id=old.run_id,
        name=old.name,
        experiment=old.experiment,
        status="RUNNING",
        start_ms=old._start_ms,
        parent_run_id=old.parent_run_id,
        description=old.description,
    )
    run._params = dict(old.params)
    # Records written from here on must be newer than the run's, whatever this host's clock.
    _clock.CLOCK.observe(last_record_ns(run_id, store=store))
    for key, step in max_steps(run_id, store=store).items():
        run._next_step[key] = step + 1
    # Param conflicts are errors before anything is written.
    for k, text in checked_params.items():
        if k in run._params and run._params[k] != text:
            raise ParamConflictError(
                f"param {k!r} of run {run_id} is already {run._params[k]!r}; a resumed run "
                f"keeps its params (tried {text[:60]!r})"
            )
    return open_owned(run, checked_params, checked_tags)
