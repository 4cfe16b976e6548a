"""Racing compactors, gc and readers on object storage, in every order of their steps.

The race that the lease leaves open: compactor A confirmed its lease and its inputs, then
stalled; its lease expired and compactor B took it, merged an overlapping set of files and
holds the lease now. Each then publishes, gc runs, and readers list and read, in every
order. Every step is real code (the merger, the lease, gc, nbtrack's reader, the plain
DuckDB query of docs/format.md); the test only decides when each actor may take its next
step, and waits for it to get there (events, never sleeps).

The promise checked: every reader, at every moment, counts each of the 4 points exactly
once, or (the plain query only) fails with DuckDB's "No files found" and counts exactly
when run again. nbtrack's reader re-lists by itself.
"""

from __future__ import annotations

import itertools
import threading
import uuid
from collections.abc import Callable
from typing import Any

import duckdb
import pytest

import nbtrack as nt
from nbtrack.storage import compaction, release_store, segments
from nbtrack.storage._fs import open_fs
from nbtrack.storage.compaction_lease import CompactionLease
from nbtrack.storage.merging import Merger
from nbtrack.storage.store import ParquetStore
from remote._format_doc import sql_blocks

WAIT = 120.0  # generous: a loaded CI box
EXACT = [(4, 6.0)]


def _store_with_four_points(uri: str) -> tuple[str, list[str]]:
    store = nt.set_store(uri)
    with nt.start_run(name="r"):
        for step in range(4):
            nt.log_metric("m", float(step), step=step)
            store.flush()
    part = store.catalog.snapshot().partitions["metrics"][0]
    names = sorted(f.name for f in part.visible)
    assert len(names) == 4
    return part.folder, names


class _Compactor(threading.Thread):
    """Merges ``inputs`` with the real merger and check; parks just before it publishes."""

    def __init__(self, uri: str, folder: str, inputs: list[str], hold: Any) -> None:
        super().__init__(daemon=True)
        self.store = ParquetStore(uri)
        self.folder = folder
        self.inputs = inputs
        self.hold = hold
        # Named now, as compact_partition names a merge when it plans it.
        self.name_ = segments.segment_name(
            segments.COMPACTED_PREFIX, self.store.writer_id, self.store.next_seq()
        )
        self.parked = threading.Event()
        self.go = threading.Event()
        self.done = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        check = compaction._ready_check(self.store, self.folder, self.inputs, self.hold)

        def before_publish() -> str | None:
            why = check()  # confirmed: lease (B) and inputs still visible
            self.parked.set()
            assert self.go.wait(WAIT)  # ...and stalls here until the test lets it go
            return why

        try:
            sizes = {
                f.name: f.size for f in self.store.fs.list_files(self.store.fs.join(self.folder))
            }
            with Merger(self.store.fs) as merger:
                self.result = merger.merge(
                    "metrics",
                    [(self.store.fs.join(self.folder, n), sizes[n]) for n in self.inputs],
                    sorted(self.inputs),
                    self.store.fs.join(self.folder, self.name_),
                    before_publish=before_publish,
                )
        except BaseException as exc:  # reported by the test thread
            self.error = exc
            self.parked.set()
        finally:
            self.done.set()

    def publish(self) -> None:
        self.go.set()
        assert self.done.wait(WAIT)
        assert self.error is None, self.error
        assert self.result.refused is None and self.result.merged, self.result


class _NbtrackReader(threading.Thread):
    """``store.query`` in another store object (another process's view), paused after it
    lists the store and again after it loaded the files, before it reads the points."""

    def __init__(self, uri: str) -> None:
        super().__init__(daemon=True)
        self.store = ParquetStore(uri)
        self.steps = [threading.Event(), threading.Event()]  # listed, installed
        self.go = [threading.Event(), threading.Event()]
        self.done = threading.Event()
        self.got: Any = None
        self.error: BaseException | None = None
        self._pause(self.store.catalog, "snapshot", 0)
        self._pause(self.store.views(), "execute", 1)

    def _pause(self, obj: Any, method: str, i: int) -> None:
        """Park ``obj.method`` once: after its first call (i=0) or before it (i=1)."""
        real: Callable[..., Any] = getattr(obj, method)

        def park() -> None:
            if not self.steps[i].is_set():
                self.steps[i].set()
                assert self.go[i].wait(WAIT)

        def paused(*args: Any, **kwargs: Any) -> Any:
            if i == 1:
                park()
            out = real(*args, **kwargs)
            if i == 0:
                park()
            return out

        setattr(obj, method, paused)

    def run(self) -> None:
        try:
            t = self.store.query("SELECT count(*) AS n, sum(value) AS s FROM metrics")
            self.got = [(t["n"][0].as_py(), t["s"][0].as_py())]
        except BaseException as exc:  # reported by the test thread
            self.error = exc
            for e in self.steps:
                e.set()
        finally:
            self.done.set()

    def step(self, i: int) -> None:
        """0: list the store; 1: load the files listed; 2: read the points."""
        if i == 0:
            self.start()
        else:
            self.go[i - 1].set()
        if i < 2:
            assert self.steps[i].wait(WAIT)
        else:
            assert self.done.wait(WAIT)
            assert self.error is None, self.error


def _only_vanished(exc: duckdb.IOException) -> None:
    """Re-raise any failure other than a listed file that is gone (the documented one)."""
    if "No files found" not in str(exc):
        raise exc


