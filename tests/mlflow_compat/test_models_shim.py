"""MLflow model code on nbtrack: flavors' log_model/load_model, register_model, the client."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import nbtrack as nt
import nbtrack.mlflow as mlflow
from nbtrack.mlflow import MlflowClient, MlflowException

X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0], "b": [1.0, 0.0, 1.0, 0.0]})
y = [0, 0, 1, 1]


@pytest.fixture(autouse=True)
def _store(store):
    return store


def test_sklearn_log_model_register_and_load_like_mlflow():
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression().fit(X, y)
    with mlflow.start_run() as run:
        info = mlflow.sklearn.log_model(clf, name="model", input_example=X.head(2),
                                        registered_model_name="clf")
    assert info.model_uri == f"runs:/{run.info.run_id}/model"
    assert info.registered_model_version == 1 and "sklearn" in info.flavors
    loaded = mlflow.sklearn.load_model("models:/clf/1")
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))
    mv = mlflow.register_model(info.model_uri, "clf", tags={"stage": "candidate"})
    assert (mv.version, mv.tags) == ("2", {"stage": "candidate"})
    client = MlflowClient()
    client.set_registered_model_alias("clf", "champion", "2")
    assert client.get_model_version_by_alias("clf", "champion").version == "2"
    assert client.get_registered_model("clf").aliases == {"champion": "2"}
    pyf = mlflow.pyfunc.load_model("models:/clf@champion")
    np.testing.assert_array_equal(pyf.predict(X), clf.predict(X))
    with pytest.raises(nt.SignatureError):
        pyf.predict(X.drop(columns="b"))


def test_log_model_starts_a_run_when_none_is_active_as_mlflow_does():
    from sklearn.linear_model import LinearRegression

    info = mlflow.sklearn.log_model(LinearRegression().fit(X, y), "lr")
    assert mlflow.active_run().info.run_id == info.run_id
    mlflow.end_run()


def test_client_registry_methods():
    from sklearn.linear_model import LinearRegression

    with mlflow.start_run():
        info = mlflow.sklearn.log_model(LinearRegression().fit(X, y), name="m")
    client = MlflowClient()
    rm = client.create_registered_model("reg", tags={"team": "a"}, description="d")
    assert (rm.name, rm.tags, rm.description, rm.latest_versions) == ("reg", {"team": "a"}, "d", [])
    with pytest.raises(MlflowException) as err:
        client.create_registered_model("reg")
    assert err.value.error_code == "INVALID_PARAMETER_VALUE"
    v1 = client.create_model_version("reg", info.model_uri, run_id=info.run_id, description="first")
    v2 = client.create_model_version("reg", info.model_uri)
    assert (v1.version, v1.description, v2.version) == ("1", "first", "2")
    client.update_model_version("reg", "1", description="changed")
    assert client.get_model_version("reg", "1").description == "changed"
    client.update_registered_model("reg", description="new")
    client.set_registered_model_tag("reg", "k", "v")
    client.set_model_version_tag("reg", "2", "ok", "yes")
    assert client.get_registered_model("reg").tags == {"team": "a", "k": "v"}
    client.delete_registered_model_tag("reg", "team")
    client.delete_model_version_tag("reg", "2", "ok")
    assert client.get_model_version("reg", "2").tags == {}
    assert [m.name for m in client.search_registered_models("name = 'reg'")] == ["reg"]
    assert [v.version for v in client.search_model_versions("name = 'reg'")] == ["2", "1"]
    assert [v.version for v in client.get_latest_versions("reg")] == ["2"]
    client.set_registered_model_alias("reg", "prod", 1)
    client.delete_registered_model_alias("reg", "prod")
    with pytest.raises(MlflowException) as err:
        client.get_model_version_by_alias("reg", "prod")
    assert err.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    client.delete_model_version("reg", "2")
    assert [v.version for v in client.search_model_versions("name = 'reg'")] == ["1"]
    client.delete_registered_model("reg")
    with pytest.raises(MlflowException) as err:
        client.get_registered_model("reg")
    assert err.value.error_code == "RESOURCE_DOES_NOT_EXIST"
