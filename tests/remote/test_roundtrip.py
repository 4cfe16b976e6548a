"""The local round trip, on object storage: log, search, get_run, history, sql, artifacts."""

from __future__ import annotations

import math

import pytest

import nbtrack as nt


def test_round_trip(remote_store: str, tmp_path) -> None:
    nt.set_store(remote_store)
    nt.set_experiment("remote")
    (tmp_path / "model.txt").write_text("weights")
    with nt.start_run(name="first", params={"lr": 0.1}, tags={"team": "a"}) as run:
        for step in range(3):
            nt.log_metric("loss", 1.0 / (step + 1), step=step)
        nt.log_artifact(str(tmp_path / "model.txt"))
        nt.log_text("hello", "notes/hello.txt")
    got = nt.get_run(run.id)
    assert got.status == "FINISHED"
    assert got.params == {"lr": "0.1"}
    assert got.tags["team"] == "a"
    assert math.isclose(got.metrics["loss"], 1.0 / 3)
    hist = nt.get_metric_history(run.id, "loss")
    assert list(hist["step"]) == [0, 1, 2]
    found = nt.search_runs(filter="params.lr = '0.1' AND metrics.loss < 0.5")
    assert list(found["run_id"]) == [run.id]
    assert sorted(nt.list_artifacts(run.id)) == ["model.txt", "notes/hello.txt"]
    assert nt.read_artifact(run.id, "model.txt") == b"weights"
    assert nt.read_artifact(run.id, "notes/hello.txt") == b"hello"
    rows = nt.sql("SELECT count(*) AS n FROM metrics")
    assert int(rows["n"][0]) == 3
    assert "remote" in nt.list_experiments()


def test_get_run_right_after_start(remote_store: str) -> None:
    """start_run makes the run visible at once, also on object storage."""
    nt.set_store(remote_store)
    run = nt.start_run(name="visible")
    try:
        assert nt.get_run(run.id).status == "RUNNING"
        nt.log_metric("x", 1.0)
        assert nt.get_run(run.id).metrics == {"x": 1.0}
    finally:
        nt.end_run()
    assert nt.get_run(run.id).status == "FINISHED"


def test_second_process_reads_what_the_first_wrote(s3_store: str) -> None:
    """A fresh interpreter (another machine, as far as the store knows) sees the run."""
    import subprocess
    import sys

    nt.set_store(s3_store)
    with nt.start_run(name="shared") as run:
        nt.log_metric("acc", 0.9)
    code = (
        "import nbtrack as nt, sys\n"
        f"r = nt.get_run({run.id!r})\n"
        "print(r.name, r.status, r.metrics['acc'])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["shared", "FINISHED", "0.9"]


@pytest.mark.parametrize("n_runs", [pytest.param(5, id="five-runs")])
def test_search_orders_and_counts(remote_store: str, n_runs: int) -> None:
    nt.set_store(remote_store)
    ids = []
    for i in range(n_runs):
        with nt.start_run(name=f"r{i}") as r:
            nt.log_metric("score", float(i))
        ids.append(r.id)
    df = nt.search_runs(order_by=["metrics.score DESC"])
    assert list(df["run_id"]) == ids[::-1]
