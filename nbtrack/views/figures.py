"""Pure figure builders for metric curves, and the look every nbtrack figure shares.

Frames in, plotly ``go.Figure`` out; the comparison figures (bars, parallel
coordinates, scatter) are in :mod:`nbtrack.views.comparison_figures`.

Nothing here reads the store or touches a widget: the frames come from
``nbtrack.tracking.query`` (``search_runs`` for runs, ``get_metric_histories`` for
points), so every builder is testable with a hand-made DataFrame.

Figures use one colour per run (:func:`nbtrack.views._colors.run_colors`: distinct
palette colours by position among the runs drawn, or the caller's ``colors``), a
transparent background and grey text and grid lines, so they read on JupyterLab's
light and dark themes alike (plotly cannot read CSS variables), and a tiny template
instead of plotly's default one (which adds ~10 KB of JSON to every figure).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from nbtrack.tracking.downsample import DEFAULT_MAX_POINTS, downsample_indices
from nbtrack.views._colors import run_colors
from nbtrack.views._smoothing import smooth_ema

XAxis = Literal["step", "time", "relative"]
X_AXES: tuple[str, ...] = ("step", "time", "relative")

# Total points drawn in one figure; the per-trace cap shrinks when many runs × keys
# share a figure, so the JSON sent to the browser stays a few hundred KB.
POINT_BUDGET = 120_000
MIN_POINTS_PER_TRACE = 200

FONT_COLOR = "#808080"
_GRID = "rgba(128, 128, 128, 0.22)"
_AXIS = {
    "gridcolor": _GRID,
    "zerolinecolor": _GRID,
    "linecolor": "rgba(128, 128, 128, 0.5)",
    "showline": True,
    "ticks": "outside",
    "tickcolor": "rgba(128, 128, 128, 0.5)",
    "automargin": True,
}
_LAYOUT: dict[str, Any] = {
    "template": {"layout": {}},
    "paper_bgcolor": "rgba(0,0,0,0)",
    "plot_bgcolor": "rgba(0,0,0,0)",
    "font": {
        "color": FONT_COLOR,
        "size": 12,
        "family": "system-ui, -apple-system, Segoe UI, sans-serif",
    },
    "margin": {"l": 56, "r": 16, "t": 36, "b": 40},
    "hoverlabel": {"font": {"size": 12}},
    "legend": {"bgcolor": "rgba(0,0,0,0)", "font": {"size": 11}},
}


def run_labels(runs: pd.DataFrame) -> dict[str, str]:
    """Return a legend label per run id: its name, made unique with a short id.

    Args:
        runs: A frame with ``run_id`` and optionally ``name`` columns.

    Returns:
        ``{run_id: label}``; a run without a name is labelled by the last 8 characters
        of its id (ids are time-ordered, so their heads are alike).
    """
    if runs is None or runs.empty or "run_id" not in runs:
        return {}
    ids = [str(v) for v in runs["run_id"]]
    names = list(runs["name"]) if "name" in runs else [None] * len(ids)
    base = [
        str(n) if isinstance(n, str) and n else rid[-8:] for rid, n in zip(ids, names, strict=True)
    ]
    counts = pd.Series(base).value_counts()
    return {
        rid: (f"{label} ({rid[-6:]})" if counts[label] > 1 else label)
        for rid, label in zip(ids, base, strict=True)
    }


def base_layout(*, height: int | None = None, **extra: Any) -> dict[str, Any]:
    """Return nbtrack's theme-neutral layout dict, updated with ``extra``."""
    layout = {**_LAYOUT, "xaxis": dict(_AXIS), "yaxis": dict(_AXIS)}
    if height is not None:
        layout["height"] = height
    layout.update(extra)
    return layout


def apply_theme(fig: go.Figure, *, height: int | None = None) -> go.Figure:
    """Give a figure built elsewhere nbtrack's theme-neutral look (in place) and return it."""
    fig.update_layout(**_LAYOUT)
    if height is not None:
        fig.update_layout(height=height)
    fig.update_xaxes(**_AXIS)
    fig.update_yaxes(**_AXIS)
    return fig


def _unit(v: float) -> float:
    return min(1.0, max(0.0, v))


