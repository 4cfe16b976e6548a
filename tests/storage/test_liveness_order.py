"""A read decides KILLED from the files, then the leases, then (if a lease is missing) the files again."""

from __future__ import annotations

import os
from typing import Any

import nbtrack as nt
from nbtrack.storage.store import ParquetStore


def _status(reader: ParquetStore) -> str:
    return str(reader.query("SELECT status FROM runs")["status"][0].as_py())


def test_a_run_that_ends_while_a_reader_checks_the_leases_is_not_killed(store_path) -> None:
    writer = nt.set_store(str(store_path))
    nt.start_run(name="r")
    reader = ParquetStore(str(store_path))
    try:
        assert _status(reader) == "RUNNING"
        real = reader.leases.dead_and_missing
        calls: list[list[str]] = []

        def ending_meanwhile(owners: list[str], mine: Any) -> Any:
            if not calls:  # the run ends after the reader listed the files
                nt.end_run()
                writer.drop_lease()
                assert not os.path.exists(writer.lease_path)
            calls.append(list(owners))
            return real(owners, mine)

        reader.leases.dead_and_missing = ending_meanwhile  # type: ignore[method-assign]
        assert _status(reader) == "FINISHED"
        # The missing lease made the reader list the files again, where the run had ended.
        assert calls == [[writer.writer_id], []]
    finally:
        reader.close()


def test_a_running_run_without_a_lease_reads_killed(store_path, monkeypatch) -> None:
    monkeypatch.setenv("NBTRACK_HEARTBEAT", "3600")  # no heartbeat writes the lease back
    writer = nt.set_store(str(store_path))
    nt.start_run(name="r")
    reader = ParquetStore(str(store_path))
    try:
        assert _status(reader) == "RUNNING"
        os.remove(writer.lease_path)  # as a writer that died and lost its lease
        assert _status(reader) == "KILLED"
    finally:
        reader.close()
        nt.end_run()
