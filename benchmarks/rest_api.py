"""Timings of the REST API that the JupyterLab sidebar uses (issue 12's targets).

    python benchmarks/rest_api.py [--runs 100000] [--points 10000000] [--store DIR] [--repeat 5]

Builds a store (unless --store names one that this script built before) with ``--runs``
runs of a few params/metrics/tags each and one run whose ``loss`` has ``--points`` points,
starts a real Jupyter Server with the nbtrack extension on 127.0.0.1, and times over HTTP:

- ``GET runs?max_results=100`` (the sidebar's first page), unfiltered and with a filter;
- ``GET runs`` again with the ETag (the sidebar's poll when nothing changed: 304);
- ``GET runs/<id>/metrics/loss?max_points=2000`` on the long run, and its size in bytes.

Targets (issue 12): runs search for 100,000 runs ≤ 300 ms; history of a 10M-point series
≤ 300 ms and ≤ 200 KB. Run by hand; not part of the test suite.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def build(store: Path, runs: int, points: int) -> str:
    import numpy as np

    import nbtrack as nt

    nt.set_store(str(store))
    t0 = time.perf_counter()
    for i in range(runs):
        with nt.start_run(
            name=f"run-{i}",
            experiment=f"exp-{i % 10}",
            params={"lr": 10 ** -(i % 5), "layers": i % 7, "opt": "adam" if i % 2 else "sgd"},
            tags={"team": "vision" if i % 3 else "nlp"},
        ) as r:
            r.log_metrics({"loss": 1.0 / (i + 1), "acc": (i % 100) / 100})
    print(f"built {runs} runs in {time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    values = np.cumsum(np.random.default_rng(0).normal(size=points))
    with nt.start_run(name="long", experiment="long") as r:
        for step, value in enumerate(values.tolist()):
            r.log_metric("loss", value, step=step)
    nt.search_runs(experiment="*", max_results=1)  # flush
    print(f"built a {points}-point history in {time.perf_counter() - t0:.1f} s")
    return r.run_id


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def timed(url: str, headers: dict[str, str] | None = None) -> tuple[float, int, int, str]:
    req = urllib.request.Request(url, headers=headers or {})
    t0 = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            body = r.read()
            return time.perf_counter() - t0, r.status, len(body), r.headers.get("ETag", "")
    except urllib.error.HTTPError as exc:
        return time.perf_counter() - t0, exc.code, 0, ""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--runs", type=int, default=100_000)
    ap.add_argument("--points", type=int, default=10_000_000)
    ap.add_argument("--store", type=Path)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    store = args.store or Path(tempfile.mkdtemp(prefix="nbtrack-rest-bench-")) / "store"
    marker = store / ".bench-long-run"
    if marker.exists():
        long_id = marker.read_text().strip()
    else:
        long_id = build(store, args.runs, args.points)
        marker.write_text(long_id)

    port, token = free_port(), secrets.token_hex(16)
    env = dict(os.environ, NBTRACK_STORE=str(store))
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "jupyter_server", "--ip=127.0.0.1", f"--port={port}",
            f"--IdentityProvider.token={token}", "--allow-root", "--ServerApp.open_browser=False",
        ],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}/nbtrack/api"
    auth = {"Authorization": f"token {token}"}
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                timed(f"{base}/experiments", auth)
                break
            except OSError:
                time.sleep(0.3)
        cases = {
            "GET runs (first page of 100)": f"{base}/runs?max_results=100",
            "GET runs filtered": f"{base}/runs?max_results=100&filter="
            + urllib.request.quote("metrics.loss < 0.001 AND params.opt = 'adam'"),
            "GET runs ordered by a metric": f"{base}/runs?max_results=100&order_by="
            + urllib.request.quote("metrics.acc DESC"),
            "GET history (2000 of the long run)": f"{base}/runs/{long_id}/metrics/loss?max_points=2000",
        }
        for label, url in cases.items():
            first = timed(url, auth)
            times, size, etag = [], first[2], first[3]
            for _ in range(args.repeat):
                t, status, size, etag = timed(url, auth)
                assert status == 200, (label, status)
                times.append(t)
            print(
                f"{label:38s} first {first[0] * 1000:7.1f} ms · median {statistics.median(times) * 1000:7.1f} ms"
                f" · {size / 1024:7.1f} KB"
            )
            if label.startswith("GET runs (first"):
                t, status, _, _ = timed(url, {**auth, "If-None-Match": etag})
                print(f"{'  the same, unchanged (ETag)':38s} {t * 1000:7.1f} ms · HTTP {status}")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)


if __name__ == "__main__":
    main()
