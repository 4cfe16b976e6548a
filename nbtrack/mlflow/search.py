"""``mlflow.search_runs``: MLflow's arguments, defaults and DataFrame columns."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from nbtrack.mlflow import _runs, entities
from nbtrack.mlflow.exceptions import MlflowException, translated

SEARCH_MAX_RESULTS_PANDAS = 100_000


@translated
def search_runs(
    experiment_ids: Sequence[str] | None = None,
    filter_string: str | None = "",
    run_view_type: int = entities.ViewType.ACTIVE_ONLY,
    max_results: int = SEARCH_MAX_RESULTS_PANDAS,
    order_by: Sequence[str] | None = None,
    output_format: str = "pandas",
    search_all_experiments: bool = False,
    experiment_names: Sequence[str] | None = None,
) -> Any:
    """Runs as a DataFrame (MLflow's columns) or, with ``output_format="list"``, ``Run``s.

    With no experiment given: the current experiment, or every active experiment when
    ``search_all_experiments``. Order: newest first unless ``order_by`` says otherwise.

    Args:
        experiment_ids: Experiment ids to search (or one id).
        filter_string: MLflow's filter grammar; nbtrack also takes ``OR``, ``NOT`` and
            parentheses.
        run_view_type: ``ViewType.ACTIVE_ONLY`` (default), ``DELETED_ONLY`` or ``ALL``.
        max_results: The most runs returned.
        order_by: Items such as ``"metrics.rmse ASC"``.
        output_format: ``"pandas"`` or ``"list"``.
        search_all_experiments: With no experiment given, search every active one.
        experiment_names: Experiment names to search instead of ids.

    Raises:
        MlflowException: a malformed filter or order_by, or both ids and names given.
        ValueError: an unknown ``output_format`` (as MLflow).

    Example:
        >>> mlflow.search_runs(filter_string="metrics.rmse < 1")  # doctest: +SKIP
    """
    from nbtrack.mlflow.experiments import current_experiment_id
    from nbtrack.tracking import experiments as exps

    st = _runs.store()
    if experiment_ids and experiment_names:
        raise MlflowException.invalid_parameter_value(
            "Only experiment_ids or experiment_names can be used, but not both"
        )
    if experiment_names:
        by_name = {e.name: e.experiment_id for e in exps.list_all(st)}
        ids = [by_name[n] for n in experiment_names if n in by_name]
    elif experiment_ids:
        ids = [
            str(i)
            for i in (
                [experiment_ids] if isinstance(experiment_ids, (str, int)) else experiment_ids
            )
        ]
    elif search_all_experiments:
        ids = [e.experiment_id for e in exps.list_all(st) if e.lifecycle_stage == exps.ACTIVE]
    else:
        ids = [current_experiment_id()]
    runs = _runs.search(st, ids, filter_string, run_view_type, max_results, order_by) if ids else []
    if output_format == "list":
        return runs
    if output_format != "pandas":
        raise ValueError(
            f"Unsupported output format: {output_format}. Supported string values are "
            "'pandas' or 'list'"
        )
    return runs_frame(runs)


def runs_frame(runs: list[entities.Run]) -> Any:
    """MLflow's search_runs DataFrame: info columns, then metrics.*, params.*, tags.*."""
    import numpy as np
    import pandas as pd

    info: dict[str, list[Any]] = {
        k: []
        for k in ("run_id", "experiment_id", "status", "artifact_uri", "start_time", "end_time")
    }
    cols: dict[str, dict[str, list[Any]]] = {"metrics": {}, "params": {}, "tags": {}}
    nulls = {"metrics": np.nan, "params": None, "tags": None}
    for i, run in enumerate(runs):
        info["run_id"].append(run.info.run_id)
        info["experiment_id"].append(run.info.experiment_id)
        info["status"].append(run.info.status)
        info["artifact_uri"].append(run.info.artifact_uri)
        info["start_time"].append(pd.to_datetime(run.info.start_time, unit="ms", utc=True))
        info["end_time"].append(pd.to_datetime(run.info.end_time, unit="ms", utc=True))
        for kind, values in (
            ("metrics", run.data.metrics),
            ("params", run.data.params),
            ("tags", run.data.tags),
        ):
            table = cols[kind]
            for key in table:
                table[key].append(values.get(key, nulls[kind]))
            for key in values:
                if key not in table:
                    table[key] = [nulls[kind]] * i + [values[key]]
    data: dict[str, list[Any]] = dict(info)
    for kind in ("metrics", "params", "tags"):
        for key, values in cols[kind].items():
            data[f"{kind}.{key}"] = values
    return pd.DataFrame(data)
