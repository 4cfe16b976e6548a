"""The read model at scale (issue 10), run by hand: many keys, incremental reads, memory.

    python benchmarks/read_model.py [--runs-20k] [--quick]

Every phase runs in a fresh interpreter against its own temporary store (built by a separate,
untimed process), so imports and caches never leak between phases. Reported:

| phase | target |
|---|---|
| search, 1,000 runs × 1,000 metric keys + 100 params, with a filter: cold (first call in a fresh process, after import) / warm (median of 20) | ≤ 300 ms / ≤ 50 ms |
| search, 20 runs × 3,000 metric keys: cold / warm | ≤ 200 ms |
| search over 20,000 runs after one new flush (median of 10 rounds: a run is logged and ended, then searched) | ≤ 50 ms |
| search over 2,000 runs right after logging them in the same process (median of 20) | ≤ 10 ms |
| peak RSS: logging 500 params + 100 tags; reading a 20,000-point history in a fresh process; searching 2,000 runs | ≤ 300 MB each |

The load average is printed with the table; measure on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap

PRELUDE = """
import json, os, resource, statistics, sys, time
t_import = time.perf_counter()
import nbtrack as nt
def rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
nt.set_store(sys.argv[1])
"""


def run(code: str, store: str, **env: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(PRELUDE) + textwrap.dedent(code), store],
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "NBTRACK_AUTO_COMPACT": os.environ.get("NBTRACK_AUTO_COMPACT", "1"),
            **env,
        },
    )
    if out.returncode:
        raise SystemExit(f"phase failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


BUILD_MANY_KEYS = """
n_runs, n_keys, n_params = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
keys = [f"layer{j}/grad" for j in range(n_keys)]
for i in range(n_runs):
    with nt.start_run(params={f"p{j}": (i * 7 + j) % 13 for j in range(n_params)}) as r:
        r.log_metrics({k: float((i + j) % 97) for j, k in enumerate(keys)}, step=0)
from nbtrack.tracking import maintenance
maintenance.compact()
# The steady state: compaction's replaced files are deleted 60 s after it (gc's grace).
# (Until then they cost a read only the listing of their folder: ~15 ms for 20,000 names.)
maintenance.gc(force=True)
print(json.dumps({}))
"""

SEARCH = """
flt = sys.argv[2]
if os.environ.get("BENCH_PREIMPORT"):
    # What the first search imports (pandas for the DataFrame, DuckDB and pyarrow for the
    # store), so that "cold" is the read alone.
    import pandas, nbtrack.tracking.search  # noqa: E401
t0 = time.perf_counter()
df = nt.search_runs(filter=flt)
cold = time.perf_counter() - t0
warm = []
for _ in range(20):
    t0 = time.perf_counter()
    df = nt.search_runs(filter=flt)
    warm.append(time.perf_counter() - t0)
print(json.dumps({"cold_ms": cold * 1e3, "warm_ms": statistics.median(warm) * 1e3,
                  "rows": len(df), "cols": df.shape[1], "rss_mb": rss_mb()}))
"""

BUILD_RUNS = """
n = int(sys.argv[2])
for i in range(n):
    with nt.start_run(params={"lr": (i % 10) / 100, "a": i % 3, "b": "x", "c": i, "d": 1},
                      tags={"team": "ab"[i % 2], "t2": "v", "t3": "w"}) as r:
        r.log_metrics({"loss": 1 / (i + 1), "acc": (i % 100) / 100, "m3": 1.0, "m4": 2.0,
                       "m5": 3.0}, step=0)
from nbtrack.tracking import maintenance
maintenance.compact()
# The steady state: compaction's replaced files are deleted 60 s after it (gc's grace).
# (Until then they cost a read only the listing of their folder: ~15 ms for 20,000 names.)
maintenance.gc(force=True)
print(json.dumps({}))
"""

AFTER_FLUSH = """
flt = "metrics.loss < 0.5 and params.lr = '0.01'"
nt.search_runs(filter=flt)
times = []
for i in range(10):
    with nt.start_run(params={"lr": 0.01}) as r:
        r.log_metric("loss", 0.1)
    t0 = time.perf_counter()
    nt.search_runs(filter=flt)
    times.append(time.perf_counter() - t0)
print(json.dumps({"median_ms": statistics.median(times) * 1e3, "max_ms": max(times) * 1e3}))
"""

SAME_PROCESS = """
flt = "metrics.loss < 0.5 and params.lr = '0.01'"
for i in range(2000):
    with nt.start_run(params={"lr": (i % 10) / 100, "a": i % 3, "b": "x", "c": i, "d": 1},
                      tags={"team": "ab"[i % 2], "t2": "v", "t3": "w"}) as r:
        r.log_metrics({"loss": 1 / (i + 1), "acc": 0.5, "m3": 1.0, "m4": 2.0, "m5": 3.0}, step=0)
times = []
for _ in range(20):
    t0 = time.perf_counter()
    nt.search_runs(filter=flt)
    times.append(time.perf_counter() - t0)
