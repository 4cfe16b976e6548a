"""Compaction on object storage: the lease, and compactors racing in separate processes."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

import pytest

import nbtrack as nt
from nbtrack.storage import compaction
from nbtrack.storage._fs import open_fs
from nbtrack.storage.compaction_lease import CompactionLease
from remote._format_doc import duckdb_session


def test_one_holder_at_a_time_and_expiry_hands_it_over(s3_store: str) -> None:
    fs = open_fs(s3_store)
    fs.ensure_root()
    first = CompactionLease(fs, "wfirst", expiry=600)
    second = CompactionLease(fs, "wsecond", expiry=600)
    assert first.acquire()
    assert not second.acquire()
    assert first.confirm()
    assert second.holder() is not None and second.holder()["writer_id"] == "wfirst"
    first.release()
    assert second.acquire()
    assert not first.confirm()
    # A holder that stops renewing is overtaken once its lease expires...
    late = CompactionLease(fs, "wlate", expiry=0.5)
    deadline = time.monotonic() + 60
    while not late.acquire():
        assert time.monotonic() < deadline, "the expired lease was never handed over"
        time.sleep(0.2)
    # ...and then may not publish anything.
    assert not second.confirm()
    assert late.confirm()


def test_exclusive_create_is_one_conditional_put(s3_store: str) -> None:
    fs = open_fs(s3_store)
    path = fs.join("_locks", "probe.json")
    assert fs.create_exclusive(path, b"a")
    assert not fs.create_exclusive(path, b"b")
    assert fs.read_bytes(path) == b"a"


def test_remote_stores_do_not_compact_in_the_background_by_default(
    s3_store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nbtrack import config

    monkeypatch.delenv("NBTRACK_AUTO_COMPACT", raising=False)
    assert config.auto_compact(remote=False)
    assert not config.auto_compact(remote=True)
    monkeypatch.setenv("NBTRACK_AUTO_COMPACT", "1")
    assert config.auto_compact(remote=True)


def test_compact_skips_while_another_compactor_holds_the_lease(s3_store: str) -> None:
    store = nt.set_store(s3_store)
    with nt.start_run():
        for step in range(3):
            nt.log_metric("m", float(step), step=step)
            store.flush()
    other = CompactionLease(store.fs, "wother", expiry=600)
    assert other.acquire()
    assert compaction.compact(store)["skipped"] is True
    other.release()
    stats = compaction.compact(store)
    assert stats["skipped"] is False and stats["merges"] >= 1


COMPACTOR = textwrap.dedent(
    """
    import random, sys, time
    import nbtrack as nt
    from nbtrack.storage import compaction
    store = nt.set_store(sys.argv[1])
    rounds = int(sys.argv[2])
    done = skipped = 0
    for _ in range(rounds):
        stats = compaction.compact(store, min_files=2)
        skipped += bool(stats["skipped"])
        done += stats["merges"]
        time.sleep(random.random() * 0.05)
    print(done, skipped, flush=True)
    """
)


@pytest.mark.slow
@pytest.mark.parametrize(
    "lease_s",
    [
        pytest.param("600", id="lease-held"),
        # A lease that expires at once: compactors overtake each other all the time, so
        # merges race; readers must still count every point once.
        pytest.param(
            "0.001",
            id="lease-always-expired",
        ),
    ],
)
def test_racing_compactor_processes_never_change_a_count(
    s3_store: str, tmp_path, lease_s: str
) -> None:
    store = nt.set_store(s3_store)
    n_points = 0
    for r in range(3):
        with nt.start_run(name=f"r{r}"):
            for step in range(8):
                nt.log_metric("m", float(step), step=step)
                nt.set_tag(f"t{step % 3}", str(step))
                store.flush()
                n_points += 1
    expected = nt.sql("SELECT count(*) AS n, sum(value) AS s FROM metrics")
    assert int(expected["n"][0]) == n_points
    total = float(expected["s"][0])

    script = tmp_path / "compactor.py"
    script.write_text(COMPACTOR)
    env = {**os.environ, "NBTRACK_COMPACT_LEASE": lease_s, "NBTRACK_GC_GRACE": "600"}
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), s3_store, "4"], env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for _ in range(3)
    ]
    import s3fs

    fs = s3fs.S3FileSystem()
    checks = 0
    while any(p.poll() is None for p in procs) or checks < 3:
        fs.invalidate_cache()
        con = duckdb_session(s3_store, fs)
        assert con.sql("SELECT count(*), sum(value) FROM metrics").fetchall() == [
            (n_points, total)
        ]
        assert con.sql("SELECT count(*) FROM latest_metrics").fetchall() == [(3,)]
        got = nt.sql("SELECT count(*) AS n FROM metrics")
        assert int(got["n"][0]) == n_points
        checks += 1
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (_out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err[-2000:]
    merges = sum(int(out.split()[0]) for out, _ in outs)
    assert merges >= 1
    fs.invalidate_cache()
    con = duckdb_session(s3_store, fs)
    assert con.sql("SELECT count(*), sum(value) FROM metrics").fetchall() == [(n_points, total)]
    assert nt.sql("SELECT count(*) AS n FROM metrics")["n"][0] == n_points
    assert len(nt.sql("SELECT * FROM tags")) == 3 * 3
    snap = store.catalog.snapshot()
    losers = sum(len(p.losers) for parts in snap.partitions.values() for p in parts)
    print(f"merges={merges} race losers={losers} checks={checks}")


def test_of_compactors_racing_for_the_lease_exactly_one_wins(remote_store: str) -> None:
    """S3 (conditional PUT) and memory:// (private to this process): one winner per round."""
    import threading

    fs = open_fs(remote_store)
    fs.ensure_root()
    for _round in range(5):
        leases = [CompactionLease(fs, f"w{i}", expiry=600) for i in range(6)]
        start = threading.Barrier(len(leases))
        won: list[CompactionLease] = []

        def race(
            lease: CompactionLease, start: threading.Barrier, won: list[CompactionLease]
        ) -> None:
            start.wait(timeout=60)
            if lease.acquire():
                won.append(lease)

        threads = [threading.Thread(target=race, args=(le, start, won)) for le in leases]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert len(won) == 1, [le.writer_id for le in won]
        assert won[0].confirm()
        won[0].release()


