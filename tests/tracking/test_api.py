"""Round trips of every public API call through get_run, search_runs, histories and sql."""

from __future__ import annotations

import datetime as dt
import math
import threading

import numpy as np
import pandas as pd
import pytest

import nbtrack as nt


def test_run_round_trip_through_every_read_path(store, tmp_path):
    art = tmp_path / "model.txt"
    art.write_text("weights")
    folder = tmp_path / "outputs"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("A")
    (folder / "sub" / "b.txt").write_text("B")
    with nt.start_run(
        name="rt", params={"lr": 0.01}, tags={"team": "vision"}, description="d"
    ) as run:
        nt.log_param("layers", [64, 32])
        nt.log_params({"opt": "adam", "name": "resnet"})
        for i in range(5):
            nt.log_metric("loss", 1.0 / (i + 1))
        nt.log_metrics({"acc": 0.9, "f1": 0.8}, step=10)
        nt.set_tag("stage", "dev")
        nt.set_tags({"x": 1, "y": "two"})
        nt.delete_tag("x")
        nt.log_artifact(art)
        nt.log_artifact(art, artifact_path="ckpt")
        nt.log_artifacts(folder, artifact_path="out")
        nt.log_text("hello", "notes/readme.md")
        nt.log_dict({"a": [1, 2]}, "cfg.json")
        assert nt.active_run() is run
    assert nt.active_run() is None
    got = nt.get_run(run.id)
    assert got.status == "FINISHED"
    assert got.name == "rt" and got.experiment == "Default" and got.description == "d"
    assert got.params == {"lr": "0.01", "layers": "[64, 32]", "opt": "adam", "name": "resnet"}
    assert got.metrics == {"loss": pytest.approx(0.2), "acc": 0.9, "f1": 0.8}
    assert got.tags == {"team": "vision", "stage": "dev", "y": "two"}
    assert isinstance(got.start_time, dt.datetime) and got.start_time.tzinfo is not None
    assert got.end_time >= got.start_time

    df = nt.search_runs()
    assert list(df["run_id"]) == [run.id]
    row = df.iloc[0]
    assert row["params.lr"] == "0.01" and row["metrics.loss"] == pytest.approx(0.2)
    assert row["tags.team"] == "vision" and "tags.x" not in df.columns
    assert row["duration_s"] >= 0

    hist = nt.get_metric_history(run.id, "loss")
    assert list(hist.columns) == ["step", "value", "timestamp"]
    assert list(hist["step"]) == [0, 1, 2, 3, 4]
    assert str(hist["timestamp"].dt.tz) == "UTC"

    assert nt.list_artifacts(run.id) == [
        "cfg.json",
        "ckpt/model.txt",
        "model.txt",
        "notes/readme.md",
        "out/a.txt",
        "out/sub/b.txt",
    ]
    assert nt.read_artifact(run.id, "out/sub/b.txt") == b"B"
    assert nt.read_artifact(run.id, "cfg.json").startswith(b"{")

    counts = nt.sql(
        "SELECT (SELECT count(*) FROM runs) r, (SELECT count(*) FROM params) p, "
        "(SELECT count(*) FROM metrics) m, (SELECT count(*) FROM tags) t, "
        "(SELECT count(*) FROM artifacts) a"
    ).iloc[0]
    assert list(counts) == [1, 4, 7, 3, 6]
    assert nt.list_experiments() == ["Default"]


def test_steps_auto_increment_per_key_and_follow_explicit_steps(run):
    run.log_metric("a", 1)
    run.log_metric("a", 2)
    run.log_metric("b", 3)
    run.log_metric("a", 4, step=10)
    run.log_metric("a", 5)
    run.log_metric("a", 6, step=3)
    run.log_metric("a", 7)
    steps = list(nt.get_metric_history(run.id, "a")["step"])
    assert steps == [0, 1, 3, 10, 11, 12]
    assert list(nt.get_metric_history(run.id, "b")["step"]) == [0]


