"""Which process of a distributed job this is (rank, world size, local rank).

Read from ``torch.distributed`` when it is already imported and initialized (never imported
here), else ``RANK``/``WORLD_SIZE``/``LOCAL_RANK``, else SLURM's variables, else Lightning's
``rank_zero_only.rank`` (when Lightning is imported), else a single process. ``nbtrack.integrations.distributed`` builds the logging rules on it; ``start_run``
tags a run that samples system metrics with its rank (``rank_tags``).
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
    lightning = _lightning_rank()
    if lightning is not None:
        return lightning
    return RankInfo()


def _lightning_rank() -> RankInfo | None:
    """Lightning's own idea of the global rank (``rank_zero_only.rank``), when Lightning is
    imported and says this is not a single process.

    Lightning's launchers start rank ``k > 0`` with ``LOCAL_RANK``/``NODE_RANK`` but no
    ``RANK``, and its strategies set ``rank_zero_only.rank`` to the global rank before the
    process group exists; so this finds the rank of such a process before ``fit``.
    """
    module = sys.modules.get("lightning_utilities.core.rank_zero")
    rank = getattr(getattr(module, "rank_zero_only", None), "rank", None)
    if not isinstance(rank, int) or isinstance(rank, bool):
        return None
    world = _int_env("WORLD_SIZE") or 1
    if rank == 0 and world == 1:
        return None
    return RankInfo(rank, max(world, rank + 1), _int_env("LOCAL_RANK") or 0, "lightning")


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
