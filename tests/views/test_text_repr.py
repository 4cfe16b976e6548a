"""Views read well in a terminal: a plain IPython shell prints a small table, not ``<RunTable>``.

The views are displayed by a real terminal IPython (``python -m IPython``, input on stdin)
against a store with two runs, so the text is what its display hook prints.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SETUP = """
import nbtrack as nt
for i, (model, lr) in enumerate([("svm", 0.1), ("tree", 0.2)]):
    with nt.start_run(name=f"run{i}", params={"model": model, "lr": lr}):
        for step in range(5):
            nt.log_metric("loss", 1 / (step + 1 + i))
        nt.log_metric("acc", 0.5 + i / 10)
"""

SESSION = """\
%load_ext nbtrack
%track_runs
import nbtrack as nt
nt.plot_metrics(nt.search_runs(), "loss")
nt.compare(nt.search_runs())
nt.dashboard()
"""


@pytest.fixture(scope="module")
def terminal_output(tmp_path_factory: pytest.TempPathFactory) -> str:
    store = tmp_path_factory.mktemp("text") / "store"
    env = {**os.environ, "NBTRACK_STORE": str(store), "PYTHONWARNINGS": "ignore"}
    subprocess.run([sys.executable, "-c", SETUP], env=env, check=True, timeout=120)
    done = subprocess.run(
        [sys.executable, "-m", "IPython", "--quick", "--no-banner", "--colors=NoColor",
         "--simple-prompt"],
        input=SESSION, env=env, capture_output=True, text=True, timeout=300,
        cwd=Path(store).parent,
    )
    assert "Traceback" not in done.stdout + done.stderr, done.stdout + done.stderr
    return done.stdout


def test_track_runs_prints_a_table_of_the_runs(terminal_output: str) -> None:
    assert "<RunTable" not in terminal_output
    assert "RunTable: 2 runs, 0 selected" in terminal_output
    table = terminal_output.split("RunTable: 2 runs, 0 selected", 1)[1]
    header = table.strip().splitlines()[0].split()
    assert header[:3] == ["run_id", "status", "name"]
    assert "metrics.loss" in header
    rows = [line for line in table.splitlines() if "FINISHED" in line][:2]
    assert [row.split()[2] for row in rows] == ["run1", "run0"]  # newest first
    assert all(len(row.split()[0]) == 32 for row in rows)  # full ids, to copy


def test_plot_metrics_prints_its_curves(terminal_output: str) -> None:
    assert "<plotly figure" not in terminal_output
    assert "MetricsPlot: 2 runs, keys loss" in terminal_output
    block = terminal_output.split("MetricsPlot:", 1)[1].split("In [", 1)[0]
    assert "points" in block and "last" in block
    rows = {line.split()[0]: line.split()[1:] for line in block.splitlines()[3:] if line.strip()}
    assert rows == {"run1": ["5", "0.1667", "0.1667", "0.5"], "run0": ["5", "0.2", "0.2", "1"]}


def test_compare_prints_params_and_metrics_by_run(terminal_output: str) -> None:
    assert "RunCompare: 2 runs (2 params differ)" in terminal_output
    block = terminal_output.split("RunCompare:", 1)[1].split("In [", 1)[0]
    model = next(line for line in block.splitlines() if line.startswith("params.model"))
    assert model.split()[1:] == ["tree", "svm"]


def test_dashboard_prints_its_filter_and_table(terminal_output: str) -> None:
    assert "Dashboard: filter (no filter)" in terminal_output
    block = terminal_output.split("Dashboard:", 1)[1]
    assert "RunTable: 2 runs" in block


def test_track_help_shows_the_cell_magic_usage() -> None:
    from IPython.testing.globalipapp import get_ipython

    ip = get_ipython()
    ip.run_line_magic("load_ext", "nbtrack")
    doc = ip.find_cell_magic("track").__doc__
    usage = doc.split("\n\n", 2)[1].strip()
    assert usage.startswith("%%track [-e EXPERIMENT]"), usage
    # What `%%track?` prints: IPython's inspector on the cell magic.
    info = ip._object_find("%%track")
    assert info.found and "%%track [-e EXPERIMENT]" in info.obj.__doc__
