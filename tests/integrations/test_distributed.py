"""Distributed training: rank detection, rank 0 logs, groups, workers logging into one run."""

from __future__ import annotations

import multiprocessing as mp

import pytest

import nbtrack as nt
from integrations._autolog_helpers import only_run
from nbtrack.errors import RunFinishedError, RunNotFoundError
from nbtrack.integrations.distributed import RankInfo, rank_info, rank_tags

RANK_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID",
             "SLURM_JOB_ID", "NBTRACK_GROUP")


@pytest.fixture(autouse=True)
def _no_rank_env(monkeypatch):
    for name in RANK_VARS:
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        pytest.param({}, RankInfo(0, 1, 0, "single"), id="single-process"),
        pytest.param({"RANK": "3", "WORLD_SIZE": "8", "LOCAL_RANK": "1"}, RankInfo(3, 8, 1, "env"), id="torchrun"),
        pytest.param({"SLURM_PROCID": "2", "SLURM_NTASKS": "4", "SLURM_LOCALID": "0"}, RankInfo(2, 4, 0, "slurm"), id="slurm"),
        pytest.param({"RANK": "1", "WORLD_SIZE": "2", "SLURM_PROCID": "5"}, RankInfo(1, 2, 0, "env"), id="env-before-slurm"),
        pytest.param({"RANK": "x"}, RankInfo(0, 1, 0, "single"), id="garbage-ignored"),
    ],
)
def test_rank_info_from_the_environment(monkeypatch, env, expected):
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert rank_info() == expected


def test_rank_info_from_lightning_before_the_process_group_exists(monkeypatch):
    """Lightning starts rank k > 0 with LOCAL_RANK/WORLD_SIZE but no RANK and sets
    ``rank_zero_only.rank``: that rank is found; a plain Lightning import is one process."""
    rank_zero = pytest.importorskip("lightning_utilities.core.rank_zero")
    monkeypatch.setattr(rank_zero.rank_zero_only, "rank", 0, raising=False)
    assert rank_info() == RankInfo(0, 1, 0, "single")
    monkeypatch.setattr(rank_zero.rank_zero_only, "rank", 1)
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert rank_info() == RankInfo(1, 2, 1, "lightning")
    monkeypatch.setenv("SLURM_PROCID", "3")  # SLURM's variables come first
    assert rank_info().source == "slurm"


def test_only_rank_0_logs_with_autolog(store, monkeypatch):
    from sklearn.linear_model import LinearRegression

    nt.autolog("sklearn", log_models=False)
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    LinearRegression().fit([[0.0], [1.0]], [0.0, 1.0])
    assert nt.search_runs().empty
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("NBTRACK_GROUP", "job-17")
    LinearRegression().fit([[0.0], [1.0]], [0.0, 1.0])
    run = only_run()
    assert run.tags["nbtrack.rank"] == "0"
    assert run.tags["nbtrack.world_size"] == "2"
    assert run.tags["nbtrack.group"] == "job-17"


def test_rank_tags_are_empty_for_a_single_process():
    assert rank_tags() == {}


def test_group_makes_runs_of_one_job_findable_together(store):
    for i in range(3):
        with nt.start_run(name=f"rank{i}", group="job-42"):
            pass
    with nt.start_run(name="other"):
        pass
    df = nt.search_runs(filter="tags.nbtrack.group = 'job-42'")
    assert sorted(df.name) == ["rank0", "rank1", "rank2"]


def test_slurm_job_id_is_the_default_group_of_autolog_runs(store, monkeypatch):
    from sklearn.linear_model import LinearRegression

    monkeypatch.setenv("SLURM_JOB_ID", "991")
    nt.autolog("sklearn", log_models=False)
    LinearRegression().fit([[0.0], [1.0]], [0.0, 1.0])
    assert only_run().tags["nbtrack.group"] == "slurm_job_id-991"


@pytest.mark.parametrize("pool_module", ["multiprocessing", "torch.multiprocessing"])
def test_spawn_pool_workers_log_into_one_parent_run(store, pool_module):
    from integrations._autolog_workers import log_into_parent

    if pool_module == "multiprocessing":
        ctx = mp.get_context("spawn")
    else:
        torch_mp = pytest.importorskip("torch.multiprocessing", reason="torch is not installed")
        ctx = torch_mp.get_context("spawn")
    with nt.start_run(name="parent") as run:
        with ctx.Pool(2) as pool:
            pids = pool.starmap(log_into_parent, [(run.run_id, w, 20) for w in range(4)])
        assert nt.get_run(run.run_id).status == "RUNNING"  # workers never end it
        nt.log_metric("parent/value", 1.0)
    got = nt.get_run(run.run_id)
    assert got.status == "FINISHED"
    for w in range(4):
        h = nt.get_metric_history(run.run_id, f"worker{w}/value").sort_values("step")
        assert h.step.tolist() == list(range(20))
        assert h.value.tolist() == [w * 100 + s for s in range(20)]
        assert got.params[f"worker{w}.pid"] == str(pids[w])
    assert got.metrics["parent/value"] == 1.0
    assert len(nt.search_runs()) == 1


def test_attach_run_refuses_unknown_and_ended_runs(store):
    with pytest.raises(RunNotFoundError):
        nt.attach_run("0" * 32)
    with nt.start_run() as run:
        pass
    with pytest.raises(RunFinishedError, match="RUNNING"):
        nt.attach_run(run.run_id)


def test_attach_run_in_the_owner_process_returns_the_owner_s_handle(store):
    with nt.start_run() as run:
        assert nt.attach_run(run.run_id) is run


def test_torch_distributed_ranks_only_rank_0_logs(store, store_path, tmp_path):
    pytest.importorskip("torch", reason="torch is not installed")
    import torch.multiprocessing as torch_mp

    from integrations._autolog_workers import ddp_rank_fit

    torch_mp.spawn(
        ddp_rank_fit, args=(2, str(tmp_path / "init"), str(store_path)), nprocs=2, join=True
    )
    run = only_run()  # two ranks trained; one run
    assert run.tags["nbtrack.autolog"] == "sklearn"
    assert run.tags["nbtrack.rank"] == "0"
    assert run.tags["nbtrack.world_size"] == "2"
