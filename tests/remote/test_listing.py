"""A read of an S3 store lists it with one request, and still sees every writer's flush."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

import nbtrack as nt
from nbtrack.storage import schema


def _count_lists(monkeypatch: pytest.MonkeyPatch, s3: Any) -> list[dict[str, Any]]:
    """Record the arguments of every ListObjectsV2 call the store's s3fs makes."""
    calls: list[dict[str, Any]] = []
    original = s3._call_s3

    async def counting(method: str, *args: Any, **kwargs: Any) -> Any:
        if method == "list_objects_v2":
            calls.append(kwargs)
        return await original(method, *args, **kwargs)

    monkeypatch.setattr(s3, "_call_s3", counting)
    return calls


def test_a_read_lists_the_store_once_and_sees_other_writers(
    s3_store: str, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    store = nt.set_store(s3_store)
    (tmp_path / "weights.bin").write_bytes(b"w" * 100)
    with nt.start_run(name="mine", params={"lr": 0.1}) as run:
        nt.log_metric("loss", 0.5)
        nt.log_artifact(str(tmp_path / "weights.bin"))  # a blob under artifacts/blobs/
    assert list(nt.search_runs(experiment="*")["run_id"]) == [run.id]

    calls = _count_lists(monkeypatch, store.fs.fs)
    assert list(nt.search_runs(experiment="*")["run_id"]) == [run.id]
    # One listing for every table; it starts after the artifact content and the leases.
    assert len(calls) == 1, calls
    assert calls[0]["StartAfter"].endswith("/artifacts/blobs0")

    # Another process (another host, for the store) logs a run: the next read sees it.
    code = (
        "import nbtrack as nt\n"
        "with nt.start_run(name='theirs', params={'lr': 0.2}) as r:\n"
        "    nt.log_metric('loss', 0.25)\n"
        "print(r.id)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert out.returncode == 0, out.stderr
    theirs = out.stdout.split()[-1]
    found = nt.search_runs(experiment="*", filter="metrics.loss < 0.3")
    assert list(found["run_id"]) == [theirs]
    assert len(calls) == 2


def test_the_store_listing_equals_one_listing_per_table(s3_store: str, tmp_path) -> None:
    """The single listing finds exactly the segment files a per-table listing finds."""
    store = nt.set_store(s3_store)
    (tmp_path / "a.txt").write_text("a")
    with nt.start_run(params={"p": 1}, tags={"t": "x"}):
        nt.log_metric("m", 1.0)
        nt.log_artifact(str(tmp_path / "a.txt"))
    fs = store.fs
    fast = fs._find_tables(schema.TABLES)
    s3 = fs.fs
    for table, entries in zip(schema.TABLES, fast, strict=True):
        try:
            slow = s3.find(fs.join(table), detail=True, prefix="experiment_id=", refresh=True)
        except FileNotFoundError:
            slow = {}
        assert sorted(entries) == sorted(slow), table
        assert all(e["size"] == slow[name]["size"] for name, e in entries.items())
    names = [name for entries in fast for name in entries]
    assert names and not any("/blobs/" in n or "/_writers/" in n for n in names)
