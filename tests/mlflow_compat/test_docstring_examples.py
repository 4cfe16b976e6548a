"""MLflow's own examples (the code blocks in the installed MLflow's docstrings) run on
``nbtrack.mlflow`` with only their imports changed, and produce the same runs as real MLflow.

Each example runs twice in a fresh interpreter: with real MLflow (SQLite store) and with
``nbtrack.mlflow``. The MLflow database is then imported into an nbtrack store and both
stores are compared run by run (experiments, statuses, params, metrics, user tags, artifact
names, datasets), and the printed output too, with run ids and times masked.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

real = pytest.importorskip("mlflow")
from _docexamples import examples, to_nbtrack  # noqa: E402

from nbtrack.interop import import_mlflow  # noqa: E402
from nbtrack.tracking import bulk, settings  # noqa: E402

pytestmark = pytest.mark.slow

FLUENT = [
    "active_run",
    "create_experiment",
    "delete_experiment",
    "delete_run",
    "delete_tag",
    "end_run",
    "get_artifact_uri",
    "get_experiment",
    "get_experiment_by_name",
    "get_parent_run",
    "get_run",
    "last_active_run",
    "log_artifact",
    "log_artifacts",
    "log_dict",
    "log_figure",
    "log_image",
    "log_input",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "log_table",
    "log_text",
    "restore_experiment",
    "restore_run",
    "search_runs",
    "set_experiment",
    "set_experiment_tag",
    "set_experiment_tags",
    "set_tag",
    "set_tags",
    "start_run",
    "get_tracking_uri",
    "load_table",
]
CLIENT = [
    "create_run",
    "log_metric",
    "log_batch",
    "get_metric_history",
    "search_runs",
    "set_terminated",
    "list_artifacts",
    "download_artifacts",
    "log_param",
    "set_tag",
    "delete_tag",
    "get_run",
    "create_experiment",
    "get_experiment",
    "get_experiment_by_name",
    "delete_experiment",
    "restore_experiment",
    "set_experiment_tag",
    "log_text",
    "delete_run",
    "restore_run",
    "update_run",
    "log_image",
    "log_table",
]
# Examples that cannot run the same on nbtrack: what nbtrack raises instead (docs/mlflow.md).
EXPECTED_DIFFERENCES = {
    "mlflow.search_experiments#0": "nbtrack import",  # tracking URI sqlite:///:memory:
    "MlflowClient.search_experiments#0": "nbtrack import",
    "mlflow.log_image#2": "NotImplementedError: mlflow.Image",  # fails in MLflow too
    "MlflowClient.log_image#2": "NotImplementedError: mlflow.Image",
    "MlflowClient.log_table#2": "NotImplementedError: mlflow.Image",
}
# Examples whose printed output differs for a reason outside nbtrack: values that differ
# between any two runs, or MLflow's SQLite store handing back int tag values it was given.
RANDOM_OUTPUT = {
    "mlflow.set_tracking_uri#0",
    "mlflow.get_tracking_uri#0",
    "MlflowClient.log_batch#0",
    "MlflowClient.delete_tag#0",  # SQLite returns tags 1, 2 as ints
    "MlflowClient.create_run#0",  # prints a tags dict: same items, MLflow's insertion order
}
# Examples that autolog an unseeded model (a random split, a random forest): compared on
# status, params, metric names and tags. Metric values differ between any two such runs; the
# model and datasets are recorded nbtrack's way (docs/mlflow.md, autolog row: the model as
# run artifacts through nbtrack.models, datasets named by content), not as MLflow 3's
# LoggedModel, estimator.html and "dataset" inputs.
AUTOLOGGED = {"mlflow.last_active_run#0"}
# Examples that point the tracking URI elsewhere themselves: only both must run.
OWN_STORE = {"mlflow.set_tracking_uri#0", "mlflow.get_tracking_uri#0"}


def _cases() -> list[pytest.param]:
    out = []
    for owner, names in (("mlflow", FLUENT), ("MlflowClient", CLIENT)):
        target = real if owner == "mlflow" else real.MlflowClient
        for name in names:
            for i, code in enumerate(examples(getattr(target, name))):
                case = f"{owner}.{name}#{i}"
                if re.search(r"NameError|\bfeatures\b", code) or (
                    "MlflowClient" in code and "import" not in code
                ):
                    continue
                out.append(pytest.param(code, id=case))
    return out


def _run(code: str, cwd: Path, env: dict[str, str]) -> str:
    p = subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert p.returncode == 0, p.stderr[-2000:]
    return p.stdout


_MASKS = [
    (re.compile(r"[0-9a-f]{32}"), "<id>"),
    (re.compile(r"\b\d{13}\b"), "<ms>"),
    (re.compile(r"\d{4}-\d\d-\d\d[ T][\d:.]+(\+00:00)?"), "<time>"),
    (re.compile(r"(runs:/|file://|/tmp/)\S*"), "<uri>"),
    (re.compile(r"(?i)(experiment[_ ]id[=:] ?)'?[\w-]+'?"), r"\1<e>"),
    # generated run names (adjective-noun-number) are random in both
    (re.compile(r"\b[a-z]+-[a-z]+-\d{1,3}\b"), "<name>"),
]


def _mask(text: str) -> str:
    for pattern, repl in _MASKS:
        text = pattern.sub(repl, text)
    return text


def _summary(store, autologged: bool = False) -> list[tuple]:
    ids = bulk.search_run_ids(store, experiments=None, view=bulk.ALL)
    out = []
    for r in bulk.read_runs(store, ids):
        tags = {k: v for k, v in r.tags.items() if not k.startswith(("mlflow.", "nbtrack."))}
        arts = sorted(
            p for p in bulk.artifact_index(store, r.run_id) if not p.startswith("images/")
        )
        metrics = {k: "nan" if math.isnan(v[0]) else round(v[0], 9) for k, v in r.metrics.items()}
        inputs = sorted((i["name"], i["context"]) for i in r.inputs)
        if autologged:
            metrics, arts, inputs = dict.fromkeys(metrics, "<value>"), [], []
        out.append(
            (
                r.experiment,
                r.status,
                r.deleted,
                r.parent_run_id is not None,
                sorted(r.params.items()),
                sorted(metrics.items()),
                sorted(tags.items()),
                arts,
                inputs,
            )
        )
    return sorted(out, key=repr)


@pytest.mark.parametrize("code", _cases())
def test_mlflow_docstring_example_runs_the_same(code: str, tmp_path: Path, request) -> None:
    case = request.node.callspec.id
    if case in EXPECTED_DIFFERENCES:
        p = subprocess.run(
            [sys.executable, "-c", to_nbtrack(code)],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=600,
            env={**os.environ, "NBTRACK_STORE": str(tmp_path / "s")},
        )
        assert p.returncode != 0 and EXPECTED_DIFFERENCES[case] in p.stderr, p.stderr[-1500:]
        return
    (tmp_path / "real").mkdir()
    (tmp_path / "nb").mkdir()
    db = tmp_path / "real" / "mlflow.db"
    out_real = _run(code, tmp_path / "real", {"MLFLOW_TRACKING_URI": f"sqlite:///{db}"})
    out_nb = _run(
        to_nbtrack(code), tmp_path / "nb", {"NBTRACK_STORE": str(tmp_path / "nb" / "store")}
    )
    if case not in RANDOM_OUTPUT and "random" not in code:
        assert _mask(out_nb) == _mask(out_real)
    if case in OWN_STORE:
        return
    from_real = settings.get_store(str(tmp_path / "from-real"))
    import_mlflow(f"sqlite:///{db}", store=from_real)
    masked = case in AUTOLOGGED
    ours = _summary(settings.get_store(str(tmp_path / "nb" / "store")), masked)
    assert ours == _summary(from_real, masked)
