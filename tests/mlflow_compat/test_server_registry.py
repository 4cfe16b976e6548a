"""``nbtrack import http://…`` carries a live MLflow server's model registry: registered
models, versions with their numbers, aliases, tags, descriptions, lineage to the imported
runs, and the models themselves (``nt.load_model("models:/name@alias")`` predicts as the
original); ``nbtrack export http://…`` writes runs and registry back to a server, where real
MLflow loads the champion. Against a real ``mlflow server`` subprocess (SQLite backend,
proxied artifacts)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import nbtrack as nt
import nbtrack.mlflow as ntmlflow
from nbtrack import models
from nbtrack.interop import export_mlflow, import_mlflow, registry_rest
from nbtrack.interop.rest_source import RestSource
from tests.mlflow_compat._mlflow_server import free_port, running_mlflow_server

real = pytest.importorskip("mlflow")
pytest.importorskip("sklearn")

pytestmark = pytest.mark.slow

# Given, so MLflow does not infer them (a subprocess per model: slow on a loaded machine).
PIP = {"pip_requirements": ["scikit-learn", "skops", "cloudpickle"]}
X = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 3.0], [3.0, 1.0]])


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A real MLflow tracking server: SQLite backend and proxied artifacts in a tmp dir."""
    root = tmp_path_factory.mktemp("mlflow-server")
    with running_mlflow_server(
        f"sqlite:///{root}/mlflow.db",
        ["--serve-artifacts", "--artifacts-destination", str(root / "artifacts")],
        cwd=root,
        log=root / "server.log",
    ) as url:
        yield url, _populate(url, root)


def _populate(url: str, root: Path) -> dict:
    """Two runs with sklearn models; ``lr`` gets versions 1 and 2, ``tree`` version 1; an
    alias, tags and descriptions on both levels."""
    from sklearn.linear_model import LinearRegression
    from sklearn.tree import DecisionTreeRegressor

    real.set_tracking_uri(url)
    real.set_registry_uri(url)
    try:
        # an experiment id passed to start_run, not set_experiment: MLflow would keep it as
        # its process-wide active experiment and later tests' stores lack it
        churn = real.MlflowClient().create_experiment("churn")
        fitted, run_ids = {}, []
        for i, fmt in enumerate(("skops", "cloudpickle"), start=1):
            lr = LinearRegression().fit(X, X[:, 0] * i + X[:, 1])
            with real.start_run(run_name=f"fit-{i}", experiment_id=churn) as run:
                real.log_param("i", i)
                real.log_metric("loss", 1.0 / i, step=0)
                real.sklearn.log_model(
                    lr, name="model", serialization_format=fmt, registered_model_name="lr", **PIP
                )
                if i == 1:
                    tree = DecisionTreeRegressor(max_depth=2, random_state=0).fit(X, X[:, 1])
                    real.sklearn.log_model(
                        tree,
                        name="tree-model",
                        serialization_format="cloudpickle",
                        registered_model_name="tree",
                        **PIP,
                    )
                    fitted["tree"] = tree
            fitted[f"lr/{i}"] = lr
            run_ids.append(run.info.run_id)
        client = real.MlflowClient()
        client.set_registered_model_alias("lr", "champion", "2")
        client.set_registered_model_tag("lr", "team", "growth")
        client.update_registered_model("lr", description="linear churn model")
        client.set_model_version_tag("lr", "1", "validated", "no")
        client.update_model_version("lr", "2", description="refit on more data")
        client.set_registered_model_alias("tree", "baseline", "1")
        # MLflow 2's way: a model folder among the run's artifacts, registered by a runs:/
        # source (version 1) and by its resolved mlflow-artifacts:/ location (version 2).
        legacy = LinearRegression().fit(X, 3 * X[:, 0])
        real.sklearn.save_model(
            legacy, str(root / "legacy"), serialization_format="cloudpickle", **PIP
        )
        fitted["old"] = legacy
        rid = run_ids[1]
        for folder in ("legacy", "legacy-b"):
            client.log_artifacts(rid, str(root / "legacy"), folder)
        client.create_registered_model("old")
        client.create_model_version("old", f"runs:/{rid}/legacy", run_id=rid)
        location = client.get_run(rid).info.artifact_uri
        assert location.startswith("mlflow-artifacts:")
        client.create_model_version("old", f"{location}/legacy-b", run_id=rid)
        # version 3's files are gone: skipped and counted, the rest is imported
        client.create_model_version("old", f"runs:/{rid}/missing", run_id=rid)
    finally:
        real.set_tracking_uri("")
        real.set_registry_uri("")
    return {"fitted": fitted, "run_ids": run_ids}


