"""MLflow's model registry and model flavors on nbtrack's (``nbtrack.models``).

``mlflow.register_model``, the ``MlflowClient`` registry methods and
``mlflow.<flavor>.log_model``/``load_model`` for the flavors nbtrack stores (sklearn,
xgboost, lightgbm, pyfunc), returning MLflow-shaped entities: versions are strings, times
are ``*_timestamp`` milliseconds, aliases are a dict on ``RegisteredModel`` and a list on
``ModelVersion``. Stages (``transition_model_version_stage``) are MLflow's deprecated
predecessor of aliases and are not supported: use aliases.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nbtrack import models
from nbtrack.mlflow.exceptions import translated

if TYPE_CHECKING:
    from nbtrack.storage.protocol import Store


@dataclass
class ModelVersion:
    """MLflow's ``ModelVersion`` entity."""

    name: str
    version: str
    creation_timestamp: int
    last_updated_timestamp: int
    description: str | None
    run_id: str
    source: str
    tags: dict[str, str] = field(default_factory=dict)
    aliases: list[str] = field(default_factory=list)
    status: str = "READY"
    current_stage: str = "None"
    user_id: str | None = None
    run_link: str | None = None
    status_message: str | None = None


@dataclass
class RegisteredModel:
    """MLflow's ``RegisteredModel`` entity."""

    name: str
    creation_timestamp: int
    last_updated_timestamp: int
    description: str | None
    latest_versions: list[ModelVersion] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)


@dataclass
class ModelInfo:
    """MLflow's ``ModelInfo`` (what ``log_model`` returns)."""

    model_uri: str
    run_id: str
    artifact_path: str
    flavors: dict[str, Any]
    signature: Any
    registered_model_version: int | None = None

    @property
    def name(self) -> str:
        return self.artifact_path


def _version(v: models.ModelVersion) -> ModelVersion:
    return ModelVersion(
        name=v.name, version=str(v.version), creation_timestamp=v.creation_time,
        last_updated_timestamp=v.last_updated_time, description=v.description,
        run_id=v.run_id, source=v.source, tags=dict(v.tags), aliases=list(v.aliases),
    )


def _model(m: models.RegisteredModel, st: Store) -> RegisteredModel:
    latest = []
    if m.latest_version is not None:
        latest = [_version(models.get_model_version(m.name, m.latest_version, store=st))]
    return RegisteredModel(
        name=m.name, creation_timestamp=m.creation_time,
        last_updated_timestamp=m.last_updated_time, description=m.description,
        latest_versions=latest, tags=dict(m.tags),
        aliases={a: str(v) for a, v in m.aliases.items()},
    )


def _max(max_results: int | None, items: list[Any]) -> list[Any]:
    return items if max_results is None else items[: int(max_results)]


