"""MLflow's experiment functions: ``set_experiment``, ``create_experiment`` ... over
``nbtrack.tracking.experiments`` (ids, tags and lifecycle kept as records)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from nbtrack.mlflow import _runs, entities
from nbtrack.mlflow import experiment_search as search
from nbtrack.mlflow.exceptions import RESOURCE_DOES_NOT_EXIST, MlflowException, translated
from nbtrack.tracking import experiments as exps
from nbtrack.tracking import settings


def _no_tracing(trace_location: Any) -> None:
    if trace_location is not None:
        raise NotImplementedError(
            "trace_location is not supported by nbtrack.mlflow: nbtrack tracks runs (params, "
            "metrics, tags, artifacts) only, not traces"
        )


def _get(experiment_id: Any) -> exps.Experiment:
    try:
        return exps.get_by_id(_runs.store(), str(experiment_id))
    except exps.ExperimentNotFoundError:
        raise MlflowException(
            f"No Experiment with id={experiment_id} exists", RESOURCE_DOES_NOT_EXIST
        ) from None


@translated
def set_experiment(
    experiment_name: str | None = None,
    experiment_id: str | None = None,
    trace_location: Any = None,
) -> entities.Experiment:
    """Make the experiment current (creating it by name if needed); returns it.

    Args:
        experiment_name: The experiment's name (give this or ``experiment_id``).
        experiment_id: The experiment's id.
        trace_location: MLflow's trace destination; nbtrack keeps no traces (must be None).

    Returns:
        MLflow's ``Experiment`` entity.

    Raises:
        MlflowException: neither or both arguments, an unknown id, or a deleted experiment.
        NotImplementedError: a ``trace_location`` is given.

    Example:
        >>> mlflow.set_experiment("wine").name  # doctest: +SKIP
        'wine'
    """
    _no_tracing(trace_location)
    if (experiment_name is None) == (experiment_id is None):
        raise MlflowException.invalid_parameter_value(
            "Must specify exactly one of: `experiment_id` or `experiment_name`."
        )
    st = _runs.store()
    if experiment_id is not None:
        exp = _get(experiment_id)
    else:
        found = exps.get_by_name(st, experiment_name)  # type: ignore[arg-type]
        exp = found if found is not None and found.registered else exps.ensure(st, experiment_name)  # type: ignore[arg-type]
    if exp.lifecycle_stage == exps.DELETED:
        raise MlflowException.invalid_parameter_value(
            f"Cannot set a deleted experiment {exp.name!r} as the active experiment. You can "
            "restore the experiment, or permanently delete the experiment to create a new one."
        )
    settings.set_experiment(exp.name)
    return _runs.experiment_entity(exp)


@translated
def create_experiment(
    name: str,
    artifact_location: str | None = None,
    tags: Mapping[str, Any] | None = None,
    trace_location: Any = None,
) -> str:
    """Register a new experiment; returns its id."""
    _no_tracing(trace_location)
    return exps.create(
        _runs.store(), name, artifact_location=artifact_location, tags=tags
    ).experiment_id


@translated
def get_experiment(experiment_id: str) -> entities.Experiment:
    return _runs.experiment_entity(_get(experiment_id))


@translated
def get_experiment_by_name(name: str) -> entities.Experiment | None:
    exp = exps.get_by_name(_runs.store(), name)
    return _runs.experiment_entity(exp) if exp is not None else None


def search_experiments(
    view_type: int = entities.ViewType.ACTIVE_ONLY,
    max_results: int | None = None,
    filter_string: str | None = None,
    order_by: Sequence[str] | None = None,
) -> list[entities.Experiment]:
    """Experiments by lifecycle stage, filtered and ordered as MLflow does.

    Args:
        view_type: ``ViewType.ACTIVE_ONLY`` (default), ``DELETED_ONLY`` or ``ALL``.
        max_results: At most this many (None: all; else 1 to 50,000, as MLflow).
        filter_string: MLflow's experiment filter (``experiment_search``): ``name``,
            ``experiment_id``, ``creation_time``, ``last_update_time`` and ``tags.<key>``
            comparisons joined by AND.
        order_by: ``name``, ``experiment_id``, ``creation_time`` or ``last_update_time``
            (optionally ``attribute.``-prefixed), each ``ASC`` (default) or ``DESC``;
            without it the most recently updated come first. Ties go by ``experiment_id``.

    Returns:
        MLflow ``Experiment`` entities.

    Raises:
        MlflowException: a malformed filter, ``order_by`` item or ``max_results``.
    """
    clauses = search.parse_filter(filter_string)
    keys = search.parse_order_by(order_by)
    search.check_max_results(max_results)
    stages = entities.LifecycleStage.view_type_to_stages(view_type)
    out = [
        e
        for e in exps.list_all(_runs.store())
        if e.lifecycle_stage in stages
        and search.matches(
            clauses, e.name, e.experiment_id, e.creation_time, e.last_update_time, e.tags
        )
    ]
    out.sort(key=lambda e: search.sortable("experiment_id", e.experiment_id))
    for attr, descending in reversed(keys):  # stable sorts, last key first
        out.sort(key=lambda e, a=attr: search.sortable(a, getattr(e, a)), reverse=descending)
    if max_results is not None:
        out = out[:max_results]
    return [_runs.experiment_entity(e) for e in out]


@translated
def delete_experiment(experiment_id: str) -> None:
    exps.update(_runs.store(), _get(experiment_id), lifecycle_stage=exps.DELETED)


@translated
def restore_experiment(experiment_id: str) -> None:
    exps.update(_runs.store(), _get(experiment_id), lifecycle_stage=exps.ACTIVE)


def _current() -> exps.Experiment:
    st = _runs.store()
    name = settings.current_experiment()
    exp = exps.get_by_name(st, name)
    return (
        exp if exp is not None else exps.Experiment(exps.implicit_id(name), name, registered=False)
    )


@translated
def set_experiment_tag(key: str, value: Any) -> None:
    exps.set_tag(_runs.store(), _current(), key, value)


@translated
def set_experiment_tags(tags: Mapping[str, Any]) -> None:
    for k, v in tags.items():
        set_experiment_tag(k, v)


def current_experiment_id() -> str:
    return _current().experiment_id
