"""Every flavor round-trips: predictions equal before and after, on a fixed input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import nbtrack as nt
from nbtrack.errors import NbtrackWarning


def _data() -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"age": rng.integers(18, 80, 60).astype("float64"),
                      "income": rng.normal(50, 10, 60)})
    y = pd.Series((X["age"] + X["income"] > 95).astype(int))
    return X, y


def _round_trip(model, X, *, name="model", warns=False, **kw):
    ctx = pytest.warns(NbtrackWarning, match="pickle") if warns else _nothing()
    with nt.start_run(), ctx:
        info = nt.log_model(model, name, input_example=X[:5], **kw)
    loaded = nt.load_model(info.model_uri)
    return info, loaded


class _nothing:
    def __enter__(self): return self
    def __exit__(self, *a): return False


def test_sklearn_round_trips_with_skops(store):
    from sklearn.ensemble import RandomForestClassifier

    X, y = _data()
    clf = RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y)
    info, loaded = _round_trip(clf, X)
    assert info.flavor == "sklearn" and info.format == "skops"
    assert type(loaded) is RandomForestClassifier
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    assert any(r.startswith("scikit-learn==") for r in info.requirements)
    assert any(r.startswith("skops==") for r in info.requirements)
    assert info.signature.inputs["columns"] == [
        {"name": "age", "dtype": "float64"}, {"name": "income", "dtype": "float64"}]


def _double(x):
    return x * 2


def test_sklearn_pipeline_with_a_user_function_uses_skops_with_its_types_trusted(store):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    X, y = _data()
    pipe = make_pipeline(FunctionTransformer(_double), LogisticRegression()).fit(X, y)
    info, loaded = _round_trip(pipe, X)
    assert info.format == "skops"
    assert any(t.endswith("_double") for t in info.loader["trusted"])
    np.testing.assert_array_equal(loaded.predict(X), pipe.predict(X))


def test_sklearn_without_skops_is_pickled_with_a_warning(store, monkeypatch):
    import sys

    from sklearn.linear_model import LinearRegression

    monkeypatch.setitem(sys.modules, "skops", None)
    monkeypatch.setitem(sys.modules, "skops.io", None)
    X, y = _data()
    reg = LinearRegression().fit(X, y)
    info, loaded = _round_trip(reg, X, warns=True)
    assert info.format == "pickle"
    np.testing.assert_allclose(loaded.predict(X), reg.predict(X))


def test_xgboost_wrapper_and_booster_round_trip_natively(store):
    xgb = pytest.importorskip("xgboost")
    X, y = _data()
    clf = xgb.XGBClassifier(n_estimators=5, max_depth=2).fit(X, y)
    info, loaded = _round_trip(clf, X)
    assert (info.flavor, info.format) == ("xgboost", "xgboost-ubj")
    assert type(loaded) is xgb.XGBClassifier
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    booster = xgb.train({"max_depth": 2}, xgb.DMatrix(X, label=y), num_boost_round=3)
    info, loaded = _round_trip(booster, X, name="booster")
    assert isinstance(loaded, xgb.Booster)
    np.testing.assert_array_equal(loaded.predict(xgb.DMatrix(X)), booster.predict(xgb.DMatrix(X)))
    pyf = nt.load_model(info.model_uri, as_pyfunc=True)
    np.testing.assert_array_equal(pyf.predict(X), booster.predict(xgb.DMatrix(X)))


@pytest.mark.parametrize("kind", ["classifier", "regressor", "booster"])
def test_lightgbm_round_trips_natively(store, kind):
    lgb = pytest.importorskip("lightgbm")
    X, y = _data()
    labels = y.map({0: "no", 1: "yes"})
    if kind == "classifier":
        model = lgb.LGBMClassifier(n_estimators=5, min_child_samples=2, verbose=-1).fit(X, labels)
    elif kind == "regressor":
        model = lgb.LGBMRegressor(n_estimators=5, min_child_samples=2, verbose=-1).fit(X, X["income"])
    else:
        model = lgb.train({"verbose": -1, "min_data_in_leaf": 2}, lgb.Dataset(X, label=y), 5)
    info, loaded = _round_trip(model, X)
    assert (info.flavor, info.format) == ("lightgbm", "lightgbm-txt")
    assert type(loaded) is type(model)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    if kind == "classifier":
        np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
        assert list(loaded.classes_) == ["no", "yes"]


class Doubler:
    """A python_function model: any object with predict."""

    def __init__(self, factor: float) -> None:
        self.factor = factor

    def predict(self, df):
        return df.sum(axis=1).to_numpy() * self.factor


def test_python_function_round_trips(store):
    X, _ = _data()
    model = Doubler(2.5)
    info, loaded = _round_trip(model, X, warns=True)
    assert info.flavor == "python_function"
    assert isinstance(loaded, Doubler)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    assert info.signature.outputs == {"kind": "tensor", "dtype": "float64", "shape": [-1]}


def test_model_files_are_run_artifacts_and_the_record_is_in_the_store(store):
    from sklearn.linear_model import LogisticRegression

    X, y = _data()
    with nt.start_run() as run:
        info = nt.log_model(LogisticRegression().fit(X, y), "clf/v1")
    assert nt.list_artifacts(run.id) == ["clf/v1/model.skops", "clf/v1/nbtrack_model.json"]
    blob = nt.read_artifact(run.id, "clf/v1/model.skops")
    import hashlib

    assert hashlib.sha256(blob).hexdigest() == info.sha256
    assert info.size == len(blob)


def test_keras_round_trips_in_its_own_format(store, monkeypatch):
    monkeypatch.setenv("KERAS_BACKEND", "jax")  # read when keras is first imported
    keras = pytest.importorskip("keras")
    X, _ = _data()
    inputs = X.to_numpy("float32")
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3, activation="relu"),
                              keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    info, loaded = _round_trip(model, inputs)
    assert (info.flavor, info.format) == ("keras", "keras")
    assert info.signature.inputs == {"kind": "tensor", "dtype": "float32", "shape": [-1, 2]}
    np.testing.assert_allclose(loaded.predict(inputs, verbose=0), model.predict(inputs, verbose=0))
    pyf = nt.load_model(info.model_uri, as_pyfunc=True)
    np.testing.assert_allclose(pyf.predict(inputs), model.predict(inputs, verbose=0))
    with pytest.raises(nt.SignatureError, match="shape"):
        pyf.predict(np.zeros((3, 5), "float32"))


def test_pytorch_state_dict_and_torchscript_round_trip(store, tmp_path):
    """PyTorch: the weights plus the class path (loaded weights_only), or TorchScript; the
    loaded module predicts the same, also in another process; as_pyfunc takes a frame."""
    torch = pytest.importorskip("torch")
    import subprocess
    import sys
    from pathlib import Path

    from tests.models._torch_nets import TinyNet

    torch.manual_seed(0)
    net = TinyNet().eval()
    X = np.random.default_rng(1).normal(size=(6, 2)).astype("float32")
    want = net(torch.as_tensor(X)).detach().numpy()
    with nt.start_run():
        info = nt.log_model(net, "net", input_example=X[:2])
        scripted = nt.log_model(torch.jit.script(net), "scripted")
    assert (info.flavor, info.format) == ("pytorch", "pytorch-state-dict")
    assert scripted.format == "torchscript"
    for uri in (info.model_uri, scripted.model_uri):
        back = nt.load_model(uri)
        assert not back.training
        np.testing.assert_array_equal(back(torch.as_tensor(X)).detach().numpy(), want)
    np.testing.assert_array_equal(nt.load_model(info.model_uri, as_pyfunc=True).predict(X), want)

    code = (
        "import sys, numpy as np, torch, nbtrack as nt\n"
        f"nt.set_store({str(store.fs.root)!r})\n"
        f"m = nt.load_model({info.model_uri!r})\n"
        "x = np.asarray(eval(sys.argv[1]), dtype='float32')\n"
        "print(m(torch.as_tensor(x)).detach().numpy().ravel().tolist())\n"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", code, repr(X.tolist())], capture_output=True, text=True,
        cwd=root, timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert np.allclose(eval(out.stdout.strip().splitlines()[-1]), want.ravel(), atol=0)


def test_pytorch_modules_that_cannot_be_rebuilt_are_refused_before_writing(store):
    torch = pytest.importorskip("torch")
    from nbtrack.errors import ModelError
    from tests.models._torch_nets import NeedsArgs

    class Local(torch.nn.Module):
        def forward(self, x):
            return x

    with nt.start_run() as run:
        with pytest.raises(ModelError, match=r"needs arguments \(width\).*torch.jit.script"):
            nt.log_model(NeedsArgs(3), "a")
        with pytest.raises(ModelError, match="another process cannot import it"):
            nt.log_model(Local(), "b")
    assert nt.list_artifacts(run.id) == []
