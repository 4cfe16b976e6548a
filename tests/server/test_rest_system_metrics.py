"""System metrics reach the JupyterLab sidebar like any metric: a run that sampled its
hardware (a real sampler thread, real psutil readings) through the REST API the sidebar
and the run panel read (issue 14, "appear in the views and the sidebar")."""

from __future__ import annotations

import time

import pytest

import nbtrack as nt

pytest.importorskip("psutil")

KEYS = (
    "system/cpu_percent",
    "system/memory_used_mb",
    "system/memory_percent",
    "system/disk_read_mb_s",
    "system/network_recv_mb_s",
)


def _sampled_run(monkeypatch: pytest.MonkeyPatch, samples: int = 3) -> nt.Run:
    monkeypatch.setenv("NBTRACK_SYSTEM_METRICS_INTERVAL", "0.05")
    with nt.start_run(name="sampled", log_system_metrics=True) as run:
        run.log_metric("loss", 0.5)
        deadline = time.monotonic() + 60
        while len(nt.get_metric_history(run.run_id, KEYS[0])) < samples:
            assert time.monotonic() < deadline, "the sampler logged nothing in 60 s"
            time.sleep(0.05)
    return run


async def test_system_metrics_in_the_sidebar_list_the_run_panel_and_its_charts(
    api, store, monkeypatch
) -> None:
    run = _sampled_run(monkeypatch)
    latest = nt.get_run(run.run_id).metrics

    code, body = await api("runs")  # the sidebar's list
    assert code == 200
    (row,) = body["runs"]
    for key in KEYS:
        assert row["metrics"][key] == pytest.approx(latest[key])
    assert row["metrics"]["loss"] == 0.5

    code, body = await api("runs", run.run_id)  # the run panel
    assert code == 200
    assert set(KEYS) <= set(body["metrics"])

    # the run panel's chart of one key: the UI sends the "/" of the key as a path separator
    # (src/request.ts escapePath)
    code, body = await api("runs", run.run_id, "metrics", "system/cpu_percent")
    assert code == 200
    history = nt.get_metric_history(run.run_id, "system/cpu_percent").sort_values("step")
    assert [p["step"] for p in body["points"]] == history.step.tolist()
    assert [p["value"] for p in body["points"]] == pytest.approx(history.value.tolist())

    # ordering the sidebar by a system metric works like any metric
    with nt.start_run(name="above-100") as other:
        other.log_metric("system/memory_percent", 101.0)  # above any real reading
    for direction, first in (("DESC", other.run_id), ("ASC", run.run_id)):
        code, body = await api(
            "runs", params={"order_by": f"metrics.`system/memory_percent` {direction}"}
        )
        assert code == 200, body
        assert [r["run_id"] for r in body["runs"]] == [first, run.run_id if first != run.run_id else other.run_id]
