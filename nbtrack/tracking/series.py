"""One metric series read in file order and put in step order only when it is not.

Shared by :mod:`nbtrack.tracking.query` (whole histories) and
:mod:`nbtrack.tracking.downsample` (downsampled ones), which must not import each other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pyarrow as pa

    from nbtrack.storage.protocol import Store


def sorted_points(run_id: str, key: str, store: Store) -> pa.Table:
    """Every point of one series (step, value, timestamp), sorted by step, then time.

    Read in file order and sorted here only when needed (see :func:`downsampled_history`);
    a run that is not current (unknown, deleted) gives no rows.
    """
    table = store.query("SELECT step, value, timestamp FROM metric_points(?, ?)", [run_id, key])
    order = _step_order(table)
    return table if order is None else table.take(order)


def strictly_increasing(steps: pa.ChunkedArray) -> bool:
    """Whether a step column is strictly increasing, checked chunk by chunk.

    A 10M-point series comes back from DuckDB in hundreds of chunks: checking each chunk
    (zero-copy) and the boundaries between them avoids concatenating the whole column
    into one new array, whose first touch of fresh memory costs more than the check.
    """
    last = None
    for chunk in steps.chunks:
        if len(chunk) == 0:
            continue
        a = chunk.to_numpy(zero_copy_only=chunk.null_count == 0)
        if (last is not None and a[0] <= last) or not (a[1:] > a[:-1]).all():
            return False
        last = a[-1]
    return True


def column_numpy(column: pa.ChunkedArray) -> np.ndarray:
    """One numpy array of a column, without going through pandas (ChunkedArray.to_numpy does)."""
    if column.num_chunks == 1:
        return column.chunk(0).to_numpy(zero_copy_only=False)
    if column.num_chunks == 0:
        return np.empty(0, dtype=column.type.to_pandas_dtype())
    return np.concatenate([c.to_numpy(zero_copy_only=False) for c in column.chunks])


def _order_of_steps(steps: np.ndarray) -> tuple[np.ndarray | None, bool]:
    """The row order that sorts ``steps`` (None: already sorted), and whether all differ.

    Files come back in no particular order but each is in step order, so the array is a few
    sorted runs: numpy's stable sort (timsort for 64-bit integers) merges those in about
    linear time.
    """
    if steps.shape[0] < 2 or (steps[1:] > steps[:-1]).all():
        return None, True  # strictly increasing: the usual case, nothing to sort
    order = None if (steps[1:] >= steps[:-1]).all() else np.argsort(steps, kind="stable")
    ordered = steps if order is None else steps[order]
    return order, not (ordered[1:] == ordered[:-1]).any()


def _step_order(table: pa.Table) -> np.ndarray | None:
    """Row order that sorts ``table`` by (step, timestamp), or None when it already is.

    Equal (step, timestamp) points keep their order.
    """
    steps = column_numpy(table.column("step"))
    order, unique = _order_of_steps(steps)
    if unique:
        return order
    # Equal steps: those must also be in timestamp order.
    ordered = steps if order is None else steps[order]
    equal = ordered[1:] == ordered[:-1]
    ts = column_numpy(table.column("timestamp").cast("int64"))
    in_order = ts if order is None else ts[order]
    if (in_order[1:][equal] >= in_order[:-1][equal]).all():
        return order
    by_time = np.argsort(ts, kind="stable")
    return by_time[np.argsort(steps[by_time], kind="stable")]
