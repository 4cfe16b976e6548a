"""trackio (local mode: one SQLite file per project under $TRACKIO_DIR, set by run.py).

trackio has no params/tags or search API of its own: params and tags go into ``config`` at
``init`` (the only place it takes them); the search is the nearest equivalent it offers, a
read-only SQL query through ``SQLiteStorage.query_project`` (what ``trackio query project
--sql`` runs) joining each run's config with its latest ``loss``; the history is
``SQLiteStorage.get_logs`` (what its dashboard reads). Automatic CPU/GPU logging is turned off
so that every system stores the same workload, and ``embed=False`` (no dashboard).
"""

from __future__ import annotations

import workload as W
from _common import bytes_result, perf, repeat

PROJECT = W.EXPERIMENT
_OPTS = {"embed": False, "auto_log_cpu": False, "auto_log_gpu": False}


WARMUP = {}


def _trackio(warm=False):
    import trackio

    if warm:  # one throwaway run in another project: first-use costs out of the timings
        t0 = perf()
        trackio.init(project=W.WARMUP_EXPERIMENT, config={"p": "1", "t": "1"}, **_OPTS)
        trackio.log({W.HISTORY_KEY: 1.0}, step=0)
        trackio.finish()
        WARMUP["first_run_ms"] = (perf() - t0) * 1e3
    return trackio


def measure_runs(spec):
    trackio = _trackio(warm=True)
    n = spec["sizes"]["runs"]
    init, finish = trackio.init, trackio.finish
    t0 = perf()
    for _ in range(n):
        init(project=PROJECT, **_OPTS)
        finish()
    el = perf() - t0
    from trackio.sqlite_storage import SQLiteStorage

    stored = len(SQLiteStorage.get_runs(PROJECT))
    return {
        "value": el / n * 1e3,
        "unit": "ms/run",
        "check": f"n/a: {stored} of {n} empty runs persisted",
        "no_ratio": "trackio persists nothing for an empty run",
    }


def measure_log_metric(spec):
    trackio = _trackio(warm=True)
    values = W.metric_series(spec["sizes"]["log_metric"])
    trackio.init(project=PROJECT, name="history", **_OPTS)
    log, key = trackio.log, W.HISTORY_KEY
    t0 = perf()
    for i, v in enumerate(values):
        log({key: v}, step=i)
    trackio.finish()
    el = perf() - t0
    return {
        "value": el / len(values) * 1e6,
        "unit": "us/call",
        "handoff": {"run_id": "history", "run_name": "history"},
    }


def _history_df(run_name):
    import pandas as pd
    from trackio.sqlite_storage import SQLiteStorage

    logs = SQLiteStorage.get_logs(PROJECT, run_name)
    return pd.DataFrame(
        {
            "step": [r["step"] for r in logs],
            "value": [r[W.HISTORY_KEY] for r in logs],
            "timestamp": pd.to_datetime([r["timestamp"] for r in logs], utc=True),
        }
    )


def measure_history(spec):
    from sys_mlflow import _history_check

    _trackio()
    name = spec["handoff"]["run_name"]
    reps = spec["sizes"].get("history_reps", 5)
    times = repeat(lambda: _history_df(name), reps + 1)
    df = _history_df(name).sort_values("step")
    return _history_check(spec, df, times)


def build_baseline(spec):
    trackio = _trackio(warm=True)
    trackio.init(project=PROJECT, name="baseline", **_OPTS)
    trackio.log({W.HISTORY_KEY: 1.0}, step=0)
    trackio.finish()
    return {}


def measure_bytes(spec):
    n = spec["sizes"]["log_metric"]
    return bytes_result(spec["store"], spec["baseline_store"], n - 1)


def measure_log_metrics(spec):
    trackio = _trackio(warm=True)
    dicts = W.step_dicts(spec["sizes"]["steps"], spec["sizes"]["keys"])
    trackio.init(project=PROJECT, name="batch", **_OPTS)
    log = trackio.log
    t0 = perf()
    for i, d in enumerate(dicts):
        log(d, step=i)
    trackio.finish()
    el = perf() - t0
    from trackio.sqlite_storage import SQLiteStorage

    logs = SQLiteStorage.get_logs(PROJECT, "batch")
    ok = len(logs) == len(dicts) and [r["m07"] for r in logs] == [d["m07"] for d in dicts]
    return {
        "value": len(dicts) * len(dicts[0]) / el,
        "unit": "points/s",
        "check": "ok" if ok else f"MISMATCH: {len(logs)} steps read",
    }


def measure_params_tags(spec):
    trackio = _trackio(warm=True)
    params = W.many_params(spec["sizes"]["params"])
    tags = W.many_tags(spec["sizes"]["tags"])
    t0 = perf()
    trackio.init(project=PROJECT, name="pt", config={**params, **tags}, **_OPTS)
    trackio.log({W.HISTORY_KEY: 1.0}, step=0)  # without a logged point trackio stores no config
    trackio.finish()
    el = perf() - t0
    from trackio.sqlite_storage import SQLiteStorage

    cfg = SQLiteStorage.get_run_config(PROJECT, "pt") or {}
    ok = all(cfg.get(k) == v for k, v in {**params, **tags}.items())
    return {
        "value": el * 1e3,
        "unit": "ms",
        "check": "ok" if ok else "MISMATCH",
        "note": "timed init(config=params+tags) + log(1 point) + finish: trackio takes config only at "
        "init, has no tags, and stores the config only once a metric is logged",
    }


def build_search(spec):
    trackio = _trackio()
    for s in W.search_run_specs(spec["sizes"]["search_runs"]):
        trackio.init(project=PROJECT, name=s["name"], config={**s["params"], **s["tags"]}, **_OPTS)
        trackio.log(s["metrics"], step=0)
        trackio.finish()
    return {}


SEARCH_SQL = """
SELECT c.run_name AS name, c.config AS config, m.metrics AS metrics
FROM configs AS c
JOIN (
    SELECT run_id, metrics, json_extract(metrics, '$.loss') AS loss,
           ROW_NUMBER() OVER (PARTITION BY run_id ORDER BY step DESC, id DESC) AS rn
    FROM metrics
    WHERE json_extract(metrics, '$.loss') IS NOT NULL
) AS m ON m.run_id = c.run_id AND m.rn = 1
WHERE m.loss < 0.5 AND json_extract(c.config, '$.lr') = '0.01'
"""


def measure_search(spec):
    import pandas as pd
    from sys_mlflow import _search_result
    from trackio.sqlite_storage import SQLiteStorage

    _trackio()

    def search():
        res = SQLiteStorage.query_project(PROJECT, SEARCH_SQL)
        return pd.DataFrame(res["rows"], columns=res["columns"])

    times = repeat(search, spec["sizes"]["search_reps"])
    got = set(search()["name"])
    out = _search_result(spec, got, times)
    out["note"] = "no search API: read-only SQL via SQLiteStorage.query_project"
    return out
