"""Compaction beside a logging process (issue 10, item 3). Run by hand:

    python benchmarks/compaction.py                 # 5M-point partition, 60 s of logging
    python benchmarks/compaction.py --points 1000000 --seconds 20     # quicker
    python benchmarks/compaction.py --in-process    # merge in the training process's thread
                                                    # (what a store on object storage does)

1. Builds a partition of ``--points`` points with one history run: flushes of 100,000
   points (the default ``NBTRACK_FLUSH_POINTS``), automatic compaction off, so the
   partition starts as ~50 segments of ~700 KB waiting to be compacted.
2. Starts a training process (this file with ``--child``) that logs ``--rate`` points/s
   into the same partition for ``--seconds`` seconds with automatic compaction on
   (defaults: ``NBTRACK_FLUSH_INTERVAL`` 1 s, ``NBTRACK_COMPACT_FILES`` 32). It records
   every background flush, heartbeat and compaction round, and its peak RSS (VmHWM) before
   the first compaction round and at the end.
3. Runs ``nbtrack compact`` (explicit, no budget) in a fresh process and records its time,
   peak RSS and bytes written.

Prints a Markdown table (and ``--json PATH`` writes every number) with the load average.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MB = 1024 * 1024


def peak_rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def metrics_bytes(store: str) -> int:
    """Bytes of the visible metrics files (what the data takes once compacted)."""
    import nbtrack as nt

    s = nt.set_store(store)
    return sum(f.size for p in s.snapshot().partitions["metrics"] for f in p.visible)


# ---- 1. the history ---------------------------------------------------------------------
def build(store: str, points: int) -> None:
    os.environ.update(NBTRACK_AUTO_COMPACT="0", NBTRACK_FLUSH_INTERVAL="3600")
    import numpy as np

    import nbtrack as nt

    s = nt.set_store(store)
    rng = np.random.default_rng(0)
    with nt.start_run(name="history") as run:
        log = run.log_metric
        done = 0
        while done < points:
            n = min(100_000, points - done)
            for step, v in enumerate(rng.random(n).tolist(), start=done):
                log("loss", v, step=step)
            s.flush()
            done += n


# ---- 2. the training process --------------------------------------------------------------
def child(out: str, seconds: float, rate: int, in_process: bool) -> None:
    import nbtrack as nt
    from nbtrack.storage import compaction

    store = nt.set_store(os.environ["NBTRACK_STORE"])
    flushes: list[float] = []
    beats: list[float] = []
    rounds: list[dict[str, object]] = []
    baseline: list[float] = []
    flush, beat = store.flush, store.heartbeat
    hook = compaction.merge_due if in_process else store.compact_hook
    assert hook is not None

    def timed_flush() -> object:
        start = time.monotonic()
        done = flush()
        if threading.current_thread().name == "nbtrack-flusher":
            flushes.append(start)
        return done

    def timed_beat() -> None:
        beat()
        beats.append(time.monotonic())

    def timed_hook(s: object) -> None:
        if not baseline:
            baseline.append(peak_rss_mb())
        start = time.monotonic()
        stats = hook(s)  # type: ignore[operator]
        rounds.append({"start": start, "end": time.monotonic(), "stats": stats})

    store.flush = timed_flush  # type: ignore[method-assign]
    store.heartbeat = timed_beat  # type: ignore[method-assign]
    store.compact_hook = timed_hook
    began = time.monotonic()
    logged = 0
    batch = max(rate // 100, 1)  # 100 training steps per second
    with nt.start_run(name="trainer") as run:
        step = 0
        while time.monotonic() - began < seconds:
            t0 = time.monotonic()
            for _ in range(batch):
                step += 1
                run.log_metric("loss", 1.0 / step, step=step)
            logged += batch
            time.sleep(max(0.0, 0.01 - (time.monotonic() - t0)))
        ended = time.monotonic()
    # Wait for a compaction round still running (it finishes on its own).
    deadline = time.monotonic() + 120
    while store.background.is_running() and time.monotonic() < deadline:
        time.sleep(0.2)
    Path(out).write_text(
        json.dumps(
            {
                "flushes": flushes,
                "beats": beats,
                "rounds": rounds,
                "baseline_mb": baseline[0] if baseline else None,
                "peak_mb": peak_rss_mb(),
                "logged": logged,
                "began": began,
                "ended": ended,
            }
        )
    )


# ---- 3. explicit compaction -------------------------------------------------------------------
def explicit(out: str) -> None:
    from nbtrack.storage import compaction
    from nbtrack.storage.store import ParquetStore

    store = ParquetStore(os.environ["NBTRACK_STORE"])
    before = peak_rss_mb()
    t0 = time.perf_counter()
    stats = compaction.compact(store)
    Path(out).write_text(
        json.dumps(
            {"seconds": time.perf_counter() - t0, "stats": stats,
             "rss_before_mb": before, "rss_peak_mb": peak_rss_mb()}
        )
    )


def _gaps(times: list[float]) -> list[float]:
    return [b - a for a, b in itertools.pairwise(times)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--points", type=int, default=5_000_000)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--rate", type=int, default=20_000, help="points per second logged")
    ap.add_argument("--in-process", action="store_true")
    ap.add_argument("--json")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--child", nargs=3, metavar=("OUT", "SECONDS", "RATE"), help=argparse.SUPPRESS)
    ap.add_argument("--explicit", metavar="OUT", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child[0], float(args.child[1]), int(args.child[2]), args.in_process)
        return
    if args.explicit:
        explicit(args.explicit)
        return

    tmp = tempfile.mkdtemp(prefix="nbtrack-bench-compaction-")
    store = os.path.join(tmp, "store")
    env = dict(os.environ, NBTRACK_STORE=store, PYTHONPATH=str(ROOT))
    load_before = os.getloadavg()
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(ROOT)!r}); "
         f"from benchmarks.compaction import build; build({store!r}, {args.points})"],
        env=env, check=True,
    )
    build_s = time.perf_counter() - t0
    segments_before = len(list(Path(store).glob("metrics/*/*.parquet")))
    data_before = sum(f.stat().st_size for f in Path(store).glob("metrics/*/*.parquet"))

    out = os.path.join(tmp, "child.json")
    cmd = [sys.executable, __file__, "--child", out, str(args.seconds), str(args.rate)]
    if args.in_process:
        cmd.append("--in-process")
    subprocess.run(cmd, env=env, check=True)
    rec = json.loads(Path(out).read_text())
    load_during = os.getloadavg()

    explicit_out = os.path.join(tmp, "explicit.json")
    subprocess.run([sys.executable, __file__, "--explicit", explicit_out], env=env, check=True)
    exp = json.loads(Path(explicit_out).read_text())

    stats = [r["stats"] for r in rec["rounds"] if r["stats"]]
    written = sum(s["bytes_written"] for s in stats)
    read = sum(s["bytes_read"] for s in stats)
    gaps = _gaps(rec["flushes"])
    beat_gaps = _gaps([rec["began"], *rec["beats"], rec["ended"]])
    durations = [r["end"] - r["start"] for r in rec["rounds"] if r["stats"]]
    data_after = metrics_bytes(store)
    result = {
        "points_before": args.points,
        "build_s": build_s,
        "segments_before": segments_before,
        "data_bytes_before": data_before,
        "logged_during": rec["logged"],
        "seconds": args.seconds,
        "in_process": args.in_process,
        "flushes": len(rec["flushes"]),
        "flush_gap_max_s": max(gaps) if gaps else None,
        "flush_gap_median_s": statistics.median(gaps) if gaps else None,
        "heartbeat_gap_max_s": max(beat_gaps),
        "compaction_rounds": len(stats),
        "compaction_round_max_s": max(durations) if durations else 0.0,
        "compaction_bytes_read": read,
        "compaction_bytes_written": written,
        "write_amplification": written / data_before if data_before else None,
        "rss_baseline_mb": rec["baseline_mb"],
        "rss_peak_mb": rec["peak_mb"],
        "rss_growth_mb": (rec["peak_mb"] - rec["baseline_mb"]) if rec["baseline_mb"] else None,
        "explicit_s": exp["seconds"],
        "explicit_bytes_written": exp["stats"]["bytes_written"],
        "explicit_rss_growth_mb": exp["rss_peak_mb"] - exp["rss_before_mb"],
        "data_bytes_after": data_after,
        "files_after": sum(
            1 for _ in Path(store).glob("metrics/*/*.parquet")
        ),
        "load_before": load_before,
        "load_after_logging": load_during,
        "load_end": os.getloadavg(),
    }
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    mode = "in the training process's thread" if args.in_process else "in a child process"
    rows = [
        ("partition before", f"{args.points:,} points in {segments_before} segments, "
                             f"{data_before / MB:.1f} MB"),
        ("logging", f"{rec['logged']:,} points over {args.seconds:.0f} s, "
                    f"{len(rec['flushes'])} background flushes"),
        ("automatic compaction", f"{len(stats)} rounds ({mode}), longest {result['compaction_round_max_s']:.1f} s, "
                                 f"read {read / MB:.1f} MB, wrote {written / MB:.1f} MB"),
        ("write amplification (auto)", f"{result['write_amplification']:.2f}× the data"),
        ("max flush gap", f"{result['flush_gap_max_s']:.2f} s (interval 1 s; median "
                          f"{result['flush_gap_median_s']:.2f} s)"),
        ("max heartbeat gap", f"{result['heartbeat_gap_max_s']:.2f} s (interval 5 s)"),
        ("training process peak RSS", f"{rec['baseline_mb']:.0f} MB before compaction → "
                                      f"{rec['peak_mb']:.0f} MB (+{result['rss_growth_mb']:.0f} MB)"),
        ("`nbtrack compact` afterwards", f"{exp['seconds']:.1f} s, wrote "
                                        f"{exp['stats']['bytes_written'] / MB:.1f} MB, "
                                        f"peak RSS +{result['explicit_rss_growth_mb']:.0f} MB"),
        ("files after", f"{result['files_after']} metrics files (incl. replaced ones in their grace)"),
        ("load average", " / ".join(f"{x:.2f}" for x in load_before) + " before, "
                         + " / ".join(f"{x:.2f}" for x in load_during) + " after logging"),
    ]
    print("| measure | result |\n|---|---|")
    for k, v in rows:
        print(f"| {k} | {v} |")
    if not args.keep:
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        print(f"store kept at {store}", file=sys.stderr)


if __name__ == "__main__":
    main()