def grid_layout(
    titles: Sequence[str], max_cols: int, *, hspace: float = 0.08, vspace: float = 0.12
) -> tuple[dict[str, Any], list[tuple[str, str]], int]:
    """Lay out one subplot per title on a grid, as plain layout entries.

    Building the layout dict directly is ~20 times faster than ``make_subplots`` plus
    ``update_xaxes``, which matters when every click redraws several figures.

    Returns:
        ``(layout entries, [(xaxis ref, yaxis ref) per subplot], rows)``.
    """
    n = max(1, len(titles))
    cols = max(1, min(n, max_cols))
    rows = math.ceil(n / cols)
    width = (1 - hspace * (cols - 1)) / cols
    height = (1 - vspace * (rows - 1)) / rows
    entries: dict[str, Any] = {}
    refs = []
    annotations = []
    for i in range(n):
        row, col = divmod(i, cols)
        suffix = "" if i == 0 else str(i + 1)
        x0 = col * (width + hspace)
        y1 = 1 - row * (height + vspace)
        # Clamp: float sums like 1 - 2 * (h + v) land a hair outside [0, 1] (-5.5e-17),
        # which plotly rejects.
        xd = [_unit(x0), _unit(x0 + width)]
        yd = [_unit(y1 - height), _unit(y1)]
        entries[f"xaxis{suffix}"] = {**_AXIS, "domain": xd, "anchor": f"y{suffix}"}
        entries[f"yaxis{suffix}"] = {**_AXIS, "domain": yd, "anchor": f"x{suffix}"}
        refs.append((f"x{suffix}", f"y{suffix}"))
        if len(titles) > 1:
            annotations.append(
                {
                    "text": f"<b>{titles[i]}</b>",
                    "x": x0 + width / 2,
                    "y": y1,
                    "xref": "paper",
                    "yref": "paper",
                    "xanchor": "center",
                    "yanchor": "bottom",
                    "showarrow": False,
                    "font": {"size": 13, "color": FONT_COLOR},
                }
            )
    if annotations:
        entries["annotations"] = annotations
    return entries, refs, rows


def empty_figure(message: str, *, height: int = 240) -> go.Figure:
    """Return a blank themed figure that shows ``message`` in its middle."""
    layout = base_layout(height=height)
    layout["xaxis"] = {"visible": False}
    layout["yaxis"] = {"visible": False}
    layout["annotations"] = [
        {
            "text": message,
            "showarrow": False,
            "x": 0.5,
            "y": 0.5,
            "xref": "paper",
            "yref": "paper",
            "font": {"size": 14, "color": FONT_COLOR},
        }
    ]
    return go.Figure(layout=layout)


