"""Starting, resuming, attaching to and ending runs through the module-level API."""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from nbtrack import config
from nbtrack.errors import (
    ActiveRunError,
    ConfigError,
    InvalidValueError,
    NbtrackWarning,
    ParamConflictError,
    RunFinishedError,
)
from nbtrack.tracking import _clock, query, ranks, settings, system_metrics, validation
from nbtrack.tracking.fluent.stack import active_run, push, stack
from nbtrack.tracking.query.runs import last_record_ns, max_steps
from nbtrack.tracking.run import Run, attach_worker, open_owned, owned_run, start_owned_run

if TYPE_CHECKING:
    from nbtrack.storage.protocol import Store

__all__ = ["GROUP_TAG", "attach_run", "end_run", "start_run"]


#: The tag that groups the runs of one job (``start_run(group=...)``).
GROUP_TAG = "nbtrack.group"


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
    sample_system = wants_system_metrics(log_system_metrics)
    if sample_system and run_id is None:
        # Each rank of a distributed job samples its own hardware: say which rank.
        tags = {**ranks.rank_tags(), **(tags or {})}
    st = stack()
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
        push(run)
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
    push(run)
    if sample_system:
        system_metrics.attach_sampler(run)
    return run


def wants_system_metrics(log_system_metrics: bool | None) -> bool:
    """Whether a run starting now samples system metrics: as ``log_system_metrics`` says, or
    when None as this process's setting / ``NBTRACK_SYSTEM_METRICS`` does.

    Raises:
        ConfigError: asked explicitly and psutil is missing (only a warning when asked by
            the setting), or the interval setting is not a positive number.
    """
    sample = config.system_metrics() if log_system_metrics is None else log_system_metrics
    if sample:
        if log_system_metrics:
            system_metrics.require_psutil()  # a clear error before the run exists
        else:
            sample = _psutil_or_warn()
        config.system_metrics_interval()  # a bad NBTRACK_SYSTEM_METRICS_INTERVAL fails here
    return bool(sample)


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
