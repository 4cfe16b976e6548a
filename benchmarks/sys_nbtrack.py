"""nbtrack through its public API (DESIGN.md §3); the store is $NBTRACK_STORE (set by run.py)."""

from __future__ import annotations

import os
import statistics

import workload as W
from _common import bytes_result, dir_bytes, file_count, perf, progress, repeat, summary_ms

WARMUP = {}


def _open(warm=False):
    import nbtrack as nt

    nt.set_store(os.environ["NBTRACK_STORE"])
    if warm:  # one throwaway run in another experiment: first-use costs out of the timings
        t0 = perf()
        nt.set_experiment(W.WARMUP_EXPERIMENT)
        with nt.start_run():
            nt.log_param("p", "1")
            nt.set_tag("t", "1")
            nt.log_metric(W.HISTORY_KEY, 1.0, step=0)
        _durable()
        WARMUP["first_run_ms"] = (perf() - t0) * 1e3
    nt.set_experiment(W.EXPERIMENT)
    return nt


def _durable():
    """Wait until everything logged is on disk (nbtrack's run end is asynchronous).

    ``end_run`` hands the run's last records to a background flusher and returns; the
    benchmark counts flushing, so the timed sections end with this synchronous flush (it
    takes the flusher's lock, so it also waits for a flush already in progress).
    """
    from nbtrack.tracking import settings

    settings.get_store().flush()


def _timed_end(nt, t0):
    """End the active run, then wait until durable; returns (durable_s, returned_s)."""
    nt.end_run()
    returned = perf() - t0
    _durable()
    return perf() - t0, returned


def _compact():
    """Compact the store through the maintenance entry point the core provides."""
    from nbtrack.tracking import maintenance

    return maintenance.compact()


def measure_runs(spec):
    nt = _open(warm=True)
    n = spec["sizes"]["runs"]
    start_run, end_run = nt.start_run, nt.end_run
    t0 = perf()
    for _ in range(n):
        start_run()
        end_run()
    returned = perf() - t0
    _durable()
    el = perf() - t0
    df = nt.search_runs()
    ok = len(df) == n and set(df["status"]) == {"FINISHED"}
    return {
        "value": el / n * 1e3,
        "unit": "ms/run",
        "details": {"end_returned_ms_per_run": returned / n * 1e3},
        "check": "ok" if ok else f"MISMATCH: {len(df)} runs, statuses {set(df['status'])}",
    }


def measure_log_metric(spec):
    nt = _open(warm=True)
    values = W.metric_series(spec["sizes"]["log_metric"])
    run = nt.start_run(name="history")
    log_metric, key = nt.log_metric, W.HISTORY_KEY
    t0 = perf()
    for i, v in enumerate(values):
        log_metric(key, v, step=i)
    el, returned = _timed_end(nt, t0)
    return {
        "value": el / len(values) * 1e6,
        "unit": "us/call",
        "details": {"end_returned_us_per_call": returned / len(values) * 1e6},
        "handoff": {"run_id": run.id, "run_name": "history"},
    }


def measure_history(spec):
    from sys_mlflow import _history_check

    nt = _open()
    run_id = spec["handoff"]["run_id"]
    reps = spec["sizes"].get("history_reps", 5)
    times = repeat(lambda: nt.get_metric_history(run_id, W.HISTORY_KEY), reps + 1)
    df = nt.get_metric_history(run_id, W.HISTORY_KEY).sort_values("step")
    return _history_check(spec, df, times)


def build_baseline(spec):
    nt = _open(warm=True)
    with nt.start_run(name="baseline"):
        nt.log_metric(W.HISTORY_KEY, 1.0, step=0)
    _durable()
    _compact()
    return {}


def measure_bytes(spec):
    n = spec["sizes"]["log_metric"]
    before = {
        "bytes_before_compact": dir_bytes(spec["store"]),
        "files_before_compact": file_count(spec["store"]),
    }
    _open()
    t0 = perf()
    _compact()
    before["compact_s"] = perf() - t0
    res = bytes_result(spec["store"], spec["baseline_store"], n - 1, before)
    res["note"] = "after compact()"
    return res


def measure_log_metrics(spec):
    nt = _open(warm=True)
    dicts = W.step_dicts(spec["sizes"]["steps"], spec["sizes"]["keys"])
    run = nt.start_run()
    log_metrics = nt.log_metrics
    t0 = perf()
    for i, d in enumerate(dicts):
        log_metrics(d, step=i)
    el, returned = _timed_end(nt, t0)
    hist = nt.get_metric_history(run.id, "m07").sort_values("step")
    ok = hist["value"].tolist() == [d["m07"] for d in dicts]
    return {
        "value": len(dicts) * len(dicts[0]) / el,
        "unit": "points/s",
        "details": {"end_returned_points_per_s": len(dicts) * len(dicts[0]) / returned},
        "check": "ok" if ok else f"MISMATCH: m07 has {len(hist)} points",
    }


