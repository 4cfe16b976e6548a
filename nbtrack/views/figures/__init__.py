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

Split by noun: ``look`` (theme, subplot grids, run labels, the empty figure), ``curves``
(the metric-curves figure and its point budget) and ``bundle`` (the mime bundle a figure
displays with). This ``__init__`` is the door.
"""

from __future__ import annotations

from nbtrack.views.figures.bundle import figure_bundle
from nbtrack.views.figures.curves import (
    MIN_POINTS_PER_TRACE,
    POINT_BUDGET,
    X_AXES,
    XAxis,
    build_metrics_figure,
    points_per_trace,
    series_segments,
)
from nbtrack.views.figures.look import (
    FONT_COLOR,
    apply_theme,
    base_layout,
    empty_figure,
    grid_layout,
    rows_for,
    run_labels,
)

__all__ = [
    "FONT_COLOR",
    "MIN_POINTS_PER_TRACE",
    "POINT_BUDGET",
    "X_AXES",
    "XAxis",
    "apply_theme",
    "base_layout",
    "build_metrics_figure",
    "empty_figure",
    "figure_bundle",
    "grid_layout",
    "points_per_trace",
    "rows_for",
    "run_labels",
    "series_segments",
]
