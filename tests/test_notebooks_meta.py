"""The demo notebooks are committed the way readers and CI need them.

Every notebook in ``notebooks/``: no ipywidgets state (a plotly ``FigureWidget`` would add
~5 MB of plotly.js) and no widget-view outputs (they draw nothing without a kernel), at
least one ``# NBVAL_CHECK_OUTPUT`` cell (``make test`` compares it), under 1 MB. The ones
built by ``notebooks/_build.py`` hold exactly the cells of their ``notebooks/_src`` source.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
ALL = sorted(NOTEBOOKS.glob("*.ipynb"))
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def test_the_demo_notebooks_are_there() -> None:
    names = {p.stem for p in ALL}
    for name in (
        "01-quickstart",
        "02-hyperparameter-sweep",
        "03-training-curves",
        "04-search-and-sql",
        "05-dashboard",
        "07-models",
    ):
        assert name in names


@pytest.mark.parametrize("path", ALL, ids=[p.name for p in ALL])
def test_notebook_has_no_widget_state(path: Path) -> None:
    nb = _load(path)
    assert "widgets" not in nb.get("metadata", {})
    for cell in nb["cells"]:
        for output in cell.get("outputs", []):
            assert WIDGET_VIEW not in output.get("data", {}), _source(cell)[:80]


@pytest.mark.parametrize("path", ALL, ids=[p.name for p in ALL])
def test_notebook_has_a_checked_cell(path: Path) -> None:
    cells = _load(path)["cells"]
    assert any(c["cell_type"] == "code" and "# NBVAL_CHECK_OUTPUT" in _source(c) for c in cells)


@pytest.mark.parametrize("path", ALL, ids=[p.name for p in ALL])
def test_notebook_is_under_one_megabyte(path: Path) -> None:
    assert path.stat().st_size < 1_000_000


@pytest.mark.parametrize("path", ALL, ids=[p.name for p in ALL])
def test_notebook_has_outputs_for_readers(path: Path) -> None:
    cells = [c for c in _load(path)["cells"] if c["cell_type"] == "code"]
    assert sum(1 for c in cells if c.get("outputs")) >= len(cells) // 3


def test_built_notebooks_match_their_sources() -> None:
    result = subprocess.run(
        [sys.executable, str(NOTEBOOKS / "_build.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
