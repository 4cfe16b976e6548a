"""The seam between autolog and model logging: ``log_model(model, name, ...)``.

When the models layer (``nbtrack.models.log_model``, issue 16) is installed it records the
model with its flavor, versions and signature. Until then — or when it cannot take this
model — the model is stored as plain artifacts under ``<name>/``: the framework's native
file for XGBoost (``model.ubj``), LightGBM (``model.txt``) and Keras (``model.keras``),
a pickle (``model.pkl``) for scikit-learn and anything else.
"""

from __future__ import annotations

import importlib
import os
import pickle
import tempfile
from collections.abc import Callable
from typing import Any

from nbtrack.tracking.run import Run


def _models_log_model() -> Callable[..., Any] | None:
    # Looked up at call time (not imported): the models layer may not exist yet, and the
    # lead wires it in after merging issue 16. import-linter cannot see this edge.
    try:
        module = importlib.import_module("nbtrack.models")
    except ImportError:
        return None
    fn = getattr(module, "log_model", None)
    return fn if callable(fn) else None


def log_model(run: Run, model: Any, name: str = "model", *, flavor: str = "pickle") -> list[str]:
    """Store ``model`` in ``run`` under ``name``; returns the artifact paths written.

    Args:
        run: the run (it must be the active one when the models layer is used).
        model: the fitted model (estimator, Booster, keras Model ...).
        name: the artifact folder.
        flavor: how to save it without the models layer: ``pickle``, ``xgboost``,
            ``lightgbm`` or ``keras``.
    """
    models_log_model = _models_log_model()
    if models_log_model is not None:
        try:
            models_log_model(model, name)
            return [name]
        # The models layer has no flavor for this model (or another signature): store the
        # plain artifact rather than nothing.
        except (NotImplementedError, TypeError):
            pass
    with tempfile.TemporaryDirectory(prefix="nbtrack-model-") as tmp:
        path = os.path.join(tmp, _save(model, tmp, flavor))
        return [run.log_artifact(path, name)]


def _save(model: Any, folder: str, flavor: str) -> str:
    """Write the model into ``folder``; returns the file name."""
    if flavor == "xgboost":
        booster = model.get_booster() if hasattr(model, "get_booster") else model
        booster.save_model(os.path.join(folder, "model.ubj"))
        return "model.ubj"
    if flavor == "lightgbm":
        booster = getattr(model, "booster_", model)
        booster.save_model(os.path.join(folder, "model.txt"))
        return "model.txt"
    if flavor == "pytorch":
        import torch

        torch.save(model.state_dict(), os.path.join(folder, "state_dict.pt"))
        return "state_dict.pt"
    if flavor == "keras":
        model.save(os.path.join(folder, "model.keras"))
        return "model.keras"
    with open(os.path.join(folder, "model.pkl"), "wb") as f:
        pickle.dump(model, f, protocol=pickle.HIGHEST_PROTOCOL)
    return "model.pkl"
