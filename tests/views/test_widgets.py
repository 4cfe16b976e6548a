"""Widget state after filtering, selecting, sorting and paging, on a real store (no browser)."""

from __future__ import annotations

import re
import subprocess
import sys

import pandas as pd
import pytest

import nbtrack as nt
from nbtrack.errors import FilterError
from nbtrack.views._colors import PALETTE
from nbtrack.views.table import RunTable, default_columns, sort_runs
from nbtrack.views.tag_filter import TagFilter, build_filter, quote_key
from tests.conftest import python_env

SWEEP = [
    ("resnet-a", "vision", "0.1", "sgd"),
    ("resnet-b", "vision", "0.01", "sgd"),
    ("bert", "nlp", "0.001", "adamw"),
    ("o'brien", "it's", "0.5", "sgd"),
]


@pytest.fixture
def runs(store) -> list[str]:
    ids = []
    for i, (name, team, lr, optimizer) in enumerate(SWEEP):
        with nt.start_run(
            name=name,
            params={"lr": lr, "optimizer": optimizer},
            tags={"team": team, "my key.x": str(i)},
        ) as run:
            for step in range(20):
                nt.log_metrics({"loss": 1.0 / (step + 1) + float(lr), "acc": step / 20}, step=step)
            ids.append(run.id)
    return ids


def _row_names(table: RunTable) -> list[str]:
    return [str(n) for n in table.frame.set_index("run_id").loc[table.visible_run_ids, "name"]]


# -- filter strings ----------------------------------------------------------------------
def test_build_filter_quotes_values_and_keys() -> None:
    assert build_filter({"team": ["vision"]}) == "tags.team = 'vision'"
    assert build_filter({"team": ["a", "b"]}) == "tags.team IN ('a', 'b')"
    assert build_filter({"team": ["it's"]}) == "tags.team = 'it''s'"
    assert build_filter({"nbtrack.git.branch": ["main"]}) == "tags.`nbtrack.git.branch` = 'main'"
    assert quote_key("tags", "my key") == "tags.`my key`"
    assert (
        build_filter({"team": ["x"]}, ["FAILED", "KILLED"], "metrics.loss < 1 OR params.a = 'b'")
        == "tags.team = 'x' AND attributes.status IN ('FAILED', 'KILLED') AND "
        "(metrics.loss < 1 OR params.a = 'b')"
    )
    assert build_filter() == ""


def test_built_filters_parse_and_match(runs: list[str]) -> None:
    assert len(nt.search_runs(filter=build_filter({"team": ["it's"]}))) == 1
    assert len(nt.search_runs(filter=build_filter({"my key.x": ["0", "2"]}))) == 2
    assert len(nt.search_runs(filter=build_filter({}, ["FINISHED"]))) == 4


# -- run table ---------------------------------------------------------------------------
def test_show_runs_lists_every_run_newest_first(runs: list[str]) -> None:
    table = nt.show_runs()
    assert isinstance(table, RunTable)
    assert table.visible_run_ids == list(reversed(runs))
    assert table.columns[:4] == ["status", "name", "start_time", "duration_s"]
    assert {"metrics.loss", "params.lr", "tags.team"} <= set(table.columns)
    assert table.sort_key == ("start_time", False)


def test_selecting_rows_by_checkbox_and_from_python(runs: list[str]) -> None:
    table = nt.show_runs()
    seen: list[list[str]] = []
    table.observe(lambda change: seen.append(list(change["new"])), "selected_run_ids")
    _box, check, _html = table._rows[1]
    check.value = True  # what a click in the browser does
    assert table.selected_run_ids == [table.visible_run_ids[1]]
    table.select([runs[0], "no-such-run"])
    assert table.selected_run_ids == [runs[0]]
    assert seen[-1] == [runs[0]]
    table._select_all.value = True
    assert set(table.selected_run_ids) == set(runs)
    assert all(box.children[0].value for box in table._body.children)


def test_sorting_by_a_metric_and_by_a_numeric_param(runs: list[str]) -> None:
    table = nt.show_runs()
    table.sort("metrics.loss")
    assert _row_names(table) == ["bert", "resnet-b", "resnet-a", "o'brien"]
    table.sort("metrics.loss")  # a second click flips the order
    assert _row_names(table)[0] == "o'brien"
    table.sort("params.lr", ascending=True)  # "0.001" < "0.01" < "0.1" < "0.5" as numbers
    assert _row_names(table) == ["bert", "resnet-b", "resnet-a", "o'brien"]
    header = [b.description for b in table._header_grid.children]
    assert "lr ▲" in header
    with pytest.raises(KeyError, match="no column"):
        table.sort("metrics.nope")


