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

    Args:
        name: the registered model's name.
        filter: a filter in nbtrack's grammar on ``name``, ``run_id`` and ``tags.<key>``.

    Example:
        >>> nt.show_models("churn-model")  # doctest: +SKIP
    """
    from nbtrack.views.models_view import show_models as build

    return build(name, filter)


def show_runs(
    experiment: str | Sequence[str] | None = None,
    filter: str = "",
    columns: Sequence[str] | None = None,
) -> RunTable:
    """Show runs as a sortable, selectable, paged table (a widget that displays itself).

    Args:
        experiment: Experiment(s) searched; None is the current one, ``"*"`` all.
        filter: A ``search_runs`` filter, e.g. ``"metrics.loss < 0.5"``.
        columns: Columns to show (``"status"``, ``"params.lr"`` ...); None picks status,
            name, start, duration and the first metrics, params and tags.

    Returns:
        A ``RunTable``; ``table.selected_run_ids`` holds the ticked runs. Outside a
        notebook its text form (``print(table)``) is a small table of the runs.

    Raises:
        FilterError: ``filter`` is malformed.
        ExperimentNotFoundError: a named experiment does not exist.

    Example:
        >>> table = nt.show_runs(filter="metrics.loss < 0.5")  # doctest: +SKIP
        >>> table.selected_run_ids                              # doctest: +SKIP
        []
    """
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
    """Plot metric curves: one line per run per key, one colour per run.

    Long series are downsampled for drawing (shape-preserving), so this stays fast at
    millions of points.

    Args:
        runs: Run ids (or unique prefixes), ``Run`` objects, a ``search_runs`` DataFrame
            or a filter string.
        keys: A metric key or keys; None draws every key the runs logged.
        x: ``"step"``, ``"time"`` (UTC wall clock) or ``"relative"`` (seconds since each
            run's first point).
        smoothing: Debiased EMA weight in ``[0, 1)`` (TensorBoard's smoothing).
        log_y: Logarithmic y axis.

    Returns:
        A ``MetricsPlot`` that displays itself (its text form lists the runs and keys).

    Raises:
        RunNotFoundError: a run id names no run.
        FilterError: ``runs`` is a malformed filter.

    Example:
        >>> nt.plot_metrics(nt.search_runs(), ["loss", "acc"], smoothing=0.6)  # doctest: +SKIP
    """
    from nbtrack.views.plots import plot_metrics as build

    return build(runs, keys, x=x, smoothing=smoothing, log_y=log_y)


def compare(runs: Any) -> RunCompare:
    """Compare runs: params that differ, final metrics, parallel coordinates, curves.

    Args:
        runs: Run ids (or unique prefixes), ``Run`` objects, a ``search_runs`` DataFrame
            or a filter string.

    Returns:
        A ``RunCompare`` widget (its text form is a params/metrics table).

    Raises:
        RunNotFoundError: a run id names no run.
        FilterError: ``runs`` is a malformed filter.

    Example:
        >>> nt.compare("params.model = 'resnet'")  # doctest: +SKIP
    """
    from nbtrack.views.comparison import compare as build

    return build(runs)


def dashboard(
    experiment: str | Sequence[str] | None = None, *, refresh_every: float | None = None
) -> Dashboard:
    """Tag filter, run table, curves and comparison of an experiment, linked in one widget.

    Args:
        experiment: Experiment(s) shown; None is the current one, ``"*"`` all.
        refresh_every: Seconds between automatic refreshes (None: the Refresh button only).

    Returns:
        A ``Dashboard`` widget.

    Raises:
        ExperimentNotFoundError: a named experiment does not exist.

    Example:
        >>> nt.dashboard("*", refresh_every=5)  # doctest: +SKIP
    """
    from nbtrack.views.dashboard_view import dashboard as build

    return build(experiment, refresh_every=refresh_every)
