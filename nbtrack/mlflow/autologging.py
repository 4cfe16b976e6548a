"""``mlflow.autolog``, ``mlflow.<flavor>.autolog`` and MLflow's system-metrics switches, on
nbtrack's integrations (``nbtrack.autolog``) and system metrics sampler.

MLflow's options that change what is recorded and that nbtrack follows: ``log_models``,
``log_datasets``, ``disable``, ``silent`` (and ``exclude_flavors`` for ``mlflow.autolog``).
Options that only tune MLflow's own machinery (``log_model_signatures``, ``log_traces``,
``disable_for_unsupported_versions``...) are accepted at any value. Any other option set to
something other than MLflow's default (``exclusive=True``, ``extra_tags=...``,
``registered_model_name=...``) raises ``NotImplementedError``: never a silent no-op.
"""

from __future__ import annotations

import importlib.util
import inspect
from typing import Any

from nbtrack import config
from nbtrack.integrations import FRAMEWORKS
from nbtrack.integrations import autolog as nt_autolog

#: MLflow flavor -> the nbtrack integrations that record it.
FLAVOR_FRAMEWORKS: dict[str, tuple[str, ...]] = {
    "sklearn": ("sklearn",),
    "xgboost": ("xgboost",),
    "lightgbm": ("lightgbm",),
    "keras": ("keras",),
    "pytorch": ("lightning", "pytorch_lightning"),
    "transformers": ("transformers",),
}

_FOLLOWED = {"log_models", "log_datasets", "disable", "silent", "exclude_flavors"}
_TUNING_ONLY = {"log_model_signatures", "log_traces", "disable_for_unsupported_versions"}

_SWITCHES = {
    "disable": False,
    "exclusive": False,
    "disable_for_unsupported_versions": False,
    "silent": False,
}
_COMMON = {
    "log_input_examples": False,
    "log_model_signatures": True,
    "log_models": True,
    "log_datasets": True,
    **_SWITCHES,
}

#: Each flavor's ``autolog`` parameters and defaults, in MLflow's order (MLflow 3.x).
_FLAVOR_DEFAULTS: dict[str, dict[str, Any]] = {
    "sklearn": {
        **_COMMON,
        "max_tuning_runs": 5,
        "log_post_training_metrics": True,
        "serialization_format": "cloudpickle",
        "registered_model_name": None,
        "pos_label": None,
        "extra_tags": None,
    },
    "xgboost": {
        "importance_types": None,
        **_COMMON,
        "registered_model_name": None,
        "model_format": "ubj",
        "extra_tags": None,
    },
    "lightgbm": {**_COMMON, "registered_model_name": None, "extra_tags": None},
    "keras": {
        "log_every_epoch": True,
        "log_every_n_steps": None,
        "log_models": True,
        "log_model_signatures": True,
        "save_exported_model": False,
        "log_datasets": True,
        "log_input_examples": False,
        **_SWITCHES,
        "registered_model_name": None,
        "save_model_kwargs": None,
        "extra_tags": None,
    },
    "pytorch": {
        "log_every_n_epoch": 1,
        "log_every_n_step": None,
        "log_models": True,
        "log_datasets": True,
        **_SWITCHES,
        "registered_model_name": None,
        "extra_tags": None,
        "checkpoint": True,
        "checkpoint_monitor": "val_loss",
        "checkpoint_mode": "min",
        "checkpoint_save_best_only": True,
        "checkpoint_save_weights_only": False,
        "checkpoint_save_freq": "epoch",
        "log_model_signatures": True,
    },
    "transformers": {
        **_COMMON,
        "log_model_signatures": False,
        "log_models": False,
        "log_datasets": False,
        "extra_tags": None,
    },
}


