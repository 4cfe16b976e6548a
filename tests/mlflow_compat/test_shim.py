"""nbtrack.mlflow: MLflow's fluent API, client and entities on a real nbtrack store."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import nbtrack as nt
import nbtrack.mlflow as mlflow
from nbtrack.mlflow import MlflowClient, MlflowException, ViewType


@pytest.fixture(autouse=True)
def _clean(store):
    yield
    while nt.active_run() is not None:
        nt.end_run()


def test_run_info_and_data_shapes():
    exp = mlflow.set_experiment("shapes")
    with mlflow.start_run(run_name="r1", tags={"team": "a"}, description="about") as run:
        assert mlflow.log_param("lr", 0.1) == 0.1
        mlflow.log_params({"layers": 3})
        mlflow.log_metric("loss", 1.0)
        mlflow.log_metric("loss", 0.5, step=1)
        mlflow.log_metrics({"acc": 0.9, "f1": 0.8}, step=2)
        mlflow.set_tags({"x": 1})
    got = mlflow.get_run(run.info.run_id)
    assert got.info.run_id == got.info.run_uuid == run.info.run_id
    assert got.info.run_name == "r1"
    assert got.info.experiment_id == exp.experiment_id
    assert got.info.status == "FINISHED"
    assert got.info.lifecycle_stage == "active"
    assert isinstance(got.info.start_time, int) and got.info.end_time >= got.info.start_time
    assert got.info.artifact_uri == f"runs:/{run.info.run_id}"
    assert got.data.params == {"lr": "0.1", "layers": "3"}
    assert got.data.metrics == {"loss": 0.5, "acc": 0.9, "f1": 0.8}
    assert got.data.tags["team"] == "a" and got.data.tags["x"] == "1"
    assert got.data.tags["mlflow.runName"] == "r1"
    assert got.data.tags["mlflow.note.content"] == "about"
    assert "mlflow.user" in got.data.tags and got.data.tags["mlflow.source.type"] == "LOCAL"
    # the same run through nbtrack's own API
    assert nt.get_run(run.info.run_id).name == "r1"


def test_step_none_is_step_zero_as_mlflow():
    with mlflow.start_run() as run:
        mlflow.log_metric("m", 1.0)
        mlflow.log_metric("m", 2.0)
    hist = MlflowClient().get_metric_history(run.info.run_id, "m")
    assert [m.step for m in hist] == [0, 0]
    assert sorted(m.value for m in hist) == [1.0, 2.0]
    assert all(m.timestamp > 1_600_000_000_000 for m in hist)


def test_logging_without_active_run_starts_one():
    mlflow.log_metric("auto", 1.0)
    active = mlflow.active_run()
    assert active is not None
    assert nt.active_run().run_id == active.info.run_id
    mlflow.end_run()
    assert mlflow.active_run() is None
    assert mlflow.last_active_run().info.run_id == active.info.run_id
    assert mlflow.last_active_run().data.metrics == {"auto": 1.0}


def test_second_run_without_nested_raises_mlflow_exception():
    with mlflow.start_run() as outer:
        with pytest.raises(MlflowException, match="already active"):
            mlflow.start_run()
        with mlflow.start_run(nested=True) as child:
            pass
    assert mlflow.get_run(child.info.run_id).data.tags["mlflow.parentRunId"] == outer.info.run_id
    assert mlflow.get_parent_run(child.info.run_id).info.run_id == outer.info.run_id


def test_explicit_parent_run_id_without_active_run():
    with mlflow.start_run() as parent:
        pass
    with mlflow.start_run(parent_run_id=parent.info.run_id) as child:
        pass
    assert nt.get_run(child.info.run_id).parent_run_id == parent.info.run_id


def test_failed_with_block_marks_run_failed():
    with pytest.raises(ZeroDivisionError), mlflow.start_run() as run:
        1 / 0  # noqa: B018
    assert mlflow.get_run(run.info.run_id).info.status == "FAILED"


def test_resume_continues_and_keeps_params():
    with mlflow.start_run() as run:
        mlflow.log_param("p", 1)
        mlflow.log_metric("m", 1.0, step=0)
    with mlflow.start_run(run_id=run.info.run_id) as again:
        assert mlflow.get_run(run.info.run_id).info.status == "RUNNING"
        mlflow.log_metric("m", 2.0, step=1)
        mlflow.log_param("p", 1)  # same value: fine
        with pytest.raises(MlflowException, match=r"already") as err:
            mlflow.log_param("p", 2)
        assert err.value.error_code == "INVALID_PARAMETER_VALUE"
    assert again.info.run_id == run.info.run_id
    got = mlflow.get_run(run.info.run_id)
    assert got.info.status == "FINISHED" and got.data.metrics == {"m": 2.0}


def test_set_tag_mlflow_run_name_renames():
    with mlflow.start_run(run_name="old") as run:
        mlflow.set_tag("mlflow.runName", "new")
    assert mlflow.get_run(run.info.run_id).info.run_name == "new"
    assert nt.get_run(run.info.run_id).name == "new"


def test_delete_tag():
    with mlflow.start_run() as run:
        mlflow.set_tag("a", "1")
        mlflow.delete_tag("a")
        with pytest.raises(MlflowException) as err:
            mlflow.delete_tag("missing")
        assert err.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert "a" not in mlflow.get_run(run.info.run_id).data.tags


def test_client_logs_to_ended_run_and_set_terminated():
    c = MlflowClient()
    exp_id = c.create_experiment("client-exp", tags={"k": "v"})
    run = c.create_run(exp_id, run_name="made", tags={"t": "1"})
    assert run.info.status == "RUNNING" and run.info.experiment_id == exp_id
    c.log_metric(run.info.run_id, "m", 3.0, step=5, timestamp=1_700_000_000_000)
    c.log_param(run.info.run_id, "p", "x")
    c.set_terminated(run.info.run_id, "KILLED")
    assert c.get_run(run.info.run_id).info.status == "KILLED"
    # MLflow allows logging to a finished run through the client
    c.set_tag(run.info.run_id, "after", "yes")
    c.log_batch(
        run.info.run_id,
        metrics=[mlflow.entities.Metric("m", 4.0, 1_700_000_000_001, 6)],
        params=[mlflow.entities.Param("q", "1")],
        tags=[mlflow.entities.RunTag("z", "2")],
    )
    got = c.get_run(run.info.run_id)
    assert got.data.tags["after"] == "yes" and got.data.tags["z"] == "2"
    assert got.data.params == {"p": "x", "q": "1"}
    hist = c.get_metric_history(run.info.run_id, "m")
    assert [(m.step, m.value, m.timestamp) for m in hist] == [
        (5, 3.0, 1_700_000_000_000),
        (6, 4.0, 1_700_000_000_001),
    ]
    assert c.get_experiment(exp_id).tags == {"k": "v"}
    with pytest.raises(MlflowException) as err:
        c.log_param(run.info.run_id, "p", "changed")
    assert err.value.error_code == "INVALID_PARAMETER_VALUE"


def test_client_search_pages():
    c = MlflowClient()
    exp_id = mlflow.set_experiment("pages").experiment_id
    for i in range(5):
        with mlflow.start_run():
            mlflow.log_metric("i", i)
    page = c.search_runs([exp_id], max_results=2, order_by=["metrics.i ASC"])
    seen = [r.data.metrics["i"] for r in page]
    while page.token:
        page = c.search_runs(
            [exp_id], max_results=2, order_by=["metrics.i ASC"], page_token=page.token
        )
        seen += [r.data.metrics["i"] for r in page]
    assert seen == [0, 1, 2, 3, 4]


def test_experiments_lifecycle():
    exp_id = mlflow.create_experiment("life", tags={"a": "b"})
    with pytest.raises(MlflowException) as err:
        mlflow.create_experiment("life")
    assert err.value.error_code == "RESOURCE_ALREADY_EXISTS"
    assert mlflow.get_experiment_by_name("life").experiment_id == exp_id
    assert mlflow.get_experiment_by_name("nope") is None
    mlflow.delete_experiment(exp_id)
    assert mlflow.get_experiment(exp_id).lifecycle_stage == "deleted"
    names = [e.name for e in mlflow.search_experiments()]
    assert "life" not in names
    assert "life" in [e.name for e in mlflow.search_experiments(view_type=ViewType.DELETED_ONLY)]
    with pytest.raises(MlflowException, match="deleted"):
        mlflow.set_experiment("life")
    mlflow.MlflowClient().restore_experiment(exp_id)
    assert [e.name for e in mlflow.search_experiments(filter_string="name LIKE 'li%'")] == ["life"]
    with pytest.raises(MlflowException) as err:
        mlflow.get_experiment("424242")
    assert err.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert mlflow.get_experiment("0").name == "Default"


def test_search_runs_frame_columns_and_views():
    mlflow.set_experiment("frame")
    with mlflow.start_run(run_name="a") as a:
        mlflow.log_metric("m", 1.0)
        mlflow.log_param("p", "x")
    with mlflow.start_run(run_name="b") as b:
        mlflow.log_metric("m", float("nan"))
    df = mlflow.search_runs()
    assert list(df.columns[:6]) == [
        "run_id",
        "experiment_id",
        "status",
        "artifact_uri",
        "start_time",
        "end_time",
    ]
    assert list(df["run_id"]) == [b.info.run_id, a.info.run_id]  # newest first
    assert {"metrics.m", "params.p", "tags.mlflow.runName"} <= set(df.columns)
    assert str(df["start_time"].dtype).startswith("datetime64")
    assert pd.isna(df.loc[df.run_id == b.info.run_id, "params.p"].iloc[0])
    mlflow.delete_run(a.info.run_id)
    assert list(mlflow.search_runs()["run_id"]) == [b.info.run_id]
    deleted = mlflow.search_runs(run_view_type=ViewType.DELETED_ONLY, output_format="list")
    assert [r.info.run_id for r in deleted] == [a.info.run_id]
    assert deleted[0].info.lifecycle_stage == "deleted" and deleted[0].data.params == {"p": "x"}
    assert len(mlflow.search_runs(run_view_type=ViewType.ALL)) == 2
    assert mlflow.get_run(a.info.run_id).info.lifecycle_stage == "deleted"
    empty = mlflow.search_runs(experiment_names=["no-such"])
    assert len(empty) == 0
    with pytest.raises(ValueError, match="output format"):
        mlflow.search_runs(output_format="csv")


def test_artifacts_roundtrip(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.txt").write_text("A")
    (tmp_path / "d" / "sub").mkdir()
    (tmp_path / "d" / "sub" / "b.txt").write_text("B")
    with mlflow.start_run() as run:
        mlflow.log_artifacts(str(tmp_path / "d"), artifact_path="out")
        mlflow.log_artifact(str(tmp_path / "d" / "a.txt"))
        mlflow.log_text("hello", "notes/t.txt")
        mlflow.log_dict({"k": [1, 2]}, "cfg.json")
        mlflow.log_dict({"k": [1, 2]}, "cfg.yaml")
        mlflow.log_table(pd.DataFrame({"x": [1, 2], "y": ["a", "b"]}), "table.json")
        mlflow.log_image(np.zeros((4, 4, 3), dtype=np.uint8), "img.png")
        mlflow.log_image(np.ones((2, 2)), key="mask", step=3)
    rid = run.info.run_id
    c = MlflowClient()
    top = c.list_artifacts(rid)
    assert [(f.path, f.is_dir) for f in top if f.path in ("out", "a.txt")] == [
        ("a.txt", False),
        ("out", True),
    ]
    assert [f.path for f in c.list_artifacts(rid, "out")] == ["out/a.txt", "out/sub"]
    local = c.download_artifacts(rid, "out", str(tmp_path / "dl"))
    assert (tmp_path / "dl" / "out" / "sub" / "b.txt").read_text() == "B" and local.endswith("out")
    assert mlflow.artifacts.load_text(f"runs:/{rid}/notes/t.txt") == "hello"
    assert mlflow.artifacts.load_dict(f"runs:/{rid}/cfg.yaml") == {"k": [1, 2]}
    assert nt.read_artifact(rid, "cfg.json").decode() == '{\n  "k": [\n    1,\n    2\n  ]\n}'
    table = mlflow.load_table("table.json", run_ids=[rid], extra_columns=["run_id"])
    assert list(table["y"]) == ["a", "b"] and set(table["run_id"]) == {rid}
    assert nt.read_artifact(rid, "img.png")[:4] == b"\x89PNG"
    assert any(p.startswith("images/mask/step_3_") for p in nt.list_artifacts(rid))


def test_log_input_is_searchable():
    df = pd.DataFrame({"a": [1, 2, 3]})
    ds = mlflow.data.from_pandas(df, source="s3://bucket/data.csv", name="train")
    with mlflow.start_run() as run:
        mlflow.log_input(ds, context="training")
    got = mlflow.get_run(run.info.run_id)
    [inp] = got.inputs.dataset_inputs
    assert inp.dataset.name == "train" and inp.dataset.digest == ds.digest
    assert inp.dataset.source_type == "s3" and inp.tags[0].value == "training"
    assert '"num_rows": 3' in inp.dataset.profile
    with mlflow.start_run() as other:
        pass
    found = mlflow.search_runs(filter_string="datasets.name = 'train'", output_format="list")
    assert [r.info.run_id for r in found] == [run.info.run_id]
    assert other.info.run_id not in [r.info.run_id for r in found]


def test_tracking_uri(tmp_path):
    target = tmp_path / "elsewhere"
    mlflow.set_tracking_uri(f"file://{target}")
    assert mlflow.get_tracking_uri() == target.as_uri()
    with mlflow.start_run() as run:
        pass
    assert (target / "runs").is_dir()
    assert MlflowClient(str(target)).get_run(run.info.run_id).info.run_id == run.info.run_id
    for uri in ("http://127.0.0.1:5000", "https://x.example", "sqlite:///mlflow.db"):
        with pytest.raises(MlflowException, match="nbtrack import"):
            mlflow.set_tracking_uri(uri)


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda: mlflow.tensorflow.log_model(None, "m"), id="tensorflow.log_model"),
        pytest.param(lambda: mlflow.spark.autolog(), id="spark.autolog"),
        pytest.param(lambda: mlflow.autolog(exclusive=True), id="autolog-exclusive"),
        pytest.param(lambda: mlflow.sklearn.autolog(extra_tags={"a": "b"}), id="extra_tags"),
        pytest.param(lambda: mlflow.set_system_metrics_samples_before_logging(5), id="samples"),
        pytest.param(lambda: mlflow.transformers.load_model("x"), id="transformers.load_model"),
        pytest.param(lambda: mlflow.genai.evaluate(), id="genai"),
        pytest.param(
            lambda: MlflowClient().transition_model_version_stage("x", 1, "Production"),
            id="registry-stages",
        ),
        pytest.param(lambda: MlflowClient().rename_experiment("0", "x"), id="rename"),
        pytest.param(lambda: mlflow.log_input(model=object()), id="log_input-model"),
        pytest.param(
            lambda: mlflow.log_input(
                mlflow.data.from_pandas(pd.DataFrame({"a": [1]})), tags={"owner": "me"}
            ),
            id="log_input-tags",
        ),
        pytest.param(lambda: mlflow.set_experiment("e", trace_location=object()), id="trace"),
        pytest.param(lambda: mlflow.models.predict("x"), id="models.predict"),
    ],
)
def test_unsupported_raise_not_implemented_naming_alternative(call):
    with pytest.raises(NotImplementedError, match=r"nbtrack|log_artifact|%%track|tag"):
        call()


def test_bad_input_is_mlflow_exception_and_writes_nothing():
    with mlflow.start_run() as run:
        with pytest.raises(MlflowException) as err:
            mlflow.log_metric("bad key!", 1.0)
        assert err.value.error_code == "INVALID_PARAMETER_VALUE"
        with pytest.raises(MlflowException):
            mlflow.log_metric("ok", "not a number")
    assert mlflow.get_run(run.info.run_id).data.metrics == {}
    with pytest.raises(MlflowException) as err:
        mlflow.get_run("no-such-run")
    assert err.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert isinstance(err.value, nt.NbtrackError)


def test_nan_metric_roundtrips():
    with mlflow.start_run() as run:
        mlflow.log_metric("n", float("nan"))
        mlflow.log_metric("i", float("inf"))
    m = mlflow.get_run(run.info.run_id).data.metrics
    assert math.isnan(m["n"]) and m["i"] == math.inf


def test_leaving_an_outer_with_block_while_a_nested_run_is_active():
    """The outer ActiveRun is not the active run when its block ends (a nested run started
    without ``with`` is): it ends the outer run only, and the nested one stays active."""
    outer = mlflow.start_run()
    with outer:
        inner = mlflow.start_run(nested=True)
        assert mlflow.active_run().info.run_id == inner.info.run_id
        outer.__exit__(None, None, None)  # what leaving the block does
        assert mlflow.get_run(outer.info.run_id).info.status == "FINISHED"
        assert mlflow.active_run().info.run_id == inner.info.run_id
        mlflow.end_run()
    assert mlflow.get_run(inner.info.run_id).info.status == "FINISHED"
    assert mlflow.active_run() is None


# The functions issue 13 names, with MLflow's argument names and defaults (a name MLflow has
# that nbtrack.mlflow lacks, or another default, fails here). MLflow is the reference.
FLUENT = """
    start_run end_run active_run last_active_run get_run log_param log_params log_metric
    log_metrics set_tag set_tags delete_tag log_artifact log_artifacts log_text log_dict
    log_figure log_image log_table log_input load_table set_experiment create_experiment
    get_experiment get_experiment_by_name search_experiments delete_experiment search_runs
    set_tracking_uri get_tracking_uri get_artifact_uri delete_run get_parent_run
    set_experiment_tag set_experiment_tags autolog enable_system_metrics_logging
    disable_system_metrics_logging set_system_metrics_sampling_interval
    set_system_metrics_samples_before_logging
