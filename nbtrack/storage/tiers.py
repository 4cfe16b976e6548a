"""Size tiers: which files of a partition compaction merges next (a pure plan, no I/O).

The rule (bounded write amplification; docs/format.md's on-disk contract is unchanged):

1. **Tiers.** A file of ``size`` bytes is in tier ``floor(log4(size / 64 KiB))``, at least
   0: tier 0 holds files under 256 KiB (the flush segments), tier 1 files of 256 KiB–1 MiB,
   tier 2 1–4 MiB, tier 3 4–16 MiB, and so on. Files of ``TARGET_BYTES`` (128 MiB) or more
   are never merged. (A base of 64 KiB keeps the rewrites of tier 0 few: the files merged
   out of a few dozen flushes already move up a tier.)
2. **Windows.** The partition's visible files are put in arrival order (the order the
   latest-metric tie-break uses). For a tier ``t``, a *window* is a maximal run of
   consecutive files whose tier is at most ``t``. A merge only ever takes consecutive files
   of one window, so the merged file's rows stay in arrival order and its position (its
   newest flushed file) is where all of its rows belong: no query result changes.
3. **When.** Tiers are tried from 0 up; the first qualifying merge is planned (compaction
   then runs it and plans again, so merges cascade). A window of tier ``t`` qualifies when it
   holds at least ``min_files`` files of tier ``t`` for tier 0 (``NBTRACK_COMPACT_FILES``
   for automatic compaction, 2 for ``nbtrack compact``), or ``min(min_files, 4)`` for
   tiers 1 and up. All its files are merged, smaller tiers' ones with them.
4. **Budget.** Automatic compaction (inside the training process) merges at most
   ``AUTO_BUDGET_BYTES`` (16 MiB) of input files at once: from an over-budget tier-0 window
   it merges the oldest files that fit (at least two); for tiers 1 and up it looks for a run
   of the window that fits and still holds enough tier-``t`` files, else leaves the tier to
   ``nbtrack compact``, which has no budget (its merges stream, so memory stays bounded).

Why amplification stays bounded: a merge of ``k >= 4`` files of tier ``t`` (each at least
``64 KiB * 4**t``) writes a file of tier ``t + 1`` or more (compression aside), so every
rewrite moves a row up a tier and a row is rewritten about ``log4(partition size / 64 KiB)``
times; a big file is only rewritten together with three more of its size, never for a few
new points (these wait in tier 0 until ``NBTRACK_COMPACT_FILES`` of them pile up).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

BASE_BYTES = 64 * 1024
FANOUT = 4
TARGET_BYTES = 128 * 1024 * 1024  # files of this size or more are left alone
AUTO_BUDGET_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class Candidate:
    """A visible file as the planner sees it."""

    name: str
    size: int
    position: str  # arrival position (``views.arrival_position``)


def tier_of(size: int) -> int:
    """The size tier of a file of ``size`` bytes (0 below ``BASE_BYTES * FANOUT``)."""
    tier = 0
    while size >= BASE_BYTES * FANOUT ** (tier + 1):
        tier += 1
    return tier


def threshold(tier: int, min_files: int) -> int:
    """How many files of ``tier`` a window needs before it is merged."""
    return min_files if tier == 0 else max(2, min(min_files, FANOUT))


def plan_merge(
    files: Sequence[Candidate], *, min_files: int, budget: int | None
) -> list[Candidate] | None:
    """The next files to merge (consecutive in arrival order), or None when none qualify.

    Args:
        files: The partition's visible files, any order.
        min_files: Files of tier 0 that trigger a merge (see the module docstring).
        budget: Largest total input size of one merge in bytes; None for no limit.
    """
    ordered = sorted(files, key=lambda f: (f.position, f.name))
    tiers = [None if f.size >= TARGET_BYTES else tier_of(f.size) for f in ordered]
    top = max((t for t in tiers if t is not None), default=-1)
    for tier in range(top + 1):
        need = threshold(tier, min_files)
        for window in _windows(ordered, tiers, tier):
            chosen = _fit(window, tier, need, budget)
            if chosen is not None:
                return chosen
    return None


def _windows(
    ordered: list[Candidate], tiers: list[int | None], tier: int
) -> list[list[tuple[Candidate, int]]]:
    """Maximal runs of consecutive files whose tier is at most ``tier``."""
    out: list[list[tuple[Candidate, int]]] = []
    run: list[tuple[Candidate, int]] = []
    for f, t in zip(ordered, tiers, strict=True):
        if t is not None and t <= tier:
            run.append((f, t))
        elif run:
            out.append(run)
            run = []
    if run:
        out.append(run)
    return out


def _fit(
    window: list[tuple[Candidate, int]], tier: int, need: int, budget: int | None
) -> list[Candidate] | None:
    """The files of ``window`` to merge for ``tier``, or None."""
    if sum(1 for _, t in window if t == tier) < need:
        return None
    if budget is None or sum(f.size for f, _ in window) <= budget:
        return [f for f, _ in window]
    if tier == 0:
        # Flush segments waiting in an over-budget window: merge the oldest that fit.
        taken: list[Candidate] = []
        total = 0
        for f, _ in window:
            if total + f.size > budget:
                break
            taken.append(f)
            total += f.size
        return taken if len(taken) >= 2 else None
    # A run of consecutive files within the budget that still holds `need` files of `tier`.
    for start in range(len(window)):
        total = count = 0
        for end in range(start, len(window)):
            f, t = window[end]
            if total + f.size > budget:
                break
            total += f.size
            count += t == tier
            if count >= need:
                # Extend over the lower-tier files that follow while they fit.
                stop = end + 1
                while (
                    stop < len(window)
                    and window[stop][1] < tier
                    and (total + window[stop][0].size <= budget)
                ):
                    total += window[stop][0].size
                    stop += 1
                return [g for g, _ in window[start:stop]]
    return None