def _cli(*args: str, store: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "nbtrack", "--store", str(store), *args],
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_cli_imports_the_registry_of_a_live_server(server, store_path):
    url, made = server
    done = _cli("import", url, store=store_path)
    assert done.returncode == 0, done.stderr
    assert "imported 3 registered models and 5 model versions (1 versions skipped" in done.stdout
    assert "importing models [" in done.stderr  # the progress bar of the registry
    nt.set_store(str(store_path))

    lr = models.get_registered_model("lr")
    assert (lr.description, lr.tags, lr.aliases, lr.latest_version) == (
        "linear churn model",
        {"team": "growth"},
        {"champion": 2},
        2,
    )
    v1, v2 = models.get_model_version("lr", 1), models.get_model_version("lr", 2)
    assert (v1.tags, v1.description) == ({"validated": "no"}, None)
    assert v2.description == "refit on more data"
    # lineage: each version points at the run that logged it, imported with the same id
    assert [v1.run_id, v2.run_id] == made["run_ids"]
    assert nt.get_run(v2.run_id).name == "fit-2"
    tree = models.get_registered_model("tree")
    assert (tree.aliases, tree.latest_version) == ({"baseline": 1}, 1)
    assert models.get_model_version("tree", 1).run_id == made["run_ids"][0]
    old = [models.get_model_version("old", n) for n in (1, 2)]
    assert [(v.run_id, v.model_name) for v in old] == [
        (made["run_ids"][1], "legacy"),
        (made["run_ids"][1], "legacy-b"),
    ]

    for uri, key in [
        ("models:/lr@champion", "lr/2"),
        ("models:/lr/1", "lr/1"),
        ("models:/tree@baseline", "tree"),
        ("models:/old/1", "old"),
        ("models:/old/2", "old"),
    ]:
        np.testing.assert_allclose(nt.load_model(uri).predict(X), made["fitted"][key].predict(X))
    assert models.model_info("models:/lr/1").format == "skops"
    assert models.model_info("models:/lr/2").format == "pickle"

    again = _cli("import", url, "--json", store=store_path)  # a second import is a no-op
    assert again.returncode == 0, again.stderr
    stats = json.loads(again.stdout)
    assert (
        stats["runs"],
        stats["skipped"],
        stats["registered_models"],
        stats["model_versions"],
        stats["versions_skipped"],
    ) == (0, 2, 0, 0, 1)
    assert len(models.search_model_versions("name = 'lr'")) == 2
    assert nt.register_model(f"runs:/{v1.run_id}/model", "lr").version == 3


def test_an_interrupted_import_resumes_with_only_what_is_missing(server, store, monkeypatch):
    url, made = server
    monkeypatch.setattr(registry_rest, "PAGE_SIZE", 1)  # every page token is followed
    src = RestSource(url)
    calls = {"n": 0}
    download = src.download

    def failing_download(route, query):
        # the server goes away while the second model version's files are fetched
        if route == "model-versions/get-artifact" and query["version"] == "2":
            raise nt.NbtrackError("connection lost")
        calls["n"] += 1
        return download(route, query)

    src.download = failing_download  # type: ignore[method-assign]
    with pytest.raises(nt.NbtrackError, match="connection lost"):
        import_mlflow(src, store=store)
    assert [v.version for v in models.search_model_versions("name = 'lr'")] == [1]

    resumed = import_mlflow(url, store=store)
    assert (resumed.runs, resumed.registered_models, resumed.model_versions) == (0, 2, 4)
    # lr existed; its version 2 and the tree model are what was missing
    assert sorted((v.name, v.version) for v in models.search_model_versions()) == [
        ("lr", 1),
        ("lr", 2),
        ("old", 1),
        ("old", 2),
        ("tree", 1),
    ]
    assert models.get_registered_model("lr").aliases == {"champion": 2}
    np.testing.assert_allclose(
        nt.load_model("models:/lr@champion").predict(X), made["fitted"]["lr/2"].predict(X)
    )
    assert list(nt.get_metric_history(made["run_ids"][0], "loss")["value"]) == [1.0]
    final = import_mlflow(url, store=store)
    assert (final.runs, final.registered_models, final.model_versions) == (0, 0, 0)


@pytest.mark.parametrize(
    "make_url",
    [
        pytest.param(lambda url: f"http://127.0.0.1:{free_port()}", id="nothing-listening"),
        pytest.param(lambda url: f"{url}/not-mlflow", id="not-an-mlflow-path"),
        pytest.param(lambda url: "http://", id="no-host"),
    ],
)
@pytest.mark.parametrize("command", ["import", "export"])
def test_a_bad_server_url_is_one_clear_line(server, store_path, make_url, command):
    url, _ = server
    done = _cli(command, make_url(url), store=store_path)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("nbtrack: error:")
    assert "unexpected" not in lines[0] and "Traceback" not in done.stderr
    assert "MLflow server" in lines[0] or "server URL" in lines[0]


