"""The public surface: __all__ matches DESIGN.md and the real exports; import stays cheap."""

from __future__ import annotations

import json
import subprocess
import sys

import nbtrack

DESIGN_NAMES = {
    "set_store",
    "set_experiment",
    "start_run",
    "log_param",
    "log_params",
    "log_metric",
    "log_metrics",
    "set_tag",
    "set_tags",
    "delete_tag",
    "log_artifact",
    "log_artifacts",
    "log_text",
    "log_dict",
    "log_figure",
    "active_run",
    "end_run",
    "get_run",
    "search_runs",
    "get_metric_history",
    "list_experiments",
    "sql",
    "delete_run",
    "restore_run",
    "list_artifacts",
    "read_artifact",
    "show_runs",
    "plot_metrics",
    "compare",
    "dashboard",
    "NbtrackError",
    "FilterError",
    "NoActiveRunError",
    "QueryError",
}


def test_all_covers_the_design_and_every_name_resolves():
    assert set(nbtrack.__all__) >= DESIGN_NAMES
    for name in nbtrack.__all__:
        assert getattr(nbtrack, name) is not None, name


def test_errors_derive_from_one_base():
    for name in nbtrack.__all__:
        obj = getattr(nbtrack, name)
        if isinstance(obj, type) and issubclass(obj, Exception) and not issubclass(obj, Warning):
            assert issubclass(obj, nbtrack.NbtrackError), name


def test_import_is_cheap_and_has_no_side_effects(tmp_path):
    code = (
        "import sys, threading, json, nbtrack\n"
        "heavy = [m for m in ('pyarrow', 'duckdb', 'pandas', 'ipywidgets', 'plotly', 'IPython')"
        " if m in sys.modules]\n"
        "print(json.dumps({'heavy': heavy, 'threads': threading.active_count()}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, check=True, cwd=tmp_path, text=True
    )
    info = json.loads(out.stdout)
    assert info == {"heavy": [], "threads": 1}
    assert not (tmp_path / ".nbtrack").exists()


def test_views_layer_does_not_load_ui_libraries_until_used():
    code = (
        "import sys, nbtrack, nbtrack.views\n"
        "print(sorted(m for m in ('ipywidgets', 'plotly') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True, text=True)
    assert out.stdout.strip() == "[]"
