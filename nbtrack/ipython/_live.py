"""The live metric view of a running tracked cell and its replacement by the run summary.

Flow: the run's metric listener appends each point to a :class:`MetricSeriesSet` (in the
logging thread: O(1), no drawing) and wakes a drawer thread. The drawer redraws at most
once per ``interval`` (0.25 s: ≤ 4 updates/s whatever the logging rate) from the decimated
series. Nothing is created before the first metric arrives, so a cell that logs no
metric never pays for plotly (the first ``FigureWidget`` in a kernel takes ~3 s; it is
built in the drawer thread, so the training loop does not wait for it).

The drawer runs in a copy of the cell's ``contextvars`` context so that its display and
widget messages carry the cell's parent header (ipykernel 7 keeps the parent header in a
ContextVar) and land in the right output area even if the next cell has started.

When the cell ends, :meth:`LiveMetricsView.finish` replaces the live widgets with the
summary (``update_display_data``) and closes the widgets, so a saved notebook keeps the
static HTML summary and no widget state (plotly.js would add ~5 MB per notebook).
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from nbtrack.ipython._series import MetricSeriesSet

#: Minimum seconds between two redraws of the live view.
LIVE_INTERVAL_S = 0.25
_MAX_DRAW_FAILURES = 5


class LiveRenderer(Protocol):
    """Draws the live view. ``prepare`` may be slow; the other methods must be quick."""

    def announce(self, header: str) -> None:
        """Show a placeholder at once, before the slow first ``prepare``."""

    def prepare(self, keys: Sequence[str]) -> None:
        """Build whatever is needed to draw ``keys`` (called outside any lock)."""

    def draw(self, series: Mapping[str, Sequence[tuple[int, float]]], header: str) -> None:
        """Show (first call) or update the view."""

    def replace(self, summary: Any) -> bool:
        """Replace the shown view with ``summary``; False when nothing was shown yet."""

    def discard(self) -> None:
        """Drop everything built but never shown."""


class LiveMetricsView:
    """Throttled live drawing of the metrics a run logs.

    Args:
        series: Where the listener stores points (shared with the run summary).
        renderer_factory: Builds the renderer on the first point.
        title: Shown above the plots (run name and id).
        interval: Minimum seconds between redraws.
    """

    def __init__(
        self,
        series: MetricSeriesSet,
        renderer_factory: Callable[[], LiveRenderer],
        *,
        title: str = "",
        interval: float = LIVE_INTERVAL_S,
    ) -> None:
        self._series = series
        self._factory = renderer_factory
        self._title = title
        self._interval = interval
        self._context = contextvars.copy_context()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._closed = False
        self._thread: threading.Thread | None = None
        self._renderer: LiveRenderer | None = None
        self.draw_count = 0
        self.error: BaseException | None = None
        self._failures = 0

    def on_metric(self, key: str, value: float, step: int, timestamp_ms: int) -> None:
        """Metric listener: called in the logging thread after the point was stored."""
        if self._thread is None and not self._closed:
            with self._lock:
                if self._thread is None and not self._closed:
                    self._thread = threading.Thread(
                        target=self._context.run,
                        args=(self._loop,),
                        name="nbtrack-live-view",
                        daemon=True,
                    )
                    self._thread.start()
        self._wake.set()

    def _loop(self) -> None:
        drawn = -1
        while not self._stop.is_set():
            self._wake.wait()
            self._wake.clear()
            if self._stop.is_set():
                break
            version = self._series.version
            if version != drawn:
                drawn = version
                if not self._draw():
                    break
            # throttle: at most one redraw per interval, woken early only to stop
            self._stop.wait(self._interval)

    def _draw(self) -> bool:
        # A drawing failure (no frontend, widget library missing) must not reach the
        # cell; the live view just stops and the summary still shows at the end.
        try:
            renderer = self._renderer
            if renderer is None:
                renderer = self._factory()
                with self._lock:
                    if self._closed:
                        return False
                    renderer.announce(f"{self._title} · live plot loading …")
                    self._renderer = renderer
            renderer.prepare(self._series.keys())
            with self._lock:
                if self._closed:
                    renderer.discard()  # figures prepare() built after finish()
                    return False
                latest = self._series.latest()
                points = sum(count for _step, _value, count in latest.values())
                header = f"{self._title} · running · {points} point{'s' if points != 1 else ''}"
                renderer.draw(self._series.snapshot(), header)
                self.draw_count += 1
        except ImportError as exc:  # plotly, anywidget or ipywidgets missing: stop for good
            self.error = exc
            return False
        except Exception as exc:  # noqa: BLE001 - see comment above
            # Transient failures happen: e.g. plotly looks up pandas while another thread
            # is still importing it ("partially initialized module"). Retry on the next
            # point; give up after a few failures in a row.
            self.error = exc
            self._failures += 1
            return self._failures < _MAX_DRAW_FAILURES
        self._failures = 0
        return True

    def finish(self, summary: Any) -> bool:
        """Stop drawing and put ``summary`` in place of the live view.

        Returns:
            True when the summary replaced a shown view; False when no view was shown (the
            caller then displays the summary itself).
        """
        with self._lock:
            self._closed = True
            self._stop.set()
            self._wake.set()
            renderer = self._renderer
            if renderer is None:
                return False
            try:
                return renderer.replace(summary)
            except Exception as exc:  # noqa: BLE001 - the caller falls back to display()
                self.error = exc
                return False

    def join(self, timeout: float | None = None) -> None:
        """Wait for the drawer thread (tests)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)


