"""nt.autolog's own contract: names, errors, enable/disable, the guard."""

from __future__ import annotations

import warnings

import pytest

import nbtrack as nt
from nbtrack.errors import InvalidValueError, NbtrackWarning
from nbtrack.integrations import _guard, enabled_frameworks


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param("tensorflow-ish", id="unknown-name"),
        pytest.param(["sklearn", 3], id="not-a-string"),
    ],
)
def test_bad_framework_names_raise_before_anything_is_patched(bad):
    with pytest.raises(InvalidValueError, match="autolog"):
        nt.autolog(bad)
    assert enabled_frameworks() == []


def test_a_named_framework_that_is_not_installed_is_a_clear_error(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "xgboost" else real(name, *a)
    )
    with pytest.raises(InvalidValueError, match=r"xgboost is not installed.*nbtrack\[xgboost\]"):
        nt.autolog(["sklearn", "xgboost"])


def test_autolog_with_no_names_enables_the_installed_frameworks_and_disable_undoes_it():
    names = nt.autolog()
    assert "sklearn" in names
    assert set(enabled_frameworks()) == set(names)
    nt.autolog(disable=True)
    assert enabled_frameworks() == []


def test_aliases():
    assert nt.autolog("scikit-learn") == ["sklearn"]


@pytest.mark.autolog_failure
def test_guard_swallows_warns_once_per_integration_and_logs(caplog):
    import logging

    caplog.set_level(logging.DEBUG, logger="nbtrack")
    with pytest.warns(NbtrackWarning, match="the demo integration failed"), _guard.guard("demo"):
        raise KeyError("first")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with _guard.guard("demo"):
            raise KeyError("second")
    assert sum("demo integration failed" in r.getMessage() for r in caplog.records) == 2
    with pytest.warns(NbtrackWarning, match="the other integration"), _guard.guard("other"):
        raise KeyError("another integration warns on its own")


@pytest.mark.autolog_failure
def test_guard_survives_warnings_turned_into_errors():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with _guard.guard("strict"):
            raise RuntimeError("boom")


def test_guard_lets_base_exceptions_through():
    with pytest.raises(KeyboardInterrupt), _guard.guard("demo"):
        raise KeyboardInterrupt


@pytest.mark.autolog_failure
def test_guarded_returns_the_default():
    @_guard.guarded("deco", default=7)
    def f() -> int:
        raise RuntimeError("x")

    with pytest.warns(NbtrackWarning):
        assert f() == 7


def test_models_seam_logs_through_nbtrack_models_and_falls_back_to_an_artifact(store):
    """Autolog's models go through nbtrack.models.log_model (flavor, loadable by URI); an
    object no flavor takes is stored as a plain pickle artifact instead of nothing."""
    from sklearn.linear_model import LinearRegression

    from nbtrack.integrations import _models

    model = LinearRegression().fit([[0.0], [1.0], [2.0]], [0.0, 1.0, 2.0])
    with nt.start_run() as run:
        assert _models.log_model(run, model, "model") == ["model"]
        assert _models.log_model(run, {"w": 1}, "other") == ["other/model.pkl"]
    loaded = nt.load_model(f"runs:/{run.run_id}/model")
    assert loaded.predict([[3.0]]).tolist() == model.predict([[3.0]]).tolist()
    assert "other/model.pkl" in nt.list_artifacts(run.run_id)
