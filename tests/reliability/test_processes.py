"""Runs made in multiprocessing workers, and processes forked from one that used nbtrack.

``with nt.start_run(): ...`` inside a worker is the common way to track a parameter sweep.
The run has ended when the block exits, so its records must survive however the worker
process goes away afterwards: a normal exit, ``os._exit`` at the end of a fork-started
``multiprocessing`` child, or the SIGTERM that ``Pool.__exit__`` sends. And a process that
has read the store must still be able to fork.
"""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

import pytest
from _child import fork_noop, pool_work
from _reliability import Child

import nbtrack as nt

TIMEOUT = 120


def _check(ids: list[str]) -> None:
    runs = nt.search_runs(experiment="*")
    assert sorted(runs["run_id"]) == sorted(ids)
    assert set(runs["status"]) == {"FINISHED"}
    counts = nt.sql("SELECT run_id, count(*) AS n FROM metrics GROUP BY run_id")
    assert set(counts["n"]) == {100}


def test_runs_ended_in_spawned_pool_workers_are_stored(store_path: Path) -> None:
    nt.set_store(str(store_path))
    pool = mp.get_context("spawn").Pool(2)
    try:
        ids = pool.map_async(pool_work, range(2)).get(timeout=TIMEOUT)
        pool.close()
        pool.join()  # workers leave by their normal exit path (atexit flushes)
    finally:
        pool.terminate()
    _check(ids)


@pytest.mark.parametrize("how", ["os_exit", "sigterm", "sigkill"])
def test_a_run_is_durable_once_it_has_ended_however_the_process_leaves(
    store_path: Path, how: str
) -> None:
    # Each rename in the child takes 2 s, so if ending a run does not wait for its
    # records, the process is gone before the background flush completes: deterministic.
    child = Child(store_path, "end_then_leave", how)
    run_id = child.expect("ended").split()[1]
    child.wait(timeout=TIMEOUT)
    nt.set_store(str(store_path))
    _check([run_id])


def test_a_process_that_has_read_the_store_can_fork(store_path: Path) -> None:
    nt.set_store(str(store_path))
    with nt.start_run() as run:
        run.log_metric("x", 1.0)
    assert len(nt.search_runs()) == 1  # the parent now holds a DuckDB connection
    child = mp.get_context("fork").Process(target=fork_noop)
    child.start()
    child.join(TIMEOUT)
    if child.is_alive():
        child.kill()
    assert child.exitcode == 0
