"""Soak test: one run logging at a steady rate for a long time (issue 6, item 6).

Not a CI test. It logs ``--rate`` metric points per second into a fresh store for
``--duration`` seconds with nbtrack's default settings (1 s flush interval, automatic
compaction at 32 small files, 60 s gc grace), and every ``--sample`` seconds records:

* the process's resident memory now (VmRSS) and its peak so far (ru_maxrss),
* the number of files in the store (all of them, and the metrics segments a reader sees),
* how far the writer is behind its schedule,
* the point count a fresh read returns (so the read path's memory is measured too).

At the end it checks that every logged point is in the store exactly once and prints a
Markdown table (and ``--json`` writes the samples). Usage::

    python benchmarks/long_run.py                      # the full 10 minutes at 1,000 points/s
    python benchmarks/long_run.py --duration 120       # a shortened run
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import nbtrack as nt

KEYS = ("loss", "accuracy", "lr", "grad_norm")


def rss_mb() -> float:
    """Resident memory of this process now, in MB (Linux /proc)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def count_files(root: str) -> tuple[int, int]:
    """(every file in the store, metrics segment files on disk)."""
    total = metrics = 0
    for dirpath, _dirs, files in os.walk(root):
        total += len(files)
        if os.sep + "metrics" + os.sep in dirpath + os.sep:
            metrics += sum(1 for f in files if f.endswith(".parquet"))
    return total, metrics


def visible_metric_files(store: Any) -> int:
    snap = store.snapshot()
    return sum(len(p.visible) for p in snap.partitions.get("metrics", []))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=600.0, help="seconds to log (600)")
    ap.add_argument("--rate", type=int, default=1000, help="metric points per second (1000)")
    ap.add_argument("--sample", type=float, default=10.0, help="seconds between samples (10)")
    ap.add_argument("--store", default=None, help="store folder (default: a fresh temp dir)")
    ap.add_argument("--json", default=None, help="write the samples and summary here")
    ap.add_argument("--keep", action="store_true", help="keep the temp store afterwards")
    args = ap.parse_args()

    root = args.store or tempfile.mkdtemp(prefix="nbtrack-soak-")
    store = nt.set_store(root)
    run = nt.start_run(name="soak", params={"rate": args.rate, "duration": args.duration})
    tick = 0.01  # log in 10 ms batches: smooth enough to look like a training loop
    per_tick = max(1, round(args.rate * tick))
    samples: list[dict[str, Any]] = []
    logged = 0
    step = 0
    t0 = time.monotonic()
    next_sample = t0
    next_tick = t0
    print(f"store {root}: {args.rate} points/s for {args.duration:.0f} s", flush=True)
    while True:
        now = time.monotonic()
        elapsed = now - t0
        if now >= next_sample:
            total, on_disk = count_files(root)
            read_t0 = time.monotonic()
            n_read = int(nt.sql(f"SELECT count(*) AS n FROM metrics WHERE run_id = '{run.id}'")["n"][0])
            read_s = time.monotonic() - read_t0
            s = {
                "t_s": round(elapsed, 1),
                "points_logged": logged,
                "points_read": n_read,
                "rss_mb": round(rss_mb(), 1),
                "peak_rss_mb": round(peak_rss_mb(), 1),
                "files_total": total,
                "metric_files_on_disk": on_disk,
                "metric_files_visible": visible_metric_files(store),
                "read_s": round(read_s, 3),
                "lag_s": round(max(0.0, now - next_tick), 3),
            }
            samples.append(s)
            print(json.dumps(s), flush=True)
            next_sample += args.sample
        if elapsed >= args.duration:
            break
        for _ in range(per_tick):
            run.log_metric(KEYS[step % len(KEYS)], 1.0 / (1 + step), step=step // len(KEYS))
            step += 1
        logged += per_tick
        next_tick += tick
        delay = next_tick - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    wall = time.monotonic() - t0
    run.end()
    n = int(nt.sql(f"SELECT count(*) AS n FROM metrics WHERE run_id = '{run.id}'")["n"][0])
    distinct = int(
        nt.sql(
            "SELECT count(*) AS n FROM (SELECT DISTINCT key, step FROM metrics "
            f"WHERE run_id = '{run.id}')"
        )["n"][0]
    )
    total, on_disk = count_files(root)
    rss = [s["rss_mb"] for s in samples]
    warm = rss[len(rss) // 10 :] or rss  # skip the first 10%: imports and first queries
    summary = {
        "duration_s": round(wall, 1),
        "points_logged": logged,
        "points_in_store": n,
        "distinct_points": distinct,
        "achieved_rate": round(logged / wall, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "rss_first_warm_mb": warm[0] if warm else None,
        "rss_last_mb": rss[-1] if rss else None,
        "max_files_total": max(s["files_total"] for s in samples),
        "max_metric_files_visible": max(s["metric_files_visible"] for s in samples),
        "files_total_end": total,
        "metric_files_on_disk_end": on_disk,
    }
    print()
    print("| t (s) | points logged | points read | RSS MB | peak RSS MB | files | metric files on disk / visible | read s |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for s in samples:
        print(
            f"| {s['t_s']:.0f} | {s['points_logged']:,} | {s['points_read']:,} | {s['rss_mb']} | "
            f"{s['peak_rss_mb']} | {s['files_total']} | {s['metric_files_on_disk']} / "
            f"{s['metric_files_visible']} | {s['read_s']} |"
        )
    print()
    print(json.dumps(summary, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps({"samples": samples, "summary": summary}, indent=2))
    if not args.store and not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    ok = n == logged == distinct
    if not ok:
        print(f"MISMATCH: logged {logged}, stored {n}, distinct {distinct}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
