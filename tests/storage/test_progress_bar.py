"""DuckDB's progress bar never prints during reads (issue 9, item 6)."""

from __future__ import annotations

from typing import Any

import duckdb
import pytest

import nbtrack as nt


@pytest.fixture
def eager_progress_bar(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make DuckDB draw its progress bar after 1 ms instead of 2 s (when it is enabled).

    The store's connection is set up (and its configuration locked) right after
    ``duckdb.connect``; lowering the threshold first makes any real query long enough to
    draw the bar, so the test does not depend on the machine being slow.
    """
    real_connect = duckdb.connect

    def connect(*args: Any, **kwargs: Any) -> duckdb.DuckDBPyConnection:
        con = real_connect(*args, **kwargs)
        con.execute("SET progress_bar_time = 1")
        return con

    monkeypatch.setattr(duckdb, "connect", connect)


def _many_files(store: Any, files: int = 40, points: int = 5000) -> None:
    with nt.start_run(name="many") as run:
        for f in range(files):
            run.log_metrics({"a": float(f), "b": -float(f)}, step=f)
            for i in range(points):
                run.log_metric("x", float(i), step=f * points + i)
            store.flush()


def test_the_store_connection_has_the_progress_bar_off(store: Any) -> None:
    v = store.refresh()
    with v.lock:
        got = v.con.sql(
            "SELECT current_setting('enable_progress_bar'), "
            "current_setting('enable_progress_bar_print')"
        ).fetchall()
    assert got == [(False, False)]


def test_a_slow_query_over_many_files_prints_nothing(
    eager_progress_bar: None, store: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    _many_files(store)
    capfd.readouterr()
    # Heavy on purpose: a self-join over every file of the store (200,000 points).
    df = nt.sql(
        "SELECT count(*) AS n, sum(m.value * k.value) AS s FROM metrics m "
        "JOIN metrics k ON k.step % 997 = m.step % 997 AND k.key = 'a'"
    )
    assert df["n"][0] > 0
    hist = nt.get_metric_history(nt.search_runs()["run_id"][0], "x")
    assert len(hist) == 40 * 5000
    out, err = capfd.readouterr()
    assert out == ""
    assert err == ""
