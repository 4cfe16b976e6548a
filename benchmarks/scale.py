"""Scale on local disk (issue 15, item 5), run by hand: 1k to 100k runs, 1M to 100M points.

    python benchmarks/scale.py [--sizes 1000 10000 100000] [--stores /tmp/scale-stores]
                               [--plot docs/images/scaling.png] [--quick]

Each size is a store of ``runs`` runs in experiments of 1,000 runs (a sweep each), every
run with 3 params, 2 tags and 10 metrics × 100 steps (1,000 points: 1k runs = 1M points,
100k runs = 100M points), plus one run whose ``loss`` has 100,000 points (the "mid-size
series"). A store is built untimed by separate processes (many threads logging runs with
``log_metrics``, each run flushed when it ends), then ``nbtrack compact`` and ``nbtrack gc``
(grace 0) run on it; it is kept under ``--stores`` so a rerun skips the build (a marker file
says the build finished). Every timed phase runs in a fresh interpreter:

| phase | what is timed |
|---|---|
| search | ``nt.search_runs("*", filter)`` with a metric and a param condition: first call after import (cold) / median of 10 more (warm) |
| history, downsampled | ``downsampled_history(run, "loss", 2000)`` of the 100k-point series (what the REST API and the dashboard's curves read): cold / warm |
| history, full | ``nt.get_metric_history(run, "loss")``, all 100k points: cold / warm |
| dashboard | ``nt.dashboard("*")`` built headlessly (tag filter, the runs table over every run, the curves of the first 5 runs), then its Compare tab drawn (params diff, final-metric bars, parallel coordinates, scatter): cold / warm (a second dashboard in the same process) |

Also reported per size: bytes on disk per point (the ``metrics`` table, and the whole store),
per run (every other table), and file counts. A markdown table is printed with the load
average (the machine may be shared: say so with the numbers), the numbers are written to
``<stores>/results.json``, and ``--plot`` draws the time-vs-size curves on log axes
(matplotlib). ``--quick`` is a smoke run: sizes of 100 and 300 runs × 100 points, a
2,000-point series, stores in a temporary folder unless ``--stores`` is given.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import dir_bytes, file_count  # noqa: E402

#: Bump when the shape of a built store changes (cached stores of another version are rebuilt).
STORE_VERSION = 1
#: The search: a metric and a param condition (about 1% of the runs match; the runs of a
#: quick store have 10 steps, so their last values are higher).
FILTER = "metrics.m0 < {} AND params.depth = '3'"

PRELUDE = """
import json, statistics, sys, time
import nbtrack as nt
nt.set_store(sys.argv[1])
def median_ms(fn, reps):
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3
def cold_ms(fn):
    t0 = time.perf_counter()
    out = fn()
    return (time.perf_counter() - t0) * 1e3, out
"""

# One build worker: the runs i = worker, worker + workers, ... (whole experiments of
# ``per_exp`` runs each, so workers never share a partition). Runs are logged by ``threads``
# threads that start and end their runs together, so the flushes of one wave share files.
BUILD = """
import json, sys, threading, time
import numpy as np
import nbtrack as nt
store, n, steps, keys_n, per_exp, worker, workers, long_points = sys.argv[1:9]
n, steps, keys_n, per_exp = int(n), int(steps), int(keys_n), int(per_exp)
worker, workers, long_points = int(worker), int(workers), int(long_points)
nt.set_store(store)
keys = [f"m{j}" for j in range(keys_n)]
rng = np.random.default_rng(worker)
base = (1.0 / (1 + np.arange(steps)[:, None] * 0.05)
        + rng.normal(0, 0.01, (steps, keys_n))).tolist()
