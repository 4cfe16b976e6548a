"""The live plot of a running ``%%track`` cell: inline SVG (:func:`live_svg_html`).

:func:`live_figure_spec` builds the same plot as a plotly JSON spec (for a frontend that
re-draws a re-sent spec; JupyterLab's plotly renderer does not).

No plotly import and no widget: the spec is a dict that JupyterLab's plotly renderer
(``application/vnd.plotly.v1+json``, bundled with JupyterLab's plotly extension, no
network) draws, and that the live view re-sends with ``update_display_data``. So the
first picture costs a few milliseconds instead of the seconds a first ``FigureWidget``
takes, nothing lands in the notebook's widget state (a ``FigureWidget`` saves a copy of
plotly.js, ~5 MB), and there is no comm to outlive the cell.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

#: Most points drawn per key; longer series are thinned by a stride (the kernel keeps
#: the full series for the run summary and the store).
MAX_DRAWN_POINTS = 400
#: Height of one row of subplots, in pixels; the width follows the output area.
ROW_HEIGHT = 240
MAX_COLUMNS = 3

_GREY = "#808080"
_GRID = "rgba(128, 128, 128, 0.22)"
_AXIS = {
    "gridcolor": _GRID,
    "zerolinecolor": _GRID,
    "linecolor": "rgba(128, 128, 128, 0.5)",
    "showline": True,
    "automargin": True,
}


def thin(
    points: Sequence[tuple[int, float]], most: int = MAX_DRAWN_POINTS
) -> list[tuple[int, float]]:
    """Every k-th point so that at most ``most`` remain; the last point is always kept."""
    if len(points) <= most:
        return list(points)
    stride = math.ceil(len(points) / (most - 1))
    kept = list(points[::stride])
    if kept[-1] != points[-1]:
        kept.append(points[-1])
    return kept


def live_figure_spec(
    series: Mapping[str, Sequence[tuple[int, float]]],
    *,
    color: str,
    title: str = "",
) -> dict[str, Any]:
    """Build the plotly spec of the live plot: one subplot per metric key.

    Args:
        series: ``{key: [(step, value), ...]}`` in step order.
        color: The run's colour (every line).
        title: Shown above the plots (run name, status, point count).

    Returns:
        ``{"data": [...], "layout": {...}, "config": {...}}``, JSON-safe; a fixed height
        (JupyterLab's renderer keeps it through resizes) and the output's width.
    """
    keys = list(series)
    n = max(1, len(keys))
    cols = min(n, MAX_COLUMNS)
    rows = math.ceil(n / cols)
    hspace, vspace = 0.07, min(0.18, 0.5 / rows)
    width = (1 - hspace * (cols - 1)) / cols
    height = (1 - vspace * (rows - 1)) / rows
    data: list[dict[str, Any]] = []
    layout: dict[str, Any] = {
        "height": 60 + ROW_HEIGHT * rows,
        "autosize": True,
        "showlegend": False,
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "font": {"color": _GREY, "size": 11},
        "margin": {"l": 50, "r": 14, "t": 48, "b": 36},
        "title": {"text": title, "font": {"size": 12}, "x": 0, "xanchor": "left", "y": 0.99},
        "annotations": [],
    }
    for i, key in enumerate(keys):
        row, col = divmod(i, cols)
        suffix = "" if i == 0 else str(i + 1)
        x0 = col * (width + hspace)
        y1 = 1 - row * (height + vspace)
        layout[f"xaxis{suffix}"] = {
            **_AXIS,
            "domain": [max(0.0, x0), min(1.0, x0 + width)],
            "anchor": f"y{suffix}",
        }
        layout[f"yaxis{suffix}"] = {
            **_AXIS,
            "domain": [max(0.0, y1 - height), min(1.0, y1)],
            "anchor": f"x{suffix}",
        }
        points = thin(series[key])
        last = f": {points[-1][1]:.5g}" if points else ""
        layout["annotations"].append(
            {
                "text": f"<b>{key}</b>{last}",
                "x": x0 + width / 2,
                "y": y1,
                "xref": "paper",
                "yref": "paper",
                "xanchor": "center",
                "yanchor": "bottom",
                "showarrow": False,
                "font": {"size": 12, "color": _GREY},
            }
        )
        data.append(
            {
                "type": "scatter",
                "x": [p[0] for p in points],
                "y": [p[1] for p in points],
                "xaxis": f"x{suffix}",
                "yaxis": f"y{suffix}",
                # a single point drawn as a line is invisible
                "mode": "lines" if len(points) > 1 else "markers",
                "name": key,
                "line": {"color": color, "width": 1.8},
                "marker": {"color": color, "size": 7},
                "hovertemplate": f"step %{{x}}<br>{key} %{{y:.6g}}<extra></extra>",
            }
        )
    return {
        "data": data,
        "layout": layout,
        # no "responsive": see nbtrack.views.figures.figure_bundle
        "config": {"displaylogo": False, "displayModeBar": False},
    }


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def live_svg_html(
    series: Mapping[str, Sequence[tuple[int, float]]],
    *,
    color: str,
    title: str = "",
) -> str:
    """The live plot as inline SVG in HTML: one small line chart per metric key.

    JupyterLab's plotly renderer ignores ``update_display_data`` once it has drawn (its
    ``renderModel`` returns early when a graph exists), so a re-sent plotly spec never
    moved. HTML is re-rendered on every update, needs no JavaScript and no network, and
    costs a few KB. The charts fill the output's width (a responsive grid of SVGs with a
    fixed aspect ratio), in the run's colour.

    Args:
        series: ``{key: [(step, value), ...]}`` in step order.
        color: The run's colour.
        title: Shown above the charts.

    Returns:
        An HTML string (a ``div.nbtrack-live``), every text escaped.
    """
    import html

    width, height, left, right, top, bottom = 360.0, 190.0, 46.0, 8.0, 24.0, 22.0
    panels = []
    for key, raw in series.items():
        points = [(s, v) for s, v in thin(raw) if math.isfinite(v)]
        name = html.escape(str(key))
        if not points:
            continue
        steps = [p[0] for p in points]
        values = [p[1] for p in points]
        x0, x1 = min(steps), max(steps)
        y0, y1 = min(values), max(values)
        xspan = (x1 - x0) or 1
        yspan = (y1 - y0) or (abs(y1) or 1.0)
        if y1 == y0:
            y0, y1 = y0 - yspan / 2, y1 + yspan / 2
            yspan = y1 - y0

        def px(step: float, x0: float = x0, xspan: float = xspan) -> float:
            return left + (step - x0) / xspan * (width - left - right)

        def py(value: float, y0: float = y0, yspan: float = yspan) -> float:
            return top + (1 - (value - y0) / yspan) * (height - top - bottom)

        coords = " ".join(f"{px(s):.1f},{py(v):.1f}" for s, v in points)
        mark = (
            f'<circle cx="{px(steps[0]):.1f}" cy="{py(values[0]):.1f}" r="3" fill="{color}"/>'
            if len(points) == 1
            else ""
        )
        panels.append(
            f'<svg class="nbtrack-live-chart" viewBox="0 0 {width:.0f} {height:.0f}" '
            f'style="width:100%;height:auto" font-family="sans-serif" font-size="11" '
            f'fill="#808080"><text x="{left}" y="14" font-weight="600">{name}: '
            f"{_fmt(values[-1])}</text>"
            f'<line x1="{left}" y1="{top}" x2="{left}" y2="{height - bottom}" stroke="rgba(128,128,128,0.5)"/>'
            f'<line x1="{left}" y1="{height - bottom}" x2="{width - right}" '
            f'y2="{height - bottom}" stroke="rgba(128,128,128,0.5)"/>'
            f'<text x="{left - 4}" y="{top + 4}" text-anchor="end">{_fmt(y1)}</text>'
            f'<text x="{left - 4}" y="{height - bottom}" text-anchor="end">{_fmt(y0)}</text>'
            f'<text x="{left}" y="{height - 6}">{x0}</text>'
            f'<text x="{width - right}" y="{height - 6}" text-anchor="end">step {x1}</text>'
            f'<polyline points="{coords}" fill="none" stroke="{color}" stroke-width="1.8"/>'
            f"{mark}</svg>"
        )
    return (
        '<div class="nbtrack-live" style="max-width:100%">'
        f'<div style="color:#808080;font-size:12px">{html.escape(title)}</div>'
        '<div style="display:grid;grid-template-columns:repeat(auto-fit,minmax(280px,1fr));'
        f'gap:8px">{"".join(panels)}</div></div>'
    )
