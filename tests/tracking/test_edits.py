"""Editing ended runs (tags, names) and reading runs page by page."""

from __future__ import annotations

import subprocess
import sys

import pytest

import nbtrack as nt
from nbtrack.errors import ActiveRunError, InvalidKeyError, InvalidValueError, RunNotFoundError
from nbtrack.tracking import edits, pages
from tests.conftest import python_env


def _ended(name: str = "done") -> str:
    with nt.start_run(name=name, tags={"keep": "1"}) as r:
        r.log_metric("loss", 0.5)
    return r.run_id


def test_tags_of_an_ended_run_can_be_set_and_deleted(store) -> None:
    run_id = _ended()
    with pytest.raises(nt.RunFinishedError):
        nt.get_run(run_id).set_tag("x", "y")  # the Run object refuses, by design
    edits.set_run_tag(run_id, "stage", "prod")
    edits.set_run_tag(run_id, "keep", 2)
    assert nt.search_runs()["tags.stage"][0] == "prod"
    edits.delete_run_tag(run_id, "keep")
    edits.delete_run_tag(run_id, "never-set")  # a no-op
    row = nt.search_runs()
    assert "tags.keep" not in row.columns
    assert row["tags.stage"][0] == "prod"


def test_rename_is_seen_by_another_process(store, store_path) -> None:
    run_id = _ended("old")
    edits.rename_run(run_id, "new name")
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import nbtrack as nt; r = nt.get_run({run_id!r}); print(r.name, r.status)",
        ],
        env=python_env(store_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.stdout.strip() == "new name FINISHED", out.stderr


def test_bad_edits_raise_before_writing(store) -> None:
    run_id = _ended()
    before = nt.search_runs()
    with pytest.raises(InvalidKeyError):
        edits.set_run_tag(run_id, "bad key!", "x")
    with pytest.raises(InvalidValueError):
        edits.set_run_tag(run_id, "k", "x" * 9000)
    with pytest.raises(InvalidKeyError):
        edits.delete_run_tag(run_id, "")
    for name in ("", "  ", "x" * 251, "a\nb", None, 3):
        with pytest.raises(InvalidValueError):
            edits.rename_run(run_id, name)  # type: ignore[arg-type]
    with pytest.raises(RunNotFoundError):
        edits.set_run_tag("0" * 32, "k", "v")
    nt.delete_run(run_id)
    with pytest.raises(RunNotFoundError):
        edits.rename_run(run_id, "ghost")
    nt.restore_run(run_id)
    assert nt.search_runs().equals(before)


def test_a_running_run_cannot_be_renamed_but_can_be_tagged(store) -> None:
    run = nt.start_run(name="live")
    with pytest.raises(ActiveRunError, match="still running"):
        edits.rename_run(run.run_id, "other")
    edits.set_run_tag(run.run_id, "note", "watching")
    assert nt.get_run(run.run_id).tags == {"note": "watching"}
    nt.end_run()


def test_pages_cover_every_run_once_and_tokens_belong_to_their_query(store) -> None:
    ids = []
    for i in range(7):
        with nt.start_run(params={"i": i}) as r:
            pass
        ids.append(r.run_id)
    seen, token = [], None
    while True:
        page = pages.search_run_page(max_results=3, order_by="params.i", page_token=token)
        seen += [r["run_id"] for r in page.runs]
        token = page.next_page_token
        if token is None:
            break
    assert seen == ids
    first = pages.search_run_page(max_results=3)
    with pytest.raises(InvalidValueError, match="not made by this search"):
        pages.search_run_page(
            max_results=3, filter="params.i > 2", page_token=first.next_page_token
        )
    for bad in (0, -1, 10_001, "3", True):
        with pytest.raises(InvalidValueError):
            pages.search_run_page(max_results=bad)  # type: ignore[arg-type]
