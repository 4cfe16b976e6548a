"""Pure comparison figures: final-metric bars, parallel coordinates, param-vs-metric scatter.

``search_runs`` rows in, plotly ``go.Figure`` out, in the look of :mod:`nbtrack.views.figures`
and with each run in its colour (:func:`nbtrack.views._colors.run_colors`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from nbtrack.views._colors import run_colors
from nbtrack.views.figures import FONT_COLOR, base_layout, empty_figure, grid_layout, run_labels


def numeric_or_none(values: pd.Series) -> pd.Series | None:
    """Return ``values`` as floats when every non-missing value is a number, else None."""
    present = values.dropna()
    if present.empty:
        return None
    converted = pd.to_numeric(present, errors="coerce")
    if converted.isna().any():
        return None
    return pd.to_numeric(values, errors="coerce").astype("float64")


def _columns(runs: pd.DataFrame, prefix: str) -> list[str]:
    return [c for c in runs.columns if c.startswith(prefix)]


def varying_params(runs: pd.DataFrame) -> list[str]:
    """Return the ``params.*`` columns whose values differ between the runs."""
    out = []
    for column in _columns(runs, "params."):
        values = runs[column].astype("string").fillna("\0missing")
        if values.nunique() > 1:
            out.append(column)
    return out


def build_final_metrics_figure(
    runs: pd.DataFrame,
    *,
    keys: Sequence[str] | None = None,
    max_keys: int = 6,
    colors: Mapping[str, str] | None = None,
) -> go.Figure:
    """Bars of each run's latest value, one subplot per metric (up to ``max_keys``).

    Args:
        runs: ``search_runs`` rows with ``metrics.<key>`` columns.
        keys: Metric keys without the ``metrics.`` prefix; ``None`` takes them all.
        max_keys: Most subplots drawn.
        colors: ``{run_id: colour}``; others get palette colours by position.

    Returns:
        A ``go.Figure`` with bars coloured by run.
    """
    columns = _columns(runs, "metrics.")
    if keys is not None:
        columns = [f"metrics.{k}" for k in keys if f"metrics.{k}" in runs.columns]
    columns = [c for c in columns if runs[c].notna().any()][:max_keys]
    if runs.empty or not columns:
        return empty_figure("No metrics to compare")
    labels = run_labels(runs)
    ids = [str(v) for v in runs["run_id"]]
    titles = [c.removeprefix("metrics.") for c in columns]
    entries, refs, rows = grid_layout(titles, 3, hspace=0.07, vspace=0.22)
    names = [labels[r] for r in ids]
    palette = run_colors(ids, colors)
    bar_colors = [palette[r] for r in ids]
    traces = []
    for (xref, yref), column, title in zip(refs, columns, titles, strict=True):
        traces.append(
            go.Bar(
                x=names,
                y=runs[column].to_numpy(dtype=np.float64),
                xaxis=xref,
                yaxis=yref,
                marker={"color": bar_colors},
                showlegend=False,
                name=title,
                hovertemplate=f"<b>%{{x}}</b><br>{title} %{{y:.6g}}<extra></extra>",
            )
        )
    for name, entry in entries.items():
        if name.startswith("xaxis"):
            entry.update(showticklabels=len(ids) <= 12, tickangle=-30, showgrid=False)
    return go.Figure(data=traces, layout=base_layout(height=90 + 240 * rows, **entries))


def shared_params(runs: pd.DataFrame, columns: Sequence[str], *, share: float = 0.5) -> list[str]:
    """The ``columns`` that at least ``share`` of the runs have a value for.

    A sweep over model families gives each family its own params; an axis that most
    runs lack draws most lines into its "missing" band and tells nothing.
    """
    if runs.empty:
        return []
    need = max(1, int(np.ceil(share * len(runs))))
    return [c for c in columns if int(runs[c].notna().sum()) >= need]


def build_parallel_coordinates(
    runs: pd.DataFrame,
    metric: str | None,
    *,
    params: Sequence[str] | None = None,
    max_params: int = 12,
    colors: Mapping[str, str] | None = None,
) -> go.Figure:
    """Parallel coordinates from params to one metric, one coloured line per run.

    Numeric params are numeric axes; other params are categorical axes with their
    values as tick labels. A run without a value on an axis goes through a ``missing``
    band below it (plotly drops a line with any missing value).

    Args:
        runs: ``search_runs`` rows.
        metric: Metric key (without ``metrics.``) drawn as the last axis, or None.
        params: Param keys (without ``params.``); ``None`` takes the varying ones that
            at least half of the runs have (every shared param when none varies).
        max_params: Most param axes.
        colors: ``{run_id: colour}``; others get palette colours by position.

    Returns:
        A ``go.Figure`` with one line per run across the axes; each axis (its label,
        ticks and values) is described in ``fig.layout.meta["axes"]``.
    """
    if runs.empty:
        return empty_figure("No runs to compare")
    hidden = 0
    if params is None:
        candidates = varying_params(runs) or _columns(runs, "params.")
        columns = shared_params(runs, candidates)
        hidden = len(candidates) - len(columns)
    else:
        columns = [f"params.{p}" for p in params if f"params.{p}" in runs.columns]
    columns = columns[:max_params]
    metric_column = f"metrics.{metric}" if metric else None
    if metric_column and metric_column not in runs.columns:
        metric_column = None
    if not columns and not metric_column:
        return empty_figure("No params or metrics to compare")
    dimensions = [_dimension(runs[c], c.removeprefix("params.")) for c in columns]
    if metric_column:
        dimensions.append(_dimension(runs[metric_column], metric_column.removeprefix("metrics.")))
    labels = run_labels(runs)
    ids = [str(v) for v in runs["run_id"]]
    palette = run_colors(ids, colors)
    axes = [_axis(d) for d in dimensions]
    # One SVG line per run, in its colour. Not go.Parcoords: that draws with three WebGL
    # contexts per figure, and a browser keeps about 16 per page; past that it drops
    # the oldest and plotly fails redrawing them (a notebook with a few compare views).
    traces = [
        go.Scatter(
            x=list(range(len(axes))),
            y=[a["positions"][i] for a in axes],
            mode="lines+markers",
            line={"color": palette[rid], "width": 2},
            marker={"color": palette[rid], "size": 6},
            name=labels[rid],
            legendgroup=rid,
            text=[f"{a['label']}: {a['shown'][i]}" for a in axes],
            hovertemplate=f"<b>{labels[rid]}</b><br>%{{text}}<extra></extra>",
        )
        for i, rid in enumerate(ids)
    ]
    shapes, annotations = _axis_decorations(axes)
    layout = base_layout(
        height=340,
        margin={"l": 60, "r": 60, "t": 56, "b": 28},
        xaxis={"visible": False, "range": [-0.35, len(axes) - 0.65], "fixedrange": True},
        yaxis={"visible": False, "range": [-0.04, 1.04], "fixedrange": True},
        shapes=shapes,
        annotations=annotations,
        showlegend=False,  # colours match the params table above and the run table
        hovermode="closest",
    )
    if hidden:
        layout["annotations"] += [
            {
                "text": f"{hidden} param{'s' if hidden > 1 else ''} that fewer than half "
                "of these runs have not shown",
                "showarrow": False,
                "x": 1,
                "y": -0.02,
                "xref": "paper",
                "yref": "paper",
                "xanchor": "right",
                "yanchor": "top",
                "font": {"size": 11, "color": FONT_COLOR},
            }
        ]
        layout["margin"]["b"] = 44
    layout["meta"] = {"axes": [{k: a[k] for k in ("label", "ticktext")} for a in axes]}
    return go.Figure(data=traces, layout=layout)


MISSING = "missing"


def _dimension(values: pd.Series, label: str) -> dict[str, Any]:
    numeric = numeric_or_none(values)
    if numeric is not None:
        array = numeric.to_numpy(dtype=np.float64)
        missing = ~np.isfinite(array)
        if not missing.any():
            return {"label": label, "values": array}
        # A band below the axis for runs without a value: parcoords skips NaN lines.
        low, high = float(np.nanmin(array)), float(np.nanmax(array))
        span = (high - low) or (abs(high) or 1.0)
        band = low - 0.25 * span
        ticks = np.linspace(low, high, 5) if high > low else np.array([low])
        return {
            "label": label,
            "values": np.where(missing, band, array),
            "range": [band - 0.05 * span, high + 0.02 * span],
            "tickvals": [band, *ticks.tolist()],
            "ticktext": [MISSING, *(f"{t:.3g}" for t in ticks)],
        }
    text = values.astype("string").fillna(MISSING)
    categories = sorted(pd.unique(text), key=lambda c: (c != MISSING, c))
    codes = text.map({c: i for i, c in enumerate(categories)}).to_numpy(dtype=np.float64)
    return {
        "label": label,
        "values": codes,
        "tickvals": list(range(len(categories))),
        "ticktext": [c if len(c) <= 18 else c[:17] + "…" for c in categories],
        "range": [-0.25, max(len(categories) - 0.75, 0.25)],
    }


def _axis(dimension: dict[str, Any]) -> dict[str, Any]:
    """Place a dimension's values and ticks on a 0..1 vertical axis."""
    values = np.asarray(dimension["values"], dtype=np.float64)
    if "range" in dimension:
        low, high = dimension["range"]
    else:
        low, high = float(values.min()), float(values.max())
        pad = 0.02 * (high - low)
        low, high = low - pad, high + pad
    if high <= low:
        low, high = low - 0.5, high + 0.5
    if "tickvals" in dimension:
        ticks, text = list(dimension["tickvals"]), list(dimension["ticktext"])
    else:
        ticks = np.unique(np.linspace(float(values.min()), float(values.max()), 5)).tolist()
        text = [f"{t:.3g}" for t in ticks]
    by_tick = dict(zip(ticks, text, strict=True))

    def shown(v: float) -> str:
        return by_tick.get(v, f"{v:.6g}") if "tickvals" in dimension else f"{v:.6g}"

    return {
        "label": dimension["label"],
        "positions": ((values - low) / (high - low)).tolist(),
        "shown": [shown(float(v)) for v in values],
        "ticks": [(t - low) / (high - low) for t in ticks],
        "ticktext": text,
    }


