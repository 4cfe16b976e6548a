"""In-memory batches of records waiting to be written, and the rule for when to flush.

Metric points are kept per run in plain Python lists (the cheapest thing to append to from a
training loop); every other record (run lifecycle, params, tags, artifacts, deletions) goes
into one list per table and partition. ``take`` swaps everything out under the lock and
returns Arrow tables; a failed write hands its tables back with ``give_back`` so no point is
lost and the next flush retries them first.
"""

from __future__ import annotations

import threading
from array import array
from collections import defaultdict
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from nbtrack.storage import schema

# Years 1-9999 in ms since the epoch: what DuckDB, pandas and datetime read back. The API
# refuses anything else; the buffer checks again so one bad point can never make a whole
# segment unreadable (defence in depth, DESIGN.md §2.8).
MIN_TS_MS = -62_135_596_800_000
MAX_TS_MS = 253_402_300_799_999


class MetricBuffer:
    """Pending metric points of one run, column by column. Guarded by ``lock``.

    The columns are ``array.array`` objects (C ints and doubles): appending to them costs
    what a list append costs, and a flush turns them into NumPy arrays without touching
    each element. Keys are stored as small int codes into ``key_names`` (a run logs the
    same few keys millions of times), so no string is copied per point.
    """

    __slots__ = (
        "closed",
        "code_of",
        "codes",
        "experiment_id",
        "key_names",
        "last_codes",
        "last_keys",
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
        self.code_of: dict[str, int] = {}
        self.key_names: list[str] = []
        self.codes = array("i")
        self.steps = array("q")
        self.timestamps = array("q")
        self.values = array("d")
        self.closed = False  # set when the run ends: dropped after its last drain
        # log_metrics' cache: the key list of its last call and their codes
        self.last_keys: list[str] = []
        self.last_codes = array("i")

    def code(self, key: str) -> int:
        """The code of ``key`` in this buffer (call with ``lock`` held)."""
        code = self.code_of.get(key)
        if code is None:
            code = self.code_of[key] = len(self.key_names)
            self.key_names.append(key)
        return code

    def append(self, key: str, step: int, timestamp_ms: int, value: float) -> None:
        """Add one point (for callers off the hot path; ``Run`` inlines this)."""
        with self.lock:
            self.codes.append(self.code(key))
            self.steps.append(step)
            self.timestamps.append(timestamp_ms)
            self.values.append(value)

    def __len__(self) -> int:
        return len(self.codes)

    def drain(self, rejected: list[Rejected]) -> pa.Table | None:
        """This run's pending points as a table; points that cannot be stored go to
        ``rejected`` instead (the rest are never lost with them)."""
        with self.lock:
            if not self.codes:
                return None
            cols = (self.codes, self.steps, self.timestamps, self.values)
            self.codes, self.steps = array("i"), array("q")
            self.timestamps, self.values = array("q"), array("d")
            names = list(self.key_names)
        codes, steps, ts, values = (np.frombuffer(c, dtype=c.typecode) for c in cols)
        try:
            return _metric_table(self.run_id, names, codes, steps, ts, values)
        except _ENCODE_ERRORS:
            pass  # some point cannot be encoded: find it below, keep the others
        good = np.ones(len(codes), dtype=bool)
        for i in range(len(codes)):
            one = slice(i, i + 1)
            try:
                _metric_table(self.run_id, names, codes[one], steps[one], ts[one], values[one])
            except _ENCODE_ERRORS as exc:
                good[i] = False
                row = (self.run_id, names[codes[i]], int(steps[i]), int(ts[i]), float(values[i]))
                rejected.append(Rejected("metrics", row, str(exc)))
        if not good.any():
            return None
        return _metric_table(self.run_id, names, codes[good], steps[good], ts[good], values[good])


class Rejected:
    """A record the buffer could not encode: set aside (and reported), never written."""

    __slots__ = ("reason", "row", "table")

    def __init__(self, table: str, row: tuple[Any, ...], reason: str) -> None:
        self.table = table
        self.row = row
        self.reason = reason

    def __repr__(self) -> str:
        return f"Rejected({self.table}, {self.row!r:.120}, {self.reason!r})"


def _metric_table(
    run_id: str,
    names: list[str],
    codes: np.ndarray,
    steps: np.ndarray,
    ts: np.ndarray,
    values: np.ndarray,
) -> pa.Table:
    """One run's points as an Arrow table, grouped by key with steps rising.

    Grouping on the key codes (cheap) rather than sorting strings at write time is what
    makes a flush fast; run id and key are built from dictionaries, not n Python strings.
    """
    n = len(codes)
    if n and (int(ts.min()) < MIN_TS_MS or int(ts.max()) > MAX_TS_MS):
        raise ValueError("a timestamp is outside years 1-9999")
    if n > 1 and not (
        int(codes.max()) == int(codes.min()) and bool((steps[1:] >= steps[:-1]).all())
    ):
        # A stable sort: equal (key, step) points keep the order they were logged in.
        order = np.lexsort((steps, codes))
        if not bool((order[1:] > order[:-1]).all()):
            codes, steps, ts, values = codes[order], steps[order], ts[order], values[order]
    key_dict = pa.array(names, pa.string())
    # Grouped by key above: one point per key when no two neighbouring codes are equal.
    unique = n < 2 or bool((codes[1:] != codes[:-1]).all())
    sch = schema.SCHEMAS["metrics"]
    if unique:
        sch = sch.with_metadata({schema.UNIQUE_META: b"1"})
    return pa.table(
        [
            pa.DictionaryArray.from_arrays(
                pa.array(np.zeros(n, np.int32)), pa.array([run_id], pa.string())
            ).cast(pa.string()),
            pa.DictionaryArray.from_arrays(pa.array(codes), key_dict).cast(pa.string()),
            pa.array(steps, pa.int64()),
            pa.array(ts, pa.int64()).cast(pa.timestamp("ms", tz="UTC")),
            pa.array(values, pa.float64()),
        ],
        schema=sch,
    )


Batch = list[tuple[str, str, pa.Table]]  # (table, experiment_id, rows)

_ENCODE_ERRORS = (pa.ArrowException, TypeError, ValueError, OverflowError, UnicodeError)


def _rows_table(table: str, rows: list[tuple[Any, ...]]) -> pa.Table:
    sch = schema.SCHEMAS[table]
    cols = list(zip(*rows, strict=True))
    arrays = []
    for i, f in enumerate(sch):
        if pa.types.is_timestamp(f.type):
            arr = pa.array(cols[i], pa.int64())
            valid = pc.drop_null(arr)
            if len(valid) and (
                pc.min(valid).as_py() < MIN_TS_MS or pc.max(valid).as_py() > MAX_TS_MS
            ):
                raise ValueError(f"{f.name} is outside years 1-9999")
            arrays.append(arr.cast(f.type))
        else:
            arrays.append(pa.array(cols[i], f.type))
    return pa.table(arrays, schema=sch)


def _records_table(
    table: str, rows: list[tuple[Any, ...]], rejected: list[Rejected]
) -> pa.Table | None:
    """Rows as an Arrow table; rows that cannot be encoded go to ``rejected``."""
    try:
        return _rows_table(table, rows)
    except _ENCODE_ERRORS:
        pass  # one bad row: encode row by row and set only the bad ones aside
    good = []
    for row in rows:
        try:
            _rows_table(table, [row])
            good.append(row)
        except _ENCODE_ERRORS as exc:
            rejected.append(Rejected(table, row, str(exc)))
    return _rows_table(table, good) if good else None


class Buffer:
    """Everything this process has logged and not yet written."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._records: dict[tuple[str, str], list[tuple[Any, ...]]] = defaultdict(list)
        self._metrics: dict[str, MetricBuffer] = {}
        self._retry: Batch = []
        self.rejected: list[Rejected] = []

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
            return (
                not self._records
                and not self._retry
                and not any(mb.codes for mb in self._metrics.values())
            )

    def take(self) -> Batch:
        """Swap out every pending record; the caller must write or ``give_back`` them.

        Never raises and never drops a good record: a record that cannot be encoded (it
        slipped past validation) is moved to ``rejected`` with the reason, and the others
        of its table are written as usual.
        """
        with self.lock:
            records, self._records = self._records, defaultdict(list)
            retry, self._retry = self._retry, []
            mbs = list(self._metrics.values())
        out: Batch = list(retry)
        rejected: list[Rejected] = []
        for (table, eid), rows in records.items():
            encoded = _records_table(table, rows, rejected)
            if encoded is not None:
                out.append((table, eid, encoded))
        per_partition: dict[str, list[pa.Table]] = defaultdict(list)
        for mb in mbs:
            t = mb.drain(rejected)
            if t is not None:
                per_partition[mb.experiment_id].append(t)
        with self.lock:
            for mb in mbs:
                if mb.closed and not mb.codes:
                    self._metrics.pop(mb.run_id, None)
            self.rejected.extend(rejected)
        for eid, tables in per_partition.items():
            # One table per run: the file is unique per (run, key) when each table is.
            unique = all(
                (t.schema.metadata or {}).get(schema.UNIQUE_META) == b"1" for t in tables
            )
            merged = pa.concat_tables(
                [t.replace_schema_metadata(None) for t in tables]
            )
            if unique:
                merged = merged.replace_schema_metadata({schema.UNIQUE_META: b"1"})
            out.append(("metrics", eid, merged))
        return out

    def take_rejected(self) -> list[Rejected]:
        """Records set aside since the last call (for the store to report)."""
        with self.lock:
            out, self.rejected = self.rejected, []
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
        self.rejected = []