def test_filter_keeps_the_still_matching_selection(runs: list[str]) -> None:
    table = nt.show_runs()
    table.select(runs[:3])
    table.set_filter("tags.team = 'vision'")
    assert len(table.frame) == 2
    assert set(table.selected_run_ids) == set(runs[:2])
    with pytest.raises(FilterError):
        table.set_filter("metrics.loss <")
    with pytest.raises(FilterError):
        nt.show_runs(filter="params.lr = ")


def test_paging_ten_thousand_rows_builds_one_page_of_widgets() -> None:
    n = 10_000
    frame = pd.DataFrame(
        {
            "run_id": [f"id{i:05d}" for i in range(n)],
            "name": [f"run-{i}" for i in range(n)],
            "status": ["FINISHED"] * n,
            "start_time": pd.Timestamp("2026-01-01", tz="UTC")
            + pd.to_timedelta(range(n), unit="s"),
            "duration_s": [1.5] * n,
            "metrics.loss": [i / n for i in range(n)],
        }
    )
    table = RunTable(frame, page_size=50)
    assert table.page_count == 200
    assert len(table._body.children) == 50
    assert table.visible_run_ids[0] == "id09999"  # newest first
    table.show_page(199)
    assert table.visible_run_ids[-1] == "id00000"
    table.show_page(500)
    assert table.page == 199
    assert len(table._rows) == 50  # the row widgets are reused, not rebuilt


def test_picking_columns(runs: list[str]) -> None:
    table = nt.show_runs(columns=["name", "metrics.acc"])
    assert table.columns == ["name", "metrics.acc"]
    table._picker.value = ("name", "metrics.acc", "tags.team")
    assert table.columns == ["name", "metrics.acc", "tags.team"]
    table.set_columns(["status", "nope"])
    assert table.columns == ["status"]


def test_static_fallback_is_an_html_table(runs: list[str]) -> None:
    bundle = nt.show_runs()._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    html = bundle["text/html"]
    assert html.count("<tr>") == 5  # header + 4 runs
    assert "o&#x27;brien" in html
    assert "var(--jp-ui-font-color1" in html


def test_default_columns_and_sort_helpers() -> None:
    frame = pd.DataFrame(
        {
            "run_id": ["a", "b"],
            "experiment": ["x", "y"],
            "name": ["n", None],
            "status": ["RUNNING", "FAILED"],
            "tags.nbtrack.host": ["h", "h"],
            "tags.team": ["t", None],
        }
    )
    assert default_columns(frame) == ["status", "name", "experiment", "tags.team"]
    assert list(sort_runs(frame, "name", True)["run_id"]) == ["a", "b"]
    assert list(sort_runs(frame, "name", False)["run_id"]) == ["a", "b"]  # missing stays last


# -- tag filter --------------------------------------------------------------------------
def test_tag_filter_offers_store_tags_and_counts(runs: list[str]) -> None:
    tf = TagFilter()
    assert tf.tag_keys == ["my key.x", "team"]
    tf._key.value = "team"
    assert list(tf._value.options)[1:] == ["it's", "nlp", "vision"]
    tf._value.value = "vision"  # choosing a value adds a chip and resets the box
    assert tf.chosen_tags == {"team": ["vision"]}
    assert tf.filter == "tags.team = 'vision'"
    assert "2</b> of 4 runs" in tf._count.value
    assert len(tf._chips.children) == 1
    tf._chips.children[0].click()  # the chip's ✕ removes it
    assert tf.filter == ""


def test_malformed_text_shows_an_inline_error_and_keeps_the_last_filter(runs: list[str]) -> None:
    changes: list[str] = []
    tf = TagFilter(on_change=changes.append)
    tf.set_statuses(["FINISHED"])
    assert tf.filter == "attributes.status IN ('FINISHED')"
    tf.set_text("metrics.loss < AND")
    assert tf.error
    assert tf.filter == "attributes.status IN ('FINISHED')"
    error = tf._error.value
    assert "nbt-error" in error
    assert "Traceback" not in error
    caret = re.search(r"\n  ( *)\^", error)
    assert caret is not None
    assert len(caret.group(1)) == 15  # under the position FilterError reported
    tf.set_text("metrics.loss < 0.2")
    assert tf.error == ""
    assert tf._error.value == ""
    assert tf.filter == "attributes.status IN ('FINISHED') AND (metrics.loss < 0.2)"
    assert changes[-1] == tf.filter
    tf.clear()
    assert tf.filter == ""
    with pytest.raises(ValueError, match="unknown status"):
        tf.set_statuses(["DONE"])


