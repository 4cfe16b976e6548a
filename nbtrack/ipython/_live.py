"""The live metric view of a running tracked cell and its replacement by the run summary.

Flow: the run's metric listener appends each point to a :class:`MetricSeriesSet` (in the
logging thread: O(1), no drawing) and wakes a drawer thread. The drawer redraws from the
decimated series, then waits :meth:`LiveMetricsView.next_pause`: at least ``interval``
(0.25 s) and five times what the last redraw cost (measured in the kernel, estimated
for the browser from the points drawn), so the page stays responsive whatever the
logging rate. Nothing is created before the first metric arrives.

The drawer runs in a copy of the cell's ``contextvars`` context so that its display
messages carry the cell's parent header (ipykernel 7 keeps the parent header in a
ContextVar) and land in the right output area even if the next cell has started.

The plot is a plain HTML output of inline SVG (:class:`PlotlyLiveRenderer`), not a widget: it
shows within one interval of the first point, and when the cell ends
:meth:`LiveMetricsView.finish` replaces it with the summary (``update_display_data``),
so a saved notebook keeps the static HTML summary and no widget state (a
``FigureWidget`` would add a ~5 MB copy of plotly.js per notebook).
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from nbtrack.ipython._series import MetricSeriesSet
from nbtrack.views.live_figure import MAX_DRAWN_POINTS

#: Minimum seconds between two redraws of the live view.
LIVE_INTERVAL_S = 0.25
#: Most seconds between two redraws, however costly they are.
MAX_PAUSE_S = 2.0
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
            pause = self._interval
            if version != drawn:
                drawn = version
                began = time.perf_counter()
                if not self._draw():
                    break
                pause = self.next_pause(time.perf_counter() - began)
            # throttle: at most one redraw per pause, woken early only to stop
            self._stop.wait(pause)

    def next_pause(self, draw_seconds: float) -> float:
        """Seconds to wait before the next redraw, from what the last one cost.

        The kernel's part (building and sending the spec) is measured; the browser's
        (plotly re-drawing every point) grows with the points drawn, ~1 ms per 100 on a
        loaded machine. Waiting several times the cost keeps the page responsive
        whatever the logging rate: at most ~1/6 of the time goes to redrawing.
        """
        drawn = sum(min(len(v), MAX_DRAWN_POINTS) for v in self._series.snapshot().values())
        cost = draw_seconds + drawn / 100_000
        return min(MAX_PAUSE_S, max(self._interval, 5 * cost))

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
    """The live plot as one HTML output of inline SVG charts, re-sent in place.

    No widget and no plotly.js: :func:`nbtrack.views.live_figure.live_svg_html` draws a
    small line chart per key, so the first picture is there within one redraw interval of
    the first point (a first ``FigureWidget`` took ~3 s), every ``update_display_data``
    re-renders it (JupyterLab's plotly renderer ignores updates once drawn), the saved
    notebook holds only the final summary, and no comm outlives the cell. (The name stays
    for the magics' renderer factory.)

    Args:
        color: The run's colour.
    """

    #: :class:`~nbtrack.ipython._tracked_cell.TrackedCell` passes the run's colour.
    takes_color = True

    def __init__(self, color: str = "#0b6eae") -> None:
        self._color = color
        self._handle: Any = None
        self._keys: list[str] = []

    def announce(self, header: str) -> None:
        """Display a one-line placeholder in the output the plot will replace."""
        import html

        from IPython.display import HTML, display

        self._handle = display(
            HTML(f"<span style='color:#808080'>{html.escape(header)}</span>"), display_id=True
        )

    def prepare(self, keys: Sequence[str]) -> None:
        """Remember the keys to draw (nothing slow to build)."""
        self._keys = list(keys)

    def draw(self, series: Mapping[str, Sequence[tuple[int, float]]], header: str) -> None:
        """Send the plot of ``series`` in place of what the output shows."""
        from nbtrack.views.live_figure import live_svg_html

        shown = {k: series[k] for k in self._keys if k in series} or dict(series)
        bundle = {
            "text/html": live_svg_html(shown, color=self._color, title=header),
            "text/plain": header,
        }
        if self._handle is None:
            from IPython.display import display

            self._handle = display(bundle, raw=True, display_id=True)
        else:
            self._handle.update(bundle, raw=True)

    def replace(self, summary: Any) -> bool:
        """Show ``summary`` in the live plot's output."""
        if self._handle is None:
            return False
        self._handle.update(summary)
        return True

    def discard(self) -> None:
        """Nothing to close: the plot is a plain output."""
