"""Distributed training: which process am I, and who logs.

:func:`rank_info` finds this process's rank, local rank and world size, in this order:

1. ``torch.distributed`` when it is imported and a process group is initialized;
2. the ``RANK`` / ``WORLD_SIZE`` / ``LOCAL_RANK`` variables (``torchrun``, Lightning,
   accelerate and DeepSpeed launchers set them);
3. SLURM: ``SLURM_PROCID`` / ``SLURM_NTASKS`` / ``SLURM_LOCALID``;
4. otherwise a single process: rank 0 of 1.

Lightning's trainer knows its ``global_rank`` too; ``NbtrackLogger`` asks it directly.

The rule: **rank 0 logs** params, metrics and models; other ranks log nothing through
autolog (so one job is one run, not N copies). Every rank may still sample its own system
metrics (``start_run(log_system_metrics=True)`` on that rank, in its own run tagged
``nbtrack.rank``), and ``start_run(group=...)`` — or ``NBTRACK_GROUP`` — puts the runs of
one job in one group (tag ``nbtrack.group``): ``search_runs(filter="tags.nbtrack.group =
'job-17'")`` returns them together.

Workers of a ``multiprocessing`` pool (spawn or fork) log into their parent's run with
``nbtrack.tracking.fluent.attach_run(run_id)`` (exported as ``nbtrack.attach_run``).
"""

from __future__ import annotations

import dataclasses
import os
import sys


@dataclasses.dataclass(frozen=True)
class RankInfo:
    """Where this process sits in a distributed job."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    source: str = "single"

    @property
    def is_main(self) -> bool:
        """True on the process that logs (global rank 0)."""
        return self.rank == 0


def _int_env(*names: str) -> int | None:
    for name in names:
        raw = os.environ.get(name)
        if raw is not None and raw.strip().lstrip("-").isdigit():
            return int(raw)
    return None


def rank_info() -> RankInfo:
    """This process's rank, world size and local rank (see the module docstring)."""
    dist = sys.modules.get("torch.distributed")
    if dist is not None:
        try:
            if dist.is_available() and dist.is_initialized():
                local = _int_env("LOCAL_RANK") or 0
                return RankInfo(dist.get_rank(), dist.get_world_size(), local, "torch.distributed")
        # A half-initialized backend must not stop training: fall back to the variables.
        except Exception:  # noqa: BLE001
            pass
    rank, world = _int_env("RANK"), _int_env("WORLD_SIZE")
    if rank is not None:
        return RankInfo(rank, world or 1, _int_env("LOCAL_RANK") or 0, "env")
    rank, world = _int_env("SLURM_PROCID"), _int_env("SLURM_NTASKS")
    if rank is not None:
        return RankInfo(rank, world or 1, _int_env("SLURM_LOCALID") or 0, "slurm")
    return RankInfo()


def should_log() -> bool:
    """True when this process logs params and metrics (rank 0)."""
    return rank_info().is_main


def group_from_env() -> str | None:
    """The job's group id from ``NBTRACK_GROUP``, else SLURM's job id (``slurm_job_id-N``)."""
    for name in ("NBTRACK_GROUP", "SLURM_JOB_ID"):
        value = os.environ.get(name)
        if value:
            return value if name == "NBTRACK_GROUP" else f"{name.lower()}-{value}"
    return None


def rank_tags(info: RankInfo | None = None) -> dict[str, str]:
    """Tags naming this process's place in the job (empty for a single process)."""
    info = info or rank_info()
    if info.source == "single":
        return {}
    return {
        "nbtrack.rank": str(info.rank),
        "nbtrack.local_rank": str(info.local_rank),
        "nbtrack.world_size": str(info.world_size),
    }
