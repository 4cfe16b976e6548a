"""Import from / export to real MLflow stores (file store and SQLite), compared with real
MLflow's own client: MLflow -> nbtrack -> MLflow round trips equal on every field."""

from __future__ import annotations

import math

import pytest

import nbtrack as nt
import nbtrack.mlflow as ntmlflow
from nbtrack.interop import export_mlflow, import_mlflow

real = pytest.importorskip("mlflow")
from mlflow import MlflowClient as RealClient  # noqa: E402
from mlflow.entities import Metric, Param, RunTag, ViewType  # noqa: E402


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    """MLflow puts artifacts of a SQLite store under ./mlruns: keep them in the test's folder."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture(autouse=True)
def _file_store_allowed(monkeypatch):
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")


def _generate(uri: str, tmp_path) -> list[str]:
    """A store with nested runs, NaN/inf, a 10k-point history, unicode keys, artifacts."""
    c = RealClient(tracking_uri=uri)
    exp = c.create_experiment("générée", tags={"owner": "ünïcode"})
    ids = []
    parent = c.create_run(exp, run_name="parent", start_time=1_700_000_000_000)
    pid = parent.info.run_id
    c.log_batch(
        pid,
        metrics=[Metric("loss", 1.0 / (i + 1), 1_700_000_000_000 + i, i) for i in range(10_000)],
        params=[Param("lr", "0.01"), Param("größe", "groß")],
        tags=[RunTag("team", "vision"), RunTag("mlflow.note.content", "a note")],
    )
    c.log_metric(pid, "weird", float("nan"), timestamp=1_700_000_000_005, step=0)
    c.log_metric(pid, "weird", float("inf"), timestamp=1_700_000_000_006, step=1)
    c.log_metric(pid, "val/acc ü", 0.5, timestamp=1_700_000_000_007, step=3)
    (tmp_path / "a.txt").write_text("artifact ä")
    c.log_artifact(pid, str(tmp_path / "a.txt"), "sub")
    c.set_terminated(pid, "FINISHED", end_time=1_700_000_100_000)
    ids.append(pid)
    for i, status in enumerate(["FAILED", "KILLED", "RUNNING"]):
        child = c.create_run(
            exp,
            run_name=f"child-{i}",
            start_time=1_700_000_000_100 + i,
            tags={"mlflow.parentRunId": pid},
        )
        c.log_metric(child.info.run_id, "m", float(i), timestamp=1_700_000_000_200, step=i)
        if status != "RUNNING":
            c.set_terminated(child.info.run_id, status, end_time=1_700_000_000_300)
        ids.append(child.info.run_id)
    c.delete_run(ids[2])
    default_run = c.create_run("0", run_name="in default", start_time=1_700_000_000_400)
    c.set_terminated(default_run.info.run_id, "FINISHED", end_time=1_700_000_000_500)
    ids.append(default_run.info.run_id)
    return ids


def _snapshot(uri: str, ids: list[str]) -> dict:
    """Everything MLflow's client says about these runs (artifact locations aside)."""
    c = RealClient(tracking_uri=uri)
    out = {}
    for rid in ids:
        r = c.get_run(rid)
        exp = c.get_experiment(r.info.experiment_id)
        hist = {
            k: sorted(
                (m.step, m.timestamp, "nan" if math.isnan(m.value) else m.value)
                for m in c.get_metric_history(rid, k)
            )
            for k in r.data.metrics
        }
        arts = sorted(_walk(c, rid, None))
        out[rid] = {
            "name": r.info.run_name,
            "status": r.info.status,
            "start": r.info.start_time,
            "end": r.info.end_time,
            "stage": r.info.lifecycle_stage,
            "user": r.info.user_id,
            "experiment": (exp.name, exp.lifecycle_stage, dict(exp.tags)),
            "params": r.data.params,
            "tags": r.data.tags,
            "metrics": {k: "nan" if math.isnan(v) else v for k, v in r.data.metrics.items()},
            "history": hist,
            "artifacts": arts,
        }
    return out


