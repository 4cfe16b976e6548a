"""``set_tracking_uri`` / ``get_tracking_uri``: a path or ``file:`` URI selects an nbtrack
store; MLflow servers and databases are read with ``nbtrack import`` instead."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote, urlparse

from nbtrack.mlflow.exceptions import MlflowException
from nbtrack.tracking import settings

_IMPORT_HINT = (
    "nbtrack.mlflow tracks into an nbtrack store (a folder or an fsspec URL), not into an "
    "MLflow {what}. Copy the runs over with `nbtrack import {uri}` and point "
    "set_tracking_uri at the nbtrack store (a path or file: URI)."
)


def _store_uri(uri: str) -> str:
    if isinstance(uri, Path):
        uri = str(uri)
    if not isinstance(uri, str) or not uri:
        raise MlflowException.invalid_parameter_value(f"tracking URI must be a string, got {uri!r}")
    scheme = urlparse(uri).scheme.lower()
    if scheme in ("http", "https"):
        raise MlflowException.invalid_parameter_value(
            _IMPORT_HINT.format(what="tracking server", uri=uri)
        )
    if scheme.startswith(("sqlite", "postgresql", "mysql", "mssql")):
        raise MlflowException.invalid_parameter_value(_IMPORT_HINT.format(what="database", uri=uri))
    if scheme in ("databricks", "databricks-uc", "uc"):
        raise MlflowException.invalid_parameter_value(
            _IMPORT_HINT.format(what="workspace", uri=uri)
        )
    if scheme == "file":
        parsed = urlparse(uri)
        path = unquote(parsed.path) if not parsed.netloc else f"//{parsed.netloc}{parsed.path}"
        if uri.startswith("file:") and not uri.startswith("file:/"):
            path = uri[len("file:") :]  # file:./mlruns
        return os.path.abspath(path)
    return uri  # a plain path, or an fsspec URL nbtrack opens itself


def set_tracking_uri(uri: str | Path) -> None:
    """Use the nbtrack store at ``uri`` (path, ``file:`` URI, or fsspec URL such as s3://).

    Raises:
        MlflowException: ``uri`` is an MLflow server (http/https), database or Databricks.
    """
    settings.set_store(_store_uri(uri))  # type: ignore[arg-type]


def get_tracking_uri() -> str:
    uri = settings.get_store().uri
    return Path(uri).as_uri() if "://" not in uri else uri


def is_tracking_uri_set() -> bool:
    return settings.SETTINGS.store_uri is not None
