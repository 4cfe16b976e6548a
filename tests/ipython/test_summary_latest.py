"""The %%track run summary shows the store's latest values: one rule, one implementation."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import nbtrack as nt
from nbtrack.ipython import _tracked_cell
from nbtrack.ipython._series import MetricSeriesSet
from nbtrack.ipython._summary import RunSummary
from tests._ipython_shell import nbtrack_shell

T = 1_700_000_000_000  # ms


@pytest.fixture
def ip(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """IPython's test shell with nbtrack loaded and no live view."""
    with nbtrack_shell(monkeypatch) as shell:
        yield shell


@pytest.fixture
def summaries(monkeypatch: pytest.MonkeyPatch) -> list[RunSummary]:
    """Every summary a tracked cell shows, in order."""
    shown: list[RunSummary] = []
    monkeypatch.setattr(_tracked_cell.TrackedCell, "_show", lambda self, s: shown.append(s))
    return shown


CELL = f"""%%track -n ties
import nbtrack as nt
from nbtrack.tracking import settings
for v in (1.0, 2.0, 3.0):
    nt.log_metric("tie", v, step=5, timestamp={T})
    settings.get_store().flush()        # the tied points land in different files
nt.log_metric("tie", -1.0, step=4, timestamp={T + 50})
nt.log_metric("clock", 10.0, step=2, timestamp={T + 5})
nt.log_metric("clock", 20.0, step=2, timestamp={T})   # logged later, older timestamp
for i in range(3):
    nt.log_metric("loss", 1.0 / (i + 1))
"""


def test_summary_and_get_run_agree_on_every_latest_value(
    ip: Any, summaries: list[RunSummary]
) -> None:
    result = ip.run_cell(CELL)
    assert result.success, result.error_in_exec
    (summary,) = summaries
    stored = nt.get_run(summary.run_id).metrics
    assert {k: value for k, (_step, value, _n) in summary.metrics.items()} == stored
    assert stored["tie"] == 3.0  # equal step and timestamp: the last logged
    assert stored["clock"] == 10.0  # equal step: the newest timestamp, not the last logged
    assert summary.metrics["tie"] == (5, 3.0, 4)
    assert summary.metrics["clock"] == (2, 10.0, 2)
    assert summary.metrics["loss"] == (2, pytest.approx(1 / 3), 3)
    assert "clock = 10 (step 2)" in repr(summary)


def test_the_live_series_follows_the_same_rule() -> None:
    series = MetricSeriesSet()
    expected = [10.0, 10.0, 10.0, 3.0, 4.0]  # after each point below
    points = [(10.0, 2, T + 5), (20.0, 2, T), (1.0, 1, T + 99), (3.0, 2, T + 5), (4.0, 3, 0)]
    for n, ((value, step, ts), latest) in enumerate(zip(points, expected, strict=True), 1):
        series.add("clock", value, step, ts)
        assert series.latest()["clock"][1:] == (latest, n)
