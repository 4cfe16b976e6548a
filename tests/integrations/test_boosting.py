"""XGBoost and LightGBM autolog against the real libraries (native and scikit-learn APIs)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import nbtrack as nt
from integrations._autolog_helpers import history, only_run, run_inputs
from nbtrack.errors import NbtrackWarning

xgb = pytest.importorskip("xgboost")
lgb = pytest.importorskip("lightgbm")


def lgb_eval(Xv, yv) -> dict:
    """The eval-set arguments of LightGBM's scikit-learn API (eval_X/eval_y since 4.7)."""
    import inspect

    if "eval_X" in inspect.signature(lgb.LGBMClassifier.fit).parameters:
        return {"eval_X": (Xv,), "eval_y": (yv,)}
    return {"eval_set": [(Xv, yv)]}


@pytest.fixture
def data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4))
    y = (X[:, 0] + 0.5 * X[:, 1] + rng.normal(scale=0.5, size=300) > 0).astype(int)
    return X[:200], y[:200], X[200:], y[200:]


# ----------------------------------------------------------------------------- XGBoost
def test_xgboost_train_logs_every_iteration_params_importance_and_model(store, data):
    X, y, Xv, yv = data
    dtrain = xgb.DMatrix(X, label=y, feature_names=["a", "b", "c", "d"])
    dvalid = xgb.DMatrix(Xv, label=yv, feature_names=["a", "b", "c", "d"])
    nt.autolog("xgboost")
    reported: dict = {}
    params = {"objective": "binary:logistic", "max_depth": 2, "eta": 0.3, "eval_metric": "logloss"}
    booster = xgb.train(
        params, dtrain, num_boost_round=7, evals=[(dtrain, "train"), (dvalid, "valid")],
        evals_result=reported, verbose_eval=False,
    )
    run = only_run()
    assert run.tags["nbtrack.autolog"] == "xgboost"
    assert run.params["max_depth"] == "2"
    assert run.params["num_boost_round"] == "7"
    for data_name in ("train", "valid"):
        got = history(run.run_id, f"{data_name}-logloss")
        assert [s for s, _ in got] == list(range(7))
        np.testing.assert_allclose([v for _, v in got], reported[data_name]["logloss"])
    arts = set(nt.list_artifacts(run.run_id))
    assert {"feature_importance.csv", "feature_importance.html", "model/model.ubj"} <= arts
    table = nt.read_artifact(run.run_id, "feature_importance.csv").decode().splitlines()
    assert table[0] == "feature,weight,gain,cover"
    gain = booster.get_score(importance_type="gain")
    row_a = next(r for r in table if r.startswith("a,")).split(",")
    assert float(row_a[2]) == pytest.approx(gain.get("a", 0.0))
    loaded = xgb.Booster()
    loaded.load_model(bytearray(nt.read_artifact(run.run_id, "model/model.ubj")))
    np.testing.assert_allclose(loaded.predict(dvalid), booster.predict(dvalid))
    [ds] = run_inputs(run.run_id)
    assert '"shape": [200, 4]' in ds.profile


def test_xgboost_sklearn_api_with_early_stopping_logs_the_best_iteration(store, data):
    X, y, Xv, yv = data
    nt.autolog("xgboost")
    model = xgb.XGBClassifier(
        n_estimators=200, max_depth=2, learning_rate=0.5, early_stopping_rounds=3,
        random_state=0,
    ).fit(X, y, eval_set=[(Xv, yv)], verbose=False)
    run = only_run()
    assert run.metrics["best_iteration"] == model.best_iteration
    assert run.metrics["best_score"] == pytest.approx(model.best_score)
    got = history(run.run_id, "validation_0-logloss")
    np.testing.assert_allclose(
        [v for _, v in got], model.evals_result()["validation_0"]["logloss"]
    )
    assert run.params["early_stopping_rounds"] == "3"


