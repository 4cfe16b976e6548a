"""MLflow through its fluent API; the backend comes from MLFLOW_TRACKING_URI (set by run.py):
``sqlite:///<store>/mlflow.db`` (mlflow-sqlite) or ``file:<store>/mlruns`` (mlflow-file)."""

from __future__ import annotations

import workload as W
from _common import bytes_result, perf, repeat, summary_ms

WARMUP = {}


def _open(warm=False):
    import mlflow

    if warm:  # one throwaway run in another experiment: first-use costs out of the timings
        t0 = perf()
        mlflow.set_experiment(W.WARMUP_EXPERIMENT)
        with mlflow.start_run():
            mlflow.log_param("p", "1")
            mlflow.set_tag("t", "1")
            mlflow.log_metric(W.HISTORY_KEY, 1.0, step=0)
        WARMUP["first_run_ms"] = (perf() - t0) * 1e3
    mlflow.set_experiment(W.EXPERIMENT)  # creates/migrates the store: outside every timing
    return mlflow


def measure_runs(spec):
    mlflow = _open(warm=True)
    n = spec["sizes"]["runs"]
    start_run, end_run = mlflow.start_run, mlflow.end_run
    t0 = perf()
    for _ in range(n):
        start_run()
        end_run()
    el = perf() - t0
    df = mlflow.search_runs(experiment_names=[W.EXPERIMENT])
    ok = len(df) == n and set(df["status"]) == {"FINISHED"}
    return {
        "value": el / n * 1e3,
        "unit": "ms/run",
        "check": "ok" if ok else f"MISMATCH: {len(df)} runs, statuses {set(df['status'])}",
    }


def measure_log_metric(spec):
    mlflow = _open(warm=True)
    values = W.metric_series(spec["sizes"]["log_metric"])
    run = mlflow.start_run(run_name="history")
    log_metric, key = mlflow.log_metric, W.HISTORY_KEY
    t0 = perf()
    for i, v in enumerate(values):
        log_metric(key, v, step=i)
    mlflow.end_run()
    el = perf() - t0
    return {
        "value": el / len(values) * 1e6,
        "unit": "us/call",
        "handoff": {"run_id": run.info.run_id, "run_name": "history"},
    }


def _history_df(client, run_id):
    import pandas as pd

    hist = client.get_metric_history(run_id, W.HISTORY_KEY)
    return pd.DataFrame(
        {
            "step": [m.step for m in hist],
            "value": [m.value for m in hist],
            "timestamp": pd.to_datetime([m.timestamp for m in hist], unit="ms", utc=True),
        }
    )


def measure_history(spec):
    _open()
    from mlflow import MlflowClient

    client = MlflowClient()
    run_id = spec["handoff"]["run_id"]
    reps = spec["sizes"].get("history_reps", 5)
    times = repeat(lambda: _history_df(client, run_id), reps + 1)
    df = _history_df(client, run_id).sort_values("step")
    return _history_check(spec, df, times)


def _history_check(spec, df, times):
    values = W.metric_series(spec["sizes"]["log_metric"])
    got = df["value"].tolist()
    steps = df["step"].tolist()
    ok = got == values and steps == list(range(len(values)))
    s = summary_ms(times[1:])  # the first call (cold, in a fresh process) is its own row
    s["first_ms"] = times[0] * 1e3
    return {
        "value": s["median_ms"],
        "unit": "ms",
        "first": s["first_ms"],
        "details": s | {"points": len(got)},
        "check": "ok" if ok else f"MISMATCH: {len(got)} points read, {len(values)} written",
    }


def build_baseline(spec):
    mlflow = _open(warm=True)
    with mlflow.start_run(run_name="baseline"):
        mlflow.log_metric(W.HISTORY_KEY, 1.0, step=0)
    return {}


def measure_bytes(spec):
    n = spec["sizes"]["log_metric"]
    return bytes_result(spec["store"], spec["baseline_store"], n - 1)


def measure_log_metrics(spec):
    mlflow = _open(warm=True)
    dicts = W.step_dicts(spec["sizes"]["steps"], spec["sizes"]["keys"])
    run = mlflow.start_run()
    log_metrics = mlflow.log_metrics
    t0 = perf()
    for i, d in enumerate(dicts):
        log_metrics(d, step=i)
    mlflow.end_run()
    el = perf() - t0
    points = len(dicts) * len(dicts[0])
    from mlflow import MlflowClient

    hist = MlflowClient().get_metric_history(run.info.run_id, "m07")
    ok = len(hist) == len(dicts) and sorted(m.value for m in hist) == sorted(
        d["m07"] for d in dicts
    )
    return {
        "value": points / el,
        "unit": "points/s",
        "check": "ok" if ok else f"MISMATCH: m07 has {len(hist)} points",
    }


def measure_params_tags(spec):
    mlflow = _open(warm=True)
    params = W.many_params(spec["sizes"]["params"])
    tags = W.many_tags(spec["sizes"]["tags"])
    run = mlflow.start_run()
    t0 = perf()
    mlflow.log_params(params)
    mlflow.set_tags(tags)
    mlflow.end_run()
    el = perf() - t0
    got = mlflow.get_run(run.info.run_id).data
    ok = got.params == params and all(got.tags.get(k) == v for k, v in tags.items())
    return {"value": el * 1e3, "unit": "ms", "check": "ok" if ok else "MISMATCH"}


def build_search(spec):
    mlflow = _open()
    specs = W.search_run_specs(spec["sizes"]["search_runs"])
    for s in specs:
        with mlflow.start_run(run_name=s["name"], tags=s["tags"]):
            mlflow.log_params(s["params"])
            mlflow.log_metrics(s["metrics"], step=0)
    return {}


def measure_search(spec):
    mlflow = _open()

    def search():
        return mlflow.search_runs(experiment_names=[W.EXPERIMENT], filter_string=W.SEARCH_FILTER)

    times = repeat(search, spec["sizes"]["search_reps"])
    df = search()
    got = set(df["tags.mlflow.runName"]) if len(df) else set()
    return _search_result(spec, got, times)


def _search_result(spec, got, times):
    want = W.expected_matches(W.search_run_specs(spec["sizes"]["search_runs"]))
    s = summary_ms(times)
    return {
        "value": s["median_ms"],
        "unit": "ms",
        "first": s["first_ms"],
        "details": s | {"matched": len(got)},
        "check": "ok"
        if got == want
        else f"MISMATCH: {len(got)} matched, {len(want)} expected, {len(got ^ want)} differ",
    }
