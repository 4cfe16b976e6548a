"""Flavors: how each kind of model is written to bytes and read back.

A flavor is picked from the model object (``detect``): the framework is recognised from the
modules of its class hierarchy, so detecting never imports a framework the user has not
imported. Frameworks whose models subclass another's (XGBoost's and LightGBM's scikit-learn
wrappers subclass scikit-learn's ``BaseEstimator``) come first.

| flavor | formats | native object back |
|---|---|---|
| ``sklearn`` | ``skops`` (safe: no code runs on load); ``pickle`` when skops cannot (warned) | the estimator |
| ``xgboost`` | ``xgboost-ubj`` (XGBoost's own binary JSON, ``save_model``) | Booster or XGB* wrapper |
| ``lightgbm`` | ``lightgbm-txt`` (``model_to_string``), wrappers rebuilt around it | Booster or LGBM* wrapper |
| ``keras`` | ``keras`` (Keras 3's ``.keras`` zip: config and weights) | the Keras model |
| ``pytorch`` | ``torchscript`` (a ``torch.jit`` module: code and weights, no class needed) or ``pytorch-state-dict`` (the weights, loaded with ``weights_only=True``, plus the class path; the class must be importable and take no required arguments) | the module, in eval mode |
| ``python_function`` | ``cloudpickle`` (``pickle`` without it; warned) | the object |

TensorFlow's own Keras 2 models (``tf.keras`` before Keras 3) are refused (pass
``flavor="python_function"`` for an object with ``predict``).
"""

from __future__ import annotations

import importlib
import io
import json
import os
import pickle
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from nbtrack.errors import ModelError, NbtrackWarning


@dataclass(frozen=True)
class Saved:
    """A model as files: ``files`` (name -> bytes), the main file, format and loader facts."""

    files: dict[str, bytes]
    main: str
    format: str
    loader: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Flavor:
    """How to save and load one framework's models."""

    name: str
    package: str  # the distribution whose version is recorded (pip name)
    module: str  # its top-level import name
    requirements: tuple[str, ...]  # distributions a loader needs besides the framework
    save: Callable[[Any], Saved]
    load: Callable[[dict[str, bytes], str, dict[str, Any]], Any]

    def version(self) -> str | None:
        mod = importlib.import_module(self.module)
        return str(getattr(mod, "__version__", "")) or None


def _class_path(obj: Any) -> str:
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def _import_class(path: str) -> Any:
    module, _, name = path.rpartition(".")
    try:
        obj: Any = importlib.import_module(module)
    except ImportError as exc:
        raise ModelError(f"cannot load the model: module {module!r} is not importable") from exc
    for part in name.split("."):
        obj = getattr(obj, part)
    return obj


def pickle_warning(what: str) -> None:
    warnings.warn(
        f"nbtrack: {what} is stored as a pickle; loading it runs code from the store, so "
        "load it only from stores you trust (and with the same library versions)",
        NbtrackWarning,
        stacklevel=4,
    )


# --------------------------------------------------------------------------- scikit-learn
def _save_sklearn(model: Any) -> Saved:
    try:
        import skops.io as sio
    except ImportError:
        sio = None
    if sio is not None:
        try:
            data = sio.dumps(model)
            untrusted = sorted(sio.get_untrusted_types(data=data))
            return Saved({"model.skops": data}, "model.skops", "skops", {"trusted": untrusted})
        # skops refuses objects it cannot represent with many exception types (TypeError,
        # NotImplementedError, its own); any of them means "fall back to pickle".
        except Exception as exc:  # noqa: BLE001
            reason = f"skops cannot store it ({type(exc).__name__}: {exc})"
    else:
        reason = "skops is not installed (pip install skops)"
    pickle_warning(f"this scikit-learn model ({type(model).__name__}: {reason})")
    return Saved({"model.pkl": pickle.dumps(model, protocol=5)}, "model.pkl", "pickle")


def _load_sklearn(files: dict[str, bytes], fmt: str, loader: dict[str, Any]) -> Any:
    if fmt == "skops":
        import skops.io as sio

        data = files["model.skops"]
        untrusted = sorted(sio.get_untrusted_types(data=data))
        trusted = list(loader.get("trusted", []))
        unexpected = sorted(set(untrusted) - set(trusted))
        if unexpected:
            raise ModelError(
                "the stored skops file names types that were not in it when it was logged: "
                f"{', '.join(unexpected)}; refusing to load it"
            )
        return sio.loads(data, trusted=trusted)
    return pickle.loads(files["model.pkl"])  # recorded as pickle, warned at log time


