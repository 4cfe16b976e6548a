"""LightGBM autologging: ``lightgbm.train`` and the scikit-learn API (``LGBMClassifier.fit`` ...).

Both go through ``lightgbm.train`` (the scikit-learn API calls it), which is patched. A
training records:

- params: the params as passed plus ``num_boost_round``;
- metrics: every validation set's metric at every iteration, key
  ``<valid name>-<metric>`` (``valid_0-binary_logloss``, ``training-l2``), step = the
  iteration; ``best_iteration`` (and ``best_<valid>-<metric>``) with early stopping;
- the training data's fingerprint (from the Dataset's raw data) as a run input;
- artifacts: ``feature_importance.csv`` (split and gain per feature),
  ``feature_importance.html`` (bar chart of gain) and the model (``model/model.txt``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nbtrack.integrations import _boosting, _datasets, _models, _patching, _runs
from nbtrack.integrations._guard import guard
from nbtrack.tracking.run import Run

NAME = "lightgbm"
_POSITIONAL = ("params", "train_set", "num_boost_round")


def enable(name: str = NAME) -> None:
    """Patch ``lightgbm.train`` wherever it is looked up (module, engine, sklearn)."""
    import lightgbm
    import lightgbm.engine
    import lightgbm.sklearn

    for owner in (lightgbm, lightgbm.engine, lightgbm.sklearn):
        _patching.patch(name, owner, "train", _make_train)
    _boosting.patch_sklearn_api(
        name,
        [
            cls
            for cls in vars(lightgbm.sklearn).values()
            if isinstance(cls, type) and issubclass(cls, lightgbm.sklearn.LGBMModel)
        ],
    )


def _make_train(original: Callable[..., Any]) -> Callable[..., Any]:
    def train(*args: Any, **kwargs: Any) -> Any:
        bound = dict(zip(_POSITIONAL, args, strict=False))
        bound.update(kwargs)

        def before(run: Run, cfg: _patching.AutologConfig) -> None:
            params = dict(bound.get("params") or {})
            params.setdefault("num_boost_round", bound.get("num_boost_round", 100))
            _runs.log_params(run, params)
            train_set = bound.get("train_set")
            if cfg.log_datasets and train_set is not None and train_set.data is not None:
                with guard(NAME):
                    label = train_set.get_label() if train_set.label is not None else None
                    if isinstance(train_set.data, (str, bytes)) or hasattr(train_set.data, "__fspath__"):
                        return  # a file name: nothing to fingerprint in memory
                    _datasets.log_dataset(run, train_set.data, label, context="training")

        def with_callback(
            run: Run, a: tuple[Any, ...], kw: dict[str, Any]
        ) -> tuple[tuple[Any, ...], dict[str, Any]]:
            kw = dict(kw)
            if len(a) > 8:  # callbacks given positionally: leave the call as it is
                return a, kw
            kw["callbacks"] = [*(kw.get("callbacks") or []), _callback(run)]
            return a, kw

        return _boosting.logged_train(
            NAME, original, args, kwargs, before=before, with_callback=with_callback, after=_after
        )

    return train


def _callback(run: Run) -> Callable[[Any], None]:
    """A LightGBM callback logging each iteration's evaluation results."""

    def nbtrack_callback(env: Any) -> None:
        with guard(NAME):
            values = {
                _boosting.eval_key(item[0], item[1]): float(item[2])
                for item in env.evaluation_result_list or []
            }
            if values:
                run.log_metrics(values, step=env.iteration)

    # after record_evaluation (20), before early_stopping (30), which raises to stop
    nbtrack_callback.order = 25  # type: ignore[attr-defined]
    return nbtrack_callback


def _after(run: Run, booster: Any, cfg: _patching.AutologConfig) -> None:
    best = int(getattr(booster, "best_iteration", 0) or 0)
    if best > 0:
        metrics = {"best_iteration": float(best)}
        for data, scores in (getattr(booster, "best_score", None) or {}).items():
            for metric, value in scores.items():
                metrics[f"best_{_boosting.eval_key(data, metric)}"] = float(value)
        run.log_metrics(metrics)
    with guard(NAME):
        features = booster.feature_name()
        _boosting.log_feature_importance(
            run,
            features,
            {
                "split": booster.feature_importance("split").tolist(),
                "gain": booster.feature_importance("gain").tolist(),
            },
        )
    if cfg.log_models:
        with guard(NAME):
            _models.log_model(run, booster, "model", flavor="lightgbm")
