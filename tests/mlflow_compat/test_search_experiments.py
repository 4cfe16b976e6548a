"""``search_experiments`` orders like MLflow's: default most recently updated first, order_by
on name / creation_time / last_update_time with ASC/DESC and the ``attribute.`` prefix,
case-sensitive name order; a bad order_by is an MlflowException (issue 13)."""

from __future__ import annotations

import time

import pytest

import nbtrack.mlflow as ntmlflow
from nbtrack.mlflow.exceptions import MlflowException

real = pytest.importorskip("mlflow")

ORDERS = [
    None,
    ["name"],
    ["name DESC"],
    ["attribute.name ASC"],
    ["creation_time"],
    ["creation_time DESC"],
    ["last_update_time DESC"],
    ["last_update_time", "name DESC"],
]


def _names(module, client, order_by) -> list[str]:
    names = [e.name for e in module.search_experiments(order_by=order_by)]
    return [n for n in names if n != "Default"]  # each system creates its default its way


def test_orders_equal_mlflows(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    real.set_tracking_uri((tmp_path / "mlruns").as_uri())
    ntmlflow.set_tracking_uri(str(tmp_path / "nb"))
    rc, nc = real.MlflowClient(), ntmlflow.MlflowClient()
    for name in ["b", "a", "c", "B", "Zeta"]:
        rc.create_experiment(name)
        nc.create_experiment(name)
        time.sleep(0.02)  # distinct creation times (ms) in both systems
    for order_by in ORDERS:
        assert _names(ntmlflow, nc, order_by) == _names(real, rc, order_by), order_by


@pytest.mark.parametrize("bad", [["size"], ["name SIDEWAYS"], ["metrics.x DESC"]])
def test_a_bad_order_by_is_an_mlflow_error(tmp_path, bad) -> None:
    ntmlflow.set_tracking_uri(str(tmp_path / "nb"))
    with pytest.raises(MlflowException, match="Invalid order_by clause"):
        ntmlflow.search_experiments(order_by=bad)
