"""scikit-learn autolog against the real library: what a run holds after fit."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest

import nbtrack as nt
from integrations._autolog_helpers import only_run, run_inputs
from nbtrack.errors import NbtrackWarning

sklearn = pytest.importorskip("sklearn")
from sklearn.datasets import make_classification, make_regression  # noqa: E402
from sklearn.linear_model import LogisticRegression, Ridge  # noqa: E402
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402


@pytest.fixture
def clf_data() -> tuple[np.ndarray, np.ndarray]:
    return make_classification(n_samples=120, n_features=5, random_state=0)


def test_fit_without_a_run_starts_and_ends_one_with_params_metrics_model_and_dataset(
    store, clf_data
):
    X, y = clf_data
    nt.autolog("sklearn")
    model = LogisticRegression(C=0.5, max_iter=200).fit(X, y)
    assert nt.active_run() is None  # autolog ended the run it started
    run = only_run()
    assert run.status == "FINISHED"
    assert run.tags["nbtrack.autolog"] == "sklearn"
    assert run.tags["estimator_name"] == "LogisticRegression"
    expected = {k: str(v) for k, v in model.get_params(deep=True).items()}
    assert {k: run.params[k] for k in expected} == expected
    assert run.metrics["training_score"] == pytest.approx(model.score(X, y))
    from sklearn.metrics import f1_score, log_loss, roc_auc_score

    assert run.metrics["training_f1_score"] == pytest.approx(
        f1_score(y, model.predict(X), average="weighted")
    )
    assert run.metrics["training_log_loss"] == pytest.approx(log_loss(y, model.predict_proba(X)))
    assert run.metrics["training_roc_auc"] == pytest.approx(
        roc_auc_score(y, model.predict_proba(X)[:, 1])
    )
    assert "model/model.skops" in nt.list_artifacts(run.run_id)  # nbtrack.models, skops
    loaded = nt.load_model(f"runs:/{run.run_id}/model")
    np.testing.assert_array_equal(loaded.coef_, model.coef_)
    [ds] = run_inputs(run.run_id)
    assert ds.context == "training"
    assert '"shape": [120, 5]' in ds.profile
    assert len(ds.digest) == 8


def test_regressor_metrics_equal_sklearn_s(store):
    X, y = make_regression(n_samples=80, n_features=4, noise=3.0, random_state=1)
    nt.autolog("sklearn")
    model = Ridge(alpha=2.0).fit(X, y)
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    m = only_run().metrics
    pred = model.predict(X)
    assert m["training_mean_squared_error"] == pytest.approx(mean_squared_error(y, pred))
    assert m["training_root_mean_squared_error"] == pytest.approx(
        mean_squared_error(y, pred) ** 0.5
    )
    assert m["training_mean_absolute_error"] == pytest.approx(mean_absolute_error(y, pred))
    assert m["training_r2_score"] == pytest.approx(r2_score(y, pred))


def test_pipeline_is_one_run_with_deep_params_and_a_dataframe_fingerprint(store, clf_data):
    X, y = clf_data
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(5)])
    nt.autolog("sklearn")
    make_pipeline(StandardScaler(), LogisticRegression(C=3.0)).fit(frame, y)
    run = only_run()  # the inner fits (scaler, classifier) made no runs of their own
    assert run.params["logisticregression__C"] == "3.0"
    assert run.params["standardscaler__with_mean"] == "True"
    [ds] = run_inputs(run.run_id)
    assert '"name": "f0"' in ds.schema
    # the same data gives the same digest: a fingerprint, not a random id
    from nbtrack.integrations._datasets import fingerprint

    assert fingerprint(frame, y).digest == ds.digest
    assert fingerprint(frame.iloc[:-1], y[:-1]).digest != ds.digest


@pytest.mark.parametrize("search_cls", [GridSearchCV, RandomizedSearchCV], ids=["grid", "random"])
def test_search_has_a_parent_run_and_one_child_per_candidate(store, clf_data, search_cls):
    X, y = clf_data
    nt.autolog("sklearn")
    grid = {"C": [0.01, 0.1, 1.0, 10.0]}
    kwargs = {"n_iter": 3, "random_state": 0} if search_cls is RandomizedSearchCV else {}
    search = search_cls(LogisticRegression(), grid, cv=3, **kwargs).fit(X, y)
    df = nt.search_runs()
    parent = only_run()
    children = df[df.parent_run_id == parent.run_id]
    n = len(search.cv_results_["params"])
    assert len(children) == n
    assert parent.metrics["best_cv_score"] == pytest.approx(search.best_score_)
    assert parent.params["best_C"] == str(search.best_params_["C"])
    assert parent.params["estimator__C"] == "1.0"
    arts = nt.list_artifacts(parent.run_id)
    assert {"model/model.skops", "best_estimator/model.skops"} <= set(arts)
    by_c = {row["params.C"]: row for _, row in children.iterrows()}
    for i, params in enumerate(search.cv_results_["params"]):
        row = by_c[str(params["C"])]
        assert row["metrics.mean_test_score"] == pytest.approx(
            search.cv_results_["mean_test_score"][i]
        )
        assert row["metrics.rank_test_score"] == search.cv_results_["rank_test_score"][i]
        assert row["metrics.split2_test_score"] == pytest.approx(
            search.cv_results_["split2_test_score"][i]
        )
        assert row["status"] == "FINISHED"
        assert row["tags.nbtrack.autolog"] == "sklearn"


def test_inside_an_explicit_run_everything_goes_into_it_and_it_stays_open(store, clf_data):
    X, y = clf_data
    nt.autolog("sklearn")
    with nt.start_run(name="mine", params={"C": 0.5}) as run:
        LogisticRegression(C=0.5).fit(X, y)
        LogisticRegression(C=2.0).fit(X, y)  # a second fit: C keeps the user's value
        assert nt.active_run() is run
    got = only_run()
    assert got.name == "mine"
    assert got.params["C"] == "0.5"
    h = nt.get_metric_history(run.run_id, "training_score")
    assert h.step.tolist() == [0, 1]  # the second fit logged at the next step


def test_same_model_with_autolog_on_and_off(store, clf_data):
    X, y = clf_data
    off = RandomizedSearchCV(
        LogisticRegression(), {"C": [0.1, 1, 10]}, n_iter=2, cv=3, random_state=0
    ).fit(X, y)
    state = np.random.get_state()[1].copy()
    nt.autolog("sklearn")
    on = RandomizedSearchCV(
        LogisticRegression(), {"C": [0.1, 1, 10]}, n_iter=2, cv=3, random_state=0
    ).fit(X, y)
    np.testing.assert_array_equal(np.random.get_state()[1], state)  # no global draws
    assert on.best_params_ == off.best_params_
    np.testing.assert_array_equal(on.best_estimator_.coef_, off.best_estimator_.coef_)


@pytest.mark.autolog_failure
def test_a_failure_inside_autolog_warns_once_and_training_goes_on(
    store, clf_data, monkeypatch
):
    X, y = clf_data
    from nbtrack.integrations import sklearn as nb_sklearn

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(nb_sklearn, "training_metrics", broken)
    nt.autolog("sklearn")
    with pytest.warns(NbtrackWarning, match="sklearn integration failed.*disk on fire"):
        model = LogisticRegression().fit(X, y)
    assert model.score(X, y) > 0.5
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        LogisticRegression().fit(X, y)  # warned once: the second failure is quiet
    runs = nt.search_runs()
    assert len(runs) == 2 and set(runs.status) == {"FINISHED"}


@pytest.mark.autolog_failure
def test_silent_autolog_does_not_warn(store, clf_data, monkeypatch):
    X, y = clf_data
    from nbtrack.integrations import sklearn as nb_sklearn

    monkeypatch.setattr(nb_sklearn, "training_metrics", lambda *a, **k: 1 / 0)
    nt.autolog("sklearn", silent=True)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        LogisticRegression().fit(X, y)


def test_the_user_s_error_in_fit_reaches_the_user_and_fails_the_run(store):
    nt.autolog("sklearn")
    with pytest.raises(ValueError, match="Found input variables"):
        LogisticRegression().fit(np.zeros((5, 2)), np.zeros(4))
    assert only_run().status == "FAILED"


def test_log_models_and_datasets_off(store, clf_data):
    X, y = clf_data
    nt.autolog("sklearn", log_models=False, log_datasets=False)
    LogisticRegression().fit(X, y)
    run = only_run()
    assert nt.list_artifacts(run.run_id) == []
    assert run_inputs(run.run_id) == []


def test_disable_restores_the_original_fit(store, clf_data):
    X, y = clf_data
    original = LogisticRegression.fit
    nt.autolog("sklearn")
    assert LogisticRegression.fit is not original
    nt.autolog("sklearn", disable=True)
    assert LogisticRegression.fit is original
    LogisticRegression().fit(X, y)
    assert nt.search_runs().empty


def test_track_cell_with_autolog_logs_into_the_cell_s_run(store, ip):
    ip.run_cell(
        "from sklearn.datasets import make_classification\n"
        "from sklearn.linear_model import LogisticRegression\n"
        "X, y = make_classification(n_samples=60, n_features=4, random_state=0)\n"
    )
    result = ip.run_cell("%%track --autolog -n cell\nm = LogisticRegression(C=0.7).fit(X, y)\n")
    result.raise_error()
    run = only_run()
    assert run.name == "cell"
    assert run.params["C"] == "0.7"
    assert run.metrics["training_score"] == pytest.approx(ip.user_ns["m"].score(*_xy(ip)))
    assert "cell.py" in nt.list_artifacts(run.run_id)
    # autolog was on for that cell only
    ip.run_cell("LogisticRegression().fit(X, y)").raise_error()
    assert len(nt.search_runs()) == 1


def _xy(ip):
    return ip.user_ns["X"], ip.user_ns["y"]


def test_autolog_before_the_framework_is_imported_patches_it_on_import(tmp_path):
    """In a fresh interpreter: autolog() imports nothing; `import sklearn` gets patched."""
    import subprocess

    code = (
        "import sys, nbtrack as nt\n"
        "nt.autolog()\n"
        "assert 'sklearn' not in sys.modules, 'autolog imported sklearn'\n"
        "from sklearn.linear_model import LogisticRegression\n"
        "LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])\n"
        "from sklearn.datasets import load_digits\n"
        "assert load_digits().data.shape == (1797, 64)  # package resources still load\n"
        "print(nt.search_runs().loc[0, 'tags.nbtrack.autolog'])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=240,
        env={**__import__("os").environ, "NBTRACK_STORE": str(tmp_path / "s")},
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith("sklearn")


def test_the_dataset_is_the_mlflow_facade_s_run_input_with_the_same_digest(store, clf_data):
    """Autolog writes the record ``nbtrack.mlflow.log_input`` writes: the MLflow facade reads
    it as the run's dataset input, with the digest its own ``from_numpy`` computes."""
    import nbtrack.mlflow as mlflow

    X, y = clf_data
    nt.autolog("sklearn", log_models=False)
    LogisticRegression().fit(X, y)
    run = only_run()
    [inp] = mlflow.get_run(run.run_id).inputs.dataset_inputs
    assert inp.dataset.digest == mlflow.data.from_numpy(X, targets=y).digest
    assert {t.key: t.value for t in inp.tags}["mlflow.data.context"] == "training"
    assert inp.dataset.profile == run_inputs(run.run_id)[0].profile


