"""Wall time of one ``nbtrack`` command in a fresh process (issue 11: under 0.5 s on a quiet box).

Run by hand: ``python benchmarks/cli_startup.py [--runs 20] [--reps 5] [--store PATH]``. Builds
a small store (20 runs × 2 metrics × 20 steps, two params) in a temporary folder, or uses
``--store`` (e.g. the demo store ``make demo-headless`` fills, ``./.nbtrack``), then times
``nbtrack runs list`` (table), ``runs list --json`` and ``experiments``, each ``--reps`` times,
and prints the median and best wall time, the median CPU time of the process (user + system:
what the wall time would be with a core to itself) and the 1-minute load average (wall times
mean little on a busy machine: compare them only with the load).
"""

from __future__ import annotations

import argparse
import os
import resource
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
    parser.add_argument("--store", help="time this existing store instead of building one")
    args = parser.parse_args()
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")]))
    )
    with tempfile.TemporaryDirectory() as tmp:
        store = args.store or os.path.join(tmp, "store")
        if not args.store:
            subprocess.run(
                [sys.executable, "-c", POPULATE, store, str(args.runs)], env=env, check=True
            )
        for command in (["runs", "list"], ["runs", "list", "--json"], ["experiments"]):
            times, cpu = [], []
            for _ in range(args.reps):
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                start = time.perf_counter()
                subprocess.run(
                    [sys.executable, "-m", "nbtrack", "--store", store, *command],
                    env=env,
                    check=True,
                    stdout=subprocess.DEVNULL,
                )
                times.append(time.perf_counter() - start)
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpu.append(
                    after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
                )
            load = os.getloadavg()[0]
            print(
                f"nbtrack {' '.join(command):<20} median {statistics.median(times):.3f} s  "
                f"best {min(times):.3f} s  cpu {statistics.median(cpu):.3f} s  "
                f"({args.reps} runs, load {load:.2f})"
            )


if __name__ == "__main__":
    main()
