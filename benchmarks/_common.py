"""Small helpers shared by the per-system modules (standard library only)."""

from __future__ import annotations

import os
import statistics
import sys
import time

perf = time.perf_counter


def dir_bytes(path: str) -> int:
    """Apparent size (sum of st_size) of every regular file under ``path``."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            p = os.path.join(root, name)
            if os.path.isfile(p) and not os.path.islink(p):
                total += os.path.getsize(p)
    return total


def file_count(path: str) -> int:
    return sum(len(files) for _r, _d, files in os.walk(path))


def repeat(fn, reps: int) -> list[float]:
    """Seconds per call of ``fn()`` for ``reps`` calls."""
    out = []
    for _ in range(reps):
        t0 = perf()
        fn()
        out.append(perf() - t0)
    return out


def summary_ms(times: list[float]) -> dict:
    ms = [t * 1e3 for t in times]
    return {
        "first_ms": ms[0],
        "median_ms": statistics.median(ms),
        "mean_ms": statistics.fmean(ms),
        "min_ms": min(ms),
        "max_ms": max(ms),
        "reps": len(ms),
    }


def progress(label: str, i: int, n: int, t0: float) -> None:
    """A one-line progress indicator on stderr (about every 5%)."""
    step = max(n // 20, 1)
    if i % step == 0 or i == n:
        el = perf() - t0
        rate = i / el if el > 0 else 0.0
        eta = (n - i) / rate if rate > 0 else 0.0
        print(f"  {label}: {i}/{n} ({rate:.0f}/s, eta {eta:.0f}s)", file=sys.stderr, flush=True)


def bytes_result(store: str, baseline_store: str, points: int, extra: dict | None = None) -> dict:
    full = dir_bytes(store)
    base = dir_bytes(baseline_store)
    details = {
        "store_bytes": full,
        "empty_store_bytes": base,
        "bytes_per_point_total": full / points,
        "files": file_count(store),
        "points": points,
    }
    details.update(extra or {})
    return {"value": (full - base) / points, "unit": "B/point", "details": details}
