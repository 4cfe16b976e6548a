"""In-memory batches of records waiting to be written, and the rule for when to flush.

Metric points are kept per run in plain Python lists (the cheapest thing to append to from a
training loop); every other record (run lifecycle, params, tags, artifacts, deletions) goes
into one list per table and partition. ``take`` swaps everything out under the lock and
returns Arrow tables; a failed write hands its tables back with ``give_back`` so no point is
lost and the next flush retries them first.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from typing import Any

import pyarrow as pa

from nbtrack.storage import schema


class MetricBuffer:
    """Pending metric points of one run (columns as lists). Guarded by ``lock``."""

    __slots__ = (
        "closed",
        "experiment_id",
        "keys",
        "lock",
        "run_id",
        "steps",
        "timestamps",
        "values",
    )

    def __init__(self, run_id: str, experiment_id: str) -> None:
        self.run_id = run_id
        self.experiment_id = experiment_id
        self.lock = threading.Lock()
        self.keys: list[str] = []
        self.steps: list[int] = []
        self.timestamps: list[int] = []
        self.values: list[float] = []
        self.closed = False  # set when the run ends: dropped after its last drain

    def drain(self) -> pa.Table | None:
        with self.lock:
            if not self.keys:
                return None
            keys, steps, ts, values = self.keys, self.steps, self.timestamps, self.values
            self.keys, self.steps, self.timestamps, self.values = [], [], [], []
        return _metric_table(self.run_id, keys, steps, ts, values)


def _metric_table(
    run_id: str, keys: list[str], steps: list[int], ts: list[int], values: list[float]
) -> pa.Table:
    """One run's points as an Arrow table, grouped by key with steps rising.

    Grouping here (on dictionary codes, cheap) rather than sorting strings at write time is
    what makes a flush fast; the run id column is a one-entry dictionary, not n strings.
    """
    import numpy as np
    import pyarrow.compute as pc

    n = len(keys)
    key_arr = pa.array(keys, pa.string())
    step_np = np.fromiter(steps, np.int64, n)
    table = pa.table(
        [
            pa.DictionaryArray.from_arrays(
                pa.array(np.zeros(n, np.int32)), pa.array([run_id], pa.string())
            ).cast(pa.string()),
            key_arr,
            pa.array(step_np),
            pa.array(ts, pa.int64()).cast(pa.timestamp("ms", tz="UTC")),
            pa.array(values, pa.float64()),
        ],
        schema=schema.SCHEMAS["metrics"],
    )
    codes = pc.dictionary_encode(key_arr).indices.to_numpy()
    if n > 1 and not (codes.max() == 0 and bool((step_np[1:] >= step_np[:-1]).all())):
        order = np.lexsort((step_np, codes))
        if not bool((order[1:] > order[:-1]).all()):
            table = table.take(pa.array(order))
    return table


Batch = list[tuple[str, str, pa.Table]]  # (table, experiment_id, rows)


class Buffer:
    """Everything this process has logged and not yet written."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._records: dict[tuple[str, str], list[tuple[Any, ...]]] = defaultdict(list)
        self._metrics: dict[str, MetricBuffer] = {}
        self._retry: Batch = []

    def metric_buffer(self, run_id: str, experiment_id: str) -> MetricBuffer:
        with self.lock:
            mb = self._metrics.get(run_id)
            if mb is None:
                mb = self._metrics[run_id] = MetricBuffer(run_id, experiment_id)
            return mb

    def add(self, table: str, experiment_id: str, row: tuple[Any, ...]) -> None:
        with self.lock:
            self._records[(table, experiment_id)].append(row)

    def is_empty(self) -> bool:
        with self.lock:
            return not self._records and not self._retry and not any(
                mb.keys for mb in self._metrics.values()
            )

    def take(self) -> Batch:
        """Swap out every pending record; the caller must write or ``give_back`` them."""
        with self.lock:
            records, self._records = self._records, defaultdict(list)
            retry, self._retry = self._retry, []
            mbs = list(self._metrics.values())
        out: Batch = list(retry)
        for (table, eid), rows in records.items():
            cols = list(zip(*rows, strict=True))
            sch = schema.SCHEMAS[table]
            arrays = []
            for i, f in enumerate(sch):
                if pa.types.is_timestamp(f.type):
                    arrays.append(pa.array(cols[i], pa.int64()).cast(f.type))
                else:
                    arrays.append(pa.array(cols[i], f.type))
            out.append((table, eid, pa.table(arrays, schema=sch)))
        per_partition: dict[str, list[pa.Table]] = defaultdict(list)
        for mb in mbs:
            t = mb.drain()
            if t is not None:
                per_partition[mb.experiment_id].append(t)
        with self.lock:
            for mb in mbs:
                if mb.closed and not mb.keys:
                    self._metrics.pop(mb.run_id, None)
        for eid, tables in per_partition.items():
            out.append(("metrics", eid, pa.concat_tables(tables)))
        return out

    def give_back(self, batch: Batch) -> None:
        """Keep tables whose write failed; the next ``take`` returns them first."""
        with self.lock:
            self._retry = list(batch) + self._retry

    def clear(self) -> None:
        """Drop everything (used in a forked child: the parent owns those records)."""
        self.lock = threading.Lock()
        self._records = defaultdict(list)
        self._metrics = {}
        self._retry = []
