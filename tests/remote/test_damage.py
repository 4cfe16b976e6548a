"""Damaged files and bad input on a store on object storage: as locally, nothing else is lost."""

from __future__ import annotations

import pytest

import nbtrack as nt


def _objects(store) -> list[str]:
    return sorted(store.fs.fs.find(store.fs.root))


def test_a_corrupt_segment_is_skipped_and_hides_nothing_else(remote_store: str) -> None:
    store = nt.set_store(remote_store)
    with nt.start_run(name="good") as run:
        nt.log_metric("m", 1.0)
    folder = store.catalog.snapshot().partitions["metrics"][0].folder
    bad = store.fs.join(folder, "s-00000000000000000001-wbroken-000001.parquet")
    store.fs.fs.pipe_file(bad, b"PAR1 this is not parquet")
    with pytest.warns(nt.NbtrackWarning, match="skipping"):
        got = nt.get_run(run.id)
    assert got.metrics == {"m": 1.0}
    assert nt.sql("SELECT count(*) AS n FROM metrics")["n"][0] == 1


def test_bad_input_writes_nothing(remote_store: str) -> None:
    store = nt.set_store(remote_store)
    with nt.start_run() as run:
        nt.log_metric("ok", 1.0)
        store.flush()
        before = _objects(store)
        with pytest.raises(nt.InvalidKeyError):
            nt.log_metric("../escape", 1.0)
        with pytest.raises(nt.InvalidValueError):
            nt.log_param("p", "x" * 7000)
        with pytest.raises(nt.ArtifactError):
            nt.log_text("x", "/absolute.txt")
        store.flush()
        assert [o for o in _objects(store) if "/_writers/" not in o] == [
            o for o in before if "/_writers/" not in o
        ]
    assert nt.get_run(run.id).metrics == {"ok": 1.0}
