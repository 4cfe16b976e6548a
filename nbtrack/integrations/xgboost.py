"""XGBoost autologging: ``xgboost.train`` and the scikit-learn API (``XGBClassifier.fit`` ...).

Both go through ``xgboost.train`` (the scikit-learn API calls it), which is patched. A
training records:

- params: the booster params as passed (``objective``, ``max_depth`` ...) and
  ``num_boost_round``, ``early_stopping_rounds`` when given;
- metrics: every eval set's metric at every iteration, key ``<eval name>-<metric>``
  (``validation_0-logloss``, ``train-rmse``), step = the iteration;
  ``best_iteration`` and ``best_score`` when early stopping was used;
- the training data's fingerprint (from the DMatrix) as a run input;
- artifacts: ``feature_importance.csv`` (weight, gain, cover per feature),
  ``feature_importance.html`` (bar chart of gain) and the model (``model/model.ubj``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nbtrack.integrations import _boosting, _datasets, _models, _patching, _runs
from nbtrack.integrations._guard import guard
from nbtrack.tracking.run import Run

NAME = "xgboost"
_POSITIONAL = ("params", "dtrain", "num_boost_round")


def enable(name: str = NAME) -> None:
    """Patch ``xgboost.train`` wherever it is looked up (module, training, sklearn)."""
    import xgboost
    import xgboost.sklearn
    import xgboost.training

    for owner in (xgboost, xgboost.training, xgboost.sklearn):
        _patching.patch(name, owner, "train", _make_train)
    _boosting.patch_sklearn_api(
        name,
        [
            cls
            for cls in vars(xgboost.sklearn).values()
            if isinstance(cls, type) and issubclass(cls, xgboost.sklearn.XGBModel)
        ],
    )


def _make_train(original: Callable[..., Any]) -> Callable[..., Any]:
    def train(*args: Any, **kwargs: Any) -> Any:
        bound = dict(zip(_POSITIONAL, args, strict=False))
        bound.update(kwargs)

        def before(run: Run, cfg: _patching.AutologConfig) -> None:
            params = dict(bound.get("params") or {})
            params["num_boost_round"] = bound.get("num_boost_round", 10)
            if bound.get("early_stopping_rounds") is not None:
                params["early_stopping_rounds"] = bound["early_stopping_rounds"]
            _runs.log_params(run, params)
            if cfg.log_datasets and bound.get("dtrain") is not None:
                with guard(NAME):
                    _log_dmatrix(run, bound["dtrain"])

        def with_callback(
            run: Run, a: tuple[Any, ...], kw: dict[str, Any]
        ) -> tuple[tuple[Any, ...], dict[str, Any]]:
            kw = dict(kw)
            kw["callbacks"] = [*(kw.get("callbacks") or []), _callback(run)]
            return a, kw

        return _boosting.logged_train(
            NAME, original, args, kwargs, before=before, with_callback=with_callback, after=_after
        )

    return train


def _callback(run: Run) -> Any:
    """An ``xgboost.callback.TrainingCallback`` logging each iteration's eval metrics."""
    from xgboost.callback import TrainingCallback

    class NbtrackCallback(TrainingCallback):  # type: ignore[misc]
        def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
            with guard(NAME):
                values = {
                    _boosting.eval_key(data, metric): float(
                        log[-1][0] if isinstance(log[-1], tuple) else log[-1]
                    )
                    for data, metrics in evals_log.items()
                    for metric, log in metrics.items()
                    if log
                }
                if values:
                    run.log_metrics(values, step=epoch)
            return False  # never stops training

    return NbtrackCallback()


def _log_dmatrix(run: Run, dtrain: Any) -> None:
    data = dtrain.get_data()  # CSR matrix of the features
    label = dtrain.get_label()
    _datasets.log_dataset(run, data, label if len(label) else None, context="training")


def _after(run: Run, booster: Any, cfg: _patching.AutologConfig) -> None:
    best: dict[str, float] = {}
    attrs = booster.attributes()
    if "best_iteration" in attrs:
        best["best_iteration"] = float(attrs["best_iteration"])
    if "best_score" in attrs:
        best["best_score"] = float(attrs["best_score"])
    if best:
        run.log_metrics(best)
    with guard(NAME):
        kinds = ("weight", "gain", "cover")
        scores = {k: booster.get_score(importance_type=k) for k in kinds}
        features = booster.feature_names or sorted(scores["weight"], key=_feature_order)
        _boosting.log_feature_importance(
            run, features, {k: [scores[k].get(f, 0.0) for f in features] for k in kinds}
        )
    if cfg.log_models:
        with guard(NAME):
            _models.log_model(run, booster, "model", flavor="xgboost")


def _feature_order(name: str) -> tuple[int, str]:
    digits = name[1:]
    return (int(digits), name) if name.startswith("f") and digits.isdigit() else (1 << 30, name)