def points_per_trace(traces: int, max_points: int = DEFAULT_MAX_POINTS) -> int:
    """Return the per-trace point cap for a figure with ``traces`` lines."""
    if traces <= 0:
        return max_points
    return int(max(MIN_POINTS_PER_TRACE, min(max_points, POINT_BUDGET // traces)))


def _change_points(values: pd.Series) -> np.ndarray:
    """Positions where a column's value differs from the previous row's."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if len(values) < 2:
        return np.empty(0, dtype=np.int64)
    # pyarrow compares a million strings in a few ms; pandas factorize takes ~100 ms.
    array = pa.array(values, from_pandas=True)
    differs = pc.not_equal(array.slice(1), array.slice(0, len(array) - 1))
    return np.flatnonzero(differs.to_numpy(zero_copy_only=False)) + 1


def _x_at(x: str, steps: np.ndarray, stamps: np.ndarray | None, idx: np.ndarray) -> np.ndarray:
    """The x values of the kept points (computed after downsampling: cheap)."""
    if x == "step" or stamps is None:
        return steps[idx]
    if x == "time":
        return stamps[idx]
    return (stamps[idx] - stamps.min()) / np.timedelta64(1, "s")


def series_segments(histories: pd.DataFrame) -> tuple[pd.DataFrame, dict[tuple[str, str], slice]]:
    """Find each (run, key) series as one contiguous row range.

    ``get_metric_histories`` returns rows ordered by run, key, step and time, so the
    ranges are found from where run or key change; other frames are sorted first.

    Returns:
        ``(frame, {(run_id, key): slice})`` where ``frame`` is ``histories`` or a
        sorted copy of it.
    """
    for attempt in range(2):
        n = len(histories)
        cuts = np.union1d(_change_points(histories["run_id"]), _change_points(histories["key"]))
        starts = np.concatenate([[0], cuts]).astype(np.int64) if n else np.empty(0, np.int64)
        stops = np.concatenate([cuts, [n]]).astype(np.int64) if n else np.empty(0, np.int64)
        # .iloc on the few starts: converting a whole Arrow string column costs ~100 ms.
        run_ids = histories["run_id"].iloc[starts].tolist()
        keys = histories["key"].iloc[starts].tolist()
        segments = {
            (str(r), str(k)): slice(int(a), int(b))
            for r, k, a, b in zip(run_ids, keys, starts, stops, strict=True)
        }
        if len(segments) == len(starts) or attempt:
            return histories, segments
        histories = histories.sort_values(["run_id", "key"], kind="stable").reset_index(drop=True)
    raise AssertionError("unreachable")


def build_metrics_figure(
    histories: pd.DataFrame,
    runs: pd.DataFrame | None = None,
    *,
    keys: Sequence[str] | None = None,
    x: str = "step",
    smoothing: float = 0.0,
    log_y: bool = False,
    max_points: int = DEFAULT_MAX_POINTS,
    height: int | None = None,
    colors: Mapping[str, str] | None = None,
) -> go.Figure:
    """Draw metric curves: one subplot per key, one line per run, one colour per run.

    Args:
        histories: ``run_id, key, step, timestamp, value`` rows (``get_metric_histories``).
        runs: ``search_runs`` rows naming the runs (``run_id``, ``name``); runs
            missing from it are labelled by their id. Its order sets the legend order.
        keys: Metric keys to draw, in order; ``None`` draws every key in ``histories``.
        x: ``"step"``, ``"time"`` (wall clock, UTC) or ``"relative"`` (seconds since
            the run's first point).
        smoothing: TensorBoard-style debiased EMA weight in ``[0, 1)``; when above 0
            the raw series is drawn faintly behind the smoothed one.
        log_y: Logarithmic y axes.
        max_points: Most points per line; long series are downsampled keeping each
            bucket's min and max (:mod:`nbtrack.tracking.downsample`).
        height: Figure height in pixels; ``None`` picks one from the number of rows.
        colors: ``{run_id: colour}``; runs missing from it get palette colours by
            position (:func:`nbtrack.views._colors.run_colors`).

    Returns:
        A ``go.Figure``; hover shows run name, step and value.

    Raises:
        ValueError: ``x`` or ``smoothing`` is out of range.
    """
    if x not in X_AXES:
        raise ValueError(f"x must be one of {', '.join(X_AXES)}; got {x!r}")
    if not 0.0 <= smoothing < 1.0:
        raise ValueError(f"smoothing must be in [0, 1), got {smoothing}")
    if histories is None or histories.empty:
        return empty_figure("No metrics logged for these runs yet")
    histories, segments = series_segments(histories)
    present = list(dict.fromkeys(k for _, k in segments))
    key_list = [k for k in (keys if keys is not None else sorted(present)) if k in present]
    if not key_list:
        wanted = ", ".join(keys or [])
        return empty_figure(f"No points for {wanted or 'these keys'}")
    runs = runs if runs is not None else pd.DataFrame({"run_id": []})
    labels = run_labels(runs)
    order = list(labels)
    for rid in dict.fromkeys(r for r, _ in segments):
        if str(rid) not in labels:
            labels[str(rid)] = str(rid)[-8:]
            order.append(str(rid))

    palette = run_colors(order, colors)
    wanted = set(key_list)
    groups = {pair: rows for pair, rows in segments.items() if pair[1] in wanted}
    all_steps = histories["step"].to_numpy()
    all_values = histories["value"].to_numpy(dtype=np.float64)
    all_stamps = (
        pd.to_datetime(histories["timestamp"], utc=True).dt.tz_localize(None).to_numpy()
        if x != "step"
        else None
    )
    x_title = {"step": "step", "time": "time (UTC)", "relative": "seconds since first point"}[x]
    cap = points_per_trace(len(groups) * (2 if smoothing > 0 else 1), max_points)
    entries, refs, rows = grid_layout(
        key_list, 2, vspace=min(0.12, 0.36 / rows_for(len(key_list), 2))
    )
    cols = min(len(key_list), 2)
    traces: list[go.Scatter] = []
    shown_in_legend: set[str] = set()
    for k_index, key in enumerate(key_list):
        xref, yref = refs[k_index]
        for rid in order:
            rows_of = groups.get((rid, key))
            if rows_of is None or rows_of.stop <= rows_of.start:
                continue
            steps = all_steps[rows_of]
            ys = all_values[rows_of]
            stamps = all_stamps[rows_of] if all_stamps is not None else None
            if np.any(np.diff(steps) < 0):  # not from get_metric_histories: order by step, time
                order_by = (
                    np.lexsort((stamps, steps))
                    if stamps is not None
                    else np.argsort(steps, kind="stable")
                )
                steps, ys = steps[order_by], ys[order_by]
                stamps = stamps[order_by] if stamps is not None else None
            color = palette[rid]
            label = labels[rid]
            first = rid not in shown_in_legend
            shown_in_legend.add(rid)
            if smoothing > 0:
                idx = downsample_indices(ys, cap)
                traces.append(
                    go.Scatter(
                        x=_x_at(x, steps, stamps, idx),
                        y=ys[idx],
                        xaxis=xref,
                        yaxis=yref,
                        mode="lines",
                        legendgroup=rid,
                        showlegend=False,
                        name=label,
                        opacity=0.25,
                        line={"color": color, "width": 1},
                        hoverinfo="skip",
                    )
                )
                ys = smooth_ema(ys, smoothing)
            idx = downsample_indices(ys, cap)
            if x == "step":
                hover = (
                    f"<b>%{{fullData.name}}</b><br>step %{{x}}<br>{key} %{{y:.6g}}<extra></extra>"
                )
                custom = None
            else:
                hover = (
                    f"<b>%{{fullData.name}}</b><br>step %{{customdata}}<br>{key} %{{y:.6g}}"
                    f"<br>{x_title} %{{x}}<extra></extra>"
                )
                custom = steps[idx]
            traces.append(
                go.Scatter(
                    x=_x_at(x, steps, stamps, idx),
                    y=ys[idx],
                    xaxis=xref,
                    yaxis=yref,
                    customdata=custom,
                    hovertemplate=hover,
                    # A one-point line draws nothing: show a lone point as a marker.
                    mode="lines" if len(idx) > 1 else "markers",
                    name=label,
                    legendgroup=rid,
                    showlegend=first,
                    line={"color": color, "width": 1.8},
                    marker={"color": color, "size": 8},
                )
            )
    for k_index, key in enumerate(key_list):
        suffix = "" if k_index == 0 else str(k_index + 1)
        entries[f"yaxis{suffix}"]["type"] = "log" if log_y else "linear"
        if len(key_list) == 1:
            entries[f"yaxis{suffix}"]["title"] = {"text": key}
        if k_index // cols == rows - 1 or k_index + cols >= len(key_list):
            entries[f"xaxis{suffix}"]["title"] = {"text": x_title}
    layout = base_layout(
        height=height or (340 if rows == 1 else 70 + 260 * rows),
        hovermode="closest",
        # One legend group per run; plotly's default 10 px between groups made ten runs
        # overflow the legend of a 380 px figure (it scrolled).
        legend={**_LAYOUT["legend"], "title": {"text": "run"}, "tracegroupgap": 2},
        **entries,
    )
    return go.Figure(data=traces, layout=layout)


def rows_for(n: int, max_cols: int) -> int:
    """Rows a grid of ``n`` subplots with at most ``max_cols`` columns needs."""
    return math.ceil(max(1, n) / max(1, min(n, max_cols)))


def figure_bundle(fig: go.Figure, *, include_html: bool = False) -> dict[str, Any]:
    """Return the display bundle of a figure, independent of ``plotly.io.renderers``.

    ``application/vnd.plotly.v1+json`` is drawn by JupyterLab's plotly renderer
    (even in an untrusted notebook); the optional ``text/html`` loads plotly.js from
    its CDN, for nbconvert HTML and nbviewer.

    Args:
        fig: The figure.
        include_html: Add the ``text/html`` fallback.

    Returns:
        A mime bundle dict with JSON-safe values.
    """
    import json

    import plotly.io as pio

    spec = json.loads(pio.to_json(fig, validate=False))
    spec.setdefault("config", {})
    # Not plotly's "responsive" mode: JupyterLab's renderer already follows the output's
    # width on every resize (Plots.resize), and that resize deletes the layout's height;
    # in responsive mode plotly then sizes the plot to 100% of a container whose height
    # is the plot's own, and the next re-render (a theme switch, a tab shown again) drew
    # it 0 px tall. Without it the fixed height stays and the width still follows.
    spec["config"].update({"displaylogo": False})
    bundle: dict[str, Any] = {
        "application/vnd.plotly.v1+json": spec,
        "text/plain": f"<plotly figure: {len(fig.data)} traces>",
    }
    if include_html:
        bundle["text/html"] = pio.to_html(
            fig,
            include_plotlyjs="cdn",
            full_html=False,
            validate=False,
            config={"displaylogo": False, "responsive": True},  # standalone HTML: no JupyterLab
        )
    return bundle
