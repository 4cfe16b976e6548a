"""An ``nbtrack import`` process killed with SIGKILL in the middle of a run, then run again,
ends with exactly the source's runs: no point doubled or lost (issue 13).

The import runs as the real CLI in a child process. The child kills itself with SIGKILL at a
chosen store write: right after the k-th segment became visible (a run's points can be on
disk while its run record is not), or between a segment's temporary file and its rename.
Each attempt gets further; the last one is not killed. Then every run's full metric history
(multiset of key, step, timestamp and value, NaN included), params, tags, inputs and
artifacts are compared with the MLflow source read by MLflow's own client.
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
from collections import Counter

import pytest

import nbtrack as nt
import nbtrack.mlflow as ntmlflow
from nbtrack.tracking import records

real = pytest.importorskip("mlflow")
from mlflow import MlflowClient as RealClient  # noqa: E402
from mlflow.entities import Metric, Param, RunTag  # noqa: E402

CHILD = r"""
import os, signal, sys
from nbtrack.storage import segments

src, store, kill_at, where = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
written = {"n": 0}
write = segments.write_segment


def die(*_args):
    os.kill(os.getpid(), signal.SIGKILL)


def write_then_maybe_die(fs, path, data):
    written["n"] += 1
    if written["n"] == kill_at and where == "inside":
        os.replace = die  # the temporary file is written, the rename never happens
    write(fs, path, data)
    if written["n"] == kill_at:
        die()


if kill_at:
    segments.write_segment = write_then_maybe_die
from nbtrack.cli import main

sys.exit(main(["--store", store, "import", src, "--no-progress"]))
"""

#: (segment write at which the child dies, where); the last attempt is not killed.
KILLS = [(7, "after"), (3, "inside"), (9, "after"), (12, "inside"), (5, "after"), (8, "after")]


def _source(path) -> list[str]:
    """Four runs: big histories (NaN, ±inf, the same point twice), params, tags, an input
    and an artifact each."""
    import pandas as pd

    uri = f"sqlite:///{path}"
    c = RealClient(uri)
    exp = c.create_experiment("killed")
    ids = []
    for i in range(4):
        r = c.create_run(exp, run_name=f"r{i}", start_time=1_700_000_000_000 + i)
        rid = r.info.run_id
        points = [Metric("loss", 1.0 / (s + 1), 1_700_000_000_000 + s, s) for s in range(6000)] + [
            Metric("acc", s / 6000, 1_700_000_000_000 + s, s) for s in range(6000)
        ]
        points += [
            Metric("loss", 0.5, 1_700_000_000_000, 3),
            Metric("loss", 0.5, 1_700_000_000_000, 3),  # the same point, twice
            Metric("odd", math.nan, 1_700_000_000_001, 0),
            Metric("odd", math.inf, 1_700_000_000_002, 1),
            Metric("odd", -math.inf, 1_700_000_000_003, 2),
        ]
        c.log_batch(
            rid,
            metrics=points,
            params=[Param("i", str(i)), Param("lr", "0.1")],
            tags=[RunTag("team", "vision"), RunTag("mlflow.note.content", f"note {i}")],
        )
        frame = pd.DataFrame({"a": [i, 1, 2]})
        real.set_tracking_uri(uri)
        try:
            with real.start_run(run_id=rid):
                real.log_input(real.data.from_pandas(frame, name=f"d{i}"), context="training")
                real.log_text(f"text {i}", "notes/t.txt")
        finally:
            real.set_tracking_uri("")
        c.set_terminated(rid, "FINISHED", end_time=1_700_000_100_000)
        ids.append(rid)
    return ids


def _points(key_points) -> Counter:
    return Counter((k, s, t, "nan" if math.isnan(v) else v) for k, s, t, v in key_points)


def test_an_import_killed_mid_run_resumes_exactly(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # MLflow keeps a SQLite store's artifacts under ./mlruns
    ids = _source(tmp_path / "src.db")
    src = f"sqlite:///{tmp_path}/src.db"
    store = tmp_path / "nb"
    mc = RealClient(src)
    want = {
        rid: _points(
            (m.key, m.step, m.timestamp, m.value)
            for key in mc.get_run(rid).data.metrics
            for m in mc.get_metric_history(rid, key)
        )
        for rid in ids
    }
    nt.set_store(str(store)).close()  # the CLI imports into an existing store
    half_written_seen = 0
    for kill_at, where in [*KILLS, (0, "")]:
        done = subprocess.run(
            [sys.executable, "-c", CHILD, src, str(store), str(kill_at), where],
            capture_output=True,
            text=True,
            timeout=600,
            cwd=tmp_path,
            env={**os.environ, "NBTRACK_STORE": str(store)},
        )
        if kill_at:
            if done.returncode == 0:
                break  # everything was imported before this kill point
            assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]
        else:
            assert done.returncode == 0, done.stderr[-2000:]
        st = nt.set_store(str(store))
        present = records.existing_run_ids(st, ids)
        half_written_seen += bool(records.runs_with_points(st, ids) - set(present))
        st.close()
    st = nt.set_store(str(store))
    for rid in ids:
        stored = records.stored_points(st, rid)
        assert _points((k, s, t, v) for k, s, t, v in stored) == want[rid], rid
        assert len(stored) == sum(want[rid].values())
        got, src_run = ntmlflow.get_run(rid), mc.get_run(rid)
        assert got.data.params == src_run.data.params
        assert got.data.tags["team"] == "vision"
        assert got.data.tags["mlflow.note.content"] == src_run.data.tags["mlflow.note.content"]
        assert [d.dataset.digest for d in got.inputs.dataset_inputs] == [
            d.dataset.digest for d in src_run.inputs.dataset_inputs
        ]
        assert nt.read_artifact(rid, "notes/t.txt") == f"text {ids.index(rid)}".encode()
    assert half_written_seen, "no kill landed between a run's points and its run record"
    # nothing left to do: a further import adds nothing
    again = subprocess.run(
        [sys.executable, "-c", CHILD, src, str(store), "0", ""],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert again.returncode == 0 and "imported 0 runs" in again.stdout, again.stdout
