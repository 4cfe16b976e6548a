"""Logging a run's data the MLflow way: params, metrics, tags and dataset inputs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nbtrack.mlflow import _runs
from nbtrack.mlflow.exceptions import translated
from nbtrack.mlflow.fluent.target import deferred, resolve_run_id, writer
from nbtrack.tracking import records


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
    deferred(synchronous, writer().log_params, {key: value})
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
    deferred(synchronous, writer(run_id).log_params, params)


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
    writer(run_id).log_metrics({key: value}, step, timestamp)


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
    writer(run_id).log_metrics(metrics, step, timestamp)


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
    writer().set_tags({key: value})


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
    writer().set_tags(tags)


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
    writer().delete_tag(key)


@translated
def log_input(
    dataset: Any = None,
    context: str | None = None,
    tags: Mapping[str, str] | None = None,
    model: Any = None,
) -> None:
    """Record a dataset the active run used (see ``nbtrack.mlflow.data``).

    Raises:
        MlflowException: no dataset given.
        NotImplementedError: a model input (``model=``), or input tags other than
            ``mlflow.data.context``: nbtrack keeps a dataset's context only.
    """
    from nbtrack.mlflow import data as _data
    from nbtrack.mlflow.exceptions import MlflowException

    if model is not None:
        raise NotImplementedError(
            "mlflow.log_input(model=...) is not supported by nbtrack.mlflow; a model logged "
            "with mlflow.<flavor>.log_model is already linked to its run"
        )
    if dataset is None:
        raise MlflowException.invalid_parameter_value("log_input needs a dataset")
    other = sorted(k for k in (tags or {}) if k != "mlflow.data.context")
    if other:
        raise NotImplementedError(
            f"input tags {other} are not supported by nbtrack.mlflow (a dataset keeps its "
            "context only); set them on the run with mlflow.set_tags"
        )
    st = _runs.store()
    w = _runs.RunWriter(st, resolve_run_id())
    if context is None and tags:
        context = dict(tags).get("mlflow.data.context")
    records.write_input(st, w.experiment, w.run_id, _data.to_record(dataset, context))
    st.flush()