print(json.dumps({"median_ms": statistics.median(times) * 1e3, "rss_mb": rss_mb()}))
"""

RSS_PARAMS = """
base = rss_mb()
with nt.start_run() as r:
    r.log_params({f"p{i}": i for i in range(500)})
    r.set_tags({f"t{i}": i for i in range(100)})
got = nt.get_run(r.id)
assert len(got.params) == 500 and len(got.tags) == 100
print(json.dumps({"rss_mb": rss_mb(), "after_import_mb": base}))
"""

BUILD_HISTORY = """
with nt.start_run() as r:
    for i in range(20000):
        r.log_metric("loss", 1 / (i + 1), step=i)
print(json.dumps({"run_id": r.id}))
"""

RSS_HISTORY = """
base = rss_mb()
h = nt.get_metric_history(sys.argv[2], "loss")
assert len(h) == 20000
print(json.dumps({"rss_mb": rss_mb(), "after_import_mb": base}))
"""

RSS_SEARCH = """
base = rss_mb()
df = nt.search_runs(filter="metrics.loss < 0.5 and params.lr = '0.01'")
print(json.dumps({"rss_mb": rss_mb(), "after_import_mb": base}))
"""


def store() -> str:
    return tempfile.mkdtemp(prefix="nbtrack-rm-") + "/store"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes (a smoke test)")
    ap.add_argument("--runs-20k", action="store_true", help="also the 20,000-run phase")
    args = ap.parse_args()
    rows: list[tuple[str, str, str]] = []
    scale = 10 if args.quick else 1

    s = store()
    run(BUILD_MANY_KEYS.replace("sys.argv[2]", str(1000 // scale)).replace(
        "sys.argv[3]", str(1000 // scale)).replace("sys.argv[4]", "100"), s)
    search = SEARCH.replace("sys.argv[2]", repr("metrics.`layer3/grad` > 50 and params.p1 = '8'"))
    r = run(search, s)
    pre = run(search, s, BENCH_PREIMPORT="1")
    rows.append((f"search {1000 // scale} runs × {1000 // scale} keys + 100 params (cold / warm)",
                 f"{r['cold_ms']:.0f} / {r['warm_ms']:.1f} ms ({r['rows']} rows × {r['cols']} cols, "
                 f"peak {r['rss_mb']:.0f} MB); cold with pandas/duckdb imported first "
                 f"{pre['cold_ms']:.0f} ms", "≤ 300 / ≤ 50 ms"))

    s = store()
    run(BUILD_MANY_KEYS.replace("sys.argv[2]", "20").replace("sys.argv[3]", "3000").replace(
        "sys.argv[4]", "0"), s)
    search = SEARCH.replace("sys.argv[2]", repr("metrics.`layer3/grad` > 10"))
    r = run(search, s)
    pre = run(search, s, BENCH_PREIMPORT="1")
    rows.append(("search 20 runs × 3,000 keys (cold / warm)",
                 f"{r['cold_ms']:.0f} / {r['warm_ms']:.1f} ms; cold with pandas/duckdb imported "
                 f"first {pre['cold_ms']:.0f} ms", "≤ 200 ms"))

    if args.runs_20k:
        s = store()
        run(BUILD_RUNS.replace("sys.argv[2]", str(20000 // scale)), s)
        r = run(AFTER_FLUSH, s)
        rows.append((f"search {20000 // scale} runs after one new flush (median / max of 10)",
                     f"{r['median_ms']:.1f} / {r['max_ms']:.1f} ms", "≤ 50 ms"))

    r = run(SAME_PROCESS, store())
    rows.append(("search 2,000 runs right after logging them, same process (median of 20)",
                 f"{r['median_ms']:.1f} ms", "≤ 10 ms"))

    r = run(RSS_PARAMS, store())
    rows.append(("peak RSS: log 500 params + 100 tags, read back",
                 f"{r['rss_mb']:.0f} MB ({r['after_import_mb']:.0f} MB after import)", "≤ 300 MB"))
    s = store()
    rid = run(BUILD_HISTORY, s)["run_id"]
    r = run(RSS_HISTORY.replace("sys.argv[2]", repr(rid)), s)
    rows.append(("peak RSS: fresh process reads a 20,000-point history",
                 f"{r['rss_mb']:.0f} MB ({r['after_import_mb']:.0f} MB after import)", "≤ 300 MB"))
    s = store()
    run(BUILD_RUNS.replace("sys.argv[2]", str(2000 // scale)), s)
    r = run(RSS_SEARCH, s)
    rows.append((f"peak RSS: fresh process searches {2000 // scale} runs",
                 f"{r['rss_mb']:.0f} MB ({r['after_import_mb']:.0f} MB after import)", "≤ 300 MB"))

    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print("| phase | nbtrack | target |")
    print("|---|---|---|")
    for phase, got, target in rows:
        print(f"| {phase} | {got} | {target} |")


if __name__ == "__main__":
    main()
