"""What nbtrack.mlflow cannot honour raises NotImplementedError naming the nbtrack way."""

from __future__ import annotations

import types
from typing import Any, NoReturn

_ALTERNATIVES = {
    "autolog": "use nbtrack.autolog() (docs/integrations.md), or %%track --autolog",
    "log_model": "mlflow.sklearn/xgboost/lightgbm/pyfunc.log_model work; for other models "
    "save the file and log it with mlflow.log_artifact(path)",
    "load_model": "mlflow.sklearn/xgboost/lightgbm/pyfunc.load_model work; read other model "
    "files with nbtrack.read_artifact(run_id, path)",
    "genai": "nbtrack tracks runs (params, metrics, tags, artifacts) only",
    "tracing": "nbtrack tracks runs (params, metrics, tags, artifacts) only",
}


def _hint(name: str) -> str:
    for word, hint in _ALTERNATIVES.items():
        if word in name:
            return hint
    return "use nbtrack's API (nbtrack.start_run, log_metric, log_artifact, search_runs)"


def unsupported(name: str) -> Any:
    def call(*args: Any, **kwargs: Any) -> NoReturn:
        raise NotImplementedError(f"{name} is not supported by nbtrack.mlflow; {_hint(name)}")

    call.__name__ = name.rsplit(".", 1)[-1]
    return call


class UnsupportedModule(types.ModuleType):
    """``mlflow.sklearn``, ``mlflow.pytorch`` ...: every function raises NotImplementedError."""

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)
        return unsupported(f"{self.__name__.replace('nbtrack.mlflow', 'mlflow')}.{attr}")


class ModelsModule(UnsupportedModule):
    """``mlflow.models``: ``infer_signature`` (nbtrack's, which ``mlflow.<flavor>.log_model``
    takes as ``signature=``); every other name raises NotImplementedError."""

    def __getattr__(self, attr: str) -> Any:
        if attr == "infer_signature":
            from nbtrack.models import infer_signature

            return infer_signature
        return super().__getattr__(attr)


FLAVORS = (
    "sklearn",
    "pytorch",
    "tensorflow",
    "keras",
    "xgboost",
    "lightgbm",
    "catboost",
    "pyfunc",
    "transformers",
    "sentence_transformers",
    "spark",
    "onnx",
    "statsmodels",
    "prophet",
    "langchain",
    "openai",
    "genai",
    "models",
    "tracing",
    "llama_index",
    "h2o",
    "spacy",
    "fastai",
    "paddle",
    "pmdarima",
    "diviner",
    "shap",
)
