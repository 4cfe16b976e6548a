"""Wall time of one ``nbtrack`` command in a fresh process (issue 11: under 0.5 s on a quiet box).

Run by hand: ``python benchmarks/cli_startup.py [--runs 20] [--reps 5]``. Builds a small store
(20 runs × 2 metrics × 20 steps, two params) in a temporary folder, then times ``nbtrack runs
list`` (table), ``runs list --json`` and ``experiments``, each ``--reps`` times, and prints the
median and best wall time with the 1-minute load average (the numbers mean little on a busy
machine: compare them only with the load).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

POPULATE = """
import sys
import nbtrack as nt
nt.set_store(sys.argv[1])
for i in range(int(sys.argv[2])):
    with nt.start_run(name=f"r{i}", experiment="demo", params={"lr": i / 10, "model": "m"}):
        for step in range(20):
            nt.log_metric("loss", 1 / (i + step + 1))
            nt.log_metric("acc", i * 0.1 + step)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")]))
    )
    with tempfile.TemporaryDirectory() as tmp:
        store = os.path.join(tmp, "store")
        subprocess.run([sys.executable, "-c", POPULATE, store, str(args.runs)], env=env, check=True)
        for command in (["runs", "list"], ["runs", "list", "--json"], ["experiments"]):
            times = []
            for _ in range(args.reps):
                start = time.perf_counter()
                subprocess.run(
                    [sys.executable, "-m", "nbtrack", "--store", store, *command],
                    env=env,
                    check=True,
                    stdout=subprocess.DEVNULL,
                )
                times.append(time.perf_counter() - start)
            load = os.getloadavg()[0]
            print(
                f"nbtrack {' '.join(command):<20} median {statistics.median(times):.3f} s  "
                f"best {min(times):.3f} s  ({args.reps} runs, load {load:.2f})"
            )


if __name__ == "__main__":
    main()
