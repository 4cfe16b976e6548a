"""Starting, ending and reading back runs the MLflow way: ``start_run``, ``ActiveRun`` ...

``start_run`` puts its run on nbtrack's per-thread active stack, so ``nbtrack.active_run()``
sees it; the last run started or ended is remembered for ``last_active_run``.
"""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Mapping
from typing import Any

from nbtrack.mlflow import _runs, _systags, entities
from nbtrack.mlflow.exceptions import MlflowException, translated
from nbtrack.tracking import fluent as nt_fluent
from nbtrack.tracking import records, settings, system_metrics
from nbtrack.tracking.fluent import stack as nt_stack
from nbtrack.tracking.run import Run as NtRun
from nbtrack.tracking.run import start_owned_run


class ActiveRun:
    """The run ``start_run`` returns: ``.info``/``.data`` like ``Run``, and a context manager
    that ends it (FINISHED, or FAILED on an exception)."""

    def __init__(self, run: NtRun) -> None:
        self._run = run

    @property
    def _entity(self) -> entities.Run:
        return _runs.get_run(self._run._store, self._run.run_id)

    @property
    def info(self) -> entities.RunInfo:
        return self._entity.info

    @property
    def data(self) -> entities.RunData:
        return self._entity.data

    @property
    def inputs(self) -> entities.RunInputs:
        return self._entity.inputs

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        status = "FINISHED" if exc_type is None else "FAILED"
        if nt_fluent.active_run() is self._run:
            end_run(status)
        else:
            self._run.end(status)  # an ended run leaves the active stack by itself
        return exc_type is None

    def __repr__(self) -> str:
        return f"<ActiveRun: run_id={self._run.run_id!r}>"


def _default_tags() -> dict[str, str]:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    source = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None  # type: ignore[attr-defined]
    in_kernel = getattr(shell, "kernel", None) is not None
    return {
        _systags.USER: user,
        _systags.SOURCE_NAME: source,
        _systags.SOURCE_TYPE: "NOTEBOOK" if in_kernel else "LOCAL",
    }


@translated
def start_run(
    run_id: str | None = None,
    experiment_id: str | None = None,
    run_name: str | None = None,
    nested: bool = False,
    parent_run_id: str | None = None,
    tags: Mapping[str, Any] | None = None,
    description: str | None = None,
    log_system_metrics: bool | None = None,
) -> ActiveRun:
    """Start a new run, or resume ``run_id``; returns an ``ActiveRun``.

    Args:
        run_id: Resume this (ended) run instead of starting one.
        experiment_id: The experiment's id; default the current experiment.
        run_name: The run's name (generated when None).
        nested: Start a child of the active run instead of refusing.
        parent_run_id: The parent run's id (must be the active run when one is active).
        tags: Tags to set at once (MLflow's system tags set the name/description/parent).
        description: Free text shown with the run.
        log_system_metrics: Sample CPU, memory, disk, network and GPU use into
            ``system/...`` metrics while the run is active; None follows
            ``enable_system_metrics_logging`` / ``NBTRACK_SYSTEM_METRICS``.

    Example:
        >>> with mlflow.start_run(run_name="elasticnet") as run:  # doctest: +SKIP
        ...     mlflow.log_metric("rmse", 0.71)

    Raises:
        MlflowException: a run is active and ``nested`` is False; the experiment or run to
            resume does not exist; ``parent_run_id`` is not the active run while nested.
    """
    sample_system = nt_fluent.wants_system_metrics(log_system_metrics)
    st = _runs.store()
    active = nt_fluent.active_run()
    if active is not None and not nested:
        raise MlflowException(
            f"Run with UUID {active.run_id} is already active. To start a new run, first end "
            "the current run with mlflow.end_run(). To start a nested run, call start_run "
            "with nested=True"
        )
    user_tags = {str(k): v for k, v in (tags or {}).items()}
    run_name = run_name if run_name is not None else user_tags.pop(_systags.RUN_NAME, None)
    user_tags.pop(_systags.RUN_NAME, None)
    description = description if description is not None else user_tags.pop(_systags.NOTE, None)
    user_tags.pop(_systags.NOTE, None)
    parent_run_id = parent_run_id or user_tags.pop(_systags.PARENT_RUN_ID, None)
    user_tags.pop(_systags.PARENT_RUN_ID, None)
    if parent_run_id is not None and active is not None and parent_run_id != active.run_id:
        raise MlflowException.invalid_parameter_value(
            f"Current run with UUID {active.run_id} does not match the specified parent_run_id "
            f"{parent_run_id}. To start a new nested run under the parent run with UUID "
            f"{active.run_id}, first end the current run with mlflow.end_run()."
        )
    user_tags = {_systags.to_nbtrack_tag(k): v for k, v in user_tags.items()}
    experiment = _runs.experiment_name(st, experiment_id) if experiment_id is not None else None
    if run_id is not None:
        run = nt_fluent.start_run(run_id=run_id, experiment=experiment, tags=user_tags, nested=True)
        if run_name is not None or description is not None:
            changes = {"name": run_name, "description": description}
            _runs.RunWriter(st, run.run_id)._set_attributes(
                {k: v for k, v in changes.items() if v is not None}
            )
    else:
        if parent_run_id is None and nested and active is not None:
            parent_run_id = active.run_id
        if parent_run_id is not None:
            records.current_state(st, parent_run_id)  # the parent must exist
        exp = experiment if experiment is not None else settings.current_experiment()
        run = start_owned_run(
            st,
            experiment=exp,
            name=run_name,
            parent_run_id=parent_run_id,
            description=description,
            params=None,
            tags={**_default_tags(), **user_tags},
        )
        # nbtrack's fluent start_run cannot take an explicit parent: put the run on the
        # same per-thread stack it uses, so nbtrack.active_run() sees it.
        nt_stack.push(run)
    if sample_system:
        system_metrics.attach_sampler(run)
    return ActiveRun(run)


