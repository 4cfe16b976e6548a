"""The live plot of a running ``%%track`` cell: inline SVG charts (:func:`live_svg_html`).

No plotly and no widget: HTML that the live view re-sends with ``update_display_data``.
JupyterLab re-renders HTML on every update (its plotly renderer ignores updates once it
has drawn), the first picture costs milliseconds instead of the seconds a first
``FigureWidget`` takes, nothing lands in the notebook's widget state (a ``FigureWidget``
saves a copy of plotly.js, ~5 MB), no comm outlives the cell, and nothing is fetched.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

#: Most points drawn per key; longer series are thinned by a stride (the kernel keeps
#: the full series for the run summary and the store).
MAX_DRAWN_POINTS = 400


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
