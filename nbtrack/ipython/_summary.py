"""The compact run summary a tracked cell shows when it ends.

:class:`RunSummary` renders as HTML (``_repr_html_``, so it stays visible in a saved
notebook with no kernel and no widget state) and as plain text in a terminal.
"""

from __future__ import annotations

import dataclasses
import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

_STATUS_COLOURS = {
    "FINISHED": "#1a7f37",
    "FAILED": "#cf222e",
    "KILLED": "#bc4c00",
    "RUNNING": "#0969da",
}
_MAX_PARAMS_SHOWN = 20
_MAX_METRICS_SHOWN = 20
_SPARK_POINTS = 60


def format_duration(seconds: float | None) -> str:
    """``0.42 s``, ``12.3 s``, ``4 min 05 s``, ``2 h 03 min``."""
    if seconds is None or math.isnan(seconds):
        return "?"
    if seconds < 10:
        return f"{seconds:.2f} s"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def format_value(value: float) -> str:
    """A metric value in at most ~6 significant digits."""
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return str(value)
    return f"{value:.6g}"


def _thin(points: Sequence[tuple[int, float]], n: int) -> list[tuple[int, float]]:
    """At most about ``n`` points keeping each bucket's min and max (shape-preserving)."""
    finite = [p for p in points if math.isfinite(p[1])]
    if len(finite) <= n:
        return finite
    size = len(finite) / (n / 2)
    out: list[tuple[int, float]] = []
    start = 0.0
    while int(start) < len(finite):
        bucket = finite[int(start) : int(start + size)] or finite[int(start) :]
        low = min(bucket, key=lambda p: p[1])
        high = max(bucket, key=lambda p: p[1])
        out.extend(sorted({low, high}, key=lambda p: p[0]))
        start += size
    return out


def sparkline_svg(points: Sequence[tuple[int, float]], *, width: int = 90, height: int = 18) -> str:
    """A tiny inline SVG line of ``(step, value)`` points; empty for fewer than two points."""
    pts = _thin(points, _SPARK_POINTS)
    if len(pts) < 2:
        return ""
    steps = [p[0] for p in pts]
    values = [p[1] for p in pts]
    x0, x1 = min(steps), max(steps)
    y0, y1 = min(values), max(values)
    xs = x1 - x0 or 1
    ys = y1 - y0 or 1
    pad = 1.5
    coords = " ".join(
        f"{pad + (s - x0) / xs * (width - 2 * pad):.1f},"
        f"{height - pad - (v - y0) / ys * (height - 2 * pad):.1f}"
        for s, v in pts
    )
    return (
        f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        'style="vertical-align:middle">'
        f'<polyline fill="none" stroke="#0969da" stroke-width="1.2" points="{coords}"/></svg>'
    )


