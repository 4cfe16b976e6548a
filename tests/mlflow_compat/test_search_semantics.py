"""Search semantics identical to MLflow's: the same data in real MLflow (its SQL store) and
in nbtrack (imported), the same filter/order_by, the same runs in the same order — through
``nbtrack.mlflow.search_runs`` and ``nbtrack.search_runs``.

The cases are ported (rewritten) from MLflow's tests/utils/test_search_utils.py
(test_filter, test_correct_filtering, test_correct_sorting,
test_order_by_metric_with_nans_infs_nones, test_filter_runs_by_start_time/end_time/user_id,
test_filter_runs_by_tag_and_param_is_null) and its SQL store's run-name/alias cases.
"""

from __future__ import annotations

import pytest

import nbtrack as nt
import nbtrack.mlflow as ntmlflow
from nbtrack.interop import import_mlflow

real = pytest.importorskip("mlflow")
from mlflow import MlflowClient as RealClient  # noqa: E402
from mlflow.entities import Metric, Param, RunTag, ViewType  # noqa: E402

T0 = 1_700_000_000_000


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Runs with metrics (incl. NaN, ±inf, missing), params, tags, inputs, parents, ties."""
    tmp = tmp_path_factory.mktemp("search")
    uri = f"sqlite:///{tmp}/m.db"
    c = RealClient(tracking_uri=uri)
    exp = c.create_experiment("search")
    specs = [
        # name, start offset, status, x metric, key1, my_param, tag1, lr
        ("a", 0, "FAILED", "nan", 121, "A", None, "0.01"),
        ("b", 1, "FINISHED", "inf", 123, "A", "C", None),
        ("c", 1, "FAILED", "-inf", 125, "B", "D", "0.1"),
        ("d", 2, "FINISHED", "-1000", None, "10", "D", "2"),
        ("e", 3, "KILLED", "0", 5, None, "c", "1e-2"),
        ("f", 4, "FINISHED", "1000", 5, "9", None, None),
        ("g", 5, "FINISHED", None, -1, "a", "", "0.010"),
    ]
    ids = {}
    for name, off, status, x, key1, my_param, tag1, lr in specs:
        run = c.create_run(exp, start_time=T0 + off * 1000, run_name=name)
        rid = run.info.run_id
        ids[name] = rid
        metrics = [] if x is None else [Metric("x", float(x), T0, 0)]
        if key1 is not None:
            metrics.append(Metric("key1", key1, T0, 0))
        params = [Param(k, v) for k, v in (("my_param", my_param), ("lr", lr)) if v is not None]
        tags = [RunTag("tag1", tag1)] if tag1 is not None else []
        c.log_batch(rid, metrics=metrics, params=params, tags=tags)
        c.set_terminated(rid, status, end_time=T0 + 10_000 + off)
    child = c.create_run(
        exp, start_time=T0 + 6000, run_name="child", tags={"mlflow.parentRunId": ids["a"]}
    )
    c.set_terminated(child.info.run_id, "FINISHED", end_time=T0 + 20_000)
    ids["child"] = child.info.run_id
    c.delete_run(ids["f"])
    nt.set_store(str(tmp / "nb"))
    import_mlflow(uri)
    nt.set_experiment("search")
    return {
        "uri": uri,
        "exp": exp,
        "ids": ids,
        "names": {v: k for k, v in ids.items()},
        "store": str(tmp / "nb"),
    }


def _real(world, filter_string="", order_by=None, view=ViewType.ACTIVE_ONLY):
    c = RealClient(tracking_uri=world["uri"])
    runs = c.search_runs([world["exp"]], filter_string, view, order_by=order_by)
    return [world["names"][r.info.run_id] for r in runs]


def _ours(world, filter_string="", order_by=None, view=ViewType.ACTIVE_ONLY):
    nt.set_store(world["store"])
    runs = ntmlflow.search_runs(
        [world["exp"]],
        filter_string,
        run_view_type=view,
        order_by=order_by,
        output_format="list",
    )
    got = [world["names"][r.info.run_id] for r in runs]
    if view == ViewType.ACTIVE_ONLY and filter_string not in NBTRACK_VALUES:
        df = nt.search_runs("search", filter=filter_string, order_by=order_by)
        assert [world["names"][i] for i in df["run_id"]] == got
    return got


# nbtrack.search_runs compares these values its own documented way (a quoted number matches
# a param numerically; NaN is the largest number, as DuckDB orders it); nbtrack.mlflow
# compares them as MLflow does. docs/mlflow.md, rows "param text" and "NaN comparisons".
NBTRACK_VALUES = {"params.lr = '0.01'", "metrics.x > 0", "metrics.x != 5"}


FILTERS = [
    None,
    "",
    "attributes.status = 'FAILED'",
    "run.status = 'FINISHED'",
    "attribute.status != 'FAILED'",
    "metrics.key1 = 123",
    "metrics.key1 != 123",
    "metrics.key1 >= 123",
    "metric.key1 < 6",
    "metrics.x > 0",
    "metrics.x != 5",
    "metrics.x <= -1000",
    "`metric`.key1 >= 0.1",
    "`metrics`.x = 0",
    "params.my_param = 'A'",
    "params.my_param != 'A'",
    "`params`.my_param = 'B'",
    'params."my_param" != "A"',
    "params.my_param LIKE 'A%'",
    "params.my_param ILIKE 'a'",
    "params.lr = '0.01'",
    "params.lr IS NULL",
    "params.lr IS NOT NULL",
    "tags.tag1 = 'D'",
    "tags.tag1 != 'D'",
    "`tags`.tag1 = 'C'",
    "tags.tag1 LIKE '%'",
    "tags.tag1 ILIKE 'c'",
    "tags.tag1 = ''",
    "tags.tag1 IS NULL",
    "tags.tag1 IS NOT NULL",
    "params.my_param = 'A' AND attributes.status = 'FAILED'",
    "attributes.run_name = 'b'",
    "attributes.`Run name` = 'c'",
    "attributes.`run name` = 'd'",
    "attributes.`Run Name` LIKE '%'",
    "run_name = 'e'",
    "tags.mlflow.runName = 'b'",
    "tags.`mlflow.runName` ILIKE 'C%'",
    "attributes.created > 1700000002000",
    "attributes.Created >= 1700000001000",
    "attribute.start_time = 1700000001000",
    "attributes.end_time > 1700000010002",
    f"attributes.start_time < {T0 + 3000} AND metrics.key1 > 0",
]


@pytest.mark.parametrize("filter_string", FILTERS)
def test_filter_matches_mlflow(world, filter_string):
    expected = _real(world, filter_string)
    assert _ours(world, filter_string) == expected


def test_filter_by_run_id_and_parent(world):
    rid = world["ids"]["c"]
    for f in (
        f"attributes.run_id = '{rid}'",
        f"run_id = '{rid}'",
        f"attributes.run_id IN ('{rid}')",
    ):
        assert _ours(world, f) == _real(world, f) == ["c"]
    parent = world["ids"]["a"]
    f = f"tags.mlflow.parentRunId = '{parent}'"
    assert _ours(world, f) == _real(world, f) == ["child"]
    # nbtrack's own spelling of the same thing
    assert list(
        nt.search_runs("search", filter=f"attributes.parent_run_id = '{parent}'")["run_id"]
    ) == [world["ids"]["child"]]


ORDERS = [
    None,
    [],
    ["tags.noSuchTag"],
    ["attributes.status"],
    ["attributes.start_time"],
    ["start_time DESC"],
    ["created"],
    ["attributes.Created DESC"],
    ["metrics.key1 asc"],
    ['metrics."key1"  desc'],
    ["metrics.x"],
    ["metrics.x DESC"],
    ["metrics.`x` ASC"],
    ["params.my_param"],
    ["params.my_param aSc", "attributes.status  ASC"],
    ["params.my_param", "attributes.status DESC"],
    ["params.my_param DESC", "attributes.status   DESC"],
    ["params.`my_param` DESC", "attributes.status DESC"],
    ["tags.tag1"],
    ["tags.tag1    DESC"],
    ["attributes.run_name"],
    ["attributes.run_name DESC"],
    ["attributes.end_time DESC"],
    ["params.lr"],
    ["run_id"],
]


@pytest.mark.parametrize("order_by", ORDERS, ids=repr)
def test_order_matches_mlflow(world, order_by):
    assert _ours(world, "", order_by) == _real(world, "", order_by)


@pytest.mark.parametrize("view", [ViewType.DELETED_ONLY, ViewType.ALL])
def test_view_types_match_mlflow(world, view):
    assert _ours(world, "", None, view) == _real(world, "", None, view)
    f = "metrics.key1 = 5"
    assert _ours(world, f, ["metrics.x DESC"], view) == _real(world, f, ["metrics.x DESC"], view)


def test_nan_and_missing_sort_last_both_ways(world):
    asc = _ours(world, "", ["metrics.x ASC"])
    desc = _ours(world, "", ["metrics.x DESC"])
    # -inf < -1000 < 0 < inf, then NaN, then runs without x (child, g)
    assert asc[:5] == ["c", "d", "e", "b", "a"]
    assert desc[:5] == ["b", "e", "d", "c", "a"]
    assert set(asc[5:]) == set(desc[5:]) == {"g", "child"}


def test_default_order_newest_first_ties_by_run_id(world):
    got = _ours(world)
    assert got[0] == "child" and got[-1] == "a"
    b, c = world["ids"]["b"], world["ids"]["c"]  # same start time
    assert got.index("b") < got.index("c") if b < c else got.index("c") < got.index("b")


def test_duplicate_order_by_field_is_an_error(world):
    with pytest.raises(ntmlflow.MlflowException):
        _ours(world, "", ["metrics.x", "metrics.x DESC"])
    with pytest.raises(real.exceptions.MlflowException):
        _real(world, "", ["metrics.x", "metrics.x DESC"])


@pytest.mark.parametrize(
    "bad",
    [
        "m.acc >= 0.94",
        "acc >= 0.94",
        "attri.x != 1",
        "attribute.start != 1",
        "attribute.experiment_id != 1",
        "attribute.lifecycle_stage = 'ACTIVE'",
        "attribute.status = true",
        "dataset.status = 'true'",
        "params.acc = LR",
        "params.acc = 'LR",
        "tags.acc = = 'LR'",
        "1=1",
        "metric.acc !=",
        "`metrics.A > 0.1",
    ],
)
def test_filters_mlflow_rejects_are_rejected(world, bad):
    with pytest.raises(real.exceptions.MlflowException):
        _real(world, bad)
    with pytest.raises(ntmlflow.MlflowException):
        _ours(world, bad)


def test_nbtrack_own_value_rules_differ_where_documented(world):
    nt.set_store(world["store"])
    lr = nt.search_runs("search", filter="params.lr = '0.01'")
    assert sorted(world["names"][i] for i in lr["run_id"]) == ["a", "e", "g"]  # 0.01, 1e-2, 0.010
    assert _real(world, "params.lr = '0.01'") == ["a"]
    big = nt.search_runs("search", filter="metrics.x > 0")
    assert sorted(world["names"][i] for i in big["run_id"]) == ["a", "b"]  # NaN, inf
    assert _real(world, "metrics.x > 0") == ["b"]


def test_superset_filters_mlflow_rejects(world):
    """OR, NOT, parentheses and IN on any attribute: nbtrack only (MLflow refuses them)."""
    with pytest.raises(real.exceptions.MlflowException):
        _real(world, "status IN ('KILLED', 'FAILED')")
    assert sorted(_ours(world, "status IN ('KILLED', 'FAILED')")) == ["a", "c", "e"]
    assert sorted(_ours(world, "run_name = 'a' OR (NOT metrics.key1 > 0 AND run_name = 'g')")) == [
        "a",
        "g",
    ]
