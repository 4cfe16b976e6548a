"""Spark reads a store following docs/format.md alone; results equal nbtrack's."""

from __future__ import annotations

import os
import shutil

import pytest

import nbtrack as nt
from nbtrack.storage import compaction
from remote._format_doc import spark_tables

T = 1_700_000_000_000


@pytest.mark.slow
def test_spark_reads_what_search_runs_returns(store_path) -> None:
    pytest.importorskip("pyspark")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("PySpark needs Java")
    from pyspark.sql import SparkSession

    store = nt.set_store(str(store_path))
    for exp in ("x", "y"):
        for i in range(3):
            with nt.start_run(name=f"{exp}{i}", experiment=exp, params={"i": i},
                              tags={"exp": exp, "gone": "soon"}) as run:
                for step in range(5):
                    run.log_metric("loss", float(i * 10 + step), step=step)
                    store.flush()
                for value in (1.0, 2.0, 3.0):  # a tie: the last one logged is the latest
                    run.log_metric("tie", value, step=7, timestamp=T)
                    store.flush()
                run.delete_tag("gone")
    nt.delete_run(nt.search_runs(experiment="x")["run_id"][0])
    compaction.compact(store)  # the replaced files stay on disk (grace period)

    spark = (SparkSession.builder.master("local[1]").appName("nbtrack-format")
             .config("spark.ui.enabled", "false")
             .config("spark.sql.session.timeZone", "UTC").getOrCreate())
    try:
        got = spark_tables(spark, str(store_path))
        runs = {r["run_id"]: r for r in got["runs"].collect()}
        params = {(r["run_id"], r["key"]): r["value"] for r in got["params"].collect()}
        tags = {(r["run_id"], r["key"]): r["value"] for r in got["tags"].collect()}
        latest = {(r["run_id"], r["key"]): r["value"] for r in got["latest_metrics"].collect()}
    finally:
        spark.stop()
    ours = nt.search_runs(experiment="*")
    assert sorted(runs) == sorted(ours["run_id"])
    for _, row in ours.iterrows():
        rid = row["run_id"]
        assert runs[rid]["name"] == row["name"]
        assert runs[rid]["status"] == row["status"]
        assert params[(rid, "i")] == row["params.i"]
        assert tags[(rid, "exp")] == row["tags.exp"]
        assert (rid, "gone") not in tags
        assert latest[(rid, "loss")] == row["metrics.loss"]
        assert latest[(rid, "tie")] == row["metrics.tie"] == 3.0