def test_xgboost_native_train_with_early_stopping_logs_the_best_iteration(store, data):
    X, y, Xv, yv = data
    nt.autolog("xgboost", log_models=False)
    reported: dict = {}
    booster = xgb.train(
        {"objective": "binary:logistic", "eta": 0.8, "max_depth": 3, "eval_metric": "logloss"},
        xgb.DMatrix(X, label=y), num_boost_round=200, evals=[(xgb.DMatrix(Xv, label=yv), "valid")],
        early_stopping_rounds=3, evals_result=reported, verbose_eval=False,
    )
    run = only_run()
    assert booster.best_iteration < 199  # it stopped early
    assert run.metrics["best_iteration"] == booster.best_iteration
    assert run.metrics["best_score"] == pytest.approx(booster.best_score)
    assert run.params["early_stopping_rounds"] == "3"
    got = history(run.run_id, "valid-logloss")
    assert [s for s, _ in got] == list(range(len(reported["valid"]["logloss"])))
    np.testing.assert_allclose([v for _, v in got], reported["valid"]["logloss"])


def test_lightgbm_native_train_with_early_stopping_logs_the_best_iteration(store, data):
    X, y, Xv, yv = data
    nt.autolog("lightgbm", log_models=False)
    train_set = lgb.Dataset(X, label=y)
    reported: dict = {}
    booster = lgb.train(
        {"objective": "binary", "learning_rate": 0.8, "num_leaves": 8, "verbose": -1},
        train_set, num_boost_round=200,
        valid_sets=[lgb.Dataset(Xv, label=yv, reference=train_set)], valid_names=["valid"],
        callbacks=[lgb.early_stopping(3, verbose=False), lgb.record_evaluation(reported)],
    )
    run = only_run()
    assert 0 < booster.best_iteration < 200
    assert run.metrics["best_iteration"] == booster.best_iteration
    assert run.metrics["best_valid-binary_logloss"] == pytest.approx(
        booster.best_score["valid"]["binary_logloss"]
    )
    got = history(run.run_id, "valid-binary_logloss")
    np.testing.assert_allclose([v for _, v in got], reported["valid"]["binary_logloss"])


def test_xgboost_same_model_with_autolog_on_and_off(store, data):
    X, y, Xv, yv = data

    def fit():
        return xgb.XGBClassifier(n_estimators=10, max_depth=3, subsample=0.8, random_state=1).fit(
            X, y, eval_set=[(Xv, yv)], verbose=False
        )

    off = fit().predict_proba(Xv)
    nt.autolog("xgboost")
    on = fit().predict_proba(Xv)
    np.testing.assert_array_equal(on, off)


@pytest.mark.autolog_failure
def test_xgboost_failing_callback_does_not_fail_training(store, data, monkeypatch):
    X, y, Xv, yv = data
    from nbtrack.integrations import _boosting

    def broken(*a, **k):
        raise RuntimeError("no key for you")

    monkeypatch.setattr(_boosting, "eval_key", broken)
    nt.autolog("xgboost")
    with pytest.warns(NbtrackWarning, match="xgboost integration failed"):
        model = xgb.XGBClassifier(n_estimators=5).fit(X, y, eval_set=[(Xv, yv)], verbose=False)
    assert len(model.evals_result()["validation_0"]["logloss"]) == 5
    assert only_run().status == "FINISHED"