class RegistryClient:
    """The registry methods of ``MlflowClient`` (mixed into it)."""

    @property
    def _st(self) -> Store:  # provided by MlflowClient
        raise NotImplementedError

    @translated
    def create_registered_model(
        self, name: str, tags: Mapping[str, Any] | None = None, description: str | None = None
    ) -> RegisteredModel:
        st = self._st
        return _model(models.create_registered_model(
            name, tags=dict(tags or {}), description=description, store=st), st)

    @translated
    def get_registered_model(self, name: str) -> RegisteredModel:
        st = self._st
        return _model(models.get_registered_model(name, store=st), st)

    @translated
    def search_registered_models(
        self, filter_string: str | None = None, max_results: int | None = None,
        order_by: Any = None, page_token: Any = None,
    ) -> list[RegisteredModel]:
        st = self._st
        found = models.search_registered_models(filter_string, store=st)
        return [_model(m, st) for m in _max(max_results, found)]

    @translated
    def update_registered_model(self, name: str, description: str | None = None) -> RegisteredModel:
        st = self._st
        return _model(models.update_registered_model(name, description, store=st), st)

    @translated
    def delete_registered_model(self, name: str) -> None:
        models.delete_registered_model(name, store=self._st)

    @translated
    def create_model_version(
        self, name: str, source: str, run_id: str | None = None,
        tags: Mapping[str, Any] | None = None, run_link: str | None = None,
        description: str | None = None,
    ) -> ModelVersion:
        st = self._st
        return _version(models.register_model(
            source, name, tags=dict(tags or {}), description=description, store=st))

    @translated
    def get_model_version(self, name: str, version: str | int) -> ModelVersion:
        return _version(models.get_model_version(name, version, store=self._st))

    @translated
    def get_latest_versions(self, name: str, stages: Any = None) -> list[ModelVersion]:
        st = self._st
        m = models.get_registered_model(name, store=st)
        if m.latest_version is None:
            return []
        return [_version(models.get_model_version(name, m.latest_version, store=st))]

    @translated
    def search_model_versions(
        self, filter_string: str | None = None, max_results: int | None = None,
        order_by: Any = None, page_token: Any = None,
    ) -> list[ModelVersion]:
        found = models.search_model_versions(filter_string, store=self._st)
        return [_version(v) for v in _max(max_results, found)]

    @translated
    def update_model_version(
        self, name: str, version: str | int, description: str | None = None
    ) -> ModelVersion:
        return _version(models.update_model_version(name, version, description, store=self._st))

    @translated
    def delete_model_version(self, name: str, version: str | int) -> None:
        models.delete_model_version(name, version, store=self._st)

    @translated
    def set_registered_model_alias(self, name: str, alias: str, version: str | int) -> None:
        models.set_model_alias(name, alias, version, store=self._st)

    @translated
    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        models.delete_model_alias(name, alias, store=self._st)

    @translated
    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        return _version(models.get_model_version_by_alias(name, alias, store=self._st))

    @translated
    def set_registered_model_tag(self, name: str, key: str, value: Any) -> None:
        models.set_registered_model_tag(name, key, value, store=self._st)

    @translated
    def delete_registered_model_tag(self, name: str, key: str) -> None:
        models.delete_registered_model_tag(name, key, store=self._st)

    @translated
    def set_model_version_tag(self, name: str, version: str | int, key: str, value: Any) -> None:
        models.set_model_version_tag(name, version, key, value, store=self._st)

    @translated
    def delete_model_version_tag(self, name: str, version: str | int, key: str) -> None:
        models.delete_model_version_tag(name, version, key, store=self._st)

    def transition_model_version_stage(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(
            "model stages are deprecated in MLflow and not supported by nbtrack: use aliases "
            "(set_registered_model_alias(name, 'champion', version))"
        )


@translated
def register_model(
    model_uri: str, name: str, await_registration_for: int = 300, *,
    tags: Mapping[str, Any] | None = None,
) -> ModelVersion:
    """``mlflow.register_model``: a new version of ``name`` for the model at ``model_uri``."""
    return _version(models.register_model(model_uri, name, tags=dict(tags or {})))


class FlavorModule(types.ModuleType):
    """``mlflow.sklearn`` and friends: ``log_model``/``load_model`` on nbtrack's flavors.

    ``autolog`` is set on the module by ``nbtrack.mlflow`` (``autologging.flavor_autolog``);
    other functions of the flavor raise NotImplementedError.
    """

    def __init__(self, name: str, flavor: str) -> None:
        super().__init__(name)
        self._flavor = flavor
        self.log_model = translated(self._log_model)
        self.load_model = translated(self._load_model)

    def _log_model(
        self, model: Any = None, artifact_path: str | None = None, *,
        name: str | None = None, input_example: Any = None, signature: Any = None,
        pip_requirements: list[str] | None = None, registered_model_name: str | None = None,
        python_model: Any = None, sk_model: Any = None, xgb_model: Any = None,
        lgb_model: Any = None,
    ) -> ModelInfo:
        from nbtrack.mlflow import fluent
        from nbtrack.tracking import fluent as nt_fluent

        obj = next((m for m in (model, sk_model, xgb_model, lgb_model, python_model)
                    if m is not None), None)
        path = name or artifact_path or "model"
        fluent.resolve_run_id(None)  # starts a run when none is active, as MLflow does
        run = nt_fluent.active_run()
        flavor = "python_function" if self._flavor == "python_function" else None
        info = models.log_model(
            obj, path, input_example=input_example, signature=signature,
            pip_requirements=pip_requirements, flavor=flavor, run=run,
        )
        registered = None
        if registered_model_name is not None:
            registered = models.register_model(info.model_uri, registered_model_name).version
        return ModelInfo(
            model_uri=info.model_uri, run_id=info.run_id, artifact_path=info.name,
            flavors={info.flavor: {"format": info.format,
                                   "version": info.framework_version}},
            signature=info.signature, registered_model_version=registered,
        )

    def _load_model(self, model_uri: str, dst_path: str | None = None) -> Any:
        return models.load_model(model_uri, as_pyfunc=self._flavor == "python_function")

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)
        from nbtrack.mlflow._unsupported import unsupported

        return unsupported(f"{self.__name__.replace('nbtrack.mlflow', 'mlflow')}.{attr}")


#: MLflow flavor module name -> nbtrack flavor.
SUPPORTED_FLAVORS = {
    "sklearn": "sklearn", "xgboost": "xgboost", "lightgbm": "lightgbm",
    "pytorch": "pytorch", "pyfunc": "python_function",
}