def measure_params_tags(spec):
    nt = _open(warm=True)
    params = W.many_params(spec["sizes"]["params"])
    tags = W.many_tags(spec["sizes"]["tags"])
    run = nt.start_run()
    t0 = perf()
    nt.log_params(params)
    nt.set_tags(tags)
    el, returned = _timed_end(nt, t0)
    got = nt.get_run(run.id)
    ok = got.params == params and all(got.tags.get(k) == v for k, v in tags.items())
    return {
        "value": el * 1e3,
        "unit": "ms",
        "details": {"end_returned_ms": returned * 1e3},
        "check": "ok" if ok else "MISMATCH",
    }


def _build_runs(nt, n, label):
    t0 = perf()
    for i, s in enumerate(W.search_run_specs(n), 1):
        with nt.start_run(name=s["name"], params=s["params"], tags=s["tags"]):
            nt.log_metrics(s["metrics"], step=0)
        progress(label, i, n, t0)
    _durable()
    return perf() - t0


def build_search(spec):
    nt = _open()
    _build_runs(nt, spec["sizes"]["search_runs"], "build 2k runs")
    return {}


def _search(spec, n_key, reps_key):
    from sys_mlflow import _search_result

    nt = _open()

    def search():
        return nt.search_runs(filter=W.SEARCH_FILTER)

    times = repeat(search, spec["sizes"][reps_key])
    got = set(search()["name"])
    sizes = dict(spec["sizes"], search_runs=spec["sizes"][n_key])
    return _search_result(dict(spec, sizes=sizes), got, times)


def measure_search(spec):
    return _search(spec, "search_runs", "search_reps")


def build_search100k(spec):
    """100k runs through the public API in one process (5 params, 5 metrics, 3 tags each)."""
    marker = os.path.join(spec["store"], f".bench-built-{spec['sizes']['big_runs']}")
    if os.path.exists(marker):
        return {"details": {"reused": spec["store"]}}
    nt = _open()
    el = _build_runs(nt, spec["sizes"]["big_runs"], "build big store")
    t0 = perf()
    _compact()
    compact_s = perf() - t0
    with open(marker, "w") as f:
        f.write(f"{el:.1f}s\n")
    return {
        "details": {
            "build_s": el,
            "compact_s": compact_s,
            "files": file_count(spec["store"]),
            "bytes": dir_bytes(spec["store"]),
        }
    }


def measure_search100k(spec):
    res = _search(spec, "big_runs", "big_reps")
    res["details"]["files"] = file_count(spec["store"])
    return res


def measure_track(spec):
    """%%track on an empty cell vs a plain cell, in an IPython InteractiveShell."""
    nt = _open()
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "nbtrack")
    tracked, plain = "%%track\npass\n", "pass\n"
    for cell in (tracked, plain):  # one warm-up run each
        r = shell.run_cell(cell)
        if not r.success:
            raise RuntimeError(f"cell failed: {r.error_in_exec or r.error_before_exec!r}")
    reps = spec["sizes"]["track_reps"]
    t_track, t_plain = [], []
    for _ in range(reps):  # interleaved, so drift hits both alike
        t_track += repeat(lambda: shell.run_cell(tracked), 1)
        t_plain += repeat(lambda: shell.run_cell(plain), 1)
    n = len(nt.search_runs())
    overhead = statistics.median(t_track) - statistics.median(t_plain)
    return {
        "value": overhead * 1e3,
        "unit": "ms",
        "details": {"tracked": summary_ms(t_track), "plain": summary_ms(t_plain), "runs": n},
        "check": "ok" if n == reps + 1 else f"MISMATCH: {n} runs recorded, {reps + 1} cells",
    }


EXIT_POINTS = 1000


def build_exit(spec):
    """Log a run and exit without any explicit flush: the exit handlers must persist it."""
    nt = _open()
    run = nt.start_run(name="exit-check")
    for i in range(EXIT_POINTS):
        nt.log_metric(W.HISTORY_KEY, float(i), step=i)
    nt.end_run()
    return {"handoff": {"run_id": run.id}}


def measure_exit(spec):
    """In a fresh process: is the run of ``build_exit`` complete?"""
    nt = _open()
    run_id = spec["handoff"]["run_id"]
    try:
        status = nt.get_run(run_id).status
        points = len(nt.get_metric_history(run_id, W.HISTORY_KEY))
    except Exception as exc:
        return {"check": f"FAILED: run lost at a clean exit ({type(exc).__name__})"}
    ok = status == "FINISHED" and points == EXIT_POINTS
    return {"check": "ok" if ok else f"FAILED: status {status}, {points}/{EXIT_POINTS} points"}
