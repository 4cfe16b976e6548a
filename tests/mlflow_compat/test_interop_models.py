"""``nbtrack import`` carries MLflow's model registry: names, versions, aliases, tags, and
the models themselves (scikit-learn ones load natively)."""

from __future__ import annotations

import numpy as np
import pytest

import nbtrack as nt
from nbtrack import models
from nbtrack.interop import import_mlflow

real = pytest.importorskip("mlflow")


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # MLflow puts a SQLite store's artifacts under ./mlruns
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")


@pytest.mark.parametrize("kind", ["sqlite", "files"])
def test_import_carries_registered_models_versions_and_aliases(tmp_path, store, kind):
    from sklearn.linear_model import LinearRegression

    uri = f"sqlite:///{tmp_path}/src.db" if kind == "sqlite" else str(tmp_path / "mlruns")
    X = np.array([[0.0], [1.0], [2.0]])
    real.set_tracking_uri(uri)
    fitted = []
    try:
        for i, fmt in enumerate(("skops", "cloudpickle"), start=1):
            m = LinearRegression().fit(X, X[:, 0] * i)
            fitted.append(m)
            with real.start_run():
                real.sklearn.log_model(m, name="model", serialization_format=fmt,
                                       registered_model_name="lr")
        client = real.MlflowClient()
        client.set_registered_model_alias("lr", "champion", "2")
        client.set_model_version_tag("lr", "1", "stage", "old")
        client.set_registered_model_tag("lr", "team", "growth")
        client.update_registered_model("lr", description="linear")
    finally:
        real.set_tracking_uri("")
    stats = import_mlflow(uri)
    assert (stats.registered_models, stats.model_versions, stats.versions_skipped) == (1, 2, 0)
    rm = models.get_registered_model("lr")
    assert (rm.description, rm.tags, rm.aliases, rm.latest_version) == (
        "linear", {"team": "growth"}, {"champion": 2}, 2)
    assert models.get_model_version("lr", 1).tags == {"stage": "old"}
    for version, m in enumerate(fitted, start=1):
        loaded = nt.load_model(f"models:/lr/{version}")
        np.testing.assert_allclose(loaded.predict(X), m.predict(X))
    assert nt.load_model("models:/lr@champion").coef_[0] == pytest.approx(2.0)
    assert models.model_info("models:/lr/1").format == "skops"
    assert models.model_info("models:/lr/2").format == "pickle"
    again = import_mlflow(uri)  # importing twice adds nothing
    assert (again.registered_models, again.model_versions) == (0, 0)
    run_id = models.get_model_version("lr", 1).run_id
    assert nt.register_model(f"runs:/{run_id}/model", "lr").version == 3


@pytest.mark.parametrize("kind", ["sqlite", "files"])
def test_export_writes_the_registry_and_mlflow_loads_the_champion(tmp_path, store, kind):
    from sklearn.linear_model import LinearRegression

    from nbtrack.interop import export_mlflow

    X = np.array([[0.0], [1.0], [2.0]])
    fitted = []
    for i in (1, 2):
        m = LinearRegression().fit(X, X[:, 0] * i)
        fitted.append(m)
        with nt.start_run():
            info = nt.log_model(m, "model")
        nt.register_model(info.model_uri, "lr", description=f"v{i}", tags={"i": str(i)})
    nt.set_model_alias("lr", "champion", 2)
    models.set_registered_model_tag("lr", "team", "growth")
    dest = f"sqlite:///{tmp_path}/out.db" if kind == "sqlite" else str(tmp_path / "out")
    assert export_mlflow(dest) == 2
    real.set_tracking_uri(dest)
    real.set_registry_uri(dest)
    try:
        client = real.MlflowClient()
        rm = client.get_registered_model("lr")
        assert rm.tags == {"team": "growth"}
        assert {a: str(v) for a, v in rm.aliases.items()} == {"champion": "2"}
        mv = client.get_model_version_by_alias("lr", "champion")
        assert (str(mv.version), mv.description, mv.tags) == ("2", "v2", {"i": "2"})
        loaded = real.sklearn.load_model("models:/lr@champion")
        np.testing.assert_allclose(loaded.predict(X), fitted[1].predict(X))
        first = real.sklearn.load_model("models:/lr/1")
        np.testing.assert_allclose(first.predict(X), fitted[0].predict(X))
    finally:
        real.set_tracking_uri("")
        real.set_registry_uri("")