def _axis_decorations(axes: list[dict[str, Any]]) -> tuple[list[dict], list[dict]]:
    """Vertical axis lines, their labels on top and tick labels to their left."""
    line = {"color": "rgba(128, 128, 128, 0.7)", "width": 1.5}
    shapes = [
        {"type": "line", "xref": "x", "yref": "y", "x0": j, "x1": j, "y0": 0, "y1": 1, "line": line}
        for j in range(len(axes))
    ]
    annotations: list[dict] = []
    for j, axis in enumerate(axes):
        annotations.append(
            {
                "text": f"<b>{axis['label']}</b>",
                "x": j,
                "y": 1.04,
                "xref": "x",
                "yref": "y",
                "yanchor": "bottom",
                "showarrow": False,
                "font": {"size": 12, "color": FONT_COLOR},
            }
        )
        for position, text in zip(axis["ticks"], axis["ticktext"], strict=True):
            annotations.append(
                {
                    "text": text,
                    "x": j,
                    "y": position,
                    "xref": "x",
                    "yref": "y",
                    "xanchor": "right",
                    "xshift": -4,
                    "showarrow": False,
                    "font": {"size": 10, "color": FONT_COLOR},
                }
            )
    return shapes, annotations


def build_scatter(
    runs: pd.DataFrame,
    x_column: str,
    y_column: str,
    *,
    colors: Mapping[str, str] | None = None,
) -> go.Figure:
    """Scatter of one run column against another (e.g. ``params.lr`` vs ``metrics.loss``).

    Args:
        runs: ``search_runs`` rows.
        x_column: Full column name for x; numeric strings are plotted as numbers.
        y_column: Full column name for y.
        colors: ``{run_id: colour}``; others get palette colours by position.

    Returns:
        A ``go.Figure`` with one marker per run in the run's colour, labelled by name.
    """
    if runs.empty or x_column not in runs.columns or y_column not in runs.columns:
        return empty_figure("Pick a param and a metric")
    labels = run_labels(runs)
    ids = [str(v) for v in runs["run_id"]]
    palette = run_colors(ids, colors)
    xs = numeric_or_none(runs[x_column])
    x_values = xs.to_numpy() if xs is not None else runs[x_column].astype("string").fillna("—")
    ys = numeric_or_none(runs[y_column])
    y_values = ys.to_numpy() if ys is not None else runs[y_column].astype("string").fillna("—")
    x_name = x_column.split(".", 1)[-1]
    y_name = y_column.split(".", 1)[-1]
    trace = go.Scatter(
        x=x_values,
        y=y_values,
        mode="markers+text" if len(ids) <= 12 else "markers",
        text=[labels[r] for r in ids],
        textposition="top center",
        textfont={"size": 11, "color": FONT_COLOR},
        marker={
            "color": [palette[r] for r in ids],
            "size": 11,
            "line": {"width": 1, "color": "rgba(128,128,128,0.6)"},
        },
        hovertemplate=f"<b>%{{text}}</b><br>{x_name} %{{x}}<br>{y_name} %{{y}}<extra></extra>",
        showlegend=False,
    )
    layout = base_layout(height=320)
    layout["xaxis"]["title"] = {"text": x_name}
    layout["yaxis"]["title"] = {"text": y_name}
    return go.Figure(data=[trace], layout=layout)
