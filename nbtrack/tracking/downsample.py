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
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from nbtrack.errors import InvalidValueError
from nbtrack.tracking.series import (
    _order_of_steps,
    _step_order,
    column_numpy,
    strictly_increasing,
)

if TYPE_CHECKING:
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
    # NaN never wins a bucket: +inf for the argmin pass, -inf for the argmax pass. NaN
    # propagates through min, so one pass tells whether those copies are needed at all.
    if np.isnan(y.min()):
        nan = np.isnan(y)
        low, high = np.where(nan, np.inf, y), np.where(nan, -np.inf, y)
    else:
        low = high = y
    full = n // size  # whole buckets, reshaped without a copy; then the short last one
    offsets = np.arange(full, dtype=np.int64) * size
    parts = [np.array([0, n - 1], dtype=np.int64)]
    if full:
        parts.append(low[: full * size].reshape(full, size).argmin(axis=1) + offsets)
        parts.append(high[: full * size].reshape(full, size).argmax(axis=1) + offsets)
    tail = full * size
    if tail < n:
        parts.append(np.array([tail + low[tail:].argmin(), tail + high[tail:].argmax()]))
    return np.unique(np.concatenate(parts))


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
    from nbtrack.tracking.query.reads import current_store, fetch_run_row

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
    # Timestamps are read only for the points kept: decoding them is most of the read.
    where = "FROM metric_points(?, ?)"
    with st.reading() as reading:
        table = reading.query(f"SELECT step, value {where}", [run_id, key])
        n = table.num_rows
        if n and strictly_increasing(table.column("step")):
            # The usual case, kept cheap for 10M points: no sort, and the kept points are
            # picked from numpy arrays (take() on hundreds of chunks copies them first).
            values = column_numpy(table.column("value"))
            index = downsample_indices(values, max_points)
            if index.shape[0] < n:
                steps = column_numpy(table.column("step"))
                table = pa.table(
                    {"step": steps[index], "value": values[index]}, schema=table.schema
                )
            table = _with_timestamps(reading, table, where, [run_id, key])
        else:
            table = _sorted_downsample(reading, table, where, [run_id, key], max_points)
    if n == 0:
        fetch_run_row(run_id, st)  # an unknown run is an error, an unknown key is empty
    return History(table, n)


def _sorted_downsample(
    reading: Any, table: pa.Table, where: str, params: list[Any], max_points: int
) -> pa.Table:
    """Downsample a series whose rows are out of step order or share steps (or empty)."""
    n = table.num_rows
    order, unique = _order_of_steps(column_numpy(table.column("step")))
    if not unique or n == 0:  # equal steps are ordered by time: all timestamps needed
        table = reading.query(f"SELECT step, value, timestamp {where}", params)
        order = _step_order(table)
    values = column_numpy(table.column("value"))
    index = downsample_indices(values if order is None else values[order], max_points)
    rows = index if order is None else order[index]
    if not (index.shape[0] == n and order is None):
        table = table.take(rows)
    if "timestamp" not in table.column_names:
        table = _with_timestamps(reading, table, where, params)
    return table


def _with_timestamps(reading: Any, table: pa.Table, where: str, params: list[Any]) -> pa.Table:
    """``table`` (step, value; steps unique) with each point's timestamp added."""
    import pyarrow.compute as pc

    found = reading.query(
        f"SELECT step, timestamp {where} WHERE step IN (SELECT unnest(?::BIGINT[]))",
        [*params, table.column("step").to_pylist()],
    )
    at = pc.index_in(table.column("step"), value_set=found.column("step"))
    return table.append_column("timestamp", found.column("timestamp").take(at))
