"""Hyperparameter sweeps on distributed engines, every worker logging its trial to one store.

The store is on S3 (moto); workers are separate processes (Dask's LocalCluster, Ray's local
cluster) that find the store and credentials in the environment they inherit.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import nbtrack as nt


def trial(uri: str, lr: float, depth: int) -> str:
    """One trial as a user would write it: a run with params and a metric curve."""
    import nbtrack as nt

    nt.set_store(uri)
    with nt.start_run(experiment="sweep", params={"lr": lr, "depth": depth}) as run:
        for epoch in range(5):
            nt.log_metric("val_loss", lr * depth / (epoch + 1), step=epoch)
    return run.id


GRID = [(lr, depth) for lr in (0.1, 0.01) for depth in (2, 4, 8)]


def _check(uri: str, ids: list[str]) -> None:
    nt.set_store(uri)
    df = nt.search_runs(experiment="sweep")
    assert sorted(df["run_id"]) == sorted(ids)
    assert set(df["status"]) == {"FINISHED"}
    got = {(float(r["params.lr"]), int(r["params.depth"])): r["metrics.val_loss"]
           for _, r in df.iterrows()}
    assert got == {(lr, d): lr * d / 5 for lr, d in GRID}
    n = nt.sql("SELECT count(*) AS n FROM metrics")["n"][0]
    assert n == 5 * len(GRID)


@pytest.mark.slow
def test_dask_sweep_logs_every_trial(s3_store: str) -> None:
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster, distributed.Client(cluster) as client:
        futures = [client.submit(trial, s3_store, lr, depth, pure=False) for lr, depth in GRID]
        ids = client.gather(futures)
    _check(s3_store, ids)


@pytest.mark.slow
def test_ray_sweep_logs_every_trial(s3_store: str) -> None:
    ray = pytest.importorskip("ray")
    # Workers unpickle ``trial`` by its module (remote.test_sweeps): give them tests/.
    tests_dir = str(Path(__file__).resolve().parents[1])
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": tests_dir}})
    try:
        remote_trial = ray.remote(trial)
        ids = ray.get([remote_trial.remote(s3_store, lr, depth) for lr, depth in GRID])
    finally:
        ray.shutdown()
    _check(s3_store, ids)