# --------------------------------------------------------------------------- XGBoost
def _save_xgboost(model: Any) -> Saved:
    with tempfile.TemporaryDirectory(prefix="nbtrack-model-") as tmp:
        path = os.path.join(tmp, "model.ubj")
        model.save_model(path)
        with open(path, "rb") as fh:
            data = fh.read()
    return Saved({"model.ubj": data}, "model.ubj", "xgboost-ubj", {"class": _class_path(model)})


def _load_xgboost(files: dict[str, bytes], fmt: str, loader: dict[str, Any]) -> Any:
    cls = _import_class(loader["class"])
    model = cls()
    with tempfile.TemporaryDirectory(prefix="nbtrack-model-") as tmp:
        path = os.path.join(tmp, "model.ubj")
        with open(path, "wb") as fh:
            fh.write(files["model.ubj"])
        model.load_model(path)
    return model


# --------------------------------------------------------------------------- LightGBM
def _save_lightgbm(model: Any) -> Saved:
    import lightgbm as lgb

    loader: dict[str, Any] = {"class": _class_path(model)}
    if isinstance(model, lgb.Booster):
        booster = model
    else:
        booster = model.booster_
        loader["params"] = _json_params(model.get_params())
        classes = getattr(model, "classes_", None)
        if classes is not None:
            loader["classes"] = [c.item() if hasattr(c, "item") else c for c in classes]
    text = booster.model_to_string().encode("utf-8")
    return Saved({"model.txt": text}, "model.txt", "lightgbm-txt", loader)


