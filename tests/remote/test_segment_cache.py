"""The local cache of a remote store's segment files (NBTRACK_CACHE_DIR)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import fsspec

import nbtrack as nt
from nbtrack.storage.segment_cache import SegmentCache, is_segment

ROOT = Path(__file__).resolve().parents[2]

READER = """
import json, sys
import nbtrack as nt
store = nt.set_store(sys.argv[1])
df = nt.search_runs(experiment="*")
cache = store.fs.cache
print(json.dumps({"runs": len(df), "hits": cache.hits, "misses": cache.misses}))
"""


def _read_in_new_process(uri: str) -> dict[str, int]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", READER, uri], capture_output=True, text=True,
                          env=env, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def test_a_second_reader_reads_segments_from_the_cache(s3_store: str) -> None:
    store = nt.set_store(s3_store)
    for i in range(3):
        with nt.start_run(name=f"r{i}", params={"i": i}):
            nt.log_metric("m", float(i))
    store.flush()
    cold = _read_in_new_process(s3_store)
    assert cold["runs"] == 3
    assert cold["misses"] > 0
    warm = _read_in_new_process(s3_store)
    assert warm["runs"] == 3
    assert warm["misses"] == 0 and warm["hits"] >= cold["misses"]
    cached = os.listdir(os.environ["NBTRACK_CACHE_DIR"])
    assert len(cached) == cold["misses"]


def test_cache_stays_within_its_bound(tmp_path: Path) -> None:
    fs = fsspec.filesystem("memory")
    cache = SegmentCache(str(tmp_path / "cache"), max_bytes=10_000)
    for i in range(20):
        path = f"memory://bound/metrics/experiment_id=x/s-{i:04d}.parquet"
        fs.pipe_file(path, bytes(1000))
        local = cache.local_copy(fs, path, 1000)
        with open(local, "rb") as fh:
            assert fh.read() == bytes(1000)
    total = sum(p.stat().st_size for p in (tmp_path / "cache").iterdir())
    assert total <= 10_000


def test_only_segments_are_cached() -> None:
    assert is_segment("s3://b/p/metrics/experiment_id=Default-1/s-1-w-000001.parquet")
    assert is_segment("s3://b/p/runs/experiment_id=Default-1/c-1-w-000001.parquet")
    assert not is_segment("s3://b/p/_writers/w1.json")
    assert not is_segment("s3://b/p/format.json")
    assert not is_segment("s3://b/p/metrics/experiment_id=Default-1/.s-1.parquet.ab.tmp")


def test_cache_can_be_turned_off(s3_store: str, monkeypatch) -> None:
    monkeypatch.setenv("NBTRACK_CACHE_DIR", "off")
    from nbtrack.storage._fs import open_fs

    assert open_fs(s3_store).cache is None


def test_large_files_are_copied_in_ranges(tmp_path: Path, monkeypatch) -> None:
    from nbtrack.storage import segment_cache

    monkeypatch.setattr(segment_cache, "DOWNLOAD_CHUNK", 1000)
    fs = fsspec.filesystem("memory")
    body = bytes(range(256)) * 20  # 5,120 bytes: six ranges
    path = "memory://ranges/metrics/experiment_id=x/c-0001.parquet"
    fs.pipe_file(path, body)
    cache = SegmentCache(str(tmp_path / "cache"), max_bytes=1 << 20)
    with open(cache.local_copy(fs, path, len(body)), "rb") as fh:
        assert fh.read() == body
