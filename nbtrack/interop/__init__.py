"""Moving runs between nbtrack and MLflow: ``import_mlflow`` (file store, SQLite database,
tracking server) and ``export_mlflow`` (file store or SQLite database).

Imports keep MLflow's run and experiment ids, statuses, times, params, full metric histories
(steps, timestamps, NaN/inf), tags (system tags become nbtrack fields or reserved names),
parent/child links, artifacts and the deleted state, and the model registry (registered
models, versions with their numbers, aliases, tags, descriptions; each version's model becomes
an nbtrack model of its run, scikit-learn ones loadable). Importing twice adds nothing.
Exports carry the registry of the exported runs too (``registry_export``).
"""

from __future__ import annotations

from nbtrack.interop.exporter import export_mlflow
from nbtrack.interop.importer import ImportStats, import_mlflow

__all__ = ["ImportStats", "export_mlflow", "import_mlflow"]