# ----------------------------------------------------------------------------- LightGBM
def test_lightgbm_train_logs_every_iteration_params_importance_and_model(store, data):
    X, y, Xv, yv = data
    train_set = lgb.Dataset(X, label=y, feature_name=["a", "b", "c", "d"])
    valid = lgb.Dataset(Xv, label=yv, reference=train_set)
    nt.autolog("lightgbm")
    reported: dict = {}
    booster = lgb.train(
        {"objective": "binary", "num_leaves": 4, "verbose": -1, "seed": 0},
        train_set,
        num_boost_round=6,
        valid_sets=[valid],
        valid_names=["valid"],
        callbacks=[lgb.record_evaluation(reported)],
    )
    run = only_run()
    assert run.tags["nbtrack.autolog"] == "lightgbm"
    assert run.params["num_leaves"] == "4"
    assert run.params["num_boost_round"] == "6"
    got = history(run.run_id, "valid-binary_logloss")
    assert [s for s, _ in got] == list(range(6))
    np.testing.assert_allclose([v for _, v in got], reported["valid"]["binary_logloss"])
    arts = set(nt.list_artifacts(run.run_id))
    assert {"feature_importance.csv", "feature_importance.html", "model/model.txt"} <= arts
    table = nt.read_artifact(run.run_id, "feature_importance.csv").decode().splitlines()
    assert table[0] == "feature,split,gain"
    chart = nt.read_artifact(run.run_id, "feature_importance.html").decode()
    assert '"type":"bar"' in chart and '"orientation":"h"' in chart  # a plotly bar chart
    gain = booster.feature_importance("gain")
    by_gain = [n for _, n in sorted(zip(gain, ["a", "b", "c", "d"], strict=True))]
    assert f'"y":{json.dumps(by_gain, separators=(",", ":"))}' in chart  # bars in gain order
    assert table[1].split(",")[1] == repr(float(booster.feature_importance("split")[0]))
    loaded = lgb.Booster(model_str=nt.read_artifact(run.run_id, "model/model.txt").decode())
    np.testing.assert_allclose(loaded.predict(Xv), booster.predict(Xv))
    [ds] = run_inputs(run.run_id)
    assert '"shape": [200, 4]' in ds.profile


def test_lightgbm_sklearn_api_with_early_stopping(store, data):
    X, y, Xv, yv = data
    nt.autolog("lightgbm")
    model = lgb.LGBMClassifier(n_estimators=300, learning_rate=0.5, num_leaves=4, verbose=-1).fit(
        X, y, eval_set=[(Xv, yv)], callbacks=[lgb.early_stopping(3, verbose=False)]
    )
    run = only_run()
    assert run.metrics["best_iteration"] == model.best_iteration_
    got = history(run.run_id, "valid_0-binary_logloss")
    np.testing.assert_allclose(
        [v for _, v in got], model.evals_result_["valid_0"]["binary_logloss"]
    )
    assert run.metrics["best_valid_0-binary_logloss"] == pytest.approx(
        model.best_score_["valid_0"]["binary_logloss"]
    )


def test_lightgbm_same_model_with_autolog_on_and_off(store, data):
    X, y, Xv, yv = data

    def fit():
        return lgb.LGBMClassifier(
            n_estimators=15, num_leaves=4, subsample=0.8, subsample_freq=1, random_state=3,
            verbose=-1,
        ).fit(X, y, **lgb_eval(Xv, yv))

    off = fit().predict_proba(Xv)
    nt.autolog("lightgbm")
    on = fit().predict_proba(Xv)
    np.testing.assert_array_equal(on, off)


@pytest.mark.autolog_failure
def test_lightgbm_inside_an_explicit_run_and_failing_logging(store, data, monkeypatch):
    X, y, Xv, yv = data
    from nbtrack.integrations import _boosting

    monkeypatch.setattr(_boosting, "log_feature_importance", lambda *a, **k: 1 / 0)
    nt.autolog("lightgbm")
    with nt.start_run(name="explicit") as run, pytest.warns(
        NbtrackWarning, match="lightgbm integration failed"
    ):
        lgb.LGBMRegressor(n_estimators=4, verbose=-1).fit(X, y.astype(float), **lgb_eval(Xv, yv))
    got = only_run()
    assert got.run_id == run.run_id
    assert len(history(run.run_id, "valid_0-l2")) == 4
    assert "model/model.txt" in nt.list_artifacts(run.run_id)  # the rest still logged


@pytest.mark.parametrize("framework", ["xgboost", "lightgbm"])
def test_with_sklearn_autolog_too_one_fit_is_one_run_of_its_framework(store, data, framework):
    """LGBMClassifier.fit calls sklearn's LabelEncoder.fit: that must not log a run."""
    X, y, _, _ = data
    nt.autolog(["sklearn", framework])
    cls = xgb.XGBClassifier if framework == "xgboost" else lgb.LGBMClassifier
    extra = {} if framework == "xgboost" else {"verbose": -1}
    cls(n_estimators=3, **extra).fit(X, y)
    run = only_run()
    assert run.tags["nbtrack.autolog"] == framework
    assert "model/model.pkl" not in nt.list_artifacts(run.run_id)


