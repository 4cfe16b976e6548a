"""The seam between autolog and model logging: ``log_model(model, name, ...)``.

``nbtrack.models.log_model`` records the model with its flavor, versions and signature, so
``nt.load_model("runs:/<id>/model")`` and the registry take it. When it has no flavor for
the object (``ModelError``), the model is stored as plain artifacts under ``<name>/``: the
framework's native file for XGBoost (``model.ubj``), LightGBM (``model.txt``) and Keras
(``model.keras``), a ``state_dict.pt`` for PyTorch, a pickle (``model.pkl``) otherwise.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from typing import Any

from nbtrack.tracking.run import Run


def log_model(run: Run, model: Any, name: str = "model", *, flavor: str = "pickle") -> list[str]:
    """Store ``model`` in ``run`` under ``name``; returns the artifact paths written.

    Args:
        run: the run (it must be the active one when the models layer is used).
        model: the fitted model (estimator, Booster, keras Model ...).
        name: the artifact folder.
        flavor: how to save it without the models layer: ``pickle``, ``xgboost``,
            ``lightgbm`` or ``keras``.
    """
    from nbtrack.errors import ModelError
    from nbtrack.models import log_model as models_log_model

    try:
        models_log_model(model, name, run=run)
        return [name]
    except ModelError:
        pass  # no flavor for this object: store the plain artifact rather than nothing
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