def _walk(c, rid, path):
    for f in c.list_artifacts(rid, path):
        if f.is_dir:
            yield from _walk(c, rid, f.path)
        else:
            local = c.download_artifacts(rid, f.path)
            with open(local, "rb") as fh:
                yield f.path, fh.read()


def _search(uri: str) -> list[tuple]:
    c = RealClient(tracking_uri=uri)
    exps = [e.experiment_id for e in c.search_experiments(view_type=ViewType.ALL)]
    runs = c.search_runs(exps, "", ViewType.ALL, order_by=["metrics.m DESC"])
    return [(r.info.run_id, r.data.metrics.get("m")) for r in runs]


@pytest.mark.parametrize("kind", ["file", "sqlite"])
def test_round_trip_mlflow_nbtrack_mlflow(tmp_path, store, kind):
    src = f"sqlite:///{tmp_path}/src.db" if kind == "sqlite" else str(tmp_path / "mlruns")
    ids = _generate(src, tmp_path)
    before = _snapshot(src, ids)
    stats = import_mlflow(src)
    assert stats.runs == len(ids) and stats.points >= 10_000 and stats.artifacts == 1
    # idempotent: a second import adds nothing
    again = import_mlflow(src)
    assert again.runs == 0 and again.skipped == len(ids) and again.experiments == 0
    # nbtrack sees the runs with MLflow's ids, names, parents and system tags mapped
    parent = nt.get_run(ids[0])
    assert parent.name == "parent" and parent.description == "a note"
    assert nt.get_run(ids[1]).parent_run_id == ids[0]
    assert "mlflow.runName" not in parent.tags and parent.tags["team"] == "vision"
    assert len(nt.get_metric_history(ids[0], "loss")) == 10_000
    with pytest.raises(nt.RunNotFoundError):
        nt.get_run(ids[2])  # deleted in MLflow, deleted here
    assert ntmlflow.get_run(ids[2]).info.lifecycle_stage == "deleted"
    # back to MLflow, both formats, compared with MLflow's own client
    for dest in (str(tmp_path / "out-mlruns"), f"sqlite:///{tmp_path}/out.db"):
        n = export_mlflow(dest, experiments=None)
        assert n == len(ids)
        after = _snapshot(dest, ids)
        for rid in ids:
            b, a = before[rid], after[rid]
            if kind == "sqlite" or dest.startswith("sqlite"):
                # MLflow's SQL store clamps inf to the largest float on write
                for d in (a, b):
                    d["history"] = {
                        k: [(s, t, 1.7976931348623157e308 if v == math.inf else v) for s, t, v in h]
                        for k, h in d["history"].items()
                    }
                    d["metrics"] = {
                        k: 1.7976931348623157e308 if v == math.inf else v
                        for k, v in d["metrics"].items()
                    }
            assert a == b, rid
        assert _search(dest) == _search(src)


def test_export_filter_and_refuses_non_empty(tmp_path, store):
    with nt.start_run(name="keep", tags={"k": "1"}):
        nt.log_metric("m", 1.0)
    with nt.start_run(name="drop"):
        pass
    n = export_mlflow(str(tmp_path / "out"), filter="tags.k = '1'")
    assert n == 1
    runs = real.search_runs(search_all_experiments=True) if False else None  # noqa: F841
    c = RealClient(tracking_uri=str(tmp_path / "out"))
    found = c.search_runs([e.experiment_id for e in c.search_experiments()], "")
    assert [r.info.run_name for r in found] == ["keep"]
    from nbtrack.interop.exporter import ExportError

    with pytest.raises(ExportError, match="not empty"):
        export_mlflow(str(tmp_path / "out"))


def test_import_bad_source(tmp_path, store):
    from nbtrack.interop.sources import SourceError

    with pytest.raises(SourceError):
        import_mlflow(str(tmp_path / "missing"))
    (tmp_path / "x.db").write_text("not sqlite")
    with pytest.raises(SourceError):
        import_mlflow(str(tmp_path / "x.db"))