@translated
def end_run(status: str = "FINISHED") -> None:
    """End the active run (a no-op when there is none).

    Args:
        status: ``"FINISHED"``, ``"FAILED"`` or ``"KILLED"``.

    Raises:
        MlflowException: invalid input (nbtrack's error message, MLflow's error code).

    Example:
        >>> mlflow.start_run()  # doctest: +SKIP
        >>> mlflow.end_run()  # doctest: +SKIP
    """
    run = nt_fluent.active_run()
    if run is not None:
        nt_stack.note_active(run.run_id)
    nt_fluent.end_run(status)


def active_run() -> ActiveRun | None:
    """The run active in this thread as an ``ActiveRun``, or None.

    Returns:
        The ``ActiveRun`` (``.info.run_id``, ``.data.metrics`` ...), or None.

    Example:
        >>> with mlflow.start_run() as run:  # doctest: +SKIP
        ...     assert mlflow.active_run().info.run_id == run.info.run_id
    """
    run = nt_fluent.active_run()
    return ActiveRun(run) if run is not None else None


def last_active_run() -> entities.Run | None:
    """The active run, else the run most recently started or ended in this process."""
    run = nt_fluent.active_run()
    if run is not None:
        return _runs.get_run(run._store, run.run_id)
    last = nt_stack.last_active_id()
    return None if last is None else _runs.get_run(_runs.store(), last)


@translated
def get_run(run_id: str) -> entities.Run:
    """Read one run back as MLflow's ``Run`` entity (``.info`` and ``.data``).

    Args:
        run_id: The run's full id.

    Returns:
        The run, deleted or not (``.info.lifecycle_stage`` says which).

    Raises:
        MlflowException: no run has this id (RESOURCE_DOES_NOT_EXIST) (nbtrack's error message, MLflow's error code).

    Example:
        >>> mlflow.get_run(run_id).data.metrics["rmse"]  # doctest: +SKIP
        0.71
    """
    return _runs.get_run(_runs.store(), run_id)


def get_parent_run(run_id: str) -> entities.Run | None:
    parent = get_run(run_id).data.tags.get(_systags.PARENT_RUN_ID)
    return get_run(parent) if parent else None


@translated
def delete_run(run_id: str) -> None:
    """Soft-delete a run: hidden from searches until ``restore_run`` (MLflow's semantics).

    Args:
        run_id: The run's id.

    Raises:
        MlflowException: no run has this id (nbtrack's error message, MLflow's error code).

    Example:
        >>> mlflow.delete_run(run.info.run_id)  # doctest: +SKIP
    """
    from nbtrack.tracking import query

    query.delete_run(run_id, store=_runs.store())


@translated
def restore_run(run_id: str) -> None:
    """Undo ``delete_run``.

    Args:
        run_id: The run's id.

    Raises:
        MlflowException: no run has this id (nbtrack's error message, MLflow's error code).

    Example:
        >>> mlflow.restore_run(run.info.run_id)  # doctest: +SKIP
    """
    from nbtrack.tracking import query

    query.restore_run(run_id, store=_runs.store())