""".split()
CLIENT = """
    create_run log_metric log_param log_batch get_metric_history search_runs set_terminated
    list_artifacts download_artifacts get_run set_tag delete_tag log_artifact log_artifacts
    log_text log_dict log_figure log_image log_table log_inputs create_experiment
    get_experiment get_experiment_by_name search_experiments delete_experiment
    restore_experiment delete_run restore_run update_run set_experiment_tag
""".split()


def _params(func) -> dict:
    import inspect

    return {
        k: "<required>" if p.default is inspect.Parameter.empty else p.default
        for k, p in inspect.signature(func).parameters.items()
        if k != "self"
    }


@pytest.mark.parametrize(
    ("owner", "name"), [("mlflow", n) for n in FLUENT] + [("MlflowClient", n) for n in CLIENT]
)
def test_argument_names_and_defaults_are_mlflows(owner, name):
    real = pytest.importorskip("mlflow")
    theirs = getattr(real if owner == "mlflow" else real.MlflowClient, name)
    ours = getattr(mlflow if owner == "mlflow" else MlflowClient, name)
    want, got = _params(theirs), _params(ours)
    missing = [k for k in want if k not in got]
    assert not missing, f"{owner}.{name} lacks MLflow's arguments {missing}"
    assert {k: got[k] for k in want} == want


def test_artifact_files_have_mlflows_bytes(tmp_path, monkeypatch):
    """log_dict (YAML for .yml/.yaml, JSON otherwise), log_text, log_table (dict and
    DataFrame), log_image (numpy and PIL) and log_figure write the same file bytes as real
    MLflow, and the table reads back as a DataFrame."""
    real = pytest.importorskip("mlflow")
    pytest.importorskip("matplotlib")
    import matplotlib
    from PIL import Image

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    calls = [
        ("log_dict", ({"a": [1, 2], "b": {"c": "ü"}}, "cfg.yaml")),
        ("log_dict", ({"a": [1, 2], "b": {"c": "ü"}}, "cfg.yml")),
        ("log_dict", ({"a": [1, 2], "b": {"c": "ü"}}, "cfg.json")),
        ("log_text", ("hé\nllo", "notes/t.txt")),
        ("log_table", ({"x": [1, 2], "y": ["a", "b"]}, "t_dict.json")),
        ("log_table", (pd.DataFrame({"x": [1.5, 2.0], "y": ["a", None]}), "t_frame.json")),
        ("log_image", (np.arange(48, dtype=np.uint8).reshape(4, 4, 3), "img/np.png")),
        ("log_image", (Image.new("RGB", (3, 2), (10, 20, 30)), "img/pil.png")),
        ("log_figure", (fig, "fig.png")),
    ]
    real.set_tracking_uri((tmp_path / "mlruns").as_uri())
    try:
        with real.start_run() as theirs:
            for name, args in calls:
                getattr(real, name)(*args)
        their_client = real.MlflowClient()
        want = {
            path: Path(their_client.download_artifacts(theirs.info.run_id, path)).read_bytes()
            for _n, (_obj, path) in calls
        }
        their_table = real.load_table("t_frame.json", run_ids=[theirs.info.run_id])
    finally:
        real.set_tracking_uri("")
    with mlflow.start_run() as ours:
        for name, args in calls:
            getattr(mlflow, name)(*args)
    plt.close(fig)
    for _name, (_obj, path) in calls:
        assert nt.read_artifact(ours.info.run_id, path) == want[path], path
    table = mlflow.load_table("t_frame.json", run_ids=[ours.info.run_id])
    assert list(table["x"]) == [1.5, 2.0] and table["y"][0] == "a"
    pd.testing.assert_frame_equal(table, their_table)