def _docs_reader(uri: str, duck_fs: Any) -> Any:
    """The plain query of docs/format.md: step 0 lists the files and reads the footers,
    step 1 reads the rows. A vanished file fails the query; it is then run again."""
    blocks = [b.replace("STORE", uri) for b in sql_blocks()]
    state: dict[str, Any] = {"reruns": 0}

    def session() -> duckdb.DuckDBPyConnection:
        con = duckdb.connect()
        if duck_fs is not None:
            con.register_filesystem(duck_fs)
        return con

    def counts(con: duckdb.DuckDBPyConnection) -> list[tuple[int, float]]:
        for b in blocks[1:]:
            con.execute(b).fetchall()
        got = con.sql("SELECT count(*), sum(value) FROM metrics").fetchall()
        assert con.sql("SELECT step, value FROM latest_metrics").fetchall() == [(3, 3.0)]
        return got

    def again() -> list[tuple[int, float]]:
        state["reruns"] += 1
        if duck_fs is not None and hasattr(duck_fs, "invalidate_cache"):
            duck_fs.invalidate_cache()
        con = session()
        con.execute(blocks[0]).fetchall()
        return counts(con)

    def step(i: int) -> None:
        if i == 0:
            state["con"] = session()
            try:
                state["con"].execute(blocks[0]).fetchall()
            except duckdb.IOException as exc:
                _only_vanished(exc)
                state["con"] = None
        else:
            try:
                state["got"] = counts(state["con"]) if state["con"] else again()
            except duckdb.IOException as exc:
                _only_vanished(exc)
                state["got"] = again()

    state["step"] = step
    return state


def _orders(actors: dict[str, int]) -> list[tuple[str, ...]]:
    """Every order of the actors' steps that keeps each actor's own steps in order."""
    tokens = [a for a, n in actors.items() for _ in range(n)]
    return sorted(set(itertools.permutations(tokens)))


ORDERS_NBTRACK = _orders({"A": 1, "B": 1, "gc": 1, "reader": 3})  # 120
ORDERS_DOCS = _orders({"A": 1, "B": 1, "gc": 1, "reader": 2})  # 60


def _scenario(
    template: tuple[str, str, list[str]], order: tuple[str, ...], reader_kind: str, duck_fs: Any
) -> dict[str, Any]:
    source, folder, names = template
    uri = f"{source.rsplit('/', 1)[0]}/{uuid.uuid4().hex[:8]}"
    # A copy of a store nbtrack wrote (files are immutable: a copy is the same store).
    inner = open_fs(source).fs  # type: ignore[union-attr]
    inner.copy(source + "/", uri + "/", recursive=True)
    # A: confirmed and stalled; its lease expired and was taken over (gone). B: the holder.
    a = _Compactor(uri, folder, names[:3], hold=None)
    b_store = ParquetStore(uri)
    lease = CompactionLease(b_store.fs, b_store.writer_id, expiry=600)
    assert lease.acquire()
    b = _Compactor(uri, folder, names[1:], hold=compaction.Hold(True, lease))
    a.start()
    b.start()
    assert a.parked.wait(WAIT) and b.parked.wait(WAIT)
    gc_store = ParquetStore(uri)
    reader = _NbtrackReader(uri) if reader_kind == "nbtrack" else None
    docs = _docs_reader(uri, duck_fs) if reader_kind == "docs" else None
    seen = {"reader": 0}
    gc_result: dict[str, int] = {}
    try:
        for actor in order:
            if actor == "A":
                a.publish()
            elif actor == "B":
                b.publish()
                lease.release()
            elif actor == "gc":
                # --force: no grace at all, the worst case for a reader that listed earlier.
                gc_result = compaction.gc(gc_store, only_expired=False)
            else:
                if reader is not None:
                    reader.step(seen["reader"])
                else:
                    docs["step"](seen["reader"])  # type: ignore[index]
                seen["reader"] += 1
        got = reader.got if reader is not None else docs["got"]  # type: ignore[index]
        assert got == EXACT, (order, got)
        # And after everything, a fresh read of each kind is exact too.
        final = ParquetStore(uri)
        t = final.query("SELECT count(*) AS n, sum(value) AS s FROM metrics")
        assert [(t["n"][0].as_py(), t["s"][0].as_py())] == EXACT, order
        final.close()
        return {
            "gc_busy": gc_result.get("busy", 0),
            "reruns": docs["reruns"] if docs is not None else 0,
        }
    finally:
        a.go.set()
        b.go.set()
        for s in (a.store, b.store, b_store, gc_store, *([reader.store] if reader else [])):
            s.close()
        release_store(uri)


def _duck_fs(backend: str) -> Any:
    if backend == "memory":
        import fsspec

        return fsspec.filesystem("memory")
    import s3fs

    return s3fs.S3FileSystem()


@pytest.mark.slow
@pytest.mark.parametrize("reader_kind", ["nbtrack", "docs"])
def test_every_order_of_racing_compactors_gc_and_a_reader_counts_each_point_once(
    remote_store: str, reader_kind: str
) -> None:
    orders = ORDERS_NBTRACK if reader_kind == "nbtrack" else ORDERS_DOCS
    if remote_store.startswith("s3://"):
        orders = orders[::6]  # each scenario is a fresh store: a sample keeps CI time low
    duck_fs = _duck_fs(remote_store.split("://", 1)[0])
    source = f"{remote_store}/template"
    template = (source, *_store_with_four_points(source))
    release_store(source)
    busy = reruns = 0
    for order in orders:
        out = _scenario(template, order, reader_kind, duck_fs)
        busy += out["gc_busy"]
        reruns += out["reruns"]
    # The orders include gc running while B holds the lease (it must then delete nothing)
    # and, for the plain query, reads of files gc deleted after they were listed.
    assert busy > 0
    if reader_kind == "docs":
        assert reruns > 0