def test_export_to_a_live_server_and_mlflow_loads_the_champion(server, store):
    from sklearn.linear_model import LinearRegression

    url, _ = server
    nt.set_experiment("from-nbtrack")
    fitted, ids = [], []
    for i in (1, 2):
        m = LinearRegression().fit(X, X[:, 0] * (i + 5))
        with nt.start_run(name=f"nb-{i}", tags={"team": "growth"}) as run:
            nt.log_param("i", i)
            nt.log_metrics({"loss": 0.5 / i})
            nt.log_metrics({"loss": 0.25 / i})
            ntmlflow.log_input(
                ntmlflow.data.from_pandas(pd.DataFrame({"a": [i, 2]}), source="s3://b/t.csv",
                                          name="train"),
                context="training",
            )
            info = nt.log_model(m, "model")
        nt.register_model(info.model_uri, "nb-lr", description=f"v{i}", tags={"i": str(i)})
        fitted.append(m)
        ids.append(run.id)
    nt.set_model_alias("nb-lr", "champion", 2)
    models.set_registered_model_tag("nb-lr", "owner", "ml")

    assert export_mlflow(url, experiments=["from-nbtrack"]) == 2
    client = real.MlflowClient(tracking_uri=url, registry_uri=url)
    exp = client.get_experiment_by_name("from-nbtrack")
    new_id = {}
    for r in client.search_runs([exp.experiment_id]):
        new_id[r.data.tags["nbtrack.run_id"]] = r.info.run_id
        assert r.info.status == "FINISHED"
    assert sorted(new_id) == sorted(ids)
    second = client.get_run(new_id[ids[1]])
    assert (second.info.run_name, second.data.params, second.data.tags["team"]) == (
        "nb-2",
        {"i": "2"},
        "growth",
    )
    # the run's inputs arrive as MLflow's dataset_inputs, field by field
    want = ntmlflow.get_run(ids[1]).inputs.dataset_inputs
    got = second.inputs.dataset_inputs
    assert len(got) == len(want) == 1
    for field in ("name", "digest", "source_type", "source", "schema", "profile"):
        assert getattr(got[0].dataset, field) == getattr(want[0].dataset, field), field
    assert [(t.key, t.value) for t in got[0].tags] == [("mlflow.data.context", "training")]
    history = client.get_metric_history(new_id[ids[1]], "loss")
    assert [(p.step, p.value) for p in history] == [(0, 0.25), (1, 0.125)]

    rm = client.get_registered_model("nb-lr")
    assert (rm.description or None, rm.tags) == (None, {"owner": "ml"})
    mv = client.get_model_version_by_alias("nb-lr", "champion")
    assert (str(mv.version), mv.description, mv.run_id) == ("2", "v2", new_id[ids[1]])
    assert mv.tags == {"i": "2", "nbtrack.version": "2"}
    real.set_tracking_uri(url)
    real.set_registry_uri(url)
    try:
        loaded = real.sklearn.load_model("models:/nb-lr@champion")
        first = real.sklearn.load_model("models:/nb-lr/1")
    finally:
        real.set_tracking_uri("")
        real.set_registry_uri("")
    np.testing.assert_allclose(loaded.predict(X), fitted[1].predict(X))
    np.testing.assert_allclose(first.predict(X), fitted[0].predict(X))

    assert export_mlflow(url, experiments=["from-nbtrack"]) == 0  # the server has them
    assert len(client.search_runs([exp.experiment_id])) == 2
    assert len(client.search_model_versions("name = 'nb-lr'")) == 2


def test_an_interrupted_export_is_finished_by_the_next_one(server, store, monkeypatch):
    url, _ = server
    nt.set_experiment("export-resumed")
    ids = []
    for i in range(3):
        with nt.start_run(name=f"e-{i}") as run:
            nt.log_metric("loss", float(i))
            nt.log_text(f"notes {i}", "notes.txt")
        ids.append(run.id)
    sent = {"puts": 0}
    send = RestSource.send

    def dropping_send(self, req, what):
        # the connection drops on the second artifact upload: run 2 is half written
        if req.get_method() == "PUT":
            sent["puts"] += 1
            if sent["puts"] == 2:
                raise nt.NbtrackError("connection lost")
        return send(self, req, what)

    monkeypatch.setattr(RestSource, "send", dropping_send)
    with pytest.raises(nt.NbtrackError, match="connection lost"):
        export_mlflow(url, experiments=["export-resumed"])
    monkeypatch.setattr(RestSource, "send", send)
    assert export_mlflow(url, experiments=["export-resumed"]) == 2  # the half run and the 3rd
    client = real.MlflowClient(tracking_uri=url)
    exp = client.get_experiment_by_name("export-resumed")
    active = client.search_runs([exp.experiment_id])
    assert sorted(r.data.tags["nbtrack.run_id"] for r in active) == sorted(ids)
    for r in active:
        assert [m.value for m in client.get_metric_history(r.info.run_id, "loss")] == [
            float(ids.index(r.data.tags["nbtrack.run_id"]))
        ]
        assert [f.path for f in client.list_artifacts(r.info.run_id)] == ["notes.txt"]
    assert export_mlflow(url, experiments=["export-resumed"]) == 0