def test_latest_metric_is_highest_step_then_newest_timestamp(run):
    run.log_metric("m", 1.0, step=5, timestamp=1000)
    run.log_metric("m", 2.0, step=5, timestamp=3000)
    run.log_metric("m", 3.0, step=5, timestamp=2000)
    run.log_metric("m", 9.0, step=1, timestamp=9000)
    assert run.metrics["m"] == 2.0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(3, 3.0, id="int"),
        pytest.param(True, 1.0, id="bool"),
        pytest.param(np.float32(0.5), 0.5, id="np-float32"),
        pytest.param(np.int64(7), 7.0, id="np-int64"),
        pytest.param(np.array(2.5), 2.5, id="0d-array"),
        pytest.param(np.bool_(False), 0.0, id="np-bool"),
        pytest.param(2**60, float(2**60), id="huge-int"),
    ],
)
def test_metric_value_kinds(run, value, expected):
    run.log_metric("v", value)
    assert nt.get_metric_history(run.id, "v")["value"].iloc[0] == expected


def test_nan_and_inf_are_stored_faithfully(run):
    run.log_metric("x", float("nan"))
    run.log_metric("x", float("inf"))
    run.log_metric("x", float("-inf"))
    vals = list(nt.get_metric_history(run.id, "x")["value"])
    assert math.isnan(vals[0]) and vals[1] == math.inf and vals[2] == -math.inf


def test_timestamps_accept_ms_and_datetimes(run):
    when = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.timezone.utc)
    run.log_metric("t", 1, timestamp=when)
    run.log_metric("t", 2, timestamp=1714564800000)
    ts = nt.get_metric_history(run.id, "t")["timestamp"]
    assert list(ts) == [pd.Timestamp(when), pd.Timestamp(when)]


def test_nested_runs_record_their_parent(store):
    with nt.start_run(name="parent") as parent:
        with nt.start_run(name="child", nested=True) as child:
            assert nt.active_run() is child
        assert nt.active_run() is parent
    assert nt.get_run(child.id).parent_run_id == parent.id
    df = nt.search_runs(order_by=["attributes.name ASC"])
    assert list(df["name"]) == ["child", "parent"]
    assert df.set_index("name").loc["child", "parent_run_id"] == parent.id


def test_second_run_in_a_thread_needs_nested(store):
    with nt.start_run(), pytest.raises(nt.ActiveRunError, match="nested=True"):
        nt.start_run()


