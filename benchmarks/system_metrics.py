"""CPU cost of the system metrics sampler (issue 14: at most 1% of one core at 10 s).

Two measurements:

1. the CPU time of one sample (psutil readings + ``log_metrics``), over many samples,
   read with ``time.thread_time`` in the sampling thread; the cost at an interval of
   ``I`` seconds is that time divided by ``I``;
2. a real sampler thread at a short interval for ``--seconds`` seconds: its own thread's
   CPU time (psutil's per-thread counters), divided by the wall time, scaled to 10 s;
3. a real sampler thread at the default interval (10 s) for ``--default-seconds``
   seconds: its thread's CPU time divided by the wall time, no scaling.

Run: ``python benchmarks/system_metrics.py [--samples 300] [--seconds 30 --interval 0.5]
[--default-seconds 120]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time

import psutil

import nbtrack as nt
from nbtrack.tracking.system_metrics import SystemMetricsSampler


def per_sample_cpu(samples: int) -> list[float]:
    with nt.start_run(name="bench-sample") as run:
        sampler = SystemMetricsSampler(run, interval=10.0)
        sampler._gpus = None
        sampler.sample()  # first call primes the rates
        costs: list[float] = []

        def work() -> None:
            for _ in range(samples):
                t0 = time.thread_time()
                sampler._log_sample()
                costs.append(time.thread_time() - t0)

        t = threading.Thread(target=work)
        t.start()
        t.join()
    return costs


def thread_cpu(seconds: float, interval: float) -> tuple[float, int, float]:
    """(the thread's CPU seconds by the kernel's counters — 10 ms ticks —, samples, the CPU
    seconds of its samples read with ``time.thread_time`` inside the thread — ns)."""
    proc = psutil.Process(os.getpid())
    with nt.start_run(name="bench-thread") as run:
        sampler = SystemMetricsSampler(run, interval=interval)
        inner = sampler._log_sample
        measured = [0.0]

        def timed() -> None:
            t0 = time.thread_time()
            inner()
            measured[0] += time.thread_time() - t0

        sampler._log_sample = timed  # type: ignore[method-assign]
        sampler.start()
        native = sampler._thread.native_id  # type: ignore[union-attr]
        time.sleep(seconds)

        def cpu() -> float:
            for th in proc.threads():
                if th.id == native:
                    return th.user_time + th.system_time
            return float("nan")

        used = cpu()
        sampler.stop()
    return used, sampler.samples, measured[0]


def process_cpu(seconds: float, interval: float | None) -> float:
    """Whole-process CPU seconds over ``seconds`` of an idle run (flushes included)."""
    proc = psutil.Process(os.getpid())
    with nt.start_run(name="bench-process") as run:
        sampler = SystemMetricsSampler(run, interval=interval).start() if interval else None
        t0 = proc.cpu_times()
        time.sleep(seconds)
        t1 = proc.cpu_times()
        if sampler is not None:
            sampler.stop()
    return (t1.user + t1.system) - (t0.user + t0.system)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--samples", type=int, default=300)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--interval", type=float, default=0.5)
    ap.add_argument("--default-seconds", type=float, default=120.0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as store:
        nt.set_store(store)
        load_before = os.getloadavg()
        costs = per_sample_cpu(args.samples)
        used, n, _ = thread_cpu(args.seconds, args.interval)
        idle = process_cpu(args.seconds, None)
        busy = process_cpu(args.seconds, args.interval)
        default_ticks, default_n, default_used = thread_cpu(args.default_seconds, 10.0)
        load_after = os.getloadavg()
    med = statistics.median(costs)
    p95 = sorted(costs)[int(0.95 * (len(costs) - 1))]
    print(f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f} (1 min)")
    print(f"one sample: median {med * 1e3:.2f} ms CPU, p95 {p95 * 1e3:.2f} ms ({len(costs)} samples)")
    print(f"  -> at the default 10 s interval: {med / 10 * 100:.4f}% of one core")
    per = used / max(n, 1)
    print(
        f"sampler thread at {args.interval:g} s for {args.seconds:g} s: {used * 1e3:.1f} ms CPU "
        f"for {n} samples = {per * 1e3:.2f} ms/sample, {used / args.seconds * 100:.3f}% of a core"
    )
    print(f"  -> scaled to the default 10 s interval: {per / 10 * 100:.4f}% of one core")
    extra = (busy - idle) / max(n, 1)
    print(
        f"whole process, idle run for {args.seconds:g} s: {idle * 1e3:.0f} ms CPU without the "
        f"sampler, {busy * 1e3:.0f} ms with it at {args.interval:g} s (flushes included) = "
        f"{extra * 1e3:.2f} ms per sample -> {extra / 10 * 100:.4f}% of one core at 10 s"
    )
    print(
        f"sampler thread at the default 10 s for {args.default_seconds:g} s (measured, not "
        f"scaled): {default_used * 1e3:.2f} ms CPU in its {default_n} samples (thread_time) = "
        f"{default_used / args.default_seconds * 100:.4f}% of one core; the kernel's "
        f"per-thread counter (10 ms ticks, wake-ups included): {default_ticks * 1e3:.0f} ms = "
        f"{default_ticks / args.default_seconds * 100:.4f}% of one core"
    )


if __name__ == "__main__":
    main()