@dataclasses.dataclass
class RunSummary:
    """What a finished tracked cell shows in place of its live view.

    Attributes:
        run_id: The run's id.
        name: The run's name.
        experiment: The run's experiment.
        status: ``FINISHED``, ``FAILED`` or ``KILLED``.
        duration_s: Wall time of the cell.
        params: Params the cell logged (captured literals and ``-p`` variables).
        metrics: Latest ``(step, value, count)`` of each metric key.
        series: Decimated ``(step, value)`` points of each key, for sparklines.
        error: ``"ExceptionType: message"`` of a failed or interrupted cell.
    """

    run_id: str
    name: str | None
    experiment: str | None
    status: str
    duration_s: float | None
    params: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    metrics: Mapping[str, tuple[int, float, int]] = dataclasses.field(default_factory=dict)
    series: Mapping[str, Sequence[tuple[int, float]]] = dataclasses.field(default_factory=dict)
    error: str | None = None

    @property
    def compare_command(self) -> str:
        """The line magic that opens the comparison view on this run."""
        return f"%track_compare {self.run_id}"

    def _repr_html_(self) -> str:
        esc = html.escape
        colour = _STATUS_COLOURS.get(self.status, "#57606a")
        title = esc(self.name or self.run_id)
        head = (
            f'<div style="display:flex;flex-wrap:wrap;gap:0.8em;align-items:baseline">'
            f"<b>{title}</b>"
            f'<code style="font-size:85%">{esc(self.run_id)}</code>'
            f'<span style="color:#fff;background:{colour};border-radius:3px;'
            f'padding:0 0.4em;font-size:85%">{esc(self.status)}</span>'
            f"<span>{esc(format_duration(self.duration_s))}</span>"
        )
        if self.experiment:
            head += f'<span style="color:#57606a">experiment {esc(self.experiment)}</span>'
        head += "</div>"
        parts = [head]
        if self.error:
            parts.append(f'<div style="color:{colour}">{esc(self.error)}</div>')
        if self.params:
            items = list(self.params.items())
            shown = ", ".join(
                f"<code>{esc(str(k))}</code>=<span>{esc(_short(v))}</span>"
                for k, v in items[:_MAX_PARAMS_SHOWN]
            )
            more = (
                f" … (+{len(items) - _MAX_PARAMS_SHOWN})" if len(items) > _MAX_PARAMS_SHOWN else ""
            )
            parts.append(f"<div><b>params</b> {shown}{more}</div>")
        if self.metrics:
            rows = []
            for key, (step, value, count) in list(self.metrics.items())[:_MAX_METRICS_SHOWN]:
                spark = sparkline_svg(self.series.get(key, ()))
                rows.append(
                    f'<tr><td style="text-align:left;padding:0 0.6em 0 0"><code>{esc(key)}</code></td>'
                    f'<td style="text-align:right;padding:0 0.6em 0 0">{esc(format_value(value))}</td>'
                    f'<td style="text-align:left;padding:0 0.6em 0 0;color:#57606a">step {step}'
                    f" · {count} pt{'s' if count != 1 else ''}</td>"
                    f'<td style="padding:0">{spark}</td></tr>'
                )
            parts.append(
                '<table style="border-collapse:collapse;margin:0.2em 0;font-size:90%">'
                + "".join(rows)
                + "</table>"
            )
        parts.append(
            f'<div style="color:#57606a;font-size:85%">compare: '
            f"<code>{esc(self.compare_command)}</code></div>"
        )
        return (
            '<div class="nbtrack-run-summary" style="border-left:3px solid '
            f'{colour};padding:0.2em 0.6em;margin:0.2em 0">' + "".join(parts) + "</div>"
        )

    def __repr__(self) -> str:
        lines = [
            f"nbtrack run {self.name or ''} ({self.run_id}) {self.status} "
            f"in {format_duration(self.duration_s)}".replace("  ", " ")
        ]
        if self.error:
            lines.append(f"  {self.error}")
        if self.params:
            lines.append(
                "  params: " + ", ".join(f"{k}={_short(v)}" for k, v in self.params.items())
            )
        for key, (step, value, _count) in self.metrics.items():
            lines.append(f"  {key} = {format_value(value)} (step {step})")
        lines.append(f"  compare: {self.compare_command}")
        return "\n".join(lines)


def latest_metrics(
    run: Any, counted: Mapping[str, tuple[int, float, int]]
) -> dict[str, tuple[int, float, int]]:
    """Each key's ``(step, value, count)`` with the value the store calls latest.

    "Latest" has one implementation, the store's (``run.metrics``: highest step, then
    newest timestamp, then the last logged); ``counted`` (the cell's own series) only adds
    the step and the number of points. If the store cannot be read the cell's own view
    of the latest point is shown rather than nothing.

    Args:
        run: The cell's run (``nbtrack.Run``).
        counted: ``MetricSeriesSet.latest()`` of the cell.
    """
    from nbtrack.errors import NbtrackError

    try:
        stored = run.metrics
    except NbtrackError:
        return dict(counted)
    return {
        key: (step, stored.get(key, value), count) for key, (step, value, count) in counted.items()
    }


def _short(value: Any, limit: int = 60) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