mine = [i for i in range(n) if (i // per_exp) % workers == worker]
THREADS = 64
bar = threading.Barrier(THREADS)
def one(t):
    todo = mine[t::THREADS]
    waves = (len(mine) + THREADS - 1) // THREADS
    for w in range(waves):
        bar.wait()
        i = todo[w] if w < len(todo) else None
        run = None
        if i is not None:
            run = nt.start_run(
                experiment=f"sweep-{i // per_exp:04d}", name=f"trial-{i}",
                params={"lr": 10 ** -(i % 5), "depth": i % 7, "seed": i},
                tags={"team": "ab"[i % 2], "sweep": f"s{i // per_exp}"})
            f = 1 + (i % 997) * 1e-4
            for s in range(steps):
                run.log_metrics(dict(zip(keys, [v * f for v in base[s]])), step=s)
        bar.wait()
        if run is not None:
            run.end()
threads = [threading.Thread(target=one, args=(t,)) for t in range(THREADS)]
for t in threads:
    t.start()
for t in threads:
    t.join()
long_id = None
if worker == 0:
    values = 1.0 / (1 + np.arange(long_points) * 1e-4) + rng.normal(0, 0.01, long_points)
    with nt.start_run(experiment="long", name="long-run", params={"lr": 0.1}) as run:
        for step, value in enumerate(values.tolist()):
            run.log_metric("loss", value, step=step)
    long_id = run.id
print(json.dumps({"long_id": long_id, "runs": len(mine)}))
"""

SEARCH = """
flt = sys.argv[2]
ms, df = cold_ms(lambda: nt.search_runs(experiment="*", filter=flt))
warm = median_ms(lambda: nt.search_runs(experiment="*", filter=flt), 10)
print(json.dumps({"cold_ms": ms, "warm_ms": warm, "rows": len(df)}))
"""

DOWNSAMPLED = """
from nbtrack.tracking.downsample import downsampled_history
rid = sys.argv[2]
ms, h = cold_ms(lambda: downsampled_history(rid, "loss", 2000))
warm = median_ms(lambda: downsampled_history(rid, "loss", 2000), 5)
print(json.dumps({"cold_ms": ms, "warm_ms": warm, "points": h.points.num_rows,
                  "total": h.total}))
"""

FULL_HISTORY = """
rid = sys.argv[2]
ms, h = cold_ms(lambda: nt.get_metric_history(rid, "loss"))
warm = median_ms(lambda: nt.get_metric_history(rid, "loss"), 5)
print(json.dumps({"cold_ms": ms, "warm_ms": warm, "points": len(h)}))
"""

DASHBOARD = """
def build():
    d = nt.dashboard("*")
    d.show_tab("compare")
    return d
ms, d = cold_ms(build)
rows, shown = len(d.table.frame), len(d.shown_run_ids)
warm = median_ms(build, 3)
print(json.dumps({"cold_ms": ms, "warm_ms": warm, "rows": rows, "shown": shown}))
"""


def python(code: str, *args: str, env: dict[str, str] | None = None) -> dict:
    """Run ``code`` in a fresh interpreter; its last stdout line is JSON."""
    out = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": ROOT, **(env or {})},
    )
    if out.returncode:
        raise SystemExit(f"a phase failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def cli(store: str, *args: str, env: dict[str, str] | None = None) -> None:
    subprocess.run(
        [sys.executable, "-m", "nbtrack", "--store", store, *args],
        check=True,
        capture_output=True,
        env={**os.environ, "PYTHONPATH": ROOT, **(env or {})},
    )


def build(folder: str, runs: int, steps: int, per_exp: int, long_points: int, workers: int) -> dict:
    """Build (or reuse) the store in ``folder``; returns what the build recorded."""
    marker = os.path.join(folder, "built.json")
    if os.path.exists(marker):
        with open(marker) as fh:
            return dict(json.load(fh))
    shutil.rmtree(folder, ignore_errors=True)
    store = os.path.join(folder, "store")
    os.makedirs(folder)
    print(f"building {runs:,} runs × {steps * 10} points in {store} ...", file=sys.stderr)
    env = {"NBTRACK_AUTO_COMPACT": "0"}
    t0 = time.perf_counter()
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                BUILD,
                store,
                str(runs),
                str(steps),
                "10",
                str(per_exp),
                str(w),
                str(workers),
                str(long_points),
            ],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": ROOT, **env},
        )
        for w in range(workers)
    ]
    results = []
    for p in procs:
        stdout, _ = p.communicate()
        if p.returncode:
            raise SystemExit(f"building {store} failed (exit {p.returncode})")
        results.append(json.loads(stdout.strip().splitlines()[-1]))
    log_s = time.perf_counter() - t0
    files_before = file_count(store)
    t0 = time.perf_counter()
    cli(store, "compact", env=env)
    cli(store, "gc", env={**env, "NBTRACK_GC_GRACE": "0"})
    compact_s = time.perf_counter() - t0
    info = {
        "runs": runs + 1,
        "points": runs * steps * 10 + long_points,
        "long_id": next(r["long_id"] for r in results if r["long_id"]),
        "long_points": long_points,
        "log_s": log_s,
        "compact_s": compact_s,
        "files_before_compact": files_before,
        "version": STORE_VERSION,
    }
    with open(marker, "w") as fh:
        json.dump(info, fh)
    return info


def sizes_of(store: str) -> dict:
    """Bytes and files of the store: the metrics table, the other tables, all of it."""
    metrics = os.path.join(store, "metrics")
    total = dir_bytes(store)
    metric_bytes = dir_bytes(metrics) if os.path.isdir(metrics) else 0
    return {
        "bytes": total,
        "metric_bytes": metric_bytes,
        "other_bytes": total - metric_bytes,
        "files": file_count(store),
        "metric_files": file_count(metrics) if os.path.isdir(metrics) else 0,
    }


def measure(store: str, info: dict, threshold: float) -> dict:
    rid = info["long_id"]
    return {
        "search": python(PRELUDE + SEARCH, store, FILTER.format(threshold)),
        "downsampled": python(PRELUDE + DOWNSAMPLED, store, rid),
        "history": python(PRELUDE + FULL_HISTORY, store, rid),
        "dashboard": python(PRELUDE + DASHBOARD, store),
        **sizes_of(store),
    }


#: (label, result key) of the timed phases, in table and plot order.
PHASES = (
    ("search, cold", ("search", "cold_ms")),
    ("search, warm", ("search", "warm_ms")),
    ("history 2,000 of the series, cold", ("downsampled", "cold_ms")),
    ("history 2,000 of the series, warm", ("downsampled", "warm_ms")),
    ("full history, cold", ("history", "cold_ms")),
    ("full history, warm", ("history", "warm_ms")),
    ("dashboard + compare, cold", ("dashboard", "cold_ms")),
    ("dashboard + compare, warm", ("dashboard", "warm_ms")),
)


def table(rows: list[dict]) -> str:
    """The results as a markdown table: one column per size."""
    head = (
        "| | "
        + " | ".join(f"{r['runs']:,} runs / {r['points'] / 1e6:g}M points" for r in rows)
        + " |"
    )
    lines = [head, "|---" * (len(rows) + 1) + "|"]
    for label, (group, key) in PHASES:
        lines.append(f"| {label} | " + " | ".join(f"{r[group][key]:,.0f} ms" for r in rows) + " |")
    per_size = [
        ("search rows matched", lambda r: f"{r['search']['rows']:,}"),
        ("metrics bytes per point", lambda r: f"{r['metric_bytes'] / r['points']:.2f}"),
        ("store bytes per point (all tables)", lambda r: f"{r['bytes'] / r['points']:.2f}"),
        ("bytes per run (runs, params, tags ...)", lambda r: f"{r['other_bytes'] / r['runs']:.0f}"),
        ("store size", lambda r: f"{r['bytes'] / 1e6:,.1f} MB"),
        ("files (metrics files)", lambda r: f"{r['files']:,} ({r['metric_files']:,})"),
        (
            "build: logging / compact + gc (untimed phases)",
            lambda r: f"{r['log_s']:.0f} s / {r['compact_s']:.0f} s",
        ),
    ]
    for label, cell in per_size:
        lines.append(f"| {label} | " + " | ".join(cell(r) for r in rows) + " |")
    return "\n".join(lines)


def plot(rows: list[dict], path: str, load: tuple[float, float, float]) -> bool:
    """Time vs number of points on log axes, one curve per phase (False: no matplotlib)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
    xs = [r["points"] for r in rows]
    for label, (group, key) in PHASES:
        style = "-" if key == "cold_ms" else "--"
        ax.plot(xs, [r[group][key] for r in rows], style, marker="o", label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(xs)
    ax.set_xticklabels([f"{r['runs'] - 1:,} runs\n{r['points'] / 1e6:g}M points" for r in rows])
    ax.set_ylabel("milliseconds (log)")
    ax.set_title(f"nbtrack on local disk: time vs store size (load average {load[0]:.1f})")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(path)
    return True


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", help="numbers of runs (default 1k 10k 100k)")
    ap.add_argument("--stores", help="where built stores are kept (default /tmp/scale-stores)")
    ap.add_argument("--plot", help="write the curves to this PNG")
    ap.add_argument("--workers", type=int, default=2, help="build processes per store")
    ap.add_argument("--quick", action="store_true", help="a smoke run (small sizes)")
    args = ap.parse_args()
    if args.quick:
        sizes, steps, per_exp, long_points = args.sizes or [100, 300], 10, 100, 2000
    else:
        sizes, steps, per_exp, long_points = (
            args.sizes or [1000, 10_000, 100_000],
            100,
            1000,
            100_000,
        )
    temporary = None
    stores = args.stores
    if stores is None:
        stores = tempfile.mkdtemp(prefix="nbtrack-scale-") if args.quick else "/tmp/scale-stores"
        temporary = stores if args.quick else None
    rows = []
    try:
        for runs in sizes:
            folder = os.path.join(
                stores, f"v{STORE_VERSION}-runs{runs}-steps{steps}-long{long_points}"
            )
            info = build(folder, runs, steps, per_exp, long_points, args.workers)
            print(f"measuring {runs:,} runs ...", file=sys.stderr)
            rows.append(
                {
                    **info,
                    **measure(os.path.join(folder, "store"), info, 0.7 if args.quick else 0.175),
                }
            )
    finally:
        if temporary:
            shutil.rmtree(temporary, ignore_errors=True)
    load = os.getloadavg()
    if not temporary:
        with open(os.path.join(stores, "results.json"), "w") as fh:
            json.dump({"load": load, "rows": rows}, fh, indent=1)
    print(
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (a shared machine: phases "
        "that are CPU-bound run slower when it is busy)"
    )
    print(table(rows))
    if args.plot:
        print(f"plot: {args.plot}" if plot(rows, args.plot, load) else "plot: no matplotlib")


if __name__ == "__main__":
    main()
