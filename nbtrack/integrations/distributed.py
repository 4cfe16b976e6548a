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

import os

from nbtrack.tracking.ranks import RankInfo, rank_info, rank_tags  # noqa: F401 (re-exported)


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


