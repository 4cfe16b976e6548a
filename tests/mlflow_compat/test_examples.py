"""MLflow-style example scripts run unchanged except for the import line, under real MLflow
and under ``nbtrack.mlflow``, and record the same runs (issue 13).

Each script in ``examples/`` is run twice in a fresh interpreter and an empty folder: as
written, with real MLflow and a file store; and with ``mlflow`` imported from
``nbtrack.mlflow`` (the only change), with an nbtrack store. Then both stores are read back,
each with its own client, and compared run by run (matched by run name): status, params,
user tags, every metric's full history (steps and values), artifact paths, parent runs, and
the script's printed output.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mlflow")

EXAMPLES = Path(__file__).parent / "examples"
SCRIPTS = sorted(p.name for p in EXAMPLES.glob("*.py"))


def _to_nbtrack(source: str) -> str:
    """The one change a user makes: import mlflow's names from nbtrack.mlflow."""
    source = re.sub(r"^import mlflow\.(\w+)$", r"import nbtrack.mlflow.\1", source, flags=re.M)
    source = re.sub(r"^import mlflow$", "import nbtrack.mlflow as mlflow", source, flags=re.M)
    return re.sub(r"^from mlflow( import|\.)", r"from nbtrack.mlflow\1", source, flags=re.M)


def _run(script: Path, folder: Path, env: dict[str, str]) -> str:
    folder.mkdir()
    out = subprocess.run(
        [sys.executable, str(script)], cwd=folder, env={**os.environ, **env},
        capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


READ = r"""
import json, sys
kind = sys.argv[1]
if kind == "mlflow":
    import mlflow
    from mlflow import MlflowClient
    from mlflow.artifacts import download_artifacts
else:
    import nbtrack.mlflow as mlflow
    from nbtrack.mlflow import MlflowClient
client = MlflowClient()
exps = mlflow.search_experiments()
runs = mlflow.search_runs(search_all_experiments=True, output_format="list")
by_id = {r.info.run_id: r.info.run_name for r in runs}
out = {}
def files(run_id, path=None):
    found = []
    for f in client.list_artifacts(run_id, path):
        found.extend(files(run_id, f.path) if f.is_dir else [f.path])
    return sorted(found)
for r in runs:
    hist = {k: [(m.step, m.value) for m in sorted(client.get_metric_history(r.info.run_id, k),
                key=lambda m: (m.step, m.timestamp))] for k in r.data.metrics}
    out[r.info.run_name] = {
        "status": r.info.status,
        "experiment": next(e.name for e in exps if e.experiment_id == r.info.experiment_id),
        "params": r.data.params,
        "tags": {k: v for k, v in r.data.tags.items() if not k.startswith("mlflow.")},
        "parent": by_id.get(r.data.tags.get("mlflow.parentRunId")),
        "metrics": r.data.metrics,
        "history": hist,
        "artifacts": files(r.info.run_id),
    }
print(json.dumps(out, sort_keys=True))
"""


def _read(kind: str, folder: Path, env: dict[str, str]) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", READ, kind], cwd=folder, env={**os.environ, **env},
        capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.slow
@pytest.mark.parametrize("name", SCRIPTS)
def test_an_mlflow_script_records_the_same_runs_on_nbtrack(name: str, tmp_path: Path) -> None:
    script = EXAMPLES / name
    real_env = {
        "MLFLOW_TRACKING_URI": (tmp_path / "real" / "mlruns").as_uri(),
        "MLFLOW_ALLOW_FILE_STORE": "true",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "1",
    }
    printed_real = _run(script, tmp_path / "real", real_env)
    ported = tmp_path / f"nbtrack_{name}"
    ported.write_text(_to_nbtrack(script.read_text()))
    assert ported.read_text().count("nbtrack.mlflow") >= 1
    nb_env = {"NBTRACK_STORE": str(tmp_path / "nb" / ".nbtrack")}
    printed_nb = _run(ported, tmp_path / "nb", nb_env)

    real = _read("mlflow", tmp_path / "real", real_env)
    ours = _read("nbtrack", tmp_path / "nb", nb_env)
    assert real, "the script logged no run under MLflow"
    # MLflow names a run started implicitly at random; match such a single run by position.
    if len(real) == 1 and len(ours) == 1:
        ours = {next(iter(real)): next(iter(ours.values()))}
    assert sorted(ours) == sorted(real)
    for run_name, want in real.items():
        got = ours[run_name]
        if want["experiment"] == "Default":
            want["experiment"] = got["experiment"]  # each system names its default its way
        assert got == want, run_name
    assert printed_nb == printed_real
