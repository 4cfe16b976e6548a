"""``mlflow.autolog``, ``mlflow.<flavor>.autolog`` and MLflow's system-metrics switches on
nbtrack.mlflow: they turn on nbtrack's integrations and sampler, with MLflow's parameters."""

from __future__ import annotations

import inspect
import os
import time

import numpy as np
import pytest

import nbtrack as nt
import nbtrack.mlflow as mlflow
from nbtrack import config
from nbtrack.errors import ConfigError
from nbtrack.integrations import enabled_frameworks
from tests._system_keys import SYSTEM_KEYS

pytest.importorskip("sklearn")
from sklearn.linear_model import LogisticRegression


@pytest.fixture(autouse=True)
def _clean(store):
    yield
    while nt.active_run() is not None:
        nt.end_run()
    nt.autolog(disable=True)
    config.set_system_metrics(None)
    config.set_system_metrics_interval(None)


def _xy() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 3))
    return x, (x[:, 0] > 0).astype(int)


@pytest.mark.parametrize(
    "flavor", ["sklearn", "xgboost", "lightgbm", "pytorch", "transformers", "keras"]
)
def test_flavor_autolog_has_mlflows_parameters(flavor, monkeypatch):
    monkeypatch.setenv("KERAS_BACKEND", os.environ.get("KERAS_BACKEND", "jax"))
    real = pytest.importorskip("mlflow")
    theirs = inspect.signature(getattr(real, flavor).autolog).parameters
    ours = inspect.signature(getattr(mlflow, flavor).autolog).parameters
    assert {k: p.default for k, p in ours.items()} == {k: p.default for k, p in theirs.items()}
    assert list(ours) == list(theirs)


def test_sklearn_autolog_records_a_fit_in_the_active_run():
    x, y = _xy()
    mlflow.sklearn.autolog(log_models=False)
    with mlflow.start_run() as run:
        LogisticRegression(C=0.5).fit(x, y)
    got = mlflow.get_run(run.info.run_id)
    assert got.data.params["C"] == "0.5"
    assert "training_accuracy_score" in got.data.metrics
    assert not any(
        p.path.startswith("model") for p in mlflow.MlflowClient().list_artifacts(run.info.run_id)
    )  # log_models=False is followed
    # Turned off again: a fit outside any run starts none.
    mlflow.sklearn.autolog(disable=True)
    LogisticRegression().fit(x, y)
    assert len(nt.search_runs()) == 1


def test_autolog_starts_a_run_for_a_fit_and_last_active_run_finds_it():
    x, y = _xy()
    mlflow.autolog(log_models=False, silent=True)
    LogisticRegression().fit(x, y)
    last = mlflow.last_active_run()
    assert last is not None and last.info.status == "FINISHED"
    assert "training_log_loss" in last.data.metrics


def test_autolog_exclude_flavors_and_unfollowed_options():
    x, y = _xy()
    mlflow.autolog(exclude_flavors=["sklearn"])
    LogisticRegression().fit(x, y)
    assert nt.search_runs().empty  # sklearn was left out
    enabled = enabled_frameworks()
    with pytest.raises(NotImplementedError, match="exclusive"):
        mlflow.autolog(exclusive=True)
    assert enabled_frameworks() == enabled  # refused before anything changed
    with pytest.raises(TypeError, match="unexpected keyword argument 'nope'"):
        mlflow.sklearn.autolog(nope=1)


def test_system_metrics_switches_and_interval():
    mlflow.set_system_metrics_sampling_interval(0.1)
    mlflow.enable_system_metrics_logging()
    with mlflow.start_run() as run:
        deadline = time.monotonic() + 60
        while len(nt.get_metric_history(run.info.run_id, "system/cpu_percent")) < 2:
            assert time.monotonic() < deadline, "no second sample within 60 s"
            time.sleep(0.05)
    assert set(SYSTEM_KEYS) <= set(mlflow.get_run(run.info.run_id).data.metrics)
    mlflow.disable_system_metrics_logging()
    with mlflow.start_run() as plain:
        pass
    assert not any(k.startswith("system/") for k in mlflow.get_run(plain.info.run_id).data.metrics)
    with mlflow.start_run(log_system_metrics=True) as asked:  # per run, while disabled
        deadline = time.monotonic() + 60
        while nt.get_metric_history(asked.info.run_id, "system/cpu_percent").empty:
            assert time.monotonic() < deadline, "no sample within 60 s"
            time.sleep(0.05)
    mlflow.set_system_metrics_samples_before_logging(1)  # what nbtrack does anyway
    for bad in (0, -1.0, float("nan"), "10", True):
        with pytest.raises(ConfigError, match="greater than 0"):
            mlflow.set_system_metrics_sampling_interval(bad)
    mlflow.set_system_metrics_sampling_interval(None)
    assert config.system_metrics_interval() == 10.0
