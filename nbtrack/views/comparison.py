"""RunCompare: params that differ, final metrics, parallel coordinates, scatter, curves."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ipywidgets as widgets
import pandas as pd

from nbtrack.views import _data
from nbtrack.views._colors import run_colors
from nbtrack.views._html import STYLE, params_diff_html
from nbtrack.views.comparison_figures import (
    build_final_metrics_figure,
    build_parallel_coordinates,
    build_scatter,
    shared_params,
    varying_params,
)
from nbtrack.views.figures import figure_bundle, run_labels
from nbtrack.views.plots import CurvesPanel, show_figure

_NONE = "—"


def _section(title: str) -> widgets.HTML:
    return widgets.HTML(f'<div class="nbt-section">{title}</div>')


def _option_label(column: str) -> str:
    kind, _, key = column.partition(".")
    return f"{key}  ({kind.rstrip('s')})"


def _preferred_metric(metrics: list[str]) -> str | None:
    for hint in ("val_loss", "val_accuracy", "loss", "accuracy", "acc"):
        for m in metrics:
            if m.removeprefix("metrics.") == hint:
                return m
    return metrics[0] if metrics else None


class RunCompare(widgets.VBox):
    """Side-by-side comparison of runs.

    Shows a params table (differing params highlighted), bars of each run's final
    metric values, a parallel-coordinates plot from params to a chosen metric, a
    scatter of any param or metric against any metric, and (optionally) the curves.
    """

    def __init__(self, runs: Any = None, *, show_curves: bool = True) -> None:
        """Build the comparison.

        Args:
            runs: Run ids, ``Run`` objects, a ``search_runs`` DataFrame or a filter.
            show_curves: Add the overlaid metric curves at the bottom.
        """
        super().__init__()
        self.add_class("nbt-root")
        self.add_class("nbt-compare")
        self._runs = pd.DataFrame({"run_id": []})
        self._colors: dict[str, str] = {}
        self._quiet = False
        self._figures: dict[widgets.Output, Any] = {}
        self._params_html = widgets.HTML()
        self._bars = widgets.Output()
        self._parallel_metric = widgets.Dropdown(
            description="metric", layout=widgets.Layout(width="260px")
        )
        self._parallel = widgets.Output()
        self._scatter_x = widgets.Dropdown(description="x", layout=widgets.Layout(width="260px"))
        self._scatter_y = widgets.Dropdown(description="y", layout=widgets.Layout(width="260px"))
        self._scatter = widgets.Output()
        self.curves = CurvesPanel() if show_curves else None
        children: list[widgets.Widget] = [
            widgets.HTML(STYLE),
            _section("Params"),
            self._params_html,
            _section("Final metrics"),
            self._bars,
            _section("Parallel coordinates"),
            self._parallel_metric,
            self._parallel,
            _section("Param vs metric"),
            widgets.HBox([self._scatter_x, self._scatter_y]),
            self._scatter,
        ]
        if self.curves is not None:
            children += [_section("Curves"), self.curves]
        self.children = children
        self._parallel_metric.observe(lambda _c: self._draw_parallel(), "value")
        self._scatter_x.observe(lambda _c: self._draw_scatter(), "value")
        self._scatter_y.observe(lambda _c: self._draw_scatter(), "value")
        if runs is not None:
            self.set_runs(_data.runs_frame(runs))

    @property
    def runs(self) -> pd.DataFrame:
        """The ``search_runs`` rows compared."""
        return self._runs

    @property
    def differing_params(self) -> list[str]:
        """``params.*`` columns whose values differ between the runs."""
        return varying_params(self._runs)

    def set_runs(self, runs: pd.DataFrame, *, colors: Mapping[str, str] | None = None) -> None:
        """Compare these runs instead.

        Args:
            runs: ``search_runs`` rows.
            colors: ``{run_id: colour}`` (a dashboard passes the colours its other views
                use); runs missing from it get palette colours by position.
        """
        self._runs = runs.reset_index(drop=True)
        frame = self._runs
        ids = [str(r) for r in frame["run_id"]] if "run_id" in frame else []
        self._colors = run_colors(ids, colors)
        self._params_html.value = (
            params_diff_html(frame, run_labels(frame), colors=self._colors)
            if len(frame)
            else '<div class="nbt-dim">Select runs to compare.</div>'
        )
        self._show(self._bars, build_final_metrics_figure(frame, colors=self._colors))
        metrics = [c for c in frame.columns if c.startswith("metrics.")]
        params = [c for c in frame.columns if c.startswith("params.")]
        preferred = _preferred_metric(metrics)
        self._set_options(
            self._parallel_metric,
            [(m.removeprefix("metrics."), m.removeprefix("metrics.")) for m in metrics],
            preferred.removeprefix("metrics.") if preferred else None,
        )
        varying = varying_params(frame)
        x_columns = varying + [c for c in params if c not in varying] + metrics
        # Default x: a varying param that most of these runs have (a param one run has
        # gives one point), the most widely shared first; else any shared param or metric.
        shared = shared_params(frame, varying)
        shared.sort(key=lambda c: -int(frame[c].notna().sum()))
        default_x = (shared or shared_params(frame, x_columns) or x_columns or [None])[0]
        self._set_options(
            self._scatter_x, [(_option_label(c), c) for c in x_columns], default_x, reset=True
        )
        self._set_options(self._scatter_y, [(_option_label(c), c) for c in metrics], preferred)
        self._draw_parallel()
        self._draw_scatter()
        if self.curves is not None:
            self.curves.set_runs(frame, colors=self._colors)

    def _set_options(
        self,
        dropdown: widgets.Dropdown,
        options: list[tuple[str, str]],
        value: str | None,
        *,
        reset: bool = False,
    ) -> None:
        current = None if reset else dropdown.value
        values = [v for _, v in options]
        # Quiet: set_runs draws once at the end. (Never unobserve_all: that also drops
        # ipywidgets' own value→index observer and the browser shows an empty box.)
        self._quiet = True
        try:
            dropdown.options = options or [(_NONE, _NONE)]
            if current in values:
                dropdown.value = current
            elif value in values:
                dropdown.value = value
        finally:
            self._quiet = False

    def _draw_parallel(self) -> None:
        if self._quiet:
            return
        metric = self._parallel_metric.value
        self._show(
            self._parallel,
            build_parallel_coordinates(
                self._runs, None if metric in (None, _NONE) else metric, colors=self._colors
            ),
        )

    def _draw_scatter(self) -> None:
        if self._quiet:
            return
        self._show(
            self._scatter,
            build_scatter(
                self._runs, self._scatter_x.value, self._scatter_y.value, colors=self._colors
            ),
        )

    def redisplay(self) -> None:
        """Send the current figures to the browser again (after their tab was hidden)."""
        for output, fig in self._figures.items():
            show_figure(output, fig, force=True)
        if self.curves is not None:
            self.curves.redisplay()

    def _show(self, output: widgets.Output, fig: Any) -> None:
        self._figures[output] = fig
        show_figure(output, fig)

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = super()._repr_mimebundle_(**kwargs) or {}
        frame = self._runs
        bundle["text/html"] = params_diff_html(frame, run_labels(frame), colors=self._colors)
        bundle["application/vnd.plotly.v1+json"] = figure_bundle(
            build_final_metrics_figure(frame, colors=self._colors)
        )["application/vnd.plotly.v1+json"]
        bundle["text/plain"] = repr(self)
        return bundle

    def __repr__(self) -> str:
        from nbtrack.views import _text

        frame = self._runs
        title = f"RunCompare: {len(frame)} runs"
        if len(frame) == 0:
            return f"{title}\n(no runs)"
        labels = run_labels(frame)
        runs = [labels.get(str(r), str(r)) for r in frame["run_id"]][: _text.MAX_ROWS]
        # One row per param (those that differ first) and per metric; one column per run.
        keys = [c for c in frame.columns if c.startswith(("params.", "metrics."))]
        differ = [c for c in keys if frame[c].astype(str).nunique(dropna=False) > 1]
        ordered = differ + [c for c in keys if c not in differ]
        rows = [[c, *frame[c].tolist()[: _text.MAX_ROWS]] for c in ordered]
        note = f"{len([c for c in differ if c.startswith('params.')])} params differ"
        return f"{title} ({note})\n{_text.table(['', *runs], rows, total=len(rows))}"


def compare(runs: Any) -> RunCompare:
    """Compare runs: params diff, final metrics, parallel coordinates, scatter, curves.

    Args:
        runs: Run ids, ``Run`` objects, a ``search_runs`` DataFrame or a filter string.

    Returns:
        A :class:`RunCompare` widget.
    """
    return RunCompare(runs)
