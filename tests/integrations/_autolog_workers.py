"""Functions that spawned worker processes run (importable by name, as spawn needs)."""

from __future__ import annotations

import os


def log_into_parent(run_id: str, worker: int, points: int) -> int:
    """Attach to the parent's run and log ``points`` values of ``worker<i>/value``."""
    import nbtrack as nt

    run = nt.attach_run(run_id)
    for step in range(points):
        run.log_metric(f"worker{worker}/value", worker * 100 + step, step=step)
    run.log_param(f"worker{worker}.pid", os.getpid())
    run.end()  # makes this worker's points durable; never ends the parent's run
    return os.getpid()


def ddp_rank_fit(rank: int, world_size: int, init_file: str, store: str) -> None:
    """One rank of a 2-process gloo job: autolog a scikit-learn fit."""
    import torch.distributed as dist

    os.environ["NBTRACK_STORE"] = store
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world_size)
    try:
        import nbtrack as nt
        from nbtrack.integrations.distributed import rank_info

        info = rank_info()
        assert (info.rank, info.world_size, info.source) == (rank, world_size, "torch.distributed")
        nt.autolog("sklearn", log_models=False)
        from sklearn.linear_model import LinearRegression

        LinearRegression().fit([[0.0], [1.0], [2.0]], [0.0, 1.0, 2.0])
        dist.barrier()
    finally:
        dist.destroy_process_group()
