"""`nbtrack import` / `nbtrack export` from the shell, and import from a live MLflow server."""

from __future__ import annotations

import json
import os

import pytest

import nbtrack as nt
from nbtrack.cli import main
from tests.mlflow_compat._mlflow_server import running_mlflow_server

real = pytest.importorskip("mlflow")
import pandas as pd  # noqa: E402
from mlflow import MlflowClient as RealClient  # noqa: E402
from mlflow.entities import DatasetInput, InputTag  # noqa: E402


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    """MLflow puts artifacts of a SQLite store under ./mlruns: keep them in the test's folder."""
    monkeypatch.chdir(tmp_path)


def _make_sqlite(path) -> list[str]:
    c = RealClient(tracking_uri=f"sqlite:///{path}")
    ids = []
    for i in range(3):
        r = c.create_run("0", run_name=f"r{i}")
        c.log_metric(r.info.run_id, "loss", 1.0 / (i + 1), step=i)
        c.log_param(r.info.run_id, "i", str(i))
        c.set_terminated(r.info.run_id)
        ids.append(r.info.run_id)
    return ids


def test_cli_import_export(tmp_path, store_path, capsys):
    ids = _make_sqlite(tmp_path / "m.db")
    assert (
        main(["--store", str(store_path), "import", f"sqlite:///{tmp_path}/m.db", "--no-progress"])
        == 0
    )
    assert "imported 3 runs" in capsys.readouterr().out
    assert main(["--store", str(store_path), "import", f"sqlite:///{tmp_path}/m.db", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["skipped"] == 3
    assert (
        main(["--store", str(store_path), "export", str(tmp_path / "out"), "-f", "params.i != '1'"])
        == 0
    )
    assert "exported 2 runs" in capsys.readouterr().out
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    try:
        got = RealClient(tracking_uri=str(tmp_path / "out")).search_runs(["0"])
    finally:
        del os.environ["MLFLOW_ALLOW_FILE_STORE"]
    assert sorted(r.info.run_id for r in got) == sorted([ids[0], ids[2]])
    assert main(["--store", str(store_path), "import", str(tmp_path / "nope")]) == 1
    assert "no MLflow file store" in capsys.readouterr().err


@pytest.mark.slow
def test_import_from_running_mlflow_server(tmp_path, store):
    ids = _make_sqlite(tmp_path / "srv.db")
    c = RealClient(tracking_uri=f"sqlite:///{tmp_path}/srv.db")
    (tmp_path / "f.txt").write_text("payload")
    with running_mlflow_server(
        f"sqlite:///{tmp_path}/srv.db",
        ["--default-artifact-root", (tmp_path / "art").as_uri()],
        timeout=180,
    ) as url:
        rc = RealClient(tracking_uri=url)
        rc.log_artifact(ids[0], str(tmp_path / "f.txt"), "docs")
        frame = pd.DataFrame({"a": [1, 2, 3]})
        rc.log_inputs(
            ids[2],
            [
                DatasetInput(
                    real.data.from_pandas(
                        frame, source="s3://b/d.csv", name="d"
                    )._to_mlflow_entity(),
                    [InputTag("mlflow.data.context", "eval"), InputTag("owner", "ana")],
                )
            ],
        )
        want_inputs = rc.get_run(ids[2]).inputs.dataset_inputs
        rc.delete_run(ids[1])
        stats = nt_import(url)
        assert stats.runs == 3 and stats.artifacts == 1 and stats.input_tags_dropped == 1
        assert nt.read_artifact(ids[0], "docs/f.txt") == b"payload"
        assert list(nt.get_metric_history(ids[2], "loss")["value"]) == [1.0 / 3]
        assert nt.get_run(ids[0]).name == "r0"
        # the run's inputs come over REST with every field
        import nbtrack.mlflow as ntmlflow

        [got] = ntmlflow.get_run(ids[2]).inputs.dataset_inputs
        [want] = want_inputs
        for field in ("name", "digest", "source_type", "source", "schema", "profile"):
            assert getattr(got.dataset, field) == getattr(want.dataset, field), field
        assert [(t.key, t.value) for t in got.tags] == [("mlflow.data.context", "eval")]
        with pytest.raises(nt.RunNotFoundError):
            nt.get_run(ids[1])
        assert nt_import(url).skipped == 3
        assert c.get_run(ids[0]).info.run_name == "r0"
        # this server keeps artifacts in a file:// root it does not proxy: an export with
        # artifacts is refused before any run is written
        from nbtrack.interop import export_mlflow
        from nbtrack.interop.exporter import ExportError

        before = len(rc.search_runs(["0"], run_view_type=3))
        with pytest.raises(ExportError, match="does not proxy the artifacts"):
            export_mlflow(url)
        assert len(rc.search_runs(["0"], run_view_type=3)) == before


def nt_import(url):
    from nbtrack.interop import import_mlflow

    return import_mlflow(url)


@pytest.mark.slow
def test_mlflow_ui_serves_an_exported_database(tmp_path, store):
    """``mlflow server`` (what ``mlflow ui`` runs) opened on a database nbtrack exported shows
    the runs: its page loads, and the API its pages call (``/ajax-api``) returns the same
    runs, params, metrics, histories and artifacts as MLflow's client reading the file."""
    import urllib.request

    nt.set_experiment("ui")
    ids = []
    for i in range(3):
        with nt.start_run(name=f"u{i}", params={"i": i}) as run:
            for step in range(5):
                nt.log_metric("loss", 1.0 / (step + 1 + i), step=step)
            nt.log_text(f"note {i}", "notes/n.txt")
        ids.append(run.id)
    from nbtrack.interop import export_mlflow

    assert export_mlflow(f"sqlite:///{tmp_path}/ui.db") == 3
    local = RealClient(tracking_uri=f"sqlite:///{tmp_path}/ui.db")
    exp = local.get_experiment_by_name("ui")
    want = sorted(
        (r.info.run_id, r.info.run_name, r.data.params["i"], r.data.metrics["loss"])
        for r in local.search_runs([exp.experiment_id])
    )
    assert sorted(w[0] for w in want) == sorted(ids)
    with running_mlflow_server(
        f"sqlite:///{tmp_path}/ui.db",
        ["--default-artifact-root", (tmp_path / "art").as_uri()],
        cwd=tmp_path,
        timeout=180,
    ) as url:
        page = urllib.request.urlopen(f"{url}/", timeout=30).read().decode()
        assert "<html" in page.lower()
        body = json.dumps({"experiment_ids": [exp.experiment_id], "max_results": 100}).encode()
        req = urllib.request.Request(
            f"{url}/ajax-api/2.0/mlflow/runs/search",
            data=body,
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        runs = json.loads(urllib.request.urlopen(req, timeout=30).read())["runs"]
        got = sorted(
            (
                r["info"]["run_id"],
                r["info"]["run_name"],
                {p["key"]: p["value"] for p in r["data"]["params"]}["i"],
                {m["key"]: m["value"] for m in r["data"]["metrics"]}["loss"],
            )
            for r in runs
        )
        assert got == want
        remote = RealClient(tracking_uri=url)
        for rid in ids:
            assert [(m.step, m.value) for m in remote.get_metric_history(rid, "loss")] == [
                (m.step, m.value) for m in local.get_metric_history(rid, "loss")
            ]
            assert [f.path for f in remote.list_artifacts(rid, "notes")] == ["notes/n.txt"]
