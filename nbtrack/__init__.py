"""nbtrack: experiment tracking that lives in Jupyter.

``import nbtrack as nt`` is cheap: the tracking layer (pyarrow, duckdb) loads on the first
call, and the views (ipywidgets, plotly) on the first view.
"""

from __future__ import annotations

import importlib
from typing import Any

from nbtrack.errors import (
    ActiveRunError,
    AmbiguousRunIdError,
    ArtifactError,
    ConfigError,
    ExperimentNotFoundError,
    FilterError,
    InvalidKeyError,
    InvalidValueError,
    MetricNotFoundError,
    ModelError,
    ModelNotFoundError,
    NbtrackError,
    NbtrackWarning,
    NoActiveRunError,
    ParamConflictError,
    QueryError,
    ReadOnlyRunError,
    RunFinishedError,
    RunNotFoundError,
    SignatureError,
    StoreError,
)

__version__ = "0.1.0"

_LAZY = {
    "set_store": "nbtrack.tracking.settings",
    "set_experiment": "nbtrack.tracking.settings",
    "start_run": "nbtrack.tracking.fluent",
    "end_run": "nbtrack.tracking.fluent",
    "active_run": "nbtrack.tracking.fluent",
    "log_param": "nbtrack.tracking.fluent",
    "log_params": "nbtrack.tracking.fluent",
    "log_metric": "nbtrack.tracking.fluent",
    "log_metrics": "nbtrack.tracking.fluent",
    "set_tag": "nbtrack.tracking.fluent",
    "set_tags": "nbtrack.tracking.fluent",
    "delete_tag": "nbtrack.tracking.fluent",
    "log_artifact": "nbtrack.tracking.fluent",
    "log_artifacts": "nbtrack.tracking.fluent",
    "log_text": "nbtrack.tracking.fluent",
    "log_dict": "nbtrack.tracking.fluent",
    "log_figure": "nbtrack.tracking.fluent",
    "get_run": "nbtrack.tracking.query",
    "search_runs": "nbtrack.tracking.search",
    "get_metric_history": "nbtrack.tracking.query",
    "list_experiments": "nbtrack.tracking.query",
    "sql": "nbtrack.tracking.query",
    "delete_run": "nbtrack.tracking.query",
    "restore_run": "nbtrack.tracking.query",
    "list_artifacts": "nbtrack.tracking.query",
    "read_artifact": "nbtrack.tracking.query",
    "Run": "nbtrack.tracking.run",
    "log_model": "nbtrack.models",
    "load_model": "nbtrack.models",
    "register_model": "nbtrack.models",
    "set_model_alias": "nbtrack.models",
    "delete_model_alias": "nbtrack.models",
    "get_model_version_by_alias": "nbtrack.models",
    "search_registered_models": "nbtrack.models",
    "search_model_versions": "nbtrack.models",
    "show_models": "nbtrack.views",
    "autolog": "nbtrack.integrations",
    "attach_run": "nbtrack.tracking.fluent",
    "show_runs": "nbtrack.views",
    "plot_metrics": "nbtrack.views",
    "compare": "nbtrack.views",
    "dashboard": "nbtrack.views",
}

__all__ = [
    "ActiveRunError",
    "AmbiguousRunIdError",
    "ArtifactError",
    "ConfigError",
    "ExperimentNotFoundError",
    "FilterError",
    "InvalidKeyError",
    "InvalidValueError",
    "MetricNotFoundError",
    "ModelError",
    "ModelNotFoundError",
    "NbtrackError",
    "NbtrackWarning",
    "NoActiveRunError",
    "ParamConflictError",
    "QueryError",
    "ReadOnlyRunError",
    "Run",
    "RunFinishedError",
    "RunNotFoundError",
    "SignatureError",
    "StoreError",
    "__version__",
    "active_run",
    "attach_run",
    "autolog",
    "compare",
    "dashboard",
    "delete_model_alias",
    "delete_run",
    "delete_tag",
    "end_run",
    "get_metric_history",
    "get_model_version_by_alias",
    "get_run",
    "list_artifacts",
    "list_experiments",
    "load_ipython_extension",
    "load_model",
    "log_artifact",
    "log_artifacts",
    "log_dict",
    "log_figure",
    "log_metric",
    "log_metrics",
    "log_model",
    "log_param",
    "log_params",
    "log_text",
    "plot_metrics",
    "read_artifact",
    "register_model",
    "restore_run",
    "search_model_versions",
    "search_registered_models",
    "search_runs",
    "set_experiment",
    "set_model_alias",
    "set_store",
    "set_tag",
    "set_tags",
    "show_models",
    "show_runs",
    "sql",
    "start_run",
    "unload_ipython_extension",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'nbtrack' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    # Tab completion on ``nt.`` offers the public API only: not ``Any``, ``annotations``,
    # ``importlib`` or the submodules that imports add as attributes.
    return sorted(__all__)


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """JupyterLab entry point: the prebuilt lab extension in ``nbtrack/labextension``."""
    return [{"src": "labextension", "dest": "nbtrack"}]


def load_ipython_extension(ipython: Any) -> None:
    """IPython's hook for ``%load_ext nbtrack``: register ``%%track`` and the line magics.

    Args:
        ipython: The running ``InteractiveShell`` (IPython passes it).

    Example:
        In a notebook cell::

            %load_ext nbtrack
    """
    from nbtrack.ipython import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """IPython's hook for ``%unload_ext nbtrack``: remove the magics and the cell hooks.

    Args:
        ipython: The running ``InteractiveShell`` (IPython passes it).

    Example:
        In a notebook cell::

            %unload_ext nbtrack
    """
    from nbtrack.ipython import unload_ipython_extension as unload

    unload(ipython)