class _NoConditionalWrite:
    """Registers ``nocond://``: a real in-memory fsspec file system of its own, standing
    for a backend where nbtrack has no conditional write (gs://, az:// ...)."""

    protocol = "nocond"

    @classmethod
    def register(cls) -> None:
        import fsspec
        from fsspec.implementations.memory import MemoryFileSystem

        class NoCondFileSystem(MemoryFileSystem):  # type: ignore[misc]
            protocol = "nocond"
            store: dict = {}  # noqa: RUF012 - fsspec's own convention for memory stores
            pseudo_dirs = [""]  # noqa: RUF012

            @classmethod
            def _strip_protocol(cls, path: str) -> str:
                path = str(path).removeprefix("nocond://").strip("/")
                return "/" + path if path else ""

        fsspec.register_implementation("nocond", NoCondFileSystem, clobber=True)


@pytest.fixture
def nocond_store(monkeypatch: pytest.MonkeyPatch) -> object:
    import uuid

    from remote.conftest import _release

    _NoConditionalWrite.register()
    uri = f"nocond://nbtrack-{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("NBTRACK_STORE", uri)
    yield uri
    _release(uri)


def _three_flushes(uri: str) -> object:
    store = nt.set_store(uri)
    with nt.start_run():
        for step in range(3):
            nt.log_metric("m", float(step), step=step)
            store.flush()
    return store


def test_without_a_conditional_write_compaction_needs_single_compactor(
    nocond_store: str, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    from nbtrack.errors import StoreError

    store = _three_flushes(nocond_store)
    before = store.catalog.snapshot().key()
    with pytest.raises(StoreError, match="--single-compactor"):
        compaction.compact(store)
    with pytest.raises(StoreError, match="no conditional write on nocond://"):
        compaction.gc(store)
    # Writers never compact such a store in the background (one warning, no exception).
    with caplog.at_level(logging.WARNING, logger="nbtrack"):
        assert compaction.auto_compact(store) is None
        assert compaction.auto_compact(store) is None
    assert sum("no automatic compaction" in r.getMessage() for r in caplog.records) == 1
    assert store.catalog.snapshot().key() == before  # nothing was merged or deleted
    stats = compaction.compact(store, single_compactor=True)
    assert stats["merges"] >= 1 and stats["skipped"] is False
    assert compaction.gc(store, single_compactor=True)["busy"] == 0
    assert nt.sql("SELECT count(*) AS n FROM metrics")["n"][0] == 3


def test_cli_compact_on_a_store_without_conditional_write(
    nocond_store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from nbtrack.cli import main

    _three_flushes(nocond_store)
    capsys.readouterr()
    assert main(["--store", nocond_store, "compact"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--single-compactor" in err[0], err
    assert main(["--store", nocond_store, "compact", "--single-compactor"]) == 0
    assert capsys.readouterr().out.strip()  # the summary of what was merged
    assert main(["--store", nocond_store, "gc", "--single-compactor"]) == 0


def test_memory_and_s3_have_an_exclusive_lease_and_compact_without_the_flag(
    remote_store: str,
) -> None:
    from nbtrack.storage.compaction_lease import lease_unavailable

    store = _three_flushes(remote_store)
    assert lease_unavailable(store.fs) is None
    assert compaction.compact(store)["merges"] >= 1
    assert nt.sql("SELECT count(*) AS n FROM metrics")["n"][0] == 3
