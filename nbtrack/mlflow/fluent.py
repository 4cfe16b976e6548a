"""MLflow's fluent run API (``mlflow.start_run``, ``mlflow.log_metric`` ...) on nbtrack.

Differences from ``nbtrack``'s own fluent API, on purpose, because this module is a drop-in
for MLflow code:

* a logging call with no active run **starts one** (MLflow does; ``nbtrack.log_metric``
  raises ``NoActiveRunError`` instead);
* ``step=None`` logs at step 0 (MLflow), not at the key's next step (nbtrack);
* errors are ``MlflowException`` (a subclass of ``NbtrackError``).

The active run is nbtrack's: a run started here is ``nbtrack.active_run()`` too, and inside
a ``%%track`` cell MLflow calls log to the cell's run.
"""

from __future__ import annotations

import getpass
import logging
import os
import sys
import time
from collections.abc import Mapping
from typing import Any

from nbtrack.errors import NbtrackError
from nbtrack.mlflow import _runs, _systags, artifacts, entities
from nbtrack.mlflow.exceptions import MlflowException, translated
from nbtrack.tracking import fluent as nt_fluent
from nbtrack.tracking import records, settings
from nbtrack.tracking.fluent.stack import stack as nt_stack
from nbtrack.tracking.run import Run as NtRun
from nbtrack.tracking.run import start_owned_run

_last_run_id: list[str] = []


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
        log_system_metrics: Not supported: True raises ``NotImplementedError``.

    Example:
        >>> with mlflow.start_run(run_name="elasticnet") as run:  # doctest: +SKIP
        ...     mlflow.log_metric("rmse", 0.71)

    Raises:
        MlflowException: a run is active and ``nested`` is False; the experiment or run to
            resume does not exist; ``parent_run_id`` is not the active run while nested.
    """
    if log_system_metrics:
        raise NotImplementedError(
            "log_system_metrics is not supported by nbtrack.mlflow; log system/... metrics "
            "with nbtrack's system metrics sampler instead"
        )
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
        nt_stack().append(run)
    _last_run_id[:] = [run.run_id]
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
        _last_run_id[:] = [run.run_id]
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
    if not _last_run_id:
        return None
    return _runs.get_run(_runs.store(), _last_run_id[0])


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


def _run_id(run_id: str | None = None) -> str:
    """``run_id``, else the active run's id, starting a run when none is active (MLflow)."""
    if run_id is not None:
        return run_id
    run = nt_fluent.active_run()
    if run is None:
        return start_run()._run.run_id
    return run.run_id


def _writer(run_id: str | None = None) -> _runs.RunWriter:
    return _runs.RunWriter(_runs.store(), _run_id(run_id))


def _deferred(synchronous: bool | None, fn: Any, *args: Any) -> None:
    """Run ``fn``; with ``synchronous=False`` an error is logged, not raised (as MLflow's
    asynchronous logging reports failures in the background)."""
    if synchronous is False:
        try:
            fn(*args)
        except NbtrackError as exc:
            logging.getLogger("nbtrack").error("asynchronous logging failed: %s", exc)
        return
    fn(*args)


@translated
def log_param(key: str, value: Any, synchronous: bool | None = None) -> Any:
    """Log one param to the active run (starting a run when none is active, as MLflow).

    Args:
        key: The param name.
        value: Any value; stored as ``str(value)``.
        synchronous: Accepted for MLflow compatibility; nbtrack always logs at once (False
            logs an error instead of raising it).

    Returns:
        ``value``, as MLflow returns it.

    Raises:
        MlflowException: a bad key or value, or a changed param (nbtrack's error message, MLflow's error code).

    Example:
        >>> mlflow.log_param("alpha", 0.5)  # doctest: +SKIP
        0.5
    """
    _deferred(synchronous, _writer().log_params, {key: value})
    return value


@translated
def log_params(
    params: Mapping[str, Any], synchronous: bool | None = None, run_id: str | None = None
) -> None:
    """Log several params at once (starting a run when none is active, as MLflow).

    Args:
        params: Param names to values.
        synchronous: Accepted for MLflow compatibility; nbtrack always logs at once (False
            logs an error instead of raising it).
        run_id: Log to this run instead of the active one.

    Raises:
        MlflowException: a bad key or value, or a changed param (nbtrack's error message, MLflow's error code).

    Example:
        >>> mlflow.log_params({"alpha": 0.5, "l1_ratio": 0.5})  # doctest: +SKIP
    """
    _deferred(synchronous, _writer(run_id).log_params, params)