def test_interrupted_import_resumes_without_duplicates(tmp_path, store):
    from nbtrack.interop.sources import SqliteSource

    c = RealClient(tracking_uri=f"sqlite:///{tmp_path}/r.db")
    ids = []
    for i in range(5):
        r = c.create_run("0", run_name=f"r{i}")
        c.log_batch(
            r.info.run_id,
            metrics=[Metric("m", float(s), 1_700_000_000_000 + s, s) for s in range(50)],
        )
        c.set_terminated(r.info.run_id)
        ids.append(r.info.run_id)

    class Crashing(SqliteSource):
        calls = 0

        def run(self, experiment_id, run_id):
            Crashing.calls += 1
            if Crashing.calls == 3:
                raise KeyboardInterrupt  # the user pressed Ctrl-C mid-import
            return super().run(experiment_id, run_id)

    with pytest.raises(KeyboardInterrupt):
        import_mlflow(Crashing(f"sqlite:///{tmp_path}/r.db"))
    assert len(nt.search_runs("*")) == 2
    stats = import_mlflow(f"sqlite:///{tmp_path}/r.db", progress=True)
    assert stats.runs == 3 and stats.skipped == 2
    for rid in ids:
        assert len(nt.get_metric_history(rid, "m")) == 50
    n = nt.sql("SELECT count(*) AS n FROM metrics")["n"][0]
    assert n == 250


def test_mlflow_artifact_names_outside_the_key_rule_are_renamed(tmp_path, store):
    c = RealClient(tracking_uri=f"sqlite:///{tmp_path}/a.db")
    r = c.create_run("0")
    (tmp_path / "x+y.txt").write_text("plus")
    c.log_artifact(r.info.run_id, str(tmp_path / "x+y.txt"))
    stats = import_mlflow(f"sqlite:///{tmp_path}/a.db")
    assert stats.renamed == 1
    assert nt.read_artifact(r.info.run_id, "x_y.txt") == b"plus"


def _inputs_of(client, run_id) -> list[tuple]:
    run = client.get_run(run_id)
    out = []
    for di in run.inputs.dataset_inputs:
        d = di.dataset
        ctx = {t.key: t.value for t in di.tags}.get("mlflow.data.context")
        out.append((d.name, d.digest, d.source_type, d.source, d.schema, d.profile, ctx))
    return sorted(out)


@pytest.mark.parametrize("kind", ["file", "sqlite"])
def test_run_inputs_round_trip(tmp_path, kind) -> None:
    """Datasets logged with MLflow's log_input survive MLflow -> nbtrack -> MLflow, for both
    store kinds (issue 13: the file store's inputs were neither imported nor exported)."""
    import pandas as pd

    src = (tmp_path / "mlruns").as_uri() if kind == "file" else f"sqlite:///{tmp_path}/src.db"
    real.set_tracking_uri(src)
    frame = pd.DataFrame({"a": [1, 2, 3], "b": [0.5, 0.25, 0.125]})
    with real.start_run() as run:
        real.log_input(
            real.data.from_pandas(frame, source="s3://b/train.csv", name="train"),
            context="training",
            tags={"owner": "ana"},  # an input tag nbtrack does not keep: counted, not silent
        )
        real.log_input(real.data.from_pandas(frame.head(1), name="eval"), context="eval")
    want = _inputs_of(RealClient(src), run.info.run_id)
    assert len(want) == 2

    nt.set_store(str(tmp_path / "nb"))
    assert import_mlflow(src).input_tags_dropped == 1
    got = ntmlflow.MlflowClient().get_run(run.info.run_id).inputs.dataset_inputs
    assert sorted(d.dataset.name for d in got) == ["eval", "train"]

    dest = str(tmp_path / "out") if kind == "file" else f"sqlite:///{tmp_path}/out.db"
    export_mlflow(dest)
    dest_uri = (tmp_path / "out").as_uri() if kind == "file" else dest
    assert _inputs_of(RealClient(dest_uri), run.info.run_id) == want
    # MLflow logging the same datasets into the exported store finds them (same ids)
    again = RealClient(dest_uri).get_run(run.info.run_id).inputs.dataset_inputs
    RealClient(dest_uri).log_inputs(run.info.run_id, datasets=again)
    assert _inputs_of(RealClient(dest_uri), run.info.run_id) == want


