"""A real training process logs while automatic compaction merges megabytes beside it.

Issue 10, item 3: compaction never delays a flush by more than one interval, the heartbeat
keeps its own timer (a reader never sees the live run as KILLED) and the training process's
peak RSS grows by at most 50 MB. The child records its own flushes, heartbeats, compaction
rounds and VmHWM (``_logging_child.py``); assertions are on those records and on states,
with generous slack for a loaded 2-core CI machine.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import nbtrack as nt
from nbtrack.storage import tiers
from tests.conftest import python_env

CHILD = Path(__file__).with_name("_logging_child.py")
FLUSH_INTERVAL = 0.1
HEARTBEAT = 0.25
SLACK_S = 2.0  # on top of one interval: scheduling noise on a loaded machine
RSS_GROWTH_MB = 50


def _flush_points(store: Any, run: nt.Run, points: int, seed: int) -> int:
    values = np.random.default_rng(seed).random(points).tolist()
    log = run.log_metric
    for step, v in enumerate(values):
        log("loss", v, step=step)
    store.flush()
    return points


def _build_partition(store_path: Path) -> int:
    """~4.5M points in one partition, laid out so that the child's first flushes start a
    cascade of merges: tier 0 -> tier 1 -> a ~12 MB merge of tier 2 (under the 16 MiB
    automatic budget); the biggest file (tier 3+) must never be merged."""
    store = nt.set_store(str(store_path))
    total = 0
    with nt.start_run(name="history") as run:
        total += _flush_points(store, run, 3_000_000, 1)  # ~21 MB: tier 3+
        for seed in range(3):
            total += _flush_points(store, run, 400_000, 10 + seed)  # ~3 MB: tier 2
        for seed in range(3):
            total += _flush_points(store, run, 100_000, 20 + seed)  # ~700 KB: tier 1
        for seed in range(3):
            total += _flush_points(store, run, 15_000, 30 + seed)  # ~100 KB: tier 0
    (part,) = store.snapshot().partitions["metrics"]
    layout = sorted(tiers.tier_of(f.size) for f in part.visible)
    assert layout[:9] == [0, 0, 0, 1, 1, 1, 2, 2, 2], layout
    assert layout[9] >= 3, layout
    return total


def _gaps(times: list[float]) -> list[float]:
    return [b - a for a, b in itertools.pairwise(times)]


@pytest.mark.slow
def test_compaction_beside_a_logging_process(
    store_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NBTRACK_AUTO_COMPACT", "0")  # this process builds the history only
    monkeypatch.setenv("NBTRACK_FLUSH_POINTS", "10000000")
    monkeypatch.setenv("NBTRACK_FLUSH_INTERVAL", "3600")  # one segment per explicit flush
    before = _build_partition(store_path)
    (biggest,) = [
        f.name
        for p in nt.set_store(str(store_path)).snapshot().partitions["metrics"]
        for f in p.visible
        if tiers.tier_of(f.size) >= 3
    ]
    nt.set_store(str(tmp_path / "elsewhere"))

    out = tmp_path / "child.json"
    env = python_env(store_path)
    env.update(
        NBTRACK_FLUSH_INTERVAL=str(FLUSH_INTERVAL),
        NBTRACK_HEARTBEAT=str(HEARTBEAT),
        NBTRACK_DEAD_AFTER="4",
        NBTRACK_COMPACT_FILES="4",
        NBTRACK_AUTO_COMPACT="1",
    )
    env.pop("NBTRACK_FLUSH_POINTS", None)
    child = subprocess.Popen(
        [sys.executable, str(CHILD), str(out), str(8 * 1024 * 1024)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        run_id = child.stdout.readline().strip()
        assert run_id, child.stderr.read() if child.stderr else ""
        # A reader elsewhere sees the run alive throughout (dead after 4 s of no heartbeat).
        reader = nt.set_store(str(store_path))
        ending = Path(str(out) + ".ending")
        statuses = []
        while child.poll() is None and not ending.exists():
            status = nt.get_run(run_id, store=reader).status
            if not ending.exists():  # the whole read happened while the run was live
                statuses.append(status)
            time.sleep(0.5)
        _, err = child.communicate(timeout=180)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 0, err
    assert statuses
    assert set(statuses) == {"RUNNING"}, statuses
    rec = json.loads(out.read_text())

    # Compaction really ran beside the logging loop, and merged megabytes.
    rounds = rec["rounds"]
    assert rec["merged_bytes"] >= 8 * 1024 * 1024, rounds
    # No flush waited for compaction: the flusher kept its interval throughout.
    flushes = rec["flushes"]
    starts = [s for s, _ in flushes]
    assert len(starts) >= 10
    worst = max(_gaps(starts))
    assert worst <= FLUSH_INTERVAL + SLACK_S, (worst, flushes, rounds)
    longest = max(rounds, key=lambda r: r["end"] - r["start"])
    # A round long enough for several flushes had flushes finish while it ran.
    if longest["end"] - longest["start"] > 10 * FLUSH_INTERVAL + 1.0:
        during = [e for _, e in flushes if longest["start"] < e < longest["end"]]
        assert len(during) >= 2, (longest, flushes)
    # The heartbeat kept its own timer.
    beats = [rec["began"], *rec["beats"], rec["ended"]]
    assert max(_gaps(beats)) <= HEARTBEAT + FLUSH_INTERVAL + SLACK_S, rec["beats"]
    # The training process's peak RSS grew by at most 50 MB over its pre-compaction peak.
    assert rec["baseline_mb"] is not None
    growth = rec["peak_mb"] - rec["baseline_mb"]
    assert growth <= RSS_GROWTH_MB, (
        growth,
        rec["baseline_mb"],
        rec["peak_mb"],
        [(r["end"] - r["start"], r["peak_mb"], r["stats"]) for r in rounds if r["stats"]],
    )

    # Nothing lost, nothing counted twice, and the biggest file was never rewritten.
    store = nt.set_store(str(store_path))
    total = nt.sql("SELECT count(*) AS n FROM metrics")["n"][0]
    assert int(total) == before + rec["logged"]
    visible = {f.name for p in store.snapshot().partitions["metrics"] for f in p.visible}
    assert biggest in visible