@translated
def log_metric(
    key: str,
    value: float,
    step: int | None = None,
    synchronous: bool | None = None,
    timestamp: int | None = None,
    run_id: str | None = None,
    model_id: str | None = None,
    dataset: Any = None,
) -> None:
    """Log one metric point (starting a run when none is active, as MLflow).

    Args:
        key: The metric name.
        value: A real number.
        step: The step; None means 0 (MLflow's rule, unlike ``nbtrack.log_metric``).
        synchronous: Accepted for MLflow compatibility; nbtrack always logs at once (False
            logs an error instead of raising it).
        timestamp: Milliseconds since the epoch; None means now.
        run_id: Log to this run instead of the active one.
        model_id: Accepted for MLflow compatibility; ignored.
        dataset: Accepted for MLflow compatibility; ignored.

    Raises:
        MlflowException: a bad key, a value that is not a real number (nbtrack's error message, MLflow's error code).

    Example:
        >>> mlflow.log_metric("rmse", 0.71, step=3)  # doctest: +SKIP
    """
    _writer(run_id).log_metrics({key: value}, step, timestamp)


@translated
def log_metrics(
    metrics: Mapping[str, float],
    step: int | None = None,
    synchronous: bool | None = None,
    run_id: str | None = None,
    timestamp: int | None = None,
    model_id: str | None = None,
    dataset: Any = None,
) -> None:
    """Log one point of several metrics (starting a run when none is active, as MLflow).

    Args:
        metrics: Metric names to real numbers.
        step: The step of every point; None means 0 (MLflow's rule).
        synchronous: Accepted for MLflow compatibility; nbtrack always logs at once (False
            logs an error instead of raising it).
        run_id: Log to this run instead of the active one.
        timestamp: Milliseconds since the epoch; None means now.
        model_id: Accepted for MLflow compatibility; ignored.
        dataset: Accepted for MLflow compatibility; ignored.

    Raises:
        MlflowException: a bad key, a value that is not a real number (nbtrack's error message, MLflow's error code).

    Example:
        >>> mlflow.log_metrics({"rmse": 0.71, "r2": 0.42}, step=3)  # doctest: +SKIP
    """
    _writer(run_id).log_metrics(metrics, step, timestamp)


@translated
def set_tag(key: str, value: Any, synchronous: bool | None = None) -> None:
    """Set a tag on the active run (starting a run when none is active, as MLflow).

    Args:
        key: The tag name (MLflow's ``mlflow.runName``/``mlflow.note.content`` set the
            run's name/description).
        value: Any value; stored as ``str(value)``.
        synchronous: Accepted for MLflow compatibility; nbtrack always logs at once (False
            logs an error instead of raising it).

    Raises:
        MlflowException: a bad key or a value too long (nbtrack's error message, MLflow's error code).

    Example:
        >>> mlflow.set_tag("stage", "dev")  # doctest: +SKIP
    """
    _writer().set_tags({key: value})


@translated
def set_tags(tags: Mapping[str, Any], synchronous: bool | None = None) -> None:
    """Set several tags on the active run (starting a run when none is active, as MLflow).

    Args:
        tags: Tag names to values.
        synchronous: Accepted for MLflow compatibility; nbtrack always logs at once (False
            logs an error instead of raising it).

    Raises:
        MlflowException: a bad key or a value too long (nbtrack's error message, MLflow's error code).

    Example:
        >>> mlflow.set_tags({"team": "vision", "stage": "dev"})  # doctest: +SKIP
    """
    _writer().set_tags(tags)


@translated
def delete_tag(key: str) -> None:
    """Remove a tag from the active run.

    Args:
        key: The tag name.

    Raises:
        MlflowException: a bad key (nbtrack's error message, MLflow's error code).

    Example:
        >>> mlflow.delete_tag("stage")  # doctest: +SKIP
    """
    _writer().delete_tag(key)


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


@translated
def log_artifact(
    local_path: str, artifact_path: str | None = None, run_id: str | None = None
) -> None:
    """Copy a local file into the run's artifacts.

    Args:
        local_path: The file.
        artifact_path: A folder inside the run's artifacts; None puts it at the top.
        run_id: Log to this run instead of the active one.

    Raises:
        MlflowException: a missing file, or a path that is absolute or climbs out (nbtrack's error message, MLflow's error code).

    Example:
        >>> mlflow.log_artifact("model.pkl", artifact_path="models")  # doctest: +SKIP
    """
    artifacts.put_file(_run_id(run_id), local_path, artifact_path)


