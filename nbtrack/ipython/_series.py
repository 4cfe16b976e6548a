"""Bounded in-memory copies of the metric series a tracked cell logs.

Filled by the run's metric listener (in the logging thread, so appending is O(1) and
cheap) and read by the live view and the run summary. A series keeps at most
``2 * capacity`` points by decimation (every other point is dropped and the stride
doubles), plus its latest point, minimum and maximum exactly. The run summary takes its
latest values from the store; the latest point here only feeds the live view.
"""

from __future__ import annotations

import math
import threading

DEFAULT_CAPACITY = 1000


class MetricSeries:
    """One metric's points, decimated to a bounded size.

    Args:
        capacity: Points kept before decimating (the kept count stays below twice this).
    """

    __slots__ = (
        "_capacity",
        "_last_ts",
        "_seen",
        "_stride",
        "count",
        "last",
        "maximum",
        "minimum",
        "points",
    )

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self._capacity = capacity
        self._stride = 1
        self._seen = 0
        self.points: list[tuple[int, float]] = []
        self.count = 0
        self.last: tuple[int, float] | None = None
        self._last_ts = 0
        self.minimum = math.inf
        self.maximum = -math.inf

    def append(self, step: int, value: float, timestamp_ms: int = 0) -> None:
        """Add a point (points usually arrive in step order, but need not)."""
        self.count += 1
        # The store's rule (docs/format.md), so the live header agrees with the summary:
        # highest step, then newest timestamp, then the point logged last.
        if self.last is None or (step, timestamp_ms) >= (self.last[0], self._last_ts):
            self.last = (step, value)
            self._last_ts = timestamp_ms
        if value < self.minimum:
            self.minimum = value
        if value > self.maximum:
            self.maximum = value
        if self._seen % self._stride == 0:
            self.points.append((step, value))
            if len(self.points) >= 2 * self._capacity:
                del self.points[1::2]
                self._stride *= 2
        self._seen += 1

    def snapshot(self) -> list[tuple[int, float]]:
        """The kept points sorted by step, ending with the latest point."""
        points = list(self.points)
        if self.last is not None and (not points or points[-1] != self.last):
            points.append(self.last)
        points.sort(key=lambda point: point[0])
        return points


class MetricSeriesSet:
    """The series of every metric key a cell logged; thread-safe.

    Args:
        keys: Keep only these keys (all when ``None``).
        capacity: See :class:`MetricSeries`.
    """

    def __init__(self, keys: list[str] | None = None, capacity: int = DEFAULT_CAPACITY) -> None:
        self._keys = set(keys) if keys else None
        self._capacity = capacity
        self._series: dict[str, MetricSeries] = {}
        self._lock = threading.Lock()
        self.version = 0

    def add(self, key: str, value: float, step: int, timestamp_ms: int = 0) -> None:
        """Record one point (the signature of a ``Run.add_metric_listener`` callback)."""
        if self._keys is not None and key not in self._keys:
            return
        with self._lock:
            series = self._series.get(key)
            if series is None:
                series = self._series[key] = MetricSeries(self._capacity)
            series.append(int(step), float(value), int(timestamp_ms))
            self.version += 1

    def __bool__(self) -> bool:
        return bool(self._series)

    def keys(self) -> list[str]:
        """Keys in order of first appearance."""
        with self._lock:
            return list(self._series)

    def snapshot(self) -> dict[str, list[tuple[int, float]]]:
        """Every key's kept points (see :meth:`MetricSeries.snapshot`)."""
        with self._lock:
            return {key: series.snapshot() for key, series in self._series.items()}

    def latest(self) -> dict[str, tuple[int, float, int]]:
        """Every key's latest ``(step, value, count)``."""
        with self._lock:
            return {
                key: (series.last[0], series.last[1], series.count)
                for key, series in self._series.items()
                if series.last is not None
            }