def test_tag_filter_hides_reserved_keys_and_clear_resets_the_pickers(store) -> None:
    with nt.start_run(tags={"team": "a", "nbtrack.host": "box", "nbtrack.python": "3.11"}):
        pass
    tf = TagFilter()
    assert tf.tag_keys == ["team"]  # nbtrack.* tags drown the user's own: hidden
    assert TagFilter(show_reserved=True).tag_keys == ["team", "nbtrack.host", "nbtrack.python"]
    tf._key.value = "team"
    tf._value.value = "a"
    assert tf.filter == "tags.team = 'a'"
    tf.clear()
    assert tf.filter == ""
    assert tf._key.value == "tag…"  # the key picker is reset, the value picker emptied
    assert list(tf._value.options) == ["value…"] and tf._value.disabled


def test_compare_says_when_every_param_differs_instead_of_highlighting_all(store) -> None:
    ids = []
    for lr, opt in (("0.1", "sgd"), ("0.01", "adam")):
        with nt.start_run(params={"lr": lr, "optimizer": opt}) as run:
            nt.log_metric("loss", float(lr))
        ids.append(run.id)
    html = nt.compare(ids)._params_html.value
    assert "all 2 params differ" in html
    assert 'class="nbt-diff"' not in html  # no row highlighted: all of them would be
    assert html.count('class="nbt-all-diff"') == 2


def test_compare_scatter_defaults_to_a_param_most_runs_have(store) -> None:
    ids = []
    for params in ({"model": "svc", "C": "1"}, {"model": "rf", "depth": "3"}, {"model": "knn"}):
        with nt.start_run(params=params) as run:
            nt.log_metric("accuracy", 0.9)
        ids.append(run.id)
    view = nt.compare(ids)
    assert view._scatter_x.value == "params.model"  # not C or depth: one run has each


def test_dashboard_table_scrolls_in_a_fixed_height_box(runs: list[str]) -> None:
    board = nt.dashboard()
    scroll = [c for c in board.table.children if "nbt-table-scroll" in c._dom_classes]
    assert scroll and scroll[0].layout.max_height == "220px"
    assert board.curves.figure.layout.height == 380
    board.close()


# -- dashboard ---------------------------------------------------------------------------
def test_dashboard_links_filter_table_curves_and_comparison(runs: list[str]) -> None:
    board = nt.dashboard()
    assert len(board.table.frame) == 4
    assert set(board.shown_run_ids) == set(runs)  # nothing ticked: the first rows
    board.tag_filter.add_tag("team", "vision")
    assert len(board.table.frame) == 2
    assert set(board.shown_run_ids) == set(runs[:2])
    assert {t.legendgroup for t in board.curves.figure.data} == set(runs[:2])
    board.table.select([runs[1]])
    assert board.shown_run_ids == [runs[1]]
    assert {t.legendgroup for t in board.curves.figure.data} == {runs[1]}
    assert len(board.comparison.runs) == 0  # the hidden tab is drawn when opened
    board.show_tab("compare")
    assert list(board.comparison.runs["run_id"]) == [runs[1]]
    board.table.select([runs[0]])  # now the compare tab is the one redrawn
    assert list(board.comparison.runs["run_id"]) == [runs[0]]
    assert {t.legendgroup for t in board.curves.figure.data} == {runs[1]}
    board.show_tab("curves")
    assert {t.legendgroup for t in board.curves.figure.data} == {runs[0]}
    with pytest.raises(ValueError, match="tab must be"):
        board.show_tab("table")
    board.tag_filter.set_text("metrics.loss <")
    assert board.tag_filter.error
    assert len(board.table.frame) == 2  # a malformed filter changes nothing
    board.close()


def test_dashboard_refresh_picks_up_runs_of_other_processes(runs: list[str], store_path) -> None:
    board = nt.dashboard()
    code = (
        "import nbtrack as nt\n"
        "with nt.start_run(name='from-another-kernel', tags={'team': 'audio'}):\n"
        "    nt.log_metric('loss', 0.5)\n"
    )
    subprocess.run([sys.executable, "-c", code], env=python_env(store_path), check=True, timeout=60)
    assert len(board.table.frame) == 4
    board.refresh()
    assert len(board.table.frame) == 5
    assert "audio" in board.tag_filter._tags["team"]
    board.close()


