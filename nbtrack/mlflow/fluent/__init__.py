"""MLflow's fluent run API (``mlflow.start_run``, ``mlflow.log_metric`` ...) on nbtrack.

Differences from ``nbtrack``'s own fluent API, on purpose, because this module is a drop-in
for MLflow code:

* a logging call with no active run **starts one** (MLflow does; ``nbtrack.log_metric``
  raises ``NoActiveRunError`` instead);
* ``step=None`` logs at step 0 (MLflow), not at the key's next step (nbtrack);
* errors are ``MlflowException`` (a subclass of ``NbtrackError``).

The active run is nbtrack's: a run started here is ``nbtrack.active_run()`` too, and inside
a ``%%track`` cell MLflow calls log to the cell's run.

Split by noun: ``lifecycle`` (start, end, read back and delete runs), ``run_data`` (params,
metrics, tags, dataset inputs), ``artifact_logging`` (files, text, figures, tables) and
``target`` (which run a call writes to). This ``__init__`` is the door: other modules import
from ``nbtrack.mlflow.fluent``.
"""

from __future__ import annotations

from nbtrack.mlflow.fluent.artifact_logging import (
    get_artifact_uri,
    log_artifact,
    log_artifacts,
    log_dict,
    log_figure,
    log_image,
    log_table,
    log_text,
)
from nbtrack.mlflow.fluent.lifecycle import (
    ActiveRun,
    active_run,
    delete_run,
    end_run,
    get_parent_run,
    get_run,
    last_active_run,
    restore_run,
    start_run,
)
from nbtrack.mlflow.fluent.run_data import (
    delete_tag,
    log_input,
    log_metric,
    log_metrics,
    log_param,
    log_params,
    set_tag,
    set_tags,
)
from nbtrack.mlflow.fluent.target import resolve_run_id

__all__ = [
    "ActiveRun", "active_run", "delete_run", "delete_tag", "end_run", "get_artifact_uri",
    "get_parent_run", "get_run", "last_active_run", "log_artifact", "log_artifacts", "log_dict",
    "log_figure", "log_image", "log_input", "log_metric", "log_metrics", "log_param",
    "log_params", "log_table", "log_text", "resolve_run_id", "restore_run", "set_tag",
    "set_tags", "start_run",
]
