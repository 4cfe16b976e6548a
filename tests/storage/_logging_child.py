"""A training process: logs in a loop while its store's compactor works beside it.

Usage: python _logging_child.py OUT_JSON STOP_AFTER_BYTES

Logs points until automatic compaction has merged ``STOP_AFTER_BYTES`` of input files
and one more second has passed (or 120 s), then writes what it recorded to OUT_JSON:
every background flush (start, end), every heartbeat, every compaction round (start, end,
counts) and its peak RSS (VmHWM) just before the first compaction round and at the end.
Prints the run id on its first line; creates OUT_JSON.ending just before the run ends.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time


def peak_rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def main(out_path: str, stop_after_bytes: int) -> None:
    import nbtrack as nt

    store = nt.set_store(os.environ["NBTRACK_STORE"])
    flushes: list[tuple[float, float]] = []
    beats: list[float] = []
    rounds: list[dict[str, object]] = []
    baseline: list[float] = []

    flush, beat, hook = store.flush, store.heartbeat, store.compact_hook
    assert hook is not None

    def timed_flush() -> list[tuple[str, str]]:
        start = time.monotonic()
        done = flush()
        if threading.current_thread().name == "nbtrack-flusher":
            flushes.append((start, time.monotonic()))
        return done

    def timed_beat() -> None:
        beat()
        beats.append(time.monotonic())

    def timed_hook(s: object) -> None:
        if not baseline:
            baseline.append(peak_rss_mb())
        start = time.monotonic()
        stats = hook(s)  # type: ignore[func-returns-value]
        rounds.append(
            {"start": start, "end": time.monotonic(), "stats": stats, "peak_mb": peak_rss_mb()}
        )

    store.flush = timed_flush  # type: ignore[method-assign]
    store.heartbeat = timed_beat  # type: ignore[method-assign]
    store.compact_hook = timed_hook

    merged = 0.0
    done_at = None
    logged = 0
    began = time.monotonic()
    with nt.start_run(name="trainer") as run:
        print(run.id, flush=True)
        step = 0
        while time.monotonic() - began < 120:
            # A training step: some work, then a few metrics.
            for _ in range(50):
                step += 1
                run.log_metric("loss", 1.0 / step, step=step)
                run.log_metric("acc", 1.0 - 1.0 / step, step=step)
            logged += 100
            time.sleep(0.002)
            merged = sum(
                int(r["stats"]["bytes_read"])
                for r in rounds
                if r["stats"]  # type: ignore[index]
            )
            if done_at is None and merged >= stop_after_bytes:
                done_at = time.monotonic()
            if done_at is not None and time.monotonic() - done_at > 1.0:
                break
        # Readers stop checking liveness from here: the run ends (and the lease goes).
        with open(out_path + ".ending", "w"):
            pass
    result = {
        "flushes": flushes,
        "beats": beats,
        "rounds": rounds,
        "baseline_mb": baseline[0] if baseline else None,
        "peak_mb": peak_rss_mb(),
        "logged": logged,
        "merged_bytes": merged,
        "began": began,
        "ended": time.monotonic(),
    }
    with open(out_path, "w") as fh:
        json.dump(result, fh)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