def test_auto_refresh_timer_starts_and_stops(runs: list[str]) -> None:
    board = nt.dashboard(refresh_every=30)
    assert board._timer is not None and board._timer.is_alive()
    assert "30 s" in board._auto.value
    board.close()
    board._stop.wait(0)
    assert board._stop.is_set()
    with pytest.raises(ValueError, match="positive"):
        board.start_auto_refresh(0)


# -- comparison and curves ---------------------------------------------------------------
def test_compare_highlights_differing_params(runs: list[str]) -> None:
    view = nt.compare(runs[:2])
    assert view.differing_params == ["params.lr"]
    html = view._params_html.value
    assert html.index("nbt-diff") < html.index("nbt-same")
    assert "1 of 2 params differ" in html
    assert view._parallel_metric.value == "loss"
    assert view._scatter_x.value == "params.lr"
    assert view._scatter_y.value == "metrics.loss"
    assert view._scatter_x.index is not None  # the browser shows the chosen option
    view._scatter_y.value = "metrics.acc"
    assert view._scatter.outputs  # redrawn
    bundle = view._repr_mimebundle_()
    assert {"text/html", "application/vnd.plotly.v1+json"} <= set(bundle)


@pytest.mark.parametrize("kind", ["ids", "runs", "frame", "filter"])
def test_plot_metrics_takes_every_kind_of_runs(runs: list[str], kind: str) -> None:
    given = {
        "ids": runs[:2],
        "runs": [nt.get_run(r) for r in runs[:2]],
        "frame": nt.search_runs(filter="tags.team = 'vision'"),
        "filter": "tags.team = 'vision'",
    }[kind]
    plot = nt.plot_metrics(given, "loss")
    assert sorted(plot.run_ids) == sorted(runs[:2])
    assert len(plot.figure.data) == 2
    assert {t.name for t in plot.figure.data} == {"resnet-a", "resnet-b"}
    assert "application/vnd.plotly.v1+json" in plot._repr_mimebundle_()


def test_one_colour_per_run_in_every_view(runs: list[str]) -> None:
    board = nt.dashboard()
    assigned = set()
    for run_id in runs:
        colour = board._colors[run_id]
        assigned.add(colour)
        row = board.table._rows[board.table.visible_run_ids.index(run_id)][2].value
        assert f"background:{colour}" in row
        curve = [t for t in board.curves.figure.data if t.legendgroup == run_id]
        assert curve and all(t.line.color == colour for t in curve)
    assert assigned == set(PALETTE[: len(runs)])  # distinct palette colours
    board.show_tab("compare")
    for run_id in runs:
        assert f"background:{board._colors[run_id]}" in board.comparison._params_html.value
    bars = board.comparison._figures[board.comparison._bars]
    assert set(bars.data[0].marker.color) == assigned
    before = dict(board._colors)
    board.table.select(runs[1:])  # a run leaves the plots: the others keep their colours
    assert all(board._colors[r] == before[r] for r in runs[1:])
    plot = nt.plot_metrics(runs, "acc")
    assert len({t.line.color for t in plot.figure.data}) == len(plot.figure.data)
    board.close()


def test_views_import_light_and_names_are_not_shadowed() -> None:
    code = (
        "import sys, nbtrack, nbtrack.views\n"
        "assert not any(m.startswith(('plotly', 'ipywidgets')) for m in sys.modules), 'heavy import'\n"
        "import nbtrack.views.widgets\n"
        "import nbtrack.views as v\n"
        "assert all(callable(getattr(v, n)) for n in v.__all__), 'a submodule shadows a function'\n"
        "assert nbtrack.compare is v.compare and nbtrack.dashboard is v.dashboard\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_every_view_has_a_static_fallback(runs: list[str]) -> None:
    board = nt.dashboard()
    board.show_tab("compare")
    views = [board, board.table, board.tag_filter, board.curves, board.comparison]
    for view in views:
        bundle = view._repr_mimebundle_()
        assert "text/html" in bundle, type(view).__name__
        assert "application/vnd.jupyter.widget-view+json" in bundle
    assert "application/vnd.plotly.v1+json" in board.curves._repr_mimebundle_()
    board.close()


def test_sorted_header_has_room_for_its_arrow() -> None:
    from nbtrack.views._html import header_label
    from nbtrack.views.table.columns import column_width as _column_width

    # "duration ▼" in bold (≈ 8 px a character) plus the button's 16 px padding: the column
    # is sized for the label with the arrow, so sorting never truncates it ("duratio…").
    for column in ("duration_s", "metrics.accuracy", "params.n_estimators"):
        label = header_label(column) + " ▼"
        assert _column_width(column, ["1.0"]) >= 8 * len(label) + 16, column
