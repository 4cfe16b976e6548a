"""Artifacts: content-addressed, written atomically, never outside the store."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from _reliability import Child, files_under, temp_files

import nbtrack as nt


def _blobs(store: Path) -> dict[str, bytes]:
    root = store / "artifacts" / "blobs"
    out = {}
    for rel in files_under(root):
        out[rel] = (root / rel).read_bytes()
    return out


def test_identical_content_is_stored_once_under_its_sha256(
    store_path: Path, tmp_path: Path
) -> None:
    nt.set_store(str(store_path))
    content = b"same bytes\n" * 1000
    src = tmp_path / "weights.bin"
    src.write_bytes(content)
    sha = hashlib.sha256(content).hexdigest()
    ids = []
    for i in range(3):
        with nt.start_run(name=f"r{i}") as run:
            run.log_artifact(src)  # the same file
            run.log_text(content.decode(), f"copy-{i}.txt")  # the same bytes, another name
            run.log_text(f"unique {i}", "unique.txt")
        ids.append(run.id)
    blobs = _blobs(store_path)
    assert blobs[f"{sha[:2]}/{sha}"] == content
    assert len(blobs) == 1 + 3  # the shared content once, plus three different texts
    for rel, data in blobs.items():
        assert rel == f"{hashlib.sha256(data).hexdigest()[:2]}/{hashlib.sha256(data).hexdigest()}"
    rows = nt.sql("SELECT run_id, path, size, sha256 FROM artifacts ORDER BY run_id, path")
    assert len(rows) == 9
    shared = rows[rows["path"] != "unique.txt"]
    assert set(shared["sha256"]) == {sha}
    assert set(shared["size"]) == {len(content)}
    for rid in ids:
        assert nt.read_artifact(rid, "weights.bin") == content
        assert sorted(nt.list_artifacts(rid)) == sorted(
            ["weights.bin", f"copy-{ids.index(rid)}.txt", "unique.txt"]
        )


def test_processes_logging_the_same_artifact_at_once_store_one_whole_blob(
    store_path: Path,
) -> None:
    size = 4 * 1024 * 1024
    children = [Child(store_path, "artifact", size, "model.bin") for _ in range(4)]
    for c in children:
        c.expect("done", timeout=300)
        assert c.wait() == 0, c.stderr()
    content = (b"0123456789abcdef" * (size // 16 + 1))[:size]
    sha = hashlib.sha256(content).hexdigest()
    assert _blobs(store_path) == {f"{sha[:2]}/{sha}": content}
    assert temp_files(store_path) == []
    nt.set_store(str(store_path))
    runs = nt.search_runs()
    assert len(runs) == 4
    for rid in runs["run_id"]:
        assert nt.read_artifact(rid, "model.bin") == content


def test_an_interrupted_artifact_write_leaves_no_partial_blob(store_path: Path) -> None:
    child = Child(store_path, "pause", "blob")
    child.expect("run ")
    line = child.expect("paused")
    child.kill()
    tmp, final = Path(line.split()[1]), Path(line.split()[2])
    assert tmp.exists()
    assert not final.exists()  # never visible half-written
    nt.set_store(str(store_path))
    assert len(nt.sql("SELECT * FROM artifacts")) == 0
    # Logging the same content again succeeds and makes the blob whole.
    with nt.start_run() as run:
        run.log_text("the content of an artifact\n" * 100, "notes.txt")
    assert final.read_bytes() == ("the content of an artifact\n" * 100).encode()
    assert nt.read_artifact(run.id, "notes.txt") == final.read_bytes()


NAMES = [
    "../../etc/passwd",
    "../outside.txt",
    "/etc/passwd",
    "/tmp/evil.txt",
    "..\\..\\evil.txt",
    "C:\\evil.txt",
    "a/../../../evil.txt",
    "a\x00b",
    "~/evil.txt",
    "$HOME/evil.txt",
    "..evil",
    "./././x",
    "x/./y/../../../z",
    "\\\\server\\share\\evil.txt",
    "con",
    "a" * 300,
    "é/ü/ñ.txt",
    " leading space.txt",
    "name with\nnewline.txt",
    "%2e%2e/%2e%2e/evil.txt",
]


@pytest.mark.parametrize("name", NAMES, ids=range(len(NAMES)))
def test_an_artifact_is_never_written_outside_the_store_whatever_its_name(
    store_path: Path, tmp_path: Path, name: str
) -> None:
    # The store sits two levels down so that '..' escapes would land in watched folders.
    store = tmp_path / "a" / "b" / "store"
    nt.set_store(str(store))
    src_dir = tmp_path / "src"
    src_dir.mkdir()
    src = src_dir / "payload.txt"
    src.write_bytes(b"payload")
    before = files_under(tmp_path)
    home_before = Path(os.path.expanduser("~/evil.txt")).exists()
    with nt.start_run() as run:
        for act in (
            lambda: run.log_text("payload", name),
            lambda: run.log_artifact(src, name),
            lambda: run.log_dict({"k": 1}, name),
        ):
            try:
                act()
            except nt.ArtifactError:
                pass
    nt.search_runs()
    new = files_under(tmp_path) - before
    outside = sorted(f for f in new if not f.startswith("a/b/store/"))
    assert outside == [], outside
    assert not Path("/tmp/evil.txt").exists()
    assert Path(os.path.expanduser("~/evil.txt")).exists() == home_before
    # Content only ever lands under artifacts/blobs/<sha[:2]>/<sha>.
    for f in new:
        rel = Path(f).relative_to("a/b/store")
        if rel.parts[0] == "artifacts" and rel.parts[1] == "blobs":
            data = (store / rel).read_bytes()
            assert rel.name == hashlib.sha256(data).hexdigest()
    for path in nt.list_artifacts(run.id):
        assert not path.startswith("/")
        assert ".." not in path.split("/")
