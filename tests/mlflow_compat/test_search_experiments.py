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


# ---- MLflow's own search_experiments cases, ported -------------------------------------
# The cases of MLflow's tests/store/tracking/test_sqlalchemy_store.py and test_file_store.py
# (test_search_experiments_view_type, _filter_by_attribute, _filter_by_time_attribute,
# _filter_by_tag, _filter_by_attribute_and_tag, _order_by, _order_by_time_attribute,
# _max_results, _max_results_validation, _pagination), rewritten here: each scenario runs
# on real MLflow (a SQLAlchemy store in SQLite, as MLflow's test) and on nbtrack.mlflow, and
# both must give the answers MLflow's tests expect (and therefore the same answers).


class _Side:
    """One tracking system: its module, a client, and a clock that MLflow's tests read."""

    def __init__(self, module, client) -> None:
        self.m, self.c = module, client

    def create(self, name, tags=None) -> str:
        time.sleep(0.01)  # distinct creation times (ms), as the MLflow tests' sleeps
        return self.c.create_experiment(name, tags=tags)

    def names(self, **kw) -> list[str]:
        return [e.name for e in self.c.search_experiments(**kw)]

    def ids(self, **kw) -> list[str]:
        return [e.experiment_id for e in self.c.search_experiments(**kw)]


