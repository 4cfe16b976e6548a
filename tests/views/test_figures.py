"""Figure builders: frames in, plotly figures out (no store, no widgets)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from nbtrack.views._colors import PALETTE, assign_colors, color_for, oklch_to_hex, run_colors
from nbtrack.views.comparison_figures import (
    build_final_metrics_figure,
    build_parallel_coordinates,
    build_scatter,
    varying_params,
)
from nbtrack.views.figures import POINT_BUDGET, build_metrics_figure, figure_bundle, run_labels

T0 = pd.Timestamp("2026-01-01", tz="UTC")


def _histories(runs: dict[str, int], keys: tuple[str, ...] = ("loss",)) -> pd.DataFrame:
    frames = []
    for run_id, n in runs.items():
        for key in keys:
            frames.append(
                pd.DataFrame(
                    {
                        "run_id": run_id,
                        "key": key,
                        "step": np.arange(n),
                        "timestamp": T0 + pd.to_timedelta(np.arange(n) * 10, unit="ms"),
                        "value": np.random.default_rng(n).normal(size=n).cumsum(),
                    }
                )
            )
    return pd.concat(frames, ignore_index=True)


def _runs() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "run_id": ["r-aaaa0001", "r-aaaa0002", "r-aaaa0003"],
            "name": ["resnet", "resnet", "bert"],
            "status": ["FINISHED", "FAILED", "RUNNING"],
            "params.lr": ["0.1", "0.01", "0.001"],
            "params.optimizer": ["sgd", "sgd", "adamw"],
            "params.seed": ["1", "1", "1"],
            "metrics.loss": [0.3, 0.2, 0.5],
            "metrics.accuracy": [0.8, 0.9, np.nan],
        }
    )


def test_run_labels_name_runs_and_disambiguate_duplicates() -> None:
    labels = run_labels(_runs())
    assert labels["r-aaaa0003"] == "bert"
    assert labels["r-aaaa0001"] != labels["r-aaaa0002"]
    assert labels["r-aaaa0001"].startswith("resnet (")
    unnamed = run_labels(pd.DataFrame({"run_id": ["0123456789abcdef"], "name": [None]}))
    assert unnamed == {"0123456789abcdef": "89abcdef"}


def test_one_line_per_run_per_key_in_the_run_colour() -> None:
    runs = _runs()
    hist = _histories(dict.fromkeys(runs["run_id"], 50), keys=("loss", "accuracy"))
    fig = build_metrics_figure(hist, runs)
    assert len(fig.data) == 6
    by_position = dict(zip(runs["run_id"], PALETTE, strict=False))
    for trace in fig.data:
        assert trace.line.color == by_position[trace.legendgroup]
    chosen = dict(zip(runs["run_id"], reversed(PALETTE), strict=False))
    again = build_metrics_figure(hist, runs, colors=chosen)
    assert all(t.line.color == chosen[t.legendgroup] for t in again.data)
    # The legend names each run once; clicking it toggles the run in every subplot.
    legend = [t.name for t in fig.data if t.showlegend]
    assert sorted(legend) == sorted(run_labels(runs).values())
    assert "%{fullData.name}" in fig.data[0].hovertemplate
    assert "step %{x}" in fig.data[0].hovertemplate
    assert {t.xaxis for t in fig.data} == {"x", "x2"}


@pytest.mark.parametrize("x", ["step", "time", "relative"])
def test_x_axes(x: str) -> None:
    hist = _histories({"r1": 20})
    fig = build_metrics_figure(hist, None, x=x)
    trace = fig.data[0]
    if x == "step":
        assert list(trace.x) == list(range(20))
    elif x == "relative":
        assert trace.x[0] == 0.0
        assert trace.x[-1] == pytest.approx(0.19)
        assert "step %{customdata}" in trace.hovertemplate
    else:
        assert pd.Timestamp(trace.x[0]) == T0.tz_localize(None)


def test_smoothing_draws_a_faint_raw_line_behind_the_smoothed_one() -> None:
    fig = build_metrics_figure(_histories({"r1": 100}), None, smoothing=0.9)
    raw, smooth = fig.data
    assert raw.opacity == 0.25
    assert raw.showlegend is False
    assert smooth.y[0] == raw.y[0]
    assert np.std(np.diff(smooth.y)) < np.std(np.diff(raw.y))


def test_log_y_and_bad_arguments() -> None:
    hist = _histories({"r1": 10})
    assert build_metrics_figure(hist, None, log_y=True).layout.yaxis.type == "log"
    with pytest.raises(ValueError, match="x must be one of"):
        build_metrics_figure(hist, None, x="epoch")
    with pytest.raises(ValueError, match="smoothing"):
        build_metrics_figure(hist, None, smoothing=1.0)


def test_million_points_are_downsampled_and_the_json_stays_small() -> None:
    hist = _histories({"big": 1_000_000})
    fig = build_metrics_figure(hist, pd.DataFrame({"run_id": ["big"], "name": ["big"]}))
    assert len(fig.data[0].x) <= 2000
    assert fig.data[0].y.max() == hist["value"].max()
    assert fig.data[0].y.min() == hist["value"].min()
    size = len(json.dumps(figure_bundle(fig)["application/vnd.plotly.v1+json"]))
    assert size <= 500_000


def test_many_traces_share_a_point_budget() -> None:
    hist = _histories({f"r{i}": 5000 for i in range(60)}, keys=("a", "b"))
    fig = build_metrics_figure(hist, None)
    total = sum(len(t.x) for t in fig.data)
    assert total <= POINT_BUDGET + 2 * len(fig.data)


def test_empty_inputs_give_a_message_not_an_error() -> None:
    empty = pd.DataFrame(columns=["run_id", "key", "step", "timestamp", "value"])
    fig = build_metrics_figure(empty, None)
    assert "No metrics" in fig.layout.annotations[0].text
    fig = build_metrics_figure(_histories({"r1": 5}), None, keys=["nope"])
    assert "No points" in fig.layout.annotations[0].text
    assert (
        "No metrics"
        in build_final_metrics_figure(pd.DataFrame({"run_id": []})).layout.annotations[0].text
    )


def test_final_metric_bars_are_coloured_by_run() -> None:
    runs = _runs()
    fig = build_final_metrics_figure(runs)
    assert [t.name for t in fig.data] == ["loss", "accuracy"]
    assert list(fig.data[0].marker.color) == list(PALETTE[:3])
    assert list(fig.data[0].y) == [0.3, 0.2, 0.5]


def test_parallel_coordinates_encode_categorical_params() -> None:
    runs = _runs()
    assert varying_params(runs) == ["params.lr", "params.optimizer"]
    fig = build_parallel_coordinates(runs, "loss")
    axes = fig.layout.meta["axes"]
    assert [a["label"] for a in axes] == ["lr", "optimizer", "loss"]
    assert axes[1]["ticktext"] == ["adamw", "sgd"]
    # One SVG line per run in its colour (no WebGL parcoords: browsers cap contexts).
    assert [t.type for t in fig.data] == ["scatter"] * 3
    assert [t.line.color for t in fig.data] == list(PALETTE[:3])
    lr = [t.y[0] for t in fig.data]  # numeric strings are numbers: 0.1 > 0.01 > 0.001
    assert lr[0] > lr[1] > lr[2] and all(0 <= v <= 1 for v in lr)
    optimizer = [t.y[1] for t in fig.data]  # sgd, sgd, adamw
    assert optimizer[0] == optimizer[1] > optimizer[2]
    assert "optimizer: adamw" in fig.data[2].text[1]
    labels = {a.text for a in fig.layout.annotations}
    assert {"<b>lr</b>", "<b>optimizer</b>", "<b>loss</b>", "adamw", "sgd"} <= labels


def test_scatter_of_param_against_metric() -> None:
    fig = build_scatter(_runs(), "params.lr", "metrics.loss")
    assert list(fig.data[0].x) == [0.1, 0.01, 0.001]
    assert list(fig.data[0].marker.color) == list(PALETTE[:3])
    assert (
        "Pick" in build_scatter(_runs(), "params.nope", "metrics.loss").layout.annotations[0].text
    )


def test_figure_bundle_is_json_with_an_optional_html_fallback() -> None:
    fig = build_final_metrics_figure(_runs())
    bundle = figure_bundle(fig)
    assert set(bundle) == {"application/vnd.plotly.v1+json", "text/plain"}
    json.dumps(bundle)
    html = figure_bundle(fig, include_html=True)["text/html"]
    assert "cdn.plot.ly" in html or "plotly" in html


def test_colours_are_stable_across_processes() -> None:
    ids = ["01a20af9dc88f453374d8d84be1c137d", "run-2", "x"]
    here = [color_for(i) for i in ids]
    assert all(re.fullmatch(r"#[0-9a-f]{6}", c) for c in here)
    code = f"from nbtrack.views._colors import color_for; print([color_for(i) for i in {ids!r}])"
    env = dict(os.environ, PYTHONHASHSEED="12345")
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == str(here)


def test_rows_in_any_order_draw_the_same_curves() -> None:
    hist = _histories({"r1": 300, "r2": 200}, keys=("loss", "acc"))
    shuffled = hist.sample(frac=1.0, random_state=3).reset_index(drop=True)
    for x in ("step", "time", "relative"):
        ordered = build_metrics_figure(hist, None, x=x)
        mixed = build_metrics_figure(shuffled, None, x=x)
        assert len(ordered.data) == len(mixed.data) == 4
        for a, b in zip(ordered.data, mixed.data, strict=True):
            assert (a.legendgroup, a.xaxis) == (b.legendgroup, b.xaxis)
            np.testing.assert_array_equal(np.asarray(a.x), np.asarray(b.x))
            np.testing.assert_array_equal(a.y, b.y)


def test_run_colours_spread_over_the_hue_wheel() -> None:
    colours = {color_for(f"run-{i}") for i in range(200)}
    assert len(colours) > 150  # not a small palette: exact collisions are rare
    assert oklch_to_hex(0.0, 0.0, 0.0) == "#000000"
    assert oklch_to_hex(1.0, 0.0, 0.0) == "#ffffff"


def test_many_metric_keys_lay_out_inside_the_figure(store):
    import nbtrack as nt

    with nt.start_run() as run:
        for key in ("a", "b", "c", "d", "e", "f", "g"):
            nt.log_metric(key, 1.0)
            nt.log_metric(key, 2.0)
    plot = nt.plot_metrics([run.id])
    bundle = plot._repr_mimebundle_()
    assert bundle


@pytest.mark.parametrize("n", range(1, 13))
@pytest.mark.parametrize(("cols", "vspace"), [(2, 0.12), (3, 0.22), (3, 0.12)])
def test_grid_domains_stay_inside_the_unit_interval(n, cols, vspace):
    from nbtrack.views.figures import grid_layout

    entries, _refs, _rows = grid_layout([str(i) for i in range(n)], cols, vspace=vspace)
    for name, axis in entries.items():
        if name.startswith(("xaxis", "yaxis")):
            lo, hi = axis["domain"]
            assert 0.0 <= lo <= hi <= 1.0, (name, axis["domain"])


def test_compare_with_many_metrics_builds(store):
    import nbtrack as nt

    ids = []
    for i in range(2):
        with nt.start_run(params={"i": i}) as run:
            nt.log_metrics({k: float(i) for k in "abcdefg"}, step=0)
        ids.append(run.id)
    view = nt.compare(ids)
    assert view._repr_mimebundle_()


def test_palette_colours_on_screen_together_are_far_apart_in_both_themes() -> None:
    from tests.views._delta_e import delta_e

    for n in range(2, 11):
        colours = list(assign_colors([f"run-{i}" for i in range(n)]).values())
        assert len(set(colours)) == n
        closest = min(delta_e(a, b) for i, a in enumerate(colours) for b in colours[i + 1 :])
        # CIEDE2000: ~2 is just noticeable, 10 clearly different; hashed hues gave 3-6.
        assert closest >= 25, (n, closest)
    for colour in PALETTE:
        assert delta_e(colour, "#ffffff") >= 25  # JupyterLab light background
        assert delta_e(colour, "#111111") >= 30  # JupyterLab dark background


def test_assigned_colours_stay_while_runs_stay_shown() -> None:
    first = assign_colors(["a", "b", "c"])
    assert list(first.values()) == list(PALETTE[:3])
    # b leaves, d and e arrive: a and c keep theirs, d takes b's free colour, e the next.
    second = assign_colors(["c", "d", "a", "e"], first)
    assert second["a"] == first["a"] and second["c"] == first["c"]
    assert second["d"] == first["b"] and second["e"] == PALETTE[3]
    many = assign_colors([f"r{i}" for i in range(12)])
    assert list(many.values())[:10] == list(PALETTE)
    assert many["r11"] == color_for("r11")  # past the palette: the id's own colour
    assert run_colors(["x", "y"], {"y": PALETTE[0]}) == {"x": PALETTE[1], "y": PALETTE[0]}


def test_parallel_coordinates_of_a_mixed_sweep_draw_every_run() -> None:
    # Two model families: each lacks the other's params (the demo sweep of notebook 02).
    runs = pd.DataFrame(
        {
            "run_id": ["r1", "r2", "r3", "r4", "r5"],
            "name": ["svc-1", "svc-2", "svc-3", "rf-1", "rf-2"],
            "params.model": ["svc", "svc", "svc", "rf", "rf"],
            "params.C": ["1", "10", "100", None, None],
            "params.n_estimators": [None, None, None, "50", "100"],
            "params.max_depth": [None, None, None, None, "8"],
            "metrics.accuracy": [0.9, 0.95, 0.97, 0.93, None],
        }
    )
    fig = build_parallel_coordinates(runs, "accuracy")
    axes = fig.layout.meta["axes"]
    # C (3 of 5 runs) is kept; n_estimators (2 of 5) and max_depth (1 of 5) are not.
    assert [a["label"] for a in axes] == ["model", "C", "accuracy"]
    assert any("2 params" in a.text for a in fig.layout.annotations)
    for trace in fig.data:  # every run is a whole line: a missing value sits in a band
        assert len(trace.y) == 3 and np.isfinite(np.asarray(trace.y, dtype=float)).all()
    assert axes[1]["ticktext"][0] == "missing" and axes[2]["ticktext"][0] == "missing"
    c = [t.y[1] for t in fig.data]
    assert c[0] < c[1] < c[2] and c[3] == c[4] < c[0]  # rf runs lack C: below the ticks
    assert "C: missing" in fig.data[3].text[1] and "C: 10" in fig.data[1].text[1]
    assert fig.data[4].y[2] < min(t.y[2] for t in fig.data[:4])  # rf-2 has no accuracy


def test_a_one_point_series_is_drawn_as_a_marker() -> None:
    hist = _histories({"r1": 1, "r2": 30}, keys=("loss",))
    fig = build_metrics_figure(hist, None)
    modes = {t.legendgroup: t.mode for t in fig.data}
    assert modes == {"r1": "markers", "r2": "lines"}


def test_live_charts_are_escaped_svg_in_the_run_colour() -> None:
    from nbtrack.views.live_figure import MAX_DRAWN_POINTS, live_svg_html, thin

    long = [(s, float(s)) for s in range(5000)]
    kept = thin(long)
    assert len(kept) <= MAX_DRAWN_POINTS + 1 and kept[-1] == long[-1] and kept[0] == long[0]
    html = live_svg_html(
        {"loss": long, "<b>x</b>": [(0, 1.0)]}, color="#0b6eae", title="run <1> · running"
    )
    assert html.count("<polyline") == 2 and html.count('stroke="#0b6eae"') == 2
    assert "<circle" in html  # a lone point is drawn as a dot
    assert "&lt;b&gt;x&lt;/b&gt;" in html and "run &lt;1&gt;" in html
    assert "loss: 4999" in html and "<script" not in html