def _check(name: str, given: dict[str, Any], defaults: dict[str, Any]) -> None:
    for key, value in given.items():
        if key in _FOLLOWED or key in _TUNING_ONLY or value == defaults[key]:
            continue
        raise NotImplementedError(
            f"{name}({key}={value!r}) is not supported by nbtrack.mlflow: nbtrack's autolog "
            "follows log_models, log_datasets, disable and silent (docs/integrations.md)"
        )


def _enable(frameworks: list[str], options: dict[str, Any]) -> None:
    installed = [f for f in frameworks if importlib.util.find_spec(FRAMEWORKS[f][0]) is not None]
    if installed:
        nt_autolog(
            installed,
            log_models=bool(options["log_models"]),
            log_datasets=bool(options["log_datasets"]),
            disable=bool(options["disable"]),
            silent=bool(options["silent"]),
        )


def autolog(
    log_input_examples: bool = False,
    log_model_signatures: bool = True,
    log_models: bool = True,
    log_datasets: bool = True,
    log_traces: bool = True,
    disable: bool = False,
    exclusive: bool = False,
    disable_for_unsupported_versions: bool = False,
    silent: bool = False,
    extra_tags: dict[str, str] | None = None,
    exclude_flavors: list[str] | None = None,
) -> None:
    """Autologging for every installed framework nbtrack integrates (``nbtrack.autolog``).

    A ``fit`` with no active run starts one, as in MLflow; inside a run it logs there.

    Raises:
        NotImplementedError: ``exclusive``, ``extra_tags`` or ``log_input_examples`` is set.
    """
    given = dict(locals())
    defaults = {k: p.default for k, p in inspect.signature(autolog).parameters.items()}
    _check("mlflow.autolog", given, defaults)
    excluded = {f for flavor in exclude_flavors or () for f in FLAVOR_FRAMEWORKS.get(flavor, ())}
    _enable([f for f in FRAMEWORKS if f not in excluded], given)


def flavor_autolog(flavor: str) -> Any:
    """``mlflow.<flavor>.autolog`` with MLflow's parameters, on nbtrack's integration."""
    defaults = _FLAVOR_DEFAULTS[flavor]
    name = f"mlflow.{flavor}.autolog"

    def autolog(**options: Any) -> None:
        unknown = sorted(set(options) - set(defaults))
        if unknown:
            raise TypeError(f"{name}() got an unexpected keyword argument {unknown[0]!r}")
        given = {**defaults, **options}
        _check(name, given, defaults)
        _enable(list(FLAVOR_FRAMEWORKS[flavor]), given)

    autolog.__name__ = "autolog"
    autolog.__qualname__ = name
    autolog.__doc__ = f"Autologging for {flavor} on nbtrack (``nbtrack.autolog``)."
    # Introspection shows MLflow's parameters (keyword arguments, as MLflow's examples pass).
    autolog.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter(k, inspect.Parameter.KEYWORD_ONLY, default=v) for k, v in defaults.items()]
    )
    return autolog


def enable_system_metrics_logging() -> None:
    """Every run started from now on samples system metrics (``NBTRACK_SYSTEM_METRICS=1``)."""
    config.set_system_metrics(True)


def disable_system_metrics_logging() -> None:
    """Runs started from now on do not sample system metrics unless asked per run."""
    config.set_system_metrics(False)


def set_system_metrics_sampling_interval(interval: float | None) -> None:
    """Seconds between samples for runs started from now on; None: the default (10 s).

    Raises:
        ConfigError: ``interval`` is not a positive number.
    """
    config.set_system_metrics_interval(interval)


def set_system_metrics_samples_before_logging(samples: int | None) -> None:
    """nbtrack logs every sample as it is taken: only 1 (or None) can be honoured.

    Raises:
        NotImplementedError: ``samples`` is more than 1.
    """
    if samples not in (None, 1):
        raise NotImplementedError(
            "set_system_metrics_samples_before_logging is not supported by nbtrack.mlflow: "
            "nbtrack logs each sample when it is taken; set the interval instead "
            "(mlflow.set_system_metrics_sampling_interval)"
        )
