"""Metric curves: the static ``MetricsPlot`` view and the interactive ``CurvesPanel``.

Figures are shown through their ``application/vnd.plotly.v1+json`` bundle (drawn by
JupyterLab's plotly renderer) instead of ``go.FigureWidget``: that needs no extra
widget package, keeps plotly.js out of the notebook's widget state, and re-drawing
is one message with the new figure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import ipywidgets as widgets
import pandas as pd
import plotly.graph_objects as go

from nbtrack.views import _data
from nbtrack.views._html import STYLE
from nbtrack.views.figures import X_AXES, build_metrics_figure, figure_bundle

DEFAULT_KEYS = 4


def show_figure(output: widgets.Output, fig: go.Figure, *, force: bool = False) -> None:
    """Replace what ``output`` shows with ``fig`` (works from callbacks and threads).

    Args:
        output: The Output widget.
        fig: The figure.
        force: Send the figure even if it is unchanged (an equal value is not synced),
            to draw it again after its container was hidden: JupyterLab's plotly renderer
            leaves a blank box when a hidden tab becomes visible.
    """
    if force:
        output.outputs = ()
    output.outputs = ({"output_type": "display_data", "data": figure_bundle(fig), "metadata": {}},)


class MetricsPlot:
    """Metric curves of some runs: displays itself as a plotly figure.

    Attributes:
        figure: The ``go.Figure`` (change it freely, e.g. ``update_layout``).
        run_ids: The runs drawn.
        keys: The metric keys drawn.
    """

    def __init__(self, figure: go.Figure, run_ids: Sequence[str], keys: Sequence[str]) -> None:
        self.figure = figure
        self.run_ids = list(run_ids)
        self.keys = list(keys)

    def show(self) -> None:
        """Display the figure in the current output."""
        from IPython.display import display

        display(self)

    def to_json(self) -> str:
        """The plotly JSON sent to the browser."""
        import json

        return json.dumps(figure_bundle(self.figure)["application/vnd.plotly.v1+json"])

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        bundle = figure_bundle(self.figure, include_html=True)
        bundle["text/plain"] = repr(self)  # a terminal shows this table, not "<plotly figure>"
        return bundle

    def _ipython_display_(self) -> None:
        # Shown as display_data, never as the cell's execute_result (as plotly's own
        # figures do): JupyterLab lays an execute_result out in a flex row beside its
        # "Out[n]" prompt, and plotly's resize handler (any sidebar toggle or window
        # resize) drops the figure's height and re-reads it from that row: the plot
        # collapsed to the prompt's 29 px for good.
        from IPython.display import display

        display(self._repr_mimebundle_(), raw=True)

    def __repr__(self) -> str:
        from nbtrack.views import _text

        rows = []
        for trace in self.figure.data:
            ys = [y for y in (trace.y if trace.y is not None else ()) if y == y]  # no NaN
            rows.append([trace.name or "", len(ys), ys[-1] if ys else None,
                         min(ys) if ys else None, max(ys) if ys else None])
        title = f"MetricsPlot: {len(self.run_ids)} runs, keys {', '.join(self.keys) or '(none)'}"
        body = _text.table(["curve", "points", "last", "min", "max"], rows) if rows else "(no points)"
        return f"{title}\n{body}"


def plot_metrics(
    runs: Any,
    keys: str | Sequence[str] | None = None,
    *,
    x: str = "step",
    smoothing: float = 0.0,
    log_y: bool = False,
    max_points: int = 2000,
) -> MetricsPlot:
    """Plot metric curves: one line per run per key, one colour per run.

    Args:
        runs: Run ids, ``Run`` objects, a ``search_runs`` DataFrame or a filter string.
        keys: A metric key or keys; ``None`` draws every key the runs logged.
        x: ``"step"``, ``"time"`` (UTC wall clock) or ``"relative"`` (seconds since
            each run's first point).
        smoothing: Debiased EMA weight in ``[0, 1)`` (TensorBoard's smoothing).
        log_y: Logarithmic y axis.
        max_points: Most points drawn per line (long series are downsampled).

    Returns:
        A :class:`MetricsPlot` that displays itself.
    """
    frame = _data.runs_frame(runs)
    ids = [str(r) for r in frame["run_id"]] if "run_id" in frame else []
    key_list = [keys] if isinstance(keys, str) else (list(keys) if keys is not None else None)
    histories = _data.metric_histories(ids, key_list)
    fig = build_metrics_figure(
        histories,
        frame,
        keys=key_list,
        x=x,
        smoothing=smoothing,
        log_y=log_y,
        max_points=max_points,
    )
    drawn = key_list if key_list is not None else sorted(pd.unique(histories["key"]))
    return MetricsPlot(fig, ids, drawn)


class CurvesPanel(widgets.VBox):
    """Metric curves with controls: keys, x axis, smoothing and log scale."""

    def __init__(self, runs: pd.DataFrame | None = None, *, height: int | None = None) -> None:
        """Build the panel.

        Args:
            runs: ``search_runs`` rows to draw (see :meth:`set_runs`).
            height: Figure height in pixels; ``None`` sizes it by the number of keys.
        """
        super().__init__()
        self.add_class("nbt-root")
        self._runs = pd.DataFrame({"run_id": []})
        self._histories = _data.metric_histories([])
        self._height = height
        self._colors: dict[str, str] | None = None
        self._quiet = False
        self._key_buttons: dict[str, widgets.ToggleButton] = {}
        self._keys_box = widgets.HBox(layout=widgets.Layout(flex_flow="row wrap"))
        self._x = widgets.ToggleButtons(
            options=list(X_AXES),
            value="step",
            tooltips=["step", "wall clock (UTC)", "seconds since the run's first point"],
            style={"button_width": "72px"},
        )
        self._smoothing = widgets.FloatSlider(
            value=0.0,
            min=0.0,
            max=0.99,
            step=0.01,
            description="smoothing",
            continuous_update=False,
            readout_format=".2f",
            layout=widgets.Layout(width="260px"),
        )
        self._log = widgets.Checkbox(
            value=False, description="log y", indent=False, layout=widgets.Layout(width="80px")
        )
        self.output = widgets.Output(layout=widgets.Layout(min_height="120px"))
        self.output.add_class("nbt-curves")
        controls = widgets.HBox(
            [
                widgets.HTML(
                    '<span class="nbt-dim">x</span>', layout=widgets.Layout(margin="0 4px")
                ),
                self._x,
                self._smoothing,
                self._log,
            ],
            layout=widgets.Layout(align_items="center", flex_flow="row wrap"),
        )
        self.children = [widgets.HTML(STYLE), self._keys_box, controls, self.output]
        for control in (self._x, self._smoothing, self._log):
            control.observe(lambda _c: self.redraw(), "value")
        self.figure: go.Figure | None = None
        if runs is not None:
            self.set_runs(runs)

    @property
    def metric_keys(self) -> list[str]:
        """The metric keys drawn."""
        return [k for k, b in self._key_buttons.items() if b.value]

    def set_keys(self, keys: Sequence[str]) -> None:
        """Draw exactly these keys (keys the runs never logged are ignored)."""
        self._quiet = True
        try:
            for key, button in self._key_buttons.items():
                button.value = key in keys
        finally:
            self._quiet = False
        self.redraw()

    def set_runs(self, runs: pd.DataFrame, *, colors: Mapping[str, str] | None = None) -> None:
        """Draw these runs (reads their metric histories from the store).

        Args:
            runs: ``search_runs`` rows.
            colors: ``{run_id: colour}``; runs missing from it get palette colours.
        """
        self._runs = runs.reset_index(drop=True)
        self._colors = dict(colors) if colors is not None else None
        ids = [str(r) for r in self._runs["run_id"]] if "run_id" in self._runs else []
        self._histories = _data.metric_histories(ids)
        self._update_key_buttons()
        self.redraw()

    def redraw(self) -> None:
        """Build the figure again from the data read last and show it."""
        if self._quiet:
            return
        self.figure = build_metrics_figure(
            self._histories,
            self._runs,
            keys=self.metric_keys,
            x=self._x.value,
            smoothing=float(self._smoothing.value),
            log_y=bool(self._log.value),
            height=self._height,
            colors=self._colors,
        )
        show_figure(self.output, self.figure)

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = super()._repr_mimebundle_(**kwargs) or {}
        if self.figure is not None:
            static = figure_bundle(self.figure, include_html=True)
            bundle["application/vnd.plotly.v1+json"] = static["application/vnd.plotly.v1+json"]
            bundle["text/html"] = static["text/html"]
        bundle["text/plain"] = repr(self)
        return bundle

    def redisplay(self) -> None:
        """Send the current figure to the browser again (after its tab was hidden)."""
        if self.figure is not None:
            show_figure(self.output, self.figure, force=True)

    def __repr__(self) -> str:
        return f"<CurvesPanel: {len(self._runs)} runs, keys {self.metric_keys}>"

    def _update_key_buttons(self) -> None:
        present = sorted(pd.unique(self._histories["key"])) if len(self._histories) else []
        previous = {k: b.value for k, b in self._key_buttons.items()}
        chosen = {k for k, on in previous.items() if on and k in present}
        if not chosen:
            chosen = set(present[:DEFAULT_KEYS])
        for button in self._key_buttons.values():
            button.close()
        self._key_buttons = {}
        for key in present:
            button = widgets.ToggleButton(
                value=key in chosen,
                description=key,
                tooltip=f"draw {key}",
                layout=widgets.Layout(width="auto", height="26px", margin="2px 4px 2px 0"),
            )
            button.observe(lambda _c: self.redraw(), "value")
            self._key_buttons[key] = button
        label = widgets.HTML(
            '<span class="nbt-dim">metrics</span>', layout=widgets.Layout(margin="0 6px 0 4px")
        )
        self._keys_box.children = [label, *self._key_buttons.values()] if present else []