@pytest.fixture(params=["mlflow", "nbtrack"])
def side(request, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    if request.param == "mlflow":
        uri = f"sqlite:///{tmp_path}/m.db"
        real.set_tracking_uri(uri)
        yield _Side(real, real.MlflowClient(tracking_uri=uri))
        real.set_tracking_uri("")
        return
    ntmlflow.set_tracking_uri(str(tmp_path / "nb"))
    yield _Side(ntmlflow, ntmlflow.MlflowClient())


def _touch(side, experiment_id) -> None:
    """Change an experiment's lifecycle there and back: its last_update_time moves in both
    systems (MLflow's tests rename it; nbtrack keeps experiment names fixed), and setting a
    tag does not move it (as in MLflow)."""
    time.sleep(0.01)
    side.c.set_experiment_tag(experiment_id, "touched", "no")
    side.c.delete_experiment(experiment_id)
    side.c.restore_experiment(experiment_id)


def _now_ms() -> int:
    return int(time.time() * 1000)


def test_view_type(side) -> None:
    ids = [side.create(n) for n in ("a", "b")]
    side.c.delete_experiment(ids[1])
    assert side.names(view_type=real.entities.ViewType.ACTIVE_ONLY) == ["a", "Default"]
    assert side.names(view_type=real.entities.ViewType.DELETED_ONLY) == ["b"]
    assert side.names(view_type=real.entities.ViewType.ALL) == ["b", "a", "Default"]


@pytest.mark.parametrize(
    ("filter_string", "want"),
    [
        ("name = 'a'", ["a"]),
        ("attribute.name = 'a'", ["a"]),
        ("attribute.`name` = 'a'", ["a"]),
        ("attribute.`name` != 'a'", ["Abc", "ab", "Default"]),
        ("name LIKE 'a%'", ["ab", "a"]),
        ("name ILIKE 'a%'", ["Abc", "ab", "a"]),
        ("name ILIKE 'a%' AND name ILIKE '%b'", ["ab"]),
        ("name LIKE '_b'", ["ab"]),
        ("experiment_id IN ('0')", ["Default"]),
        ("experiment_id NOT IN ('0')", ["Abc", "ab", "a"]),
        ("experiment_id = '0'", ["Default"]),
        ('name = "a"', ["a"]),
    ],
)
def test_filter_by_attribute(side, filter_string, want) -> None:
    for n in ("a", "ab", "Abc"):
        side.create(n)
    assert side.names(filter_string=filter_string) == want


def test_filter_by_time_attribute(side) -> None:
    time.sleep(0.01)
    before1 = _now_ms()
    id1 = side.create("1")
    exp1 = side.c.get_experiment(id1)
    time.sleep(0.01)
    before2 = _now_ms()
    id2 = side.create("2")
    exp2 = side.c.get_experiment(id2)
    assert side.ids(filter_string=f"creation_time = {exp1.creation_time}") == [id1]
    assert side.ids(filter_string=f"creation_time != {exp1.creation_time}") == [id2, "0"]
    assert side.ids(filter_string=f"creation_time >= {before1}") == [id2, id1]
    assert side.ids(filter_string=f"creation_time < {before2}") == [id1, "0"]
    time.sleep(0.01)
    assert side.ids(filter_string=f"creation_time >= {_now_ms()}") == []
    time.sleep(0.01)
    before_touch = _now_ms()
    side.c.set_experiment_tag(id2, "k", "v")  # a tag leaves last_update_time alone
    _touch(side, id1)
    assert side.ids(filter_string=f"last_update_time >= {before_touch}") == [id1]
    assert set(side.ids(filter_string=f"last_update_time <= {_now_ms()}")) == {id1, id2, "0"}
    assert side.ids(filter_string=f"last_update_time = {exp2.last_update_time}") == [id2]


@pytest.mark.parametrize(
    ("filter_string", "want"),
    [
        ("tag.key1 = 'value'", ["exp1"]),
        ("tag.`k e y 1` = 'value'", ["exp3"]),
        ("tag.\"k e y 1\" = 'value'", ["exp3"]),
        ("tag.key1 != 'value'", ["exp2"]),
        ("tag.key1 != 'VALUE'", ["exp2", "exp1"]),
        ("tag.key1 LIKE 'val%'", ["exp1"]),
        ("tag.key1 LIKE '%Lue'", ["exp2"]),
        ("tag.key1 ILIKE '%alu%'", ["exp2", "exp1"]),
        ("tag.key1 LIKE 'va%' AND tag.key2 LIKE '%Lue'", ["exp2"]),
        ("tag.KEY = 'value'", []),
        ("tags.key1 = 'value'", ["exp1"]),
        ("tags.key2 IS NULL", ["exp3", "Default"]),
        ("tags.key2 IS NOT NULL", ["exp2", "exp1"]),
    ],
)
def test_filter_by_tag(side, filter_string, want) -> None:
    side.create("exp1", tags={"key1": "value", "key2": "value"})
    side.create("exp2", tags={"key1": "vaLue", "key2": "vaLue"})
    side.create("exp3", tags={"k e y 1": "value"})
    assert side.names(filter_string=filter_string) == want


def test_filter_by_attribute_and_tag(side) -> None:
    side.create("exp1", tags={"a": "1", "b": "2"})
    side.create("exp2", tags={"a": "3", "b": "4"})
    assert side.names(filter_string="name ILIKE 'exp%' AND tags.a = '1'") == ["exp1"]
    assert side.names(filter_string="name ILIKE 'exp%' and tag.b != '2'") == ["exp2"]


@pytest.mark.parametrize(
    ("order_by", "want"),
    [
        (["name"], ["Default", "x", "y", "z"]),
        (["name ASC"], ["Default", "x", "y", "z"]),
        (["name DESC"], ["z", "y", "x", "Default"]),
        (["experiment_id DESC"], ["z", "y", "x", "Default"]),
        (["name", "experiment_id"], ["Default", "x", "y", "z"]),
        (["experiment_id"], ["Default", "x", "y", "z"]),
    ],
)
def test_order_by(side, order_by, want) -> None:
    for n in ("x", "y", "z"):
        side.create(n)
    assert side.names(order_by=order_by) == want


def test_order_by_time_attribute(side) -> None:
    id1 = side.create("1")
    id2 = side.create("2")
    assert side.ids(order_by=["creation_time"]) == ["0", id1, id2]
    assert side.ids(order_by=["creation_time DESC"]) == [id2, id1, "0"]
    assert side.ids(order_by=["last_update_time"]) == ["0", id1, id2]
    side.c.set_experiment_tag(id2, "k", "v")
    assert side.ids(order_by=["last_update_time"]) == ["0", id1, id2]
    _touch(side, id1)
    assert side.ids(order_by=["last_update_time"]) == ["0", id2, id1]


def test_max_results_and_pages(side) -> None:
    names = [str(i) for i in range(9)]
    for n in names:
        side.create(n)
    newest_first = names[::-1]
    assert side.names() == [*newest_first, "Default"]
    assert side.names(max_results=3) == newest_first[:3]
    page = side.c.search_experiments(max_results=4)
    assert [e.name for e in page] == newest_first[:4] and page.token is not None
    page = side.c.search_experiments(max_results=4, page_token=page.token)
    assert [e.name for e in page] == newest_first[4:8] and page.token is not None
    page = side.c.search_experiments(max_results=4, page_token=page.token)
    assert [e.name for e in page] == [*newest_first[8:], "Default"] and page.token is None
    # the fluent function pages through everything
    assert [e.name for e in side.m.search_experiments()] == [*newest_first, "Default"]


@pytest.mark.parametrize(
    ("max_results", "message"),
    [(0, "It must be a positive integer"), (1_000_000, "It must be at most 50000")],
)
def test_max_results_out_of_range(side, max_results, message) -> None:
    with (
        pytest.raises(real.exceptions.MlflowException, match=message)
        if side.m is real
        else (pytest.raises(MlflowException, match=message))
    ):
        side.c.search_experiments(max_results=max_results)


@pytest.mark.parametrize(
    "bad",
    [
        "name = 'a' OR name = 'b'",
        "metrics.x > 1",
        "size = 'a'",
        "creation_time > 'yesterday'",
        "name > 'a'",
        "name IS NULL",
        "name IN ('a')",
        "name = ",
    ],
)
def test_a_malformed_filter_is_an_invalid_parameter_error(side, bad) -> None:
    side.create("a")
    errors = real.exceptions.MlflowException if side.m is real else MlflowException
    with pytest.raises(errors) as got:
        side.c.search_experiments(filter_string=bad)
    assert got.value.error_code == "INVALID_PARAMETER_VALUE"