def test_active_run_is_per_thread_and_run_object_is_shared(store):
    seen = {}
    with nt.start_run() as run:

        def worker() -> None:
            seen["active"] = nt.active_run()
            for i in range(100):
                run.log_metric("t", i)

        threads = [threading.Thread(target=worker) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert seen["active"] is None
    assert len(nt.get_metric_history(run.id, "t")) == 400


def test_failed_and_killed_status_from_context_manager(store):
    with pytest.raises(ZeroDivisionError), nt.start_run() as failed:
        1 / 0  # noqa: B018
    with pytest.raises(KeyboardInterrupt), nt.start_run() as killed:
        raise KeyboardInterrupt
    assert nt.get_run(failed.id).status == "FAILED"
    assert nt.get_run(killed.id).status == "KILLED"


def test_end_run_statuses_and_finish_twice_is_a_no_op(store):
    run = nt.start_run()
    nt.end_run("FAILED")
    run.end("FINISHED")
    assert nt.get_run(run.id).status == "FAILED"


def test_soft_delete_hides_run_everywhere_until_restored(store):
    with nt.start_run(params={"a": 1}, tags={"t": "x"}) as run:
        nt.log_metric("m", 1)
    with nt.start_run() as other:
        pass
    nt.delete_run(run.id)
    assert list(nt.search_runs()["run_id"]) == [other.id]
    assert nt.sql("SELECT count(*) AS n FROM metrics")["n"][0] == 0
    assert nt.sql("SELECT count(*) AS n FROM params")["n"][0] == 0
    with pytest.raises(nt.RunNotFoundError):
        nt.get_run(run.id)
    nt.restore_run(run.id)
    assert set(nt.search_runs()["run_id"]) == {run.id, other.id}
    assert nt.get_run(run.id).metrics == {"m": 1.0}


def test_experiments_scope_searches(store):
    nt.set_experiment("a")
    with nt.start_run() as ra:
        pass
    with nt.start_run(experiment="b") as rb:
        pass
    assert list(nt.search_runs()["run_id"]) == [ra.id]
    assert list(nt.search_runs(experiment="b")["run_id"]) == [rb.id]
    assert set(nt.search_runs(experiment="*")["run_id"]) == {ra.id, rb.id}
    assert set(nt.search_runs(experiment=["a", "b"])["run_id"]) == {ra.id, rb.id}
    assert nt.list_experiments() == ["a", "b"]
    assert nt.get_run(rb.id).experiment == "b"


def test_order_by_and_max_results(store):
    ids = []
    for loss in (0.3, 0.1, 0.2):
        with nt.start_run(params={"lr": loss * 10}) as r:
            nt.log_metric("loss", loss)
        ids.append(r.id)
    df = nt.search_runs(order_by=["metrics.loss ASC"])
    assert list(df["metrics.loss"]) == [0.1, 0.2, 0.3]
    df = nt.search_runs(order_by="metrics.loss DESC", max_results=2)
    assert list(df["metrics.loss"]) == [0.3, 0.2]
    df = nt.search_runs(order_by=["params.lr DESC"])
    assert list(df["params.lr"]) == ["3.0", "2.0", "1.0"]
    df = nt.search_runs(order_by=["attributes.start_time ASC"])
    assert list(df["run_id"]) == ids
    with pytest.raises(nt.FilterError):
        nt.search_runs(order_by=["attributes.nope"])


def test_run_ids_sort_by_time_and_names_are_readable(store):
    ids = []
    for _ in range(3):
        with nt.start_run() as r:
            pass
        ids.append(r.id)
        assert "-" in r.name
    assert ids == sorted(ids) and all(len(i) == 32 for i in ids)


def test_empty_store_reads_return_empty_frames(store):
    df = nt.search_runs()
    assert len(df) == 0 and "run_id" in df.columns
    assert nt.list_experiments() == []
    assert len(nt.sql("SELECT * FROM metrics")) == 0


def test_sql_joins_views(store):
    with nt.start_run(params={"lr": "0.1"}) as r:
        nt.log_metrics({"loss": 0.5}, step=0)
    df = nt.sql(
        "SELECT r.name, p.value AS lr, max(m.value) AS loss FROM runs r "
        "JOIN params p USING (run_id) JOIN metrics m USING (run_id) "
        "WHERE p.key = 'lr' GROUP BY ALL"
    )
    assert df.to_dict("records") == [{"name": r.name, "lr": "0.1", "loss": 0.5}]


def test_log_figure_plotly(run):
    go = pytest.importorskip("plotly.graph_objects")
    fig = go.Figure(go.Scatter(x=[1, 2], y=[3, 4]))
    run.log_figure(fig, "fig.html")
    run.log_figure(fig, "fig.json")
    assert b"plotly" in nt.read_artifact(run.id, "fig.html").lower()
    assert nt.read_artifact(run.id, "fig.json").startswith(b"{")


def test_identical_artifacts_are_stored_once(run, store_path, tmp_path):
    f = tmp_path / "same.bin"
    f.write_bytes(b"x" * 1000)
    run.log_artifact(f)
    run.log_artifact(f, artifact_path="copy")
    blobs = list((store_path / "artifacts" / "blobs").rglob("*"))
    assert len([b for b in blobs if b.is_file()]) == 1


def test_metric_listener_sees_points(run):
    seen = []
    remove = run.add_metric_listener(lambda k, v, s, t: seen.append((k, v, s)))
    run.log_metric("a", 1.5)
    run.log_metrics({"b": 2, "c": 3}, step=4)
    remove()
    run.log_metric("a", 9)
    assert seen == [("a", 1.5, 0), ("b", 2.0, 4), ("c", 3.0, 4)]


def test_filters_on_keys_no_run_has(store):
    with nt.start_run(params={"a": "1"}) as r:
        nt.log_metric("m", 1.0)
    assert list(nt.search_runs(filter="metrics.nope IS NULL")["run_id"]) == [r.id]
    assert len(nt.search_runs(filter="metrics.nope < 1")) == 0
    assert list(nt.search_runs(filter="NOT params.nope = 'x'")["run_id"]) == [r.id]
    assert len(nt.search_runs(filter="tags.nope IS NOT NULL")) == 0
    assert list(nt.search_runs(order_by=["metrics.nope DESC"])["run_id"]) == [r.id]
