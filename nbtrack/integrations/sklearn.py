"""scikit-learn autologging: ``fit`` of estimators, pipelines and hyperparameter searches.

What a ``fit`` records (docs/integrations.md has the table):

- params: ``get_params(deep=True)`` (objects as their ``repr``, cut at 6,000 characters);
  tags ``estimator_name`` and ``estimator_class``;
- metrics on the training data, named as MLflow names them: ``training_score``
  (``estimator.score``), for classifiers ``training_accuracy_score``,
  ``training_precision_score``, ``training_recall_score``, ``training_f1_score``
  (weighted averages), ``training_log_loss`` and ``training_roc_auc`` (with
  ``predict_proba``); for regressors ``training_mean_squared_error``,
  ``training_root_mean_squared_error``, ``training_mean_absolute_error``,
  ``training_r2_score``;
- the training data's fingerprint as a run input (context ``training``);
- the fitted estimator as the ``model`` artifact (see ``_models``).

``GridSearchCV`` / ``RandomizedSearchCV`` (any ``BaseSearchCV``): the search's run gets
the above plus ``best_cv_score`` and ``best_<param>`` params, the best estimator as
``best_estimator``, and one child run per candidate with that candidate's params and its
``cv_results_`` numbers (``mean_test_score``, ``std_test_score``, ``rank_test_score``,
``split<k>_test_score``, fit and score times ...).

Only the outermost ``fit`` logs: the fits a pipeline or a search makes inside (also in
joblib worker threads) are not logged again.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from typing import Any

from nbtrack.integrations import _datasets, _models, _patching, _runs
from nbtrack.integrations._guard import guard
from nbtrack.tracking.run import Run

NAME = "sklearn"


def enable(name: str = NAME) -> None:
    """Patch ``fit`` where each scikit-learn estimator class defines it."""
    from sklearn.model_selection._search import BaseSearchCV
    from sklearn.utils import all_estimators

    owners: dict[type, None] = {BaseSearchCV: None}
    for _, cls in all_estimators():
        owner = next((k for k in cls.__mro__ if "fit" in vars(k)), None)
        if owner is not None and owner.__module__.startswith("sklearn."):
            owners[owner] = None
    for owner in owners:
        _patching.patch(name, owner, "fit", _make_fit)


def _make_fit(original: Callable[..., Any]) -> Callable[..., Any]:
    def fit(self: Any, *args: Any, **kwargs: Any) -> Any:
        with _patching.outermost() as outer:
            cfg = _patching.config(NAME)
            if not outer or cfg is None:
                return original(self, *args, **kwargs)
            return _logged_fit(original, self, args, kwargs, cfg)

    return fit


def _logged_fit(
    original: Callable[..., Any],
    est: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    cfg: _patching.AutologConfig,
) -> Any:
    session: _runs.AutologRun | None = None
    with guard(NAME):
        session = _runs.open_run(NAME)
        if session is not None:
            _log_start(session.run, est)
    try:
        result = original(est, *args, **kwargs)
    except BaseException as exc:
        if session is not None:
            with guard(NAME):
                session.close("KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED")
        raise
    if session is not None:
        X, y = _xy(args, kwargs)
        with guard(NAME):
            _log_end(session.run, est, X, y, kwargs.get("sample_weight"), cfg)
        with guard(NAME):
            session.close("FINISHED")
    return result


def _xy(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, Any]:
    X = args[0] if args else kwargs.get("X")
    y = args[1] if len(args) > 1 else kwargs.get("y", kwargs.get("Y"))
    return X, y


def _log_start(run: Run, est: Any) -> None:
    _runs.log_params(run, est.get_params(deep=True))
    have = run.tags
    tags = {"estimator_name": type(est).__name__, "estimator_class": _qualname(est)}
    run.set_tags({k: v for k, v in tags.items() if k not in have})


def _qualname(obj: Any) -> str:
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def _log_end(
    run: Run, est: Any, X: Any, y: Any, sample_weight: Any, cfg: _patching.AutologConfig
) -> None:
    from sklearn.model_selection._search import BaseSearchCV

    metrics: dict[str, float] = {}
    if X is not None:
        metrics.update(training_metrics(est, X, y, sample_weight))
    if isinstance(est, BaseSearchCV):
        _log_search(run, est, metrics)
    if metrics:
        run.log_metrics(metrics)
    if cfg.log_datasets and X is not None:
        with guard(NAME):
            _datasets.log_dataset(run, X, y, context="training")
    if cfg.log_models:
        with guard(NAME):
            _models.log_model(run, est, "model", flavor="pickle")
        best = getattr(est, "best_estimator_", None)
        if best is not None:
            with guard(NAME):
                _models.log_model(run, best, "best_estimator", flavor="pickle")


def training_metrics(est: Any, X: Any, y: Any, sample_weight: Any = None) -> dict[str, float]:
    """The ``training_*`` metrics of a fitted estimator on its training data."""
    from sklearn import metrics as skm
    from sklearn.base import is_classifier, is_regressor

    out: dict[str, float] = {}
    if y is None or not hasattr(est, "predict"):
        return out
    sw = {"sample_weight": sample_weight} if sample_weight is not None else {}

    def put(key: str, fn: Callable[[], Any]) -> None:
        # A metric that does not apply to this data (one class, a non-numeric target) is
        # skipped: that is a property of the data, not a failure of the integration.
        with contextlib.suppress(ValueError, TypeError, AttributeError, NotImplementedError):
            value = float(fn())
            if math.isfinite(value):
                out[f"training_{key}"] = value

    put("score", lambda: est.score(X, y, **sw))
    try:
        y_pred = est.predict(X)
    # An estimator that cannot predict on its training data here (a custom one, a
    # pipeline ending in a transformer) has no prediction metrics; not an nbtrack failure.
    except (ValueError, TypeError, AttributeError, NotImplementedError):
        return out
    if is_classifier(est):
        put("accuracy_score", lambda: skm.accuracy_score(y, y_pred, **sw))
        for key, fn in (
            ("precision_score", skm.precision_score),
            ("recall_score", skm.recall_score),
            ("f1_score", skm.f1_score),
        ):
            put(key, lambda fn=fn: fn(y, y_pred, average="weighted", zero_division=0, **sw))
        if hasattr(est, "predict_proba"):
            with contextlib.suppress(ValueError, TypeError, AttributeError, NotImplementedError):
                proba = est.predict_proba(X)
                labels = getattr(est, "classes_", None)
                put("log_loss", lambda: skm.log_loss(y, proba, labels=labels, **sw))
                if proba.shape[1] == 2:
                    put("roc_auc", lambda: skm.roc_auc_score(y, proba[:, 1], **sw))
                else:
                    put(
                        "roc_auc",
                        lambda: skm.roc_auc_score(
                            y, proba, multi_class="ovr", average="weighted", labels=labels, **sw
                        ),
                    )
    elif is_regressor(est):
        put("mean_squared_error", lambda: skm.mean_squared_error(y, y_pred, **sw))
        put(
            "root_mean_squared_error",
            lambda: math.sqrt(skm.mean_squared_error(y, y_pred, **sw)),
        )
        put("mean_absolute_error", lambda: skm.mean_absolute_error(y, y_pred, **sw))
        put("r2_score", lambda: skm.r2_score(y, y_pred, **sw))
    return out


def _log_search(run: Run, search: Any, metrics: dict[str, float]) -> None:
    """Best params and score on the search's run; one child run per candidate."""
    best_params = getattr(search, "best_params_", None)
    if best_params:
        _runs.log_params(run, {f"best_{k}": v for k, v in best_params.items()})
    best_score = getattr(search, "best_score_", None)
    if best_score is not None and math.isfinite(float(best_score)):
        metrics["best_cv_score"] = float(best_score)
    results = search.cv_results_
    numeric = [
        k
        for k in results
        if k.startswith(("mean_", "std_", "rank_", "split")) and not k.startswith("param")
    ]
    for i, params in enumerate(results["params"]):
        child = _runs.start_child(run, name=f"{run.name}-{i}", params=params, integration=NAME)
        try:
            values = {}
            for key in numeric:
                with contextlib.suppress(TypeError, ValueError):
                    v = float(results[key][i])
                    if math.isfinite(v):
                        values[key] = v
            if values:
                child.log_metrics(values, step=0)
        finally:
            child.end("FINISHED")
