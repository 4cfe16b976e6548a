"""Views: run table, tag filter, metric curves, comparison and dashboard, inline in Jupyter.

Job: turn what ``nbtrack.tracking.query`` returns (pandas frames) into ipywidgets and
plotly figures that display themselves, with a static HTML / plotly-JSON fallback for
nbconvert, nbviewer and GitHub.

Must not import ``nbtrack.storage`` (reads go through ``nbtrack.tracking.query``, all
in ``_data.py``), nor ``nbtrack.ipython`` or any other edge layer. Importing this
package is cheap: ipywidgets and plotly load on the first call of a view function.

Public names (re-exported lazily by ``nbtrack``): :func:`show_runs`,
:func:`plot_metrics`, :func:`compare`, :func:`dashboard`, :func:`show_models`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nbtrack.views.comparison import RunCompare
    from nbtrack.views.dashboard_view import Dashboard
    from nbtrack.views.plots import MetricsPlot
    from nbtrack.views.table import RunTable

__all__ = ["compare", "dashboard", "plot_metrics", "show_models", "show_runs"]


def show_models(name: str | None = None, filter: str | None = None) -> Any:
    """Registered models, or one model's versions, as a table (HTML in Jupyter).

    See :func:`nbtrack.views.models_view.show_models`.
    """
    from nbtrack.views.models_view import show_models as build

    return build(name, filter)


def show_runs(
    experiment: str | Sequence[str] | None = None,
    filter: str = "",
    columns: Sequence[str] | None = None,
) -> RunTable:
    """Runs as a sortable, selectable, paged table; see :func:`nbtrack.views.table.show_runs`."""
    from nbtrack.views.table import show_runs as build

    return build(experiment, filter, columns)


def plot_metrics(
    runs: Any,
    keys: str | Sequence[str] | None = None,
    *,
    x: str = "step",
    smoothing: float = 0.0,
    log_y: bool = False,
) -> MetricsPlot:
    """Metric curves of runs; see :func:`nbtrack.views.plots.plot_metrics`."""
    from nbtrack.views.plots import plot_metrics as build

    return build(runs, keys, x=x, smoothing=smoothing, log_y=log_y)


def compare(runs: Any) -> RunCompare:
    """Compare runs; see :func:`nbtrack.views.comparison.compare`."""
    from nbtrack.views.comparison import compare as build

    return build(runs)


def dashboard(
    experiment: str | Sequence[str] | None = None, *, refresh_every: float | None = None
) -> Dashboard:
    """Linked filter, table, curves and comparison; see :func:`nbtrack.views.dashboard_view.dashboard`."""
    from nbtrack.views.dashboard_view import dashboard as build

    return build(experiment, refresh_every=refresh_every)