class PlotlyLiveRenderer:
    """One small plotly ``FigureWidget`` per metric key in a wrapping ipywidgets box."""

    def __init__(self) -> None:
        self._figures: dict[str, Any] = {}
        self._box: Any = None
        self._header: Any = None
        self._handle: Any = None

    def announce(self, header: str) -> None:
        """Display a one-line placeholder (plotly's first import takes seconds)."""
        import html

        from IPython.display import HTML, display

        self._handle = display(
            HTML(f"<span style='color:#57606a'>{html.escape(header)}</span>"), display_id=True
        )

    def prepare(self, keys: Sequence[str]) -> None:
        """Create the figures of new keys (the first one in a kernel takes seconds)."""
        # plotly peeks at sys.modules["pandas"] without the import lock; if another thread
        # (the store's flusher) is importing pandas right now, plotly sees a half-made
        # module and fails. A real import waits for the other thread to finish it.
        import pandas  # noqa: F401
        import plotly.graph_objects as go

        for key in keys:
            if key in self._figures:
                continue
            self._figures[key] = go.FigureWidget(
                data=[go.Scatter(x=[], y=[], mode="lines", name=key, line={"width": 1.5})],
                layout={
                    "title": {"text": key, "font": {"size": 12}, "x": 0.02, "y": 0.97},
                    "width": 380,
                    "height": 230,
                    "margin": {"l": 45, "r": 10, "t": 28, "b": 30},
                    "showlegend": False,
                    "template": "plotly_white",
                    "xaxis": {"title": {"text": "step", "font": {"size": 10}}},
                },
            )

    def draw(self, series: Mapping[str, Sequence[tuple[int, float]]], header: str) -> None:
        """Update every figure; show the box in place of the placeholder the first time."""
        import html

        import ipywidgets as widgets

        for key, points in series.items():
            fig = self._figures.get(key)
            if fig is None:
                continue
            with fig.batch_update():
                fig.data[0].x = [p[0] for p in points]
                fig.data[0].y = [p[1] for p in points]
                if points:
                    fig.layout.title.text = f"{key}: {points[-1][1]:.5g}"
        header_html = f"<span style='color:#57606a'>{html.escape(header)}</span>"
        if self._box is None:
            from IPython.display import display

            self._header = widgets.HTML(header_html)
            self._box = widgets.VBox(
                [
                    self._header,
                    widgets.Box(
                        list(self._figures.values()),
                        layout=widgets.Layout(display="flex", flex_flow="row wrap"),
                    ),
                ]
            )
            if self._handle is None:
                self._handle = display(self._box, display_id=True)
            else:
                self._handle.update(self._box)
            return
        self._header.value = header_html
        inner = self._box.children[1]
        if len(inner.children) != len(self._figures):
            inner.children = list(self._figures.values())

    def replace(self, summary: Any) -> bool:
        """Swap the live box for ``summary`` and close every widget."""
        if self._handle is None:
            self.discard()
            return False
        self._handle.update(summary)
        self.discard()
        return True

    def discard(self) -> None:
        """Close the widgets (removes them from the kernel and the notebook's widget state)."""
        for fig in list(self._figures.values()):
            fig.close()
        if self._box is not None:
            self._box.children[1].close()
            self._header.close()
            self._box.close()
        self._figures = {}
        self._box = None
