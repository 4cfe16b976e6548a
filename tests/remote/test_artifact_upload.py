"""Artifacts on object storage: streamed multipart uploads, stored once per content."""

from __future__ import annotations

import hashlib
import os
import tracemalloc
from pathlib import Path

import pytest

import nbtrack as nt
from nbtrack.storage._fs import open_fs

MB = 1 << 20


def _big_file(path: Path, size: int, seed: int) -> str:
    """A file of ``size`` pseudo-random bytes, written in chunks; returns its sha256."""
    h = hashlib.sha256()
    block = hashlib.sha256(str(seed).encode()).digest() * (MB // 32)
    with open(path, "wb") as fh:
        left = size
        while left:
            chunk = block[: min(left, len(block))]
            fh.write(chunk)
            h.update(chunk)
            left -= len(chunk)
            block = block[1:] + block[:1]  # no two chunks alike
    return h.hexdigest()


def test_large_artifact_is_a_multipart_upload_with_bounded_memory(
    s3_store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NBTRACK_UPLOAD_PART", str(5 * MB))
    src = tmp_path / "model.bin"
    sha = _big_file(src, 40 * MB, seed=1)
    store = nt.set_store(s3_store)
    with nt.start_run() as run:
        tracemalloc.start()
        try:
            nt.log_artifact(str(src))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    # One part (5 MiB) buffered at a time, with the copies the HTTP client makes of it:
    # a few parts, whatever the file's size, and half of this file's 40 MiB.
    assert peak < 20 * MB, f"peak {peak / MB:.1f} MiB while uploading a 40 MiB file"
    info = store.fs.fs.info(store.blob_path(sha))
    assert info["size"] == 40 * MB
    # S3 gives a multipart object an ETag ending in -<parts>: 40 MiB in 5 MiB parts is 8.
    assert info["ETag"].strip('"').endswith("-8"), info["ETag"]
    assert hashlib.sha256(nt.read_artifact(run.id, "model.bin")).hexdigest() == sha
    row = nt.sql("SELECT size, sha256 FROM artifacts")
    assert (int(row["size"][0]), row["sha256"][0]) == (40 * MB, sha)


def test_same_content_is_stored_once(remote_store: str, tmp_path: Path) -> None:
    folder = tmp_path / "out"
    (folder / "sub").mkdir(parents=True)
    for name in ("a.txt", "sub/b.txt", "sub/c.txt"):
        (folder / name).write_text("same bytes")
    (folder / "other.txt").write_text("other bytes")
    store = nt.set_store(remote_store)
    with nt.start_run() as first:
        nt.log_artifacts(str(folder))
    with nt.start_run() as second:
        nt.log_artifact(str(folder / "a.txt"), "copy")
        nt.log_text("same bytes", "text.txt")
    blobs = store.fs.fs.find(store.fs.join("artifacts", "blobs"))
    assert len(blobs) == 2, blobs
    assert sorted(nt.list_artifacts(first.id)) == ["a.txt", "other.txt", "sub/b.txt", "sub/c.txt"]
    assert nt.read_artifact(second.id, "copy/a.txt") == b"same bytes"
    assert nt.read_artifact(first.id, "sub/c.txt") == b"same bytes"


def test_a_file_that_changes_during_upload_is_not_stored(
    s3_store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The blob's name is its content's hash: a file changed after hashing is refused."""
    monkeypatch.setenv("NBTRACK_UPLOAD_PART", str(5 * MB))
    src = tmp_path / "growing.bin"
    _big_file(src, 11 * MB, seed=2)
    fs = open_fs(s3_store)
    real = fs.upload_verified.__func__  # type: ignore[attr-defined]

    def change_then_upload(self, path, dest, sha):  # type: ignore[no-untyped-def]
        with open(path, "ab") as fh:
            fh.write(b"appended after hashing")
        return real(self, path, dest, sha)

    monkeypatch.setattr(type(fs), "upload_verified", change_then_upload)
    store = nt.set_store(s3_store)
    with nt.start_run(), pytest.raises(nt.StoreError, match="changed while"):
        nt.log_artifact(str(src))
    assert store.fs.fs.find(store.fs.join("artifacts", "blobs")) == []
    uploads = store.fs.fs.call_s3("list_multipart_uploads", Bucket=s3_store.split("/")[2])
    assert not [u for u in uploads.get("Uploads", []) if "blobs" in u["Key"]]
    assert os.path.getsize(src) > 11 * MB
