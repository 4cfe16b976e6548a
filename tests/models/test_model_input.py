"""Signatures reject wrong input clearly; bad models and names are refused before writing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import nbtrack as nt
from nbtrack.errors import ArtifactError, ModelError, NoActiveRunError, SignatureError
from nbtrack.models import Signature, infer_signature


@pytest.fixture
def churn(store):
    from sklearn.linear_model import LogisticRegression

    X = pd.DataFrame({"age": [20, 30, 40, 50, 60, 70], "plan": ["a", "b", "a", "b", "a", "b"],
                      "spend": [1.0, 2.5, 3.0, 0.5, 2.0, 4.0]})
    y = [0, 1, 0, 1, 0, 1]

    class Model:
        def __init__(self) -> None:
            self.clf = LogisticRegression().fit(X[["age", "spend"]], y)

        def predict(self, df):
            return self.clf.predict(df[["age", "spend"]])

    with nt.start_run(), pytest.warns(nt.NbtrackWarning):
        info = nt.log_model(Model(), "churn", input_example=X.head(2))
    return nt.load_model(info.model_uri, as_pyfunc=True), X


def test_signature_is_inferred_from_the_example(churn):
    model, X = churn
    assert model.signature.describe() == "age: int64, plan: str, spend: float64"
    np.testing.assert_array_equal(model.predict(X), model.native.predict(X))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param(lambda X: X.drop(columns="spend"), "missing column(s) 'spend'", id="missing"),
        pytest.param(lambda X: X.assign(extra=1), "unexpected column(s) 'extra'", id="extra"),
        pytest.param(lambda X: X.assign(age=X["age"].astype(str)), "column 'age' is str, expected int64", id="str-for-int"),
        pytest.param(lambda X: X.assign(age=X["age"] + 0.5), "column 'age' is float64, expected int64", id="float-for-int"),
        pytest.param(lambda X: X.to_numpy(), "takes a table with columns", id="array"),
    ],
)
def test_wrong_input_raises_a_signature_error_naming_the_problem(churn, change, message):
    model, X = churn
    with pytest.raises(SignatureError) as err:
        model.predict(change(X))
    assert message in str(err.value)
    assert "age: int64, plan: str, spend: float64" in str(err.value)


def test_integers_are_accepted_where_floats_are_expected(churn):
    model, X = churn
    out = model.predict(X.assign(spend=X["spend"].round().astype("int64")))
    assert len(out) == len(X)


def test_columns_in_another_order_are_reordered(churn):
    model, X = churn
    np.testing.assert_array_equal(model.predict(X[["spend", "plan", "age"]]), model.predict(X))


def test_tensor_signatures_check_dtype_and_shape():
    sig = infer_signature(np.zeros((4, 3), dtype="float32"))
    assert sig.inputs == {"kind": "tensor", "dtype": "float32", "shape": [-1, 3]}
    from nbtrack.models.signature import check_input

    assert check_input(sig, np.ones((7, 3), dtype="float32")).shape == (7, 3)
    with pytest.raises(SignatureError, match=r"shape is \[7, 4\], expected \[-1, 3\]"):
        check_input(sig, np.ones((7, 4), dtype="float32"))
    with pytest.raises(SignatureError, match="dtype is <U1, expected float32"):
        check_input(sig, np.full((2, 3), "a"))


def test_an_explicit_signature_wins_and_a_bad_one_is_refused(store):
    from sklearn.linear_model import LinearRegression

    X = pd.DataFrame({"x": [1.0, 2.0]})
    sig = Signature({"kind": "columns", "columns": [{"name": "x", "dtype": "float64"}]})
    with nt.start_run():
        info = nt.log_model(LinearRegression().fit(X, [1, 2]), "m", signature=sig)
        assert info.signature == sig
        with pytest.raises(nt.InvalidValueError, match="signature must be"):
            nt.log_model(LinearRegression().fit(X, [1, 2]), "m2", signature="x: float")


def _files(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")
                  if p.is_file() and "_writers" not in p.parts)


@pytest.mark.parametrize(
    ("model", "name", "error", "match"),
    [
        pytest.param(object(), "m", ModelError, "does not know how to log", id="unknown-object"),
        pytest.param(42, "m", ModelError, "does not know how to log", id="int"),
        pytest.param(type("Est", (), {"predict": lambda s, x: x}), "m", ModelError,
                     "does not know how to log", id="a-class-not-an-instance"),
        pytest.param(None, "../escape", ArtifactError, "climbs out", id="dotdot"),
        pytest.param(None, "/abs/path", ArtifactError, "absolute", id="absolute"),
        pytest.param(None, "", ModelError, "needs a name", id="empty"),
        pytest.param(None, "bad*name", ArtifactError, "bad", id="bad-char"),
    ],
)
def test_bad_models_and_names_are_refused_before_anything_is_written(
    store, store_path, model, name, error, match
):
    from sklearn.linear_model import LinearRegression

    if model is None:
        model = LinearRegression().fit([[1.0], [2.0]], [1.0, 2.0])
    with nt.start_run() as run:
        store.flush()
        before = _files(store_path)
        with pytest.raises(error, match=match):
            nt.log_model(model, name)
        store.flush()
        assert _files(store_path) == before
    assert nt.list_artifacts(run.id) == []


def test_a_model_bigger_than_the_limit_is_refused_before_anything_is_written(
    store, store_path, monkeypatch
):
    from sklearn.linear_model import LinearRegression

    model = LinearRegression().fit(np.random.default_rng(0).normal(size=(50, 400)), np.ones(50))
    monkeypatch.setenv("NBTRACK_MODEL_MAX_BYTES", "2000")
    with nt.start_run() as run:
        store.flush()
        before = _files(store_path)
        with pytest.raises(ModelError, match="more than NBTRACK_MODEL_MAX_BYTES"):
            nt.log_model(model, "big")
        store.flush()
        assert _files(store_path) == before
    assert nt.list_artifacts(run.id) == []


def test_unknown_flavor_and_no_active_run_are_refused(store):
    with pytest.raises(NoActiveRunError, match="log_model"):
        nt.log_model(object(), "m")
    with nt.start_run(), pytest.raises(ModelError, match="unknown flavor 'onnx'"):
        nt.log_model(object(), "m", flavor="onnx")


def test_load_model_refuses_bad_uris(store):
    for uri, match in [("runs:/", "bad model URI"), ("file:///tmp/x", "bad model URI"),
                       ("models:/", "bad model URI"), ("models:/../x/1", "not allowed"), (3, "is a string")]:
        with pytest.raises(ModelError, match=match):
            nt.load_model(uri)
    with pytest.raises(nt.RunNotFoundError):
        nt.load_model("runs:/nosuchrun/model")
