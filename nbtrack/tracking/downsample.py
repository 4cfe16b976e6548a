"""Shape-preserving downsampling of long metric series for drawing.

Min/max per bucket (the M4 idea without the redundant first/last of each bucket):
the points, in x order, are cut into equal-count buckets and each bucket keeps the
point with its smallest and the point with its largest value, in their original
order. The first and the last point of the series are always kept. Spikes and
dips therefore survive at any zoom level, which is what one looks for in a loss
curve, and the work is a few vectorised numpy passes (no Python loop per point).

This is the one rule: the inline views (``nbtrack.views``) draw with it and the REST API
(``nbtrack.server``) answers ``GET runs/<id>/metrics/<key>?max_points=N`` with it, through
:func:`downsampled_history`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from nbtrack.errors import InvalidValueError

if TYPE_CHECKING:
    import pyarrow as pa

    from nbtrack.storage import ParquetStore

DEFAULT_MAX_POINTS = 2000
MAX_POINTS_LIMIT = 100_000


def bucket_size(n: int, max_points: int = DEFAULT_MAX_POINTS) -> int:
    """Return how many consecutive points share one bucket.

    Args:
        n: Number of points in the series.
        max_points: Most points the downsampled series may have (at least 4).

    Returns:
        1 when the series already fits, else ``ceil(n / buckets)`` where
        ``buckets = (max_points - 2) // 2`` (two points per bucket plus first/last).

    Raises:
        InvalidValueError: ``max_points`` is below 4.
    """
    if max_points < 4:
        raise InvalidValueError(f"max_points must be at least 4, got {max_points}")
    if n <= max_points:
        return 1
    buckets = (max_points - 2) // 2
    return math.ceil(n / buckets)


def downsample_indices(values: np.ndarray, max_points: int = DEFAULT_MAX_POINTS) -> np.ndarray:
    """Return the sorted indices of the points to draw.

    Args:
        values: The y values, already in x order. NaN values never win a bucket
            unless the whole bucket is NaN.
        max_points: Most indices to return.

    Returns:
        Increasing int64 indices: 0, n - 1, and for each bucket of
        :func:`bucket_size` points the index of its minimum and of its maximum.
    """
    y = np.asarray(values, dtype=np.float64)
    n = y.shape[0]
    size = bucket_size(n, max_points)
    if size == 1:
        return np.arange(n, dtype=np.int64)
    buckets = math.ceil(n / size)
    pad = buckets * size - n
    # Pad the last bucket so the array reshapes to (buckets, size); padding and NaN
    # are +inf for the argmin pass and -inf for the argmax pass, so they never win.
    nan = np.isnan(y)
    low = np.where(nan, np.inf, y)
    high = np.where(nan, -np.inf, y)
    if pad:
        low = np.concatenate([low, np.full(pad, np.inf)])
        high = np.concatenate([high, np.full(pad, -np.inf)])
    offsets = np.arange(buckets, dtype=np.int64) * size
    arg_min = low.reshape(buckets, size).argmin(axis=1) + offsets
    arg_max = high.reshape(buckets, size).argmax(axis=1) + offsets
    keep = np.concatenate([[0, n - 1], arg_min, arg_max])
    return np.unique(np.clip(keep, 0, n - 1))


def downsample(
    x: np.ndarray, y: np.ndarray, max_points: int = DEFAULT_MAX_POINTS
) -> tuple[np.ndarray, np.ndarray]:
    """Downsample a series given in x order; see :func:`downsample_indices`.

    Args:
        x: The x values (steps, timestamps or seconds).
        y: The y values, the same length as ``x``.
        max_points: Most points to keep.

    Returns:
        ``(x, y)`` with at most ``max_points`` points each.
    """
    x = np.asarray(x)
    y = np.asarray(y)
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x has {x.shape[0]} points but y has {y.shape[0]}")
    index = downsample_indices(y, max_points)
    if index.shape[0] == y.shape[0]:
        return x, y
    return x[index], y[index]


@dataclass(frozen=True)
class History:
    """One metric's points after downsampling.

    Attributes:
        points: Arrow table with columns step, value, timestamp, in step order.
        total: How many points the metric has in the store.
    """

    points: pa.Table
    total: int

    @property
    def downsampled(self) -> bool:
        """True when some points were dropped."""
        return self.points.num_rows < self.total


def downsampled_history(
    run_id: str,
    key: str,
    max_points: int = DEFAULT_MAX_POINTS,
    *,
    store: ParquetStore | None = None,
) -> History:
    """One metric of one run, at most ``max_points`` points, by :func:`downsample_indices`.

    Args:
        run_id: The run.
        key: The metric key; an unknown key gives an empty history.
        max_points: Most points to return (4 to ``MAX_POINTS_LIMIT``).
        store: The store; the current one when None.

    Raises:
        InvalidValueError: ``max_points`` is not an integer in range.
        RunNotFoundError: no (not deleted) run has this id.
    """
    from nbtrack.tracking.query.reads import current_store, fetch_run_row, run_sql

    if isinstance(max_points, bool) or not isinstance(max_points, int):
        raise InvalidValueError(f"max_points must be an integer, got {max_points!r}")
    if not 4 <= max_points <= MAX_POINTS_LIMIT:
        raise InvalidValueError(
            f"max_points must be between 4 and {MAX_POINTS_LIMIT}, got {max_points}"
        )
    st = current_store(store)
    # No ORDER BY: a series is almost always stored in step order already (a run logs its
    # steps in order, files arrive in order), and DuckDB sorting 10M rows costs more than
    # reading them. The order is checked here and the rows sorted only when needed.
    table = run_sql(
        "SELECT step, value, timestamp FROM metrics WHERE run_id = ? AND key = ?",
        [run_id, key],
        st,
    )
    if table.num_rows == 0:
        fetch_run_row(run_id, st)  # an unknown run is an error, an unknown key is empty
    n = table.num_rows
    order = _step_order(table)
    values = table.column("value").to_numpy(zero_copy_only=False)
    if order is not None:
        values = values[order]
    index = downsample_indices(values, max_points)
    rows = index if order is None else order[index]
    if index.shape[0] == n and order is None:
        return History(table, n)
    return History(table.take(rows), n)


def _step_order(table: pa.Table) -> np.ndarray | None:
    """Row order that sorts ``table`` by (step, timestamp), or None when it already is.

    Files come back in no particular order but each is in step order, so the array is a few
    sorted runs: numpy's stable sort (timsort for 64-bit integers) merges those in about
    linear time. Equal (step, timestamp) points keep their order.
    """
    if table.num_rows < 2:
        return None
    steps = table.column("step").to_numpy()
    diff = np.diff(steps)
    if (diff > 0).all():
        return None  # strictly increasing steps: the usual case, nothing to sort
    order = None if (diff >= 0).all() else np.argsort(steps, kind="stable")
    equal = (diff if order is None else np.diff(steps[order])) == 0
    if not equal.any():
        return order
    # Equal steps: those must also be in timestamp order.
    ts = table.column("timestamp").cast("int64").to_numpy()
    if (np.diff(ts if order is None else ts[order])[equal] >= 0).all():
        return order
    by_time = np.argsort(ts, kind="stable")
    return by_time[np.argsort(steps[by_time], kind="stable")]