def _json_params(params: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in params.items():
        try:
            json.dumps(v)
        except TypeError:
            continue  # a callable objective or a RandomState: not needed to predict
        out[k] = v
    return out


def _load_lightgbm(files: dict[str, bytes], fmt: str, loader: dict[str, Any]) -> Any:
    import lightgbm as lgb
    import numpy as np

    booster = lgb.Booster(model_str=files["model.txt"].decode("utf-8"))
    cls = _import_class(loader["class"])
    if cls is lgb.Booster or issubclass(cls, lgb.Booster):
        return booster
    # A scikit-learn wrapper: rebuilt around the booster, with the fitted state its
    # predict() reads (LightGBM 4 has no load_model on the wrappers).
    model = cls(**loader.get("params", {}))
    model._Booster = booster
    model.fitted_ = True
    model._n_features = booster.num_feature()
    model._n_features_in = booster.num_feature()
    model._objective = booster.params.get("objective", model.objective)
    classes = loader.get("classes")
    if classes is not None:
        from sklearn.preprocessing import LabelEncoder

        model._classes = np.asarray(classes)
        model._n_classes = len(classes)
        model._le = LabelEncoder().fit(model._classes)
        model._class_map = dict(
            zip(model._le.classes_, model._le.transform(model._le.classes_), strict=True)
        )
    return model


# --------------------------------------------------------------------------- Keras 3
def _save_keras(model: Any) -> Saved:
    with tempfile.TemporaryDirectory(prefix="nbtrack-model-") as tmp:
        path = os.path.join(tmp, "model.keras")
        model.save(path)  # Keras 3's own zip format: config + weights, no pickled code
        with open(path, "rb") as fh:
            data = fh.read()
    import keras

    return Saved({"model.keras": data}, "model.keras", "keras",
                 {"backend": keras.backend.backend()})


def _load_keras(files: dict[str, bytes], fmt: str, loader: dict[str, Any]) -> Any:
    import keras

    with tempfile.TemporaryDirectory(prefix="nbtrack-model-") as tmp:
        path = os.path.join(tmp, "model.keras")
        with open(path, "wb") as fh:
            fh.write(files["model.keras"])
        return keras.saving.load_model(path)


# --------------------------------------------------------------------------- PyTorch
def _save_pytorch(model: Any) -> Saved:
    import inspect

    import torch

    buf = io.BytesIO()
    if isinstance(model, torch.jit.ScriptModule):
        torch.jit.save(model, buf)
        return Saved({"model.pt": buf.getvalue()}, "model.pt", "torchscript")
    cls = type(model)
    path = _class_path(model)
    if cls.__module__ == "__main__" or "<locals>" in cls.__qualname__:
        raise ModelError(
            f"the PyTorch class {cls.__qualname__} is defined in a notebook or script, so "
            "another process cannot import it to load the weights: move it to a module, or "
            "log torch.jit.script(model) (TorchScript needs no class)"
        )
    required = [
        p.name for p in list(inspect.signature(cls.__init__).parameters.values())[1:]
        if p.default is inspect.Parameter.empty
        and p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    ]
    if required:
        raise ModelError(
            f"{cls.__qualname__}() needs arguments ({', '.join(required)}), so its weights "
            "alone cannot be loaded back: give them defaults, or log torch.jit.script(model)"
        )
    torch.save(model.state_dict(), buf)
    return Saved({"state_dict.pt": buf.getvalue()}, "state_dict.pt", "pytorch-state-dict",
                 {"class": path})


def _load_pytorch(files: dict[str, bytes], fmt: str, loader: dict[str, Any]) -> Any:
    import torch

    if fmt == "torchscript":
        model = torch.jit.load(io.BytesIO(files["model.pt"]))
    else:
        model = _import_class(loader["class"])()
        state = torch.load(io.BytesIO(files["state_dict.pt"]), weights_only=True)
        model.load_state_dict(state)
    model.eval()
    return model


# --------------------------------------------------------------------------- python_function
def _save_pyfunc(model: Any) -> Saved:
    try:
        import cloudpickle
    except ImportError:
        cloudpickle = None
    if cloudpickle is not None:
        data = cloudpickle.dumps(model, protocol=5)
        fmt = "cloudpickle"
    else:
        data = pickle.dumps(model, protocol=5)
        fmt = "pickle"
    pickle_warning(f"this python_function model ({type(model).__name__})")
    return Saved({"model.pkl": data}, "model.pkl", fmt, {"class": _class_path(model)})


def _load_pyfunc(files: dict[str, bytes], fmt: str, loader: dict[str, Any]) -> Any:
    return pickle.load(io.BytesIO(files["model.pkl"]))  # the format was warned about at log time


FLAVORS: dict[str, Flavor] = {
    f.name: f
    for f in (
        Flavor("xgboost", "xgboost", "xgboost", ("numpy", "scipy"), _save_xgboost, _load_xgboost),
        Flavor("lightgbm", "lightgbm", "lightgbm", ("numpy", "scipy", "scikit-learn"),
               _save_lightgbm, _load_lightgbm),
        Flavor("sklearn", "scikit-learn", "sklearn", ("skops", "numpy", "scipy"),
               _save_sklearn, _load_sklearn),
        Flavor("keras", "keras", "keras", ("numpy", "jax", "tensorflow", "torch"),
               _save_keras, _load_keras),
        Flavor("pytorch", "torch", "torch", ("numpy",), _save_pytorch, _load_pytorch),
        Flavor("python_function", "cloudpickle", "cloudpickle", (), _save_pyfunc, _load_pyfunc),
    )
}

def predict(flavor: str, model: Any, data: Any) -> Any:
    """``model``'s predictions for ``data``, called the way its framework wants."""
    if flavor == "xgboost" and type(model).__name__ == "Booster":
        import xgboost

        return model.predict(xgboost.DMatrix(data))
    if flavor == "keras":
        return model.predict(data, verbose=0)  # no progress bar in the notebook
    if flavor == "pytorch":
        import numpy as np
        import torch

        with torch.no_grad():
            out = model(torch.as_tensor(np.asarray(data), dtype=torch.float32))
        return out.numpy()
    return model.predict(data)


#: Top-level modules whose classes name a flavor, most specific first.
_FRAMEWORK_OF_MODULE = (
    ("xgboost", "xgboost"),
    ("lightgbm", "lightgbm"),
    ("sklearn", "sklearn"),
    ("keras", "keras"),
    ("torch", "pytorch"),
)
_UNSUPPORTED = {"tensorflow": "TensorFlow"}


def detect(model: Any, flavor: str | None = None) -> Flavor:
    """The flavor for ``model`` (or the named one, checked against it).

    Raises:
        ModelError: no flavor fits (not a scikit-learn, XGBoost or LightGBM model and no
            ``predict`` method), or ``flavor`` is unknown.
    """
    if flavor is not None:
        if flavor not in FLAVORS:
            raise ModelError(f"unknown flavor {flavor!r}; use one of {', '.join(FLAVORS)}")
        if flavor == "python_function" and not callable(getattr(model, "predict", None)):
            raise ModelError("a python_function model needs a predict method")
        return FLAVORS[flavor]
    roots = {c.__module__.partition(".")[0] for c in type(model).__mro__}
    for module, name in _FRAMEWORK_OF_MODULE:
        if module in roots:
            return FLAVORS[name]
    framework = next((_UNSUPPORTED[r] for r in roots if r in _UNSUPPORTED), None)
    if framework is not None and not callable(getattr(model, "predict", None)):
        raise ModelError(
            f"nbtrack cannot log {framework} models yet ({type(model).__name__}); log its "
            "weights as an artifact, or wrap it in a class with a predict method"
        )
    if callable(getattr(model, "predict", None)) and not isinstance(model, type):
        return FLAVORS["python_function"]
    raise ModelError(
        f"nbtrack does not know how to log a {type(model).__module__}.{type(model).__name__}: "
        "log a scikit-learn, XGBoost or LightGBM model, or an object with a predict method "
        "(python_function)"
    )
