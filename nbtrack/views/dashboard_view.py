"""Dashboard: tag filter → run table → curves and comparison, linked, with refresh."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Sequence
from typing import Any

import ipywidgets as widgets
import pandas as pd

from nbtrack.views._colors import assign_colors
from nbtrack.views._html import STYLE, esc
from nbtrack.views.comparison import RunCompare
from nbtrack.views.plots import CurvesPanel
from nbtrack.views.table import RunTable
from nbtrack.views.tag_filter import TagFilter

# With nothing ticked, the curves and the comparison show the first rows of the table.
DEFAULT_SHOWN = 10
TABLE_HEIGHT = "220px"  # 7-8 rows under the header, the rest scroll
CURVES_HEIGHT = 380


class Dashboard(widgets.VBox):
    """Everything about an experiment in one linked view.

    Changing the filter narrows the table; ticking rows redraws the curves and the
    comparison (with nothing ticked they show the first ``DEFAULT_SHOWN`` rows), which sit
    in two tabs; the hidden tab is redrawn when it is opened. The
    Refresh button, or a timer, reads the store again, so runs logged by other
    kernels appear.
    """

    def __init__(
        self, experiment: str | Sequence[str] | None = None, *, refresh_every: float | None = None
    ) -> None:
        """Build the dashboard.

        Args:
            experiment: Experiment(s) shown; ``None`` is the current one, ``"*"`` all.
            refresh_every: Seconds between automatic refreshes; ``None`` refreshes only
                on the button.
        """
        super().__init__()
        self.add_class("nbt-root")
        self.add_class("nbt-dashboard")
        self._experiment = experiment
        self.tag_filter = TagFilter(experiment=experiment)
        # Filter, table and curves fit one 1000-px-high window together: the rows scroll
        # in a fixed-height box and the curves have a fixed height.
        self.table = RunTable(
            experiment=experiment, filter=self.tag_filter.filter, max_height=TABLE_HEIGHT
        )
        self.curves = CurvesPanel(height=CURVES_HEIGHT)
        self.comparison = RunCompare(show_curves=False)
        self._title = widgets.HTML(layout=widgets.Layout(flex="1 1 auto"))
        self._refresh = widgets.Button(
            description="Refresh",
            icon="refresh",
            tooltip="Read the store again",
            layout=widgets.Layout(width="auto"),
        )
        self._auto = widgets.HTML()
        # Curves and comparison in tabs, drawn lazily: only the visible tab's figures are
        # rebuilt on each filter or selection change (the browser's plotly rendering, not
        # Python, is what a redraw of every figure costs), the other tab when it is opened.
        self._tabs = widgets.Tab(children=[self.curves, self.comparison])
        self._tabs.set_title(0, "Curves")
        self._tabs.set_title(1, "Compare")
        self._tabs.add_class("nbt-tabs")
        self._stale = {0: True, 1: True}
        self._rows = pd.DataFrame({"run_id": []})
        self.children = [
            widgets.HTML(STYLE),
            widgets.HBox(
                # Refresh at the right end of the header, the timer's note before it.
                [self._title, self._auto, self._refresh],
                layout=widgets.Layout(align_items="center"),
            ),
            self.tag_filter,
            self.table,
            self._tabs,
        ]
        self.tag_filter.observe(self._on_filter, "filter")
        self.table.observe(lambda _c: self._redraw(), "selected_run_ids")
        self._tabs.observe(lambda _c: self._draw_visible(redisplay=True), "selected_index")
        self._refresh.on_click(lambda _b: self.refresh())
        self._stop = threading.Event()
        self._timer: threading.Thread | None = None
        self._shown: list[str] | None = None
        self._colors: dict[str, str] = {}
        self._update_title()
        self._redraw()
        if refresh_every:
            self.start_auto_refresh(refresh_every)

    def show_tab(self, name: str) -> None:
        """Show the ``"curves"`` or the ``"compare"`` tab (drawing it if out of date)."""
        tabs = {"curves": 0, "compare": 1}
        if name not in tabs:
            raise ValueError(f"tab must be 'curves' or 'compare', got {name!r}")
        self._tabs.selected_index = tabs[name]

    @property
    def shown_run_ids(self) -> list[str]:
        """Runs drawn in the curves and the comparison."""
        return list(self._shown or [])

    def refresh(self) -> None:
        """Read tags, runs and metrics again; keep the filter, sort and selection."""
        self.tag_filter.refresh()
        self.table.refresh()
        self._update_title()
        self._redraw(force=True)

    def start_auto_refresh(self, seconds: float) -> None:
        """Refresh every ``seconds`` from a background thread until :meth:`close`."""
        if seconds <= 0:
            raise ValueError(f"refresh_every must be positive, got {seconds}")
        self.stop_auto_refresh()
        self._stop = threading.Event()
        self._timer = threading.Thread(
            target=_refresh_loop,
            args=(weakref.ref(self), self._stop, float(seconds)),
            name="nbtrack-dashboard-refresh",
            daemon=True,
        )
        self._timer.start()
        self._auto.value = f'<span class="nbt-count">auto-refresh every {seconds:g} s</span>'

    def stop_auto_refresh(self) -> None:
        """Stop the automatic refresh."""
        self._stop.set()
        self._timer = None
        self._auto.value = ""

    def close(self) -> None:
        """Stop the timer and close every widget of the dashboard."""
        self.stop_auto_refresh()
        super().close()

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = super()._repr_mimebundle_(**kwargs) or {}
        bundle["text/html"] = self.table.to_html()
        bundle["text/plain"] = repr(self)
        return bundle

    def __repr__(self) -> str:
        shown = self.tag_filter.filter or "(no filter)"
        return f"Dashboard: filter {shown}\n{self.table!r}"

    def _on_filter(self, change: dict[str, Any]) -> None:
        self.table.set_filter(change["new"])
        self._update_title()
        self._redraw()

    def _update_title(self) -> None:
        frame = self.table.frame
        if self._experiment is None and "experiment" in frame and len(frame):
            name = str(frame["experiment"].iloc[0])
        elif self._experiment is None:
            name = "current experiment"
        elif isinstance(self._experiment, str):
            name = "all experiments" if self._experiment == "*" else self._experiment
        else:
            name = ", ".join(self._experiment)
        self._title.value = (
            f'<span class="nbt-title">nbtrack</span><span class="nbt-sub">{esc(name)}</span>'
        )

    def _redraw(self, *, force: bool = False) -> None:
        frame = self.table.frame
        chosen = list(self.table.selected_run_ids)
        if chosen:
            rows = frame.set_index("run_id", drop=False).loc[chosen].reset_index(drop=True)
        else:
            rows = frame.head(DEFAULT_SHOWN)
        ids = [str(r) for r in rows["run_id"]] if "run_id" in rows else []
        if not force and ids == self._shown:
            return
        self._shown = ids
        # Shown runs keep their colours; newcomers take the free palette colours.
        self._colors = assign_colors(ids, self._colors)
        self.table.set_colors(self._colors)
        self._rows = rows if len(rows) else pd.DataFrame({"run_id": []})
        self._stale = {0: True, 1: True}
        self._draw_visible()

    def _draw_visible(self, *, redisplay: bool = False) -> None:
        tab = self._tabs.selected_index or 0
        if not self._stale.get(tab, False):
            if redisplay:
                (self.curves if tab == 0 else self.comparison).redisplay()
            return
        if tab == 0:
            self.curves.set_runs(self._rows, colors=self._colors)
        else:
            self.comparison.set_runs(self._rows, colors=self._colors)
        self._stale[tab] = False


def _refresh_loop(ref: weakref.ref[Dashboard], stop: threading.Event, seconds: float) -> None:
    while not stop.wait(seconds):
        dashboard = ref()
        if dashboard is None:
            return
        try:
            dashboard.refresh()
        except Exception as exc:  # noqa: BLE001 - a failed refresh must not kill the timer
            dashboard._auto.value = f'<span class="nbt-error">refresh failed: {esc(exc)}</span>'
        del dashboard


def dashboard(
    experiment: str | Sequence[str] | None = None, *, refresh_every: float | None = None
) -> Dashboard:
    """Tag filter, run table, curves and comparison of an experiment, linked.

    Args:
        experiment: Experiment(s) shown; ``None`` is the current one, ``"*"`` all.
        refresh_every: Seconds between automatic refreshes (``None``: button only).

    Returns:
        A :class:`Dashboard` widget.
    """
    return Dashboard(experiment, refresh_every=refresh_every)
