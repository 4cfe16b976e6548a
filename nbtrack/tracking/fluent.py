"""The module-level API: ``nt.start_run``, ``nt.log_metric`` ... shims over ``Run``.

The active run is per thread (a stack, for nested runs). We keep it in a ``threading.local``
rather than a ContextVar: ipykernel may run each cell in a copied context, and a run
started in one cell must still be active in the next.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from nbtrack.errors import (
    ActiveRunError,
    InvalidValueError,
    NoActiveRunError,
    ParamConflictError,
)
from nbtrack.tracking import query, settings, validation
from nbtrack.tracking.run import Run, open_owned, owned_run, start_owned_run

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
    """The run active in this thread, or None."""
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
        run_id: resume this run rather than start a new one (``name`` must be None).

    Raises:
        ActiveRunError: a run is already active here and ``nested`` is False, or the run
            to resume is RUNNING in a live process.
        RunNotFoundError: ``run_id`` names no run.
        ParamConflictError: ``params`` changes a param of the resumed run.

    Example:
        >>> with nt.start_run(name="baseline", params={"lr": 0.01}) as run:
        ...     nt.log_metric("loss", 0.5)
    """
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
    return run


def end_run(status: str = "FINISHED") -> None:
    """End the active run of this thread (no-op when there is none).

    When this returns the run's records are durable (see ``Run.end``).

    Raises:
        InvalidValueError: ``status`` is not FINISHED, FAILED or KILLED; the run stays
            active, so a corrected ``end_run`` still ends it.
    """
    status = validation.status_value(status)
    run = active_run()
    if run is None:
        return
    run.end(status)


def log_param(key: str, value: Any) -> None:
    _require("log_param").log_param(key, value)


def log_params(params: Mapping[str, Any]) -> None:
    _require("log_params").log_params(params)


def log_metric(key: str, value: Any, step: int | None = None, timestamp: Any = None) -> None:
    # The hot path of a training loop: plain attribute reads only.
    st = _active.stack
    if not st or st[-1]._finished:
        _require("log_metric")
        st = _active.stack
    st[-1].log_metric(key, value, step, timestamp)


def log_metrics(metrics: Mapping[str, Any], step: int | None = None, timestamp: Any = None) -> None:
    _require("log_metrics").log_metrics(metrics, step, timestamp)


def set_tag(key: str, value: Any) -> None:
    _require("set_tag").set_tag(key, value)


def set_tags(tags: Mapping[str, Any]) -> None:
    _require("set_tags").set_tags(tags)


def delete_tag(key: str) -> None:
    _require("delete_tag").delete_tag(key)


def log_artifact(local_path: str | os.PathLike[str], artifact_path: str | None = None) -> str:
    return _require("log_artifact").log_artifact(local_path, artifact_path)


def log_artifacts(local_dir: str | os.PathLike[str], artifact_path: str | None = None) -> list[str]:
    return _require("log_artifacts").log_artifacts(local_dir, artifact_path)


def log_text(text: str, name: str) -> str:
    return _require("log_text").log_text(text, name)


def log_dict(obj: Any, name: str) -> str:
    return _require("log_dict").log_dict(obj, name)


def log_figure(fig: Any, name: str) -> str:
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
    for key, step in query.max_steps(run_id, store=store).items():
        run._next_step[key] = step + 1
    # Param conflicts are errors before anything is written.
    for k, text in checked_params.items():
        if k in run._params and run._params[k] != text:
            raise ParamConflictError(
                f"param {k!r} of run {run_id} is already {run._params[k]!r}; a resumed run "
                f"keeps its params (tried {text[:60]!r})"
            )
    return open_owned(run, checked_params, checked_tags)