def _stacking():
    from sklearn.ensemble import StackingClassifier
    from sklearn.tree import DecisionTreeClassifier

    tree = DecisionTreeClassifier(max_depth=2, random_state=0)
    return StackingClassifier([("lr", LogisticRegression()), ("tree", tree)], cv=3)


def _one_vs_rest():
    from sklearn.multiclass import OneVsRestClassifier

    return OneVsRestClassifier(LogisticRegression(C=0.3))


def _bagging():
    from sklearn.ensemble import BaggingClassifier

    return BaggingClassifier(LogisticRegression(), n_estimators=3, random_state=0)


def _calibrated():
    from sklearn.calibration import CalibratedClassifierCV

    return CalibratedClassifierCV(LogisticRegression(), cv=3)


@pytest.mark.parametrize(
    "make", [_stacking, _one_vs_rest, _bagging, _calibrated],
    ids=["stacking", "one-vs-rest", "bagging", "calibrated"],
)
def test_a_meta_estimator_is_one_run_with_its_inner_params(store, clf_data, make):
    X, y = clf_data
    nt.autolog("sklearn", log_models=False)
    model = make().fit(X, y)
    run = only_run()  # the inner fits made no runs of their own
    expected = {k: str(v) for k, v in model.get_params(deep=True).items() if "__" in k}
    assert expected and {k: run.params[k] for k in expected} == expected
    assert run.metrics["training_score"] == pytest.approx(model.score(X, y))
    assert run.tags["estimator_name"] == type(model).__name__


def test_a_search_inside_the_user_s_run_nests_its_candidates_under_it(store, clf_data, ip):
    """In ``%%track`` the search logs into the cell's run and its candidates are children of
    that run; the cell's run stays the user's (not ended by autolog)."""
    ip.user_ns.update(X=clf_data[0], y=clf_data[1], GridSearchCV=GridSearchCV,
                      LogisticRegression=LogisticRegression)
    ip.run_cell(
        "%%track --autolog -n sweep\n"
        "s = GridSearchCV(LogisticRegression(), {'C': [0.1, 1.0, 10.0]}, cv=3).fit(X, y)\n"
    ).raise_error()
    df = nt.search_runs()
    parent = only_run()
    assert parent.name == "sweep" and parent.status == "FINISHED"
    assert "nbtrack.autolog" not in parent.tags  # the cell's run, not one autolog started
    children = df[df.parent_run_id == parent.run_id]
    assert sorted(children["params.C"]) == ["0.1", "1.0", "10.0"]
    assert parent.metrics["best_cv_score"] == pytest.approx(ip.user_ns["s"].best_score_)
