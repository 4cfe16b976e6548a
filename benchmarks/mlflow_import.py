"""Import speed of an MLflow SQLite store into nbtrack (issue 13 target: 1,000 runs /
1,000,000 metric points in at most 60 s, with a progress bar).

Run by hand (needs real MLflow, e.g. ``pip install -e '.[dev]'``)::

    python benchmarks/mlflow_import.py [--runs 1000] [--points 1000] [--keep DIR]

The MLflow database is built with MLflow's own schema (SqlAlchemyStore) and filled with
plain SQL inserts (building it through MLflow's client would take far longer than the import).
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import tempfile
import time
import uuid


def build(db: str, runs: int, points: int) -> None:
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    store = SqlAlchemyStore(f"sqlite:///{db}", tempfile.mkdtemp())
    store.engine.dispose()
    con = sqlite3.connect(db)
    t0 = 1_700_000_000_000
    with con:
        for i in range(runs):
            rid = uuid.uuid4().hex
            con.execute(
                "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, "
                "user_id, status, start_time, end_time, source_version, lifecycle_stage, "
                "artifact_uri, experiment_id) VALUES (?, ?, 'LOCAL', '', '', 'bench', "
                "'FINISHED', ?, ?, '', 'active', '', 0)",
                (rid, f"run-{i}", t0 + i * 1000, t0 + i * 1000 + 999),
            )
            con.executemany(
                "INSERT INTO params (key, value, run_uuid) VALUES (?, ?, ?)",
                [("lr", str(0.001 * (i % 10)), rid), ("layers", str(i % 5), rid)],
            )
            con.executemany(
                "INSERT INTO tags (key, value, run_uuid) VALUES (?, ?, ?)",
                [("mlflow.runName", f"run-{i}", rid), ("team", "a" if i % 2 else "b", rid)],
            )
            half = points // 2
            rows = [("loss", 1.0 / (s + 1), t0 + s, rid, s, False) for s in range(half)]
            rows += [("acc", s / points, t0 + s, rid, s, False) for s in range(points - half)]
            con.executemany(
                "INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) "
                "VALUES (?, ?, ?, ?, ?, ?)", rows,
            )
            con.executemany(
                "INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [("loss", rows[half - 1][1], rows[half - 1][2], half - 1, False, rid),
                 ("acc", rows[-1][1], rows[-1][2], points - half - 1, False, rid)],
            )
    con.close()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--points", type=int, default=1000, help="metric points per run")
    ap.add_argument("--keep", help="folder to keep the stores in")
    args = ap.parse_args()
    tmp = args.keep or tempfile.mkdtemp(prefix="nbtrack-import-bench-")
    os.makedirs(tmp, exist_ok=True)
    db = os.path.join(tmp, "mlflow.db")
    if not os.path.exists(db):
        t = time.perf_counter()
        build(db, args.runs, args.points)
        print(f"built the MLflow store: {args.runs} runs x {args.points} points in "
              f"{time.perf_counter() - t:.1f} s", file=sys.stderr)
    import nbtrack as nt
    from nbtrack.interop import import_mlflow

    store = nt.set_store(os.path.join(tmp, "nbtrack"))
    t = time.perf_counter()
    stats = import_mlflow(db, store=store, progress=True)
    took = time.perf_counter() - t
    n = int(nt.sql("SELECT count(*) AS n FROM metrics")["n"][0])
    print(f"imported {stats.runs} runs, {stats.points} points in {took:.1f} s "
          f"({stats.points / took:,.0f} points/s); metrics view holds {n} points")
    t = time.perf_counter()
    again = import_mlflow(db, store=store)
    print(f"second import (idempotent): {again.runs} runs added, {again.skipped} skipped, "
          f"{time.perf_counter() - t:.1f} s")
    return 0 if took <= 60 else 1


if __name__ == "__main__":
    raise SystemExit(main())
