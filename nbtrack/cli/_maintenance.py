"""``nbtrack compact | gc | doctor``: store upkeep, reported in words."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from nbtrack.cli._output import Output
from nbtrack.errors import NbtrackError


def _maintenance(name: str) -> Callable[..., Any]:
    from nbtrack.tracking import maintenance

    func = getattr(maintenance, name, None)
    if func is None:  # pragma: no cover - every name exists in this version
        raise NbtrackError(f"`nbtrack {name}` is not available in this version")
    return func


def _grace() -> float:
    from nbtrack import config

    return float(config.gc_grace())


def _files(n: int) -> str:
    return f"{n} file{'' if n == 1 else 's'}"


def compact_summary(stats: dict[str, Any], grace: float) -> str:
    """What ``compact`` did, in words, from the counts ``maintenance.compact`` returns."""
    if stats.get("skipped"):
        return "another compaction holds the lock; nothing was done (try again later)"
    merged = int(stats.get("merged_files", 0))
    # one new file per merge (several tiers of a partition may merge in one run)
    written = int(stats.get("merges", stats.get("partitions", 0)))
    parts = []
    if merged:
        rows = int(stats.get("rows", 0))
        parts.append(f"merged {_files(merged)} into {written} ({rows:,} rows)")
        removed = int(stats.get("removed", 0))
        waiting = max(merged - removed, 0)
        if removed:
            parts.append(f"deleted {_files(removed)} replaced earlier")
        if waiting:
            parts.append(
                f"{waiting} replaced file{'' if waiting == 1 else 's'} stay on disk, ignored "
                f"by queries, and will be removable by `nbtrack gc` after {grace:g} s "
                "(NBTRACK_GC_GRACE)"
            )
    else:
        parts.append("nothing to compact: no partition has two or more small files")
    unreadable = int(stats.get("unreadable", 0))
    if unreadable:
        parts.append(
            f"{_files(unreadable)} DuckDB cannot read left in place (see `nbtrack doctor`)"
        )
    return "; ".join(parts)


def gc_summary(removed: dict[str, Any], grace: float) -> str:
    """What ``gc`` did, in words, from the counts ``maintenance.gc`` returns."""
    labels = (
        ("replaced", "replaced by compaction"),
        ("temporary", "leftover temporary"),
        ("losers", "from a lost compaction race"),
    )
    deleted = [f"{_files(int(removed[k]))} {text}" for k, text in labels if removed.get(k)]
    parts = ["deleted " + ", ".join(deleted)] if deleted else ["nothing to delete"]
    if removed.get("busy"):
        parts.append(
            "a compactor holds the compaction lease, so replaced files were left alone; "
            "run `nbtrack gc` again later"
        )
    kept = int(removed.get("kept", 0))
    if kept:
        parts.append(
            f"{_files(kept)} replaced less than {grace:g} s ago (NBTRACK_GC_GRACE) kept "
            "for readers that may still use them; run `nbtrack gc` again later"
        )
    unreadable = int(removed.get("unreadable", 0))
    if unreadable:
        parts.append(
            f"{_files(unreadable)} compacted but unreadable: the files they replace were kept "
            "(see `nbtrack doctor`)"
        )
    return "; ".join(parts)


def cmd_compact(args: argparse.Namespace, out: Output) -> int:
    """Merge small segments into large ones (safe while writers are active)."""
    stats = _maintenance("compact")(
        store_uri=args.store_uri, single_compactor=args.single_compactor
    )
    if out.as_json:
        out.json(stats)
    else:
        out.line(compact_summary(stats, _grace()))
    return 0


def cmd_gc(args: argparse.Namespace, out: Output) -> int:
    """Delete segments that compaction replaced once their grace period has passed."""
    removed = _maintenance("gc")(
        store_uri=args.store_uri, single_compactor=args.single_compactor
    )
    if out.as_json:
        out.json(removed)
    else:
        out.line(gc_summary(removed, _grace()))
    return 0


def cmd_doctor(args: argparse.Namespace, out: Output) -> int:
    """Check the store and list each problem found with the action for it (exit 1 if any)."""
    problems = list(_maintenance("doctor")(store_uri=args.store_uri))
    if out.as_json:
        out.json(problems)
        return 1 if problems else 0
    if not problems:
        out.line(f"store {args.store_uri}: no problems found")
        return 0
    # One block per problem: paths and actions are long and must be shown whole.
    for p in problems:
        out.line(f"{p.get('path')}\n  problem: {p.get('problem')}\n  action:  {p.get('action')}")
    out.note(f"({len(problems)} problem(s) found)")
    return 1


def add_commands(commands: Any, common: Any) -> None:
    """Add ``compact``, ``gc`` and ``doctor`` to the parser."""
    for name, func, text in (
        ("compact", cmd_compact, "merge small segment files (safe while writing)"),
        ("gc", cmd_gc, "delete replaced segments after their grace period"),
        ("doctor", cmd_doctor, "check the store; exit 1 if it finds problems"),
    ):
        p = commands.add_parser(name, parents=[common], help=text)
        p.set_defaults(func=func)
        if name in ("compact", "gc"):
            p.add_argument(
                "--single-compactor",
                action="store_true",
                help="this is the only compactor of the store: needed on object storage "
                "without conditional writes (gs://, az:// ...), where compactors on two "
                "hosts cannot take turns",
            )