def test_a_grid_search_over_lightgbm_is_logged_by_sklearn_only(store, data):
    from sklearn.model_selection import GridSearchCV

    X, y, _, _ = data
    nt.autolog(["sklearn", "lightgbm"])
    GridSearchCV(lgb.LGBMClassifier(verbose=-1), {"n_estimators": [3, 5]}, cv=2).fit(X, y)
    df = nt.search_runs()
    assert set(df["tags.nbtrack.autolog"]) == {"sklearn"}
    assert len(df) == 3  # the search and its two candidates; the fold fits log nothing


@pytest.mark.parametrize("framework", ["xgboost", "lightgbm"])
@pytest.mark.parametrize("where", ["track-cell", "explicit-run", "nested-sweep"])
def test_autolog_inside_the_user_s_runs(store, data, ip, framework, where):
    """%%track and ``with nt.start_run()``: the training logs into the user's run (which
    autolog neither starts nor ends); a sweep of nested runs gets one training per child."""
    X, y, Xv, yv = data
    nt.autolog(framework, log_models=False)
    if framework == "xgboost":
        def fit(depth):
            m = xgb.XGBClassifier(n_estimators=4, max_depth=depth)
            return m.fit(X, y, eval_set=[(Xv, yv)], verbose=False)
        key = "validation_0-logloss"
        reported = lambda m: m.evals_result()["validation_0"]["logloss"]  # noqa: E731
    else:
        def fit(depth):
            return lgb.LGBMClassifier(n_estimators=4, max_depth=depth, verbose=-1).fit(
                X, y, **lgb_eval(Xv, yv)
            )
        key = "valid_0-binary_logloss"
        reported = lambda m: m.evals_result_["valid_0"]["binary_logloss"]  # noqa: E731
    if where == "track-cell":
        ip.user_ns["fit"] = fit
        ip.run_cell("%%track -n cell\nm = fit(2)\n").raise_error()
        run = only_run()
        assert run.name == "cell" and run.status == "FINISHED"
        assert "nbtrack.autolog" not in run.tags
        np.testing.assert_allclose([v for _, v in history(run.run_id, key)], reported(ip.user_ns["m"]))
    elif where == "explicit-run":
        with nt.start_run(name="mine") as run:
            m = fit(2)
            assert nt.active_run() is run  # still open: autolog did not end it
        assert only_run().run_id == run.run_id
        np.testing.assert_allclose([v for _, v in history(run.run_id, key)], reported(m))
        assert run.params["max_depth"] == "2"
    else:
        models = {}
        with nt.start_run(name="sweep") as parent:
            for depth in (1, 3):
                with nt.start_run(name=f"depth={depth}", nested=True) as child:
                    models[child.run_id] = fit(depth)
        df = nt.search_runs()
        children = df[df.parent_run_id == parent.run_id]
        assert len(df) == 3 and len(children) == 2
        for run_id, m in models.items():
            assert [s for s, _ in history(run_id, key)] == [0, 1, 2, 3]
            np.testing.assert_allclose([v for _, v in history(run_id, key)], reported(m))
        assert sorted(children["params.max_depth"]) == ["1", "3"]
        assert key not in nt.get_run(parent.run_id).metrics


@pytest.mark.autolog_failure
def test_lightgbm_failing_iteration_callback_does_not_fail_training(store, data, monkeypatch):
    X, y, Xv, yv = data
    from nbtrack.integrations import _boosting

    monkeypatch.setattr(_boosting, "eval_key", lambda *a: 1 / 0)
    nt.autolog("lightgbm")
    off = lgb.LGBMClassifier(n_estimators=5, verbose=-1, random_state=0)
    with pytest.warns(NbtrackWarning, match="lightgbm integration failed"):
        model = lgb.LGBMClassifier(n_estimators=5, verbose=-1, random_state=0).fit(
            X, y, **lgb_eval(Xv, yv)
        )
    nt.autolog("lightgbm", disable=True)
    off.fit(X, y, **lgb_eval(Xv, yv))
    np.testing.assert_array_equal(model.predict_proba(Xv), off.predict_proba(Xv))
    assert only_run().status == "FINISHED"