def test_an_interrupted_import_resumes_without_doubling_points(tmp_path, monkeypatch) -> None:
    """An import stopped after a run's points were written but before its lifecycle record
    writes, on resume, only the points that are missing (issue 13)."""
    from nbtrack.interop import importer

    src = f"sqlite:///{tmp_path}/src.db"
    c = RealClient(src)
    exp = c.create_experiment("e")
    ids = []
    for i in range(3):
        r = c.create_run(exp, run_name=f"r{i}")
        c.log_batch(
            r.info.run_id,
            metrics=[Metric("loss", 1.0 / (s + 1), 1_700_000_000_000 + s, s) for s in range(50)]
            + [Metric("loss", 0.5, 1_700_000_000_000, 3)],
        )  # a duplicate-step point
        c.set_terminated(r.info.run_id, "FINISHED")
        ids.append(r.info.run_id)
    st = nt.set_store(str(tmp_path / "nb"))
    original = importer.records.write_run_state
    calls = {"n": 0}

    def crash_on_second(store, state):
        calls["n"] += 1
        if calls["n"] == 2:
            store.flush()  # the points are on disk, the run record is not
            raise KeyboardInterrupt
        return original(store, state)

    monkeypatch.setattr(importer.records, "write_run_state", crash_on_second)
    with pytest.raises(KeyboardInterrupt):
        import_mlflow(src)
    monkeypatch.setattr(importer.records, "write_run_state", original)
    stats = import_mlflow(src)
    assert stats.runs == 2 and stats.skipped == 1
    for rid in ids:
        hist = nt.get_metric_history(rid, "loss")
        assert len(hist) == 51, rid
    st.flush()


def test_system_tags_map_both_ways_and_a_progress_bar_is_drawn(tmp_path, store) -> None:
    """MLflow's git tags become nbtrack's reserved git tags, run name / parent / note become
    run attributes, a user_id other than the mlflow.user tag is kept; export maps them back;
    the import draws its progress bar to the given stream, ending at n/n."""
    import io

    c = RealClient(f"sqlite:///{tmp_path}/s.db")
    parent = c.create_run("0", run_name="p", tags={"mlflow.user": "ana"})
    git = {
        "mlflow.source.git.commit": "abc123",
        "mlflow.source.git.branch": "main",
        "mlflow.source.git.repoURL": "https://example.org/r.git",
        "mlflow.note.content": "why",
        "mlflow.parentRunId": parent.info.run_id,
        "mlflow.user": "ana",
        "mlflow.source.name": "train.py",
    }
    child = c.create_run("0", run_name="c", tags=git)
    ids = [parent.info.run_id, child.info.run_id]
    before = {rid: dict(c.get_run(rid).data.tags) for rid in ids}
    bar = io.StringIO()
    import_mlflow(f"sqlite:///{tmp_path}/s.db", progress=bar)
    drawn = bar.getvalue()
    assert "importing runs [" in drawn and drawn.rstrip().split("\r")[-1].count("2/2") == 1
    run = nt.get_run(child.info.run_id)
    assert (run.name, run.parent_run_id, run.description) == ("c", parent.info.run_id, "why")
    assert run.tags["nbtrack.git.commit"] == "abc123"
    assert run.tags["nbtrack.git.branch"] == "main"
    assert run.tags["nbtrack.git.remote"] == "https://example.org/r.git"
    assert run.tags["mlflow.source.name"] == "train.py"
    assert not any(k.startswith("mlflow.source.git") or k == "mlflow.runName" for k in run.tags)
    export_mlflow(str(tmp_path / "back"))
    back = RealClient((tmp_path / "back").as_uri())
    for rid in ids:
        assert dict(back.get_run(rid).data.tags) == before[rid], rid
        assert back.get_run(rid).info.user_id == c.get_run(rid).info.user_id
