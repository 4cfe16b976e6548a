"""A notebook executed with ``jupyter nbconvert --execute`` stays small.

The live plot of a ``%%track`` cell used to be a plotly ``FigureWidget``, whose saved
widget state carried a copy of plotly.js: one tracked cell made a 5 MB notebook. The
target is at most 100 KB added per tracked cell.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from tests.ipython.test_kernel import kernel_env

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

MAX_ADDED_PER_TRACKED_CELL = 100_000

TRACKED = """%%track -n sized
import math, time
import nbtrack as nt
for step in range(60):
    nt.log_metrics({"loss": math.exp(-step / 20), "acc": 1 - math.exp(-step / 25)}, step=step)
    time.sleep(0.02)
"""


def _execute(path: Path, store: Path) -> Path:
    out = path.with_name(path.stem + "-run.ipynb")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "nbconvert",
            "--to",
            "notebook",
            "--execute",
            f"--output={out.name}",
            "--ExecutePreprocessor.timeout=180",
            "--ExecutePreprocessor.kernel_name=python3",
            str(path),
        ],
        env=kernel_env(store, path),
        cwd=path.parent,
        check=True,
        capture_output=True,
        timeout=220,
    )
    return out


def test_one_tracked_cell_adds_at_most_100_kb(tmp_path: Path) -> None:
    store = tmp_path / "store"
    plain = nbformat.v4.new_notebook()
    plain.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    plain.cells = [nbformat.v4.new_code_cell("%load_ext nbtrack")]
    tracked = nbformat.v4.new_notebook(metadata=plain.metadata)
    tracked.cells = [*plain.cells, nbformat.v4.new_code_cell(TRACKED)]
    nbformat.write(plain, tmp_path / "plain.ipynb")
    nbformat.write(tracked, tmp_path / "tracked.ipynb")

    base = _execute(tmp_path / "plain.ipynb", store).stat().st_size
    executed = _execute(tmp_path / "tracked.ipynb", store)
    added = executed.stat().st_size - base
    print(f"[size] one tracked cell adds {added / 1000:.1f} KB")
    assert added <= MAX_ADDED_PER_TRACKED_CELL, f"one tracked cell added {added:,} bytes"

    nb = json.loads(executed.read_text())
    outputs = nb["cells"][1]["outputs"]
    # what was saved is the run summary, not the live plot, and no widget state
    html = ["".join(o.get("data", {}).get("text/html", "")) for o in outputs]  # str or lines
    assert sum("nbtrack-run-summary" in h for h in html) == 1
    assert not any("application/vnd.plotly.v1+json" in o.get("data", {}) for o in outputs)
    widget_state = (
        nb["metadata"]
        .get("widgets", {})
        .get("application/vnd.jupyter.widget-state+json", {})
        .get("state", {})
    )
    assert widget_state == {}, list(widget_state)
    assert os.path.getsize(executed) < 200_000
