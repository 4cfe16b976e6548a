"""MLflow's tracking API on nbtrack: ``import nbtrack.mlflow as mlflow``.

Runs go to the nbtrack store (``set_tracking_uri`` takes a path, ``file:`` URI or fsspec
URL). Differences from MLflow are few and deliberate (see docs/mlflow.md): the registry and
``mlflow.sklearn/xgboost/lightgbm/pyfunc.log_model/load_model`` map onto ``nbtrack.models``;
``mlflow.autolog`` and ``mlflow.<flavor>.autolog`` onto ``nbtrack.autolog``, MLflow's system
metrics switches onto nbtrack's sampler; other flavors and tracing raise
``NotImplementedError`` naming the nbtrack way, and
MLflow servers/databases are read with ``nbtrack import``. Like MLflow (and unlike
``nbtrack.log_metric``), a logging call with no active run starts one.
"""

from __future__ import annotations

import sys
from typing import Any

from nbtrack.mlflow import artifacts, data, entities, exceptions
from nbtrack.mlflow._unsupported import FLAVORS, ModelsModule, UnsupportedModule, unsupported
from nbtrack.mlflow.autologging import (
    FLAVOR_FRAMEWORKS,
    autolog,
    disable_system_metrics_logging,
    enable_system_metrics_logging,
    flavor_autolog,
    set_system_metrics_samples_before_logging,
    set_system_metrics_sampling_interval,
)
from nbtrack.mlflow.client import MlflowClient
from nbtrack.mlflow.entities import RunStatus, ViewType
from nbtrack.mlflow.exceptions import MlflowException
from nbtrack.mlflow.experiments import (
    create_experiment,
    delete_experiment,
    get_experiment,
    get_experiment_by_name,
    restore_experiment,
    search_experiments,
    set_experiment,
    set_experiment_tag,
    set_experiment_tags,
)
from nbtrack.mlflow.fluent import (
    ActiveRun,
    active_run,
    delete_run,
    delete_tag,
    end_run,
    get_artifact_uri,
    get_parent_run,
    get_run,
    last_active_run,
    log_artifact,
    log_artifacts,
    log_dict,
    log_figure,
    log_image,
    log_input,
    log_metric,
    log_metrics,
    log_param,
    log_params,
    log_table,
    log_text,
    restore_run,
    set_tag,
    set_tags,
    start_run,
)
from nbtrack.mlflow.registry import SUPPORTED_FLAVORS, FlavorModule, register_model
from nbtrack.mlflow.search import search_runs
from nbtrack.mlflow.tracking_uri import get_tracking_uri, is_tracking_uri_set, set_tracking_uri

load_table = artifacts.load_table
tracking = sys.modules[__name__]  # ``mlflow.tracking.MlflowClient`` works too

__version__ = "3.0.0+nbtrack"

__all__ = [
    "ActiveRun", "MlflowClient", "MlflowException", "RunStatus", "ViewType", "active_run",
    "artifacts", "autolog", "create_experiment", "data", "delete_experiment", "delete_run",
    "delete_tag", "disable_system_metrics_logging", "enable_system_metrics_logging",
    "end_run", "entities", "exceptions", "get_artifact_uri", "get_experiment",
    "get_experiment_by_name", "get_parent_run", "get_run", "get_tracking_uri",
    "is_tracking_uri_set", "last_active_run", "load_table", "log_artifact", "log_artifacts",
    "log_dict", "log_figure", "log_image", "log_input", "log_metric", "log_metrics",
    "log_param", "log_params", "log_table", "log_text", "register_model", "restore_experiment", "restore_run", "search_experiments",
    "search_runs", "set_experiment", "set_experiment_tag", "set_experiment_tags",
    "set_system_metrics_samples_before_logging", "set_system_metrics_sampling_interval",
    "set_tag", "set_tags", "set_tracking_uri", "start_run",
]

for _flavor in FLAVORS:
    _mod: Any
    if _flavor in SUPPORTED_FLAVORS:
        _mod = FlavorModule(f"{__name__}.{_flavor}", SUPPORTED_FLAVORS[_flavor])
    elif _flavor == "models":
        _mod = ModelsModule(f"{__name__}.models")
    else:
        _mod = UnsupportedModule(f"{__name__}.{_flavor}")
    if _flavor in FLAVOR_FRAMEWORKS:
        _mod.autolog = flavor_autolog(_flavor)
    sys.modules[f"{__name__}.{_flavor}"] = _mod
    globals()[_flavor] = _mod

log_model = unsupported("mlflow.log_model")


def __getattr__(name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(name)
    return unsupported(f"mlflow.{name}")