@translated
def log_artifacts(
    local_dir: str, artifact_path: str | None = None, run_id: str | None = None
) -> None:
    """Copy every file under a local folder into the run's artifacts.

    Args:
        local_dir: The folder.
        artifact_path: A folder inside the run's artifacts; None puts the files at the top.
        run_id: Log to this run instead of the active one.

    Raises:
        MlflowException: a missing folder, or a path that is absolute or climbs out (nbtrack's error message, MLflow's error code).

    Example:
        >>> mlflow.log_artifacts("outputs/")  # doctest: +SKIP
    """
    artifacts.put_dir(_run_id(run_id), local_dir, artifact_path)


@translated
def log_text(text: str, artifact_file: str, run_id: str | None = None) -> None:
    """Save a string as a text artifact.

    Args:
        text: The text.
        artifact_file: Its path in the run, e.g. ``"notes.txt"``.
        run_id: Log to this run instead of the active one.

    Raises:
        MlflowException: ``text`` is not a string, or a bad path (nbtrack's error message, MLflow's error code).

    Example:
        >>> mlflow.log_text("lr was too high", "notes.txt")  # doctest: +SKIP
    """
    if not isinstance(text, str):
        raise MlflowException.invalid_parameter_value("log_text takes a str")
    artifacts.put(_run_id(run_id), artifact_file, text.encode())


@translated
def log_dict(dictionary: Any, artifact_file: str, run_id: str | None = None) -> None:
    """Save a dict as a JSON artifact, or YAML when ``artifact_file`` ends in ``.yaml``/``.yml``.

    Args:
        dictionary: A JSON/YAML-serialisable object.
        artifact_file: Its path in the run, e.g. ``"config.json"``.
        run_id: Log to this run instead of the active one.

    Raises:
        MlflowException: the object cannot be serialised, or a bad path (nbtrack's error message, MLflow's error code).

    Example:
        >>> mlflow.log_dict({"features": 11}, "config.yaml")  # doctest: +SKIP
    """
    artifacts.put(_run_id(run_id), artifact_file, artifacts.dict_bytes(dictionary, artifact_file))


@translated
def log_figure(
    figure: Any, artifact_file: str, *, save_kwargs: dict[str, Any] | None = None
) -> None:
    """Save a matplotlib or plotly figure as an artifact of the active run.

    Args:
        figure: A matplotlib ``Figure`` or a plotly figure.
        artifact_file: Its path in the run; the extension picks the format (``.png``,
            ``.html`` ...).
        save_kwargs: Extra arguments for matplotlib's ``savefig`` / plotly's writer.

    Raises:
        MlflowException: an unsupported figure or extension, or a bad path (nbtrack's error message, MLflow's error code).

    Example:
        >>> mlflow.log_figure(fig, "plots/loss.png")  # doctest: +SKIP
    """
    data = artifacts.figure_bytes(figure, artifact_file, save_kwargs)
    artifacts.put(_run_id(), artifact_file, data)


@translated
def log_image(
    image: Any,
    artifact_file: str | None = None,
    key: str | None = None,
    step: int | None = None,
    timestamp: int | None = None,
    synchronous: bool | None = None,
) -> None:
    """An image file (``artifact_file``), or a step-indexed image series (``key``/``step``)."""
    if (artifact_file is None) == (key is None):
        raise MlflowException.invalid_parameter_value(
            "log_image takes either artifact_file, or key (with step)"
        )
    if artifact_file is None:
        ts = timestamp if timestamp is not None else time.time_ns() // 1_000_000
        artifact_file = f"images/{key}/step_{step or 0}_{ts}.png"
    artifacts.put(_run_id(), artifact_file, artifacts.image_bytes(image, artifact_file))


@translated
def log_table(data: Any, artifact_file: str, run_id: str | None = None) -> None:
    artifacts.put(_run_id(run_id), artifact_file, artifacts.table_bytes(data))


@translated
def log_input(
    dataset: Any,
    context: str | None = None,
    tags: Mapping[str, str] | None = None,
    model: Any = None,
) -> None:
    """Record a dataset the active run used (see ``nbtrack.mlflow.data``)."""
    from nbtrack.mlflow import data as _data

    st = _runs.store()
    w = _runs.RunWriter(st, _run_id())
    if context is None and tags:
        context = dict(tags).get("mlflow.data.context")
    records.write_input(st, w.experiment, w.run_id, _data.to_record(dataset, context))
    st.flush()


def get_artifact_uri(artifact_path: str | None = None) -> str:
    base = _runs.artifact_uri(_run_id())
    return f"{base}/{artifact_path}" if artifact_path else base
