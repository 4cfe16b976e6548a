"""Models: log and load them in runs, and the registry of named, versioned models.

This layer sits on ``nbtrack.tracking`` (runs, the store door) and is used by the edges
(cli, views, mlflow, interop). It must not import those edges, IPython or UI libraries;
frameworks (scikit-learn, skops, XGBoost, LightGBM) are imported only when a model of theirs
is logged or loaded.
"""

from __future__ import annotations

from nbtrack.models.loading import PyFuncModel, load_model, model_info
from nbtrack.models.logged import ModelInfo, get_model_info, list_models, log_model
from nbtrack.models.registry import (
    ModelVersion,
    RegisteredModel,
    create_registered_model,
    delete_model_alias,
    delete_model_version,
    delete_registered_model,
    get_model_version,
    get_model_version_by_alias,
    get_registered_model,
    register_model,
    set_model_alias,
    update_model_version,
    update_registered_model,
)
from nbtrack.models.search import search_model_versions, search_registered_models
from nbtrack.models.signature import Signature, infer_signature
from nbtrack.models.tags import (
    delete_model_version_tag,
    delete_registered_model_tag,
    set_model_version_tag,
    set_registered_model_tag,
)

__all__ = [
    "ModelInfo",
    "ModelVersion",
    "PyFuncModel",
    "RegisteredModel",
    "Signature",
    "create_registered_model",
    "delete_model_alias",
    "delete_model_version",
    "delete_model_version_tag",
    "delete_registered_model",
    "delete_registered_model_tag",
    "get_model_info",
    "get_model_version",
    "get_model_version_by_alias",
    "get_registered_model",
    "infer_signature",
    "list_models",
    "load_model",
    "log_model",
    "model_info",
    "register_model",
    "search_model_versions",
    "search_registered_models",
    "set_model_alias",
    "set_model_version_tag",
    "set_registered_model_tag",
    "update_model_version",
    "update_registered_model",
]
