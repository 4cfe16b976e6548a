"""``nbtrack runs show|delete|restore`` and ``nbtrack metrics``: one run, by id or prefix.

Live runs come from the public API (``search_runs``, ``get_run`` ...); deleted runs, which
every public view hides, from ``nbtrack.tracking.bulk`` (the same search MLflow's
``run_view_type`` uses).
"""

from __future__ import annotations

import argparse
import datetime as _dt
from collections.abc import Callable
from typing import Any

from nbtrack.cli._output import (
    Output,
    format_cell,
    frame_records,
)
from nbtrack.errors import AmbiguousRunIdError, NbtrackError, RunNotFoundError

#: A run id prefix must be at least this long (as with git).
MIN_PREFIX = 6  # nbtrack.tracking.lookup.MIN_PREFIX; not imported: it loads duckdb
#: Attributes of a run, in the order ``runs show`` prints them.
ATTRIBUTES = (
    "run_id",
    "experiment",
    "name",
    "status",
    "start_time",
    "end_time",
    "duration_s",
    "parent_run_id",
    "description",
)


def api() -> Any:
    """The public tracking API the CLI calls (``nbtrack.cli._api``)."""
    from nbtrack.cli import _api

    return _api()


def bulk_store() -> tuple[Any, Any]:
    """The bulk search module and the current store (deleted runs included)."""
    from nbtrack.tracking import bulk, settings

    return bulk, settings.get_store()


def ms_to_dt(ms: int | None) -> _dt.datetime | None:
    """Epoch milliseconds as an aware UTC datetime (None stays None)."""
    if ms is None:
        return None
    return _dt.datetime.fromtimestamp(ms / 1000, tz=_dt.timezone.utc)


# --------------------------------------------------------------------------- run ids


def resolve_run_id(text: str) -> str:
    """The full id of the run named by ``text``: an id, or a unique prefix (≥ 6 characters).

    Deleted runs count too (they can be shown and restored); the lookup is the tracking
    layer's (``nbtrack.tracking.lookup``), the one the Python API uses. An unknown id is
    returned as given, so the API call that follows raises its usual not-found error.

    Raises:
        AmbiguousRunIdError: the prefix matches several runs (the message lists them).
    """
    from nbtrack.tracking import query

    try:
        return query.full_run_id(text, allow_deleted=True)
    except AmbiguousRunIdError:
        raise
    except RunNotFoundError:
        return text


def deleted_run(run_id: str) -> Any:
    """The bulk record of ``run_id`` if it exists and is deleted, else None."""
    bulk, store = bulk_store()
    records = bulk.read_runs(store, [run_id])
    return records[0] if records and records[0].deleted else None


def not_found_hint(run_id: str, error: RunNotFoundError) -> NbtrackError:
    """A clearer error for a run id the API did not find: deleted, or too short a prefix."""
    if deleted_run(run_id) is not None:
        return NbtrackError(
            f"run {run_id} is deleted; restore it with `nbtrack runs restore {run_id}` "
            "(list deleted runs with `nbtrack runs list --deleted`)"
        )
    if len(run_id) < MIN_PREFIX:
        return NbtrackError(f"{error} (a run id prefix needs at least {MIN_PREFIX} characters)")
    return error


# --------------------------------------------------------------------------- runs show


def _run_record(nt: Any, run: Any) -> dict[str, Any]:
    record: dict[str, Any] = {}
    for name in ATTRIBUTES:
        if name == "run_id":
            value = getattr(run, "run_id", None) or getattr(run, "id", None)
        else:
            value = getattr(run, name, None)
        record[name] = value
    record["deleted"] = False
    record["params"] = dict(getattr(run, "params", {}) or {})
    record["metrics"] = dict(getattr(run, "metrics", {}) or {})
    record["tags"] = dict(getattr(run, "tags", {}) or {})
    record["artifacts"] = list(nt.list_artifacts(record["run_id"]))
    return record


def _deleted_record(r: Any) -> dict[str, Any]:
    bulk, store = bulk_store()
    start, end = ms_to_dt(r.start_ms), ms_to_dt(r.end_ms)
    return {
        "run_id": r.run_id,
        "experiment": r.experiment,
        "name": r.name,
        "status": r.status,
        "start_time": start,
        "end_time": end,
        "duration_s": (r.end_ms - r.start_ms) / 1000 if r.end_ms and r.start_ms else None,
        "parent_run_id": r.parent_run_id,
        "description": r.description,
        "deleted": True,
        "params": dict(r.params),
        "metrics": {k: v[0] for k, v in r.metrics.items()},
        "tags": dict(r.tags),
        "artifacts": sorted(bulk.artifact_index(store, r.run_id)),
    }


def _artifact_row(item: Any) -> list[Any]:
    if isinstance(item, str):
        return [item, None]
    if isinstance(item, dict):
        return [item.get("path"), item.get("size")]
    return [getattr(item, "path", str(item)), getattr(item, "size", None)]


def _truncate(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def cmd_runs_show(args: argparse.Namespace, out: Output) -> int:
    """Show one run: attributes, params, latest metrics, tags and artifacts (deleted too)."""
    nt = api()
    try:
        record = _run_record(nt, nt.get_run(args.run_id))
    except RunNotFoundError:
        gone = deleted_run(args.run_id)
        if gone is None:
            raise
        record = _deleted_record(gone)
    if out.as_json:
        out.json(record)
        return 0
    if record["deleted"]:
        out.line(f"DELETED: restore with `nbtrack runs restore {record['run_id']}`")
        out.line()
    label = max(len(n) for n in ATTRIBUTES)
    for name in ATTRIBUTES:
        out.line(f"{name.ljust(label)}  {format_cell(record[name])}")
    sections: list[tuple[str, dict[str, Any]]] = [
        ("params", record["params"]),
        ("metrics (latest)", record["metrics"]),
        ("tags", record["tags"]),
    ]
    for title, values in sections:
        out.line()
        out.line(f"{title}:")
        if not values:
            out.line("  (none)")
            continue
        width = max(len(k) for k in values)
        for key in sorted(values):
            text = _truncate(format_cell(values[key]), 100)
            out.line(f"  {key.ljust(width)}  {text}")
    out.line()
    out.line("artifacts:")
    artifacts = [_artifact_row(a) for a in record["artifacts"]]
    if not artifacts:
        out.line("  (none)")
    else:
        width = max(len(str(p)) for p, _ in artifacts)
        for path, size in artifacts:
            size_text = "" if size is None else f"{int(size):>10,} B"
            out.line(f"  {str(path).ljust(width)}  {size_text}".rstrip())
    if record["deleted"]:
        out.note(f"(run {record['run_id']} is deleted: `nbtrack runs restore {record['run_id']}`)")
    return 0


def cmd_run_state(verb: str) -> Callable[[argparse.Namespace, Output], int]:
    """``runs delete`` / ``runs restore``."""

    def command(args: argparse.Namespace, out: Output) -> int:
        nt = api()
        getattr(nt, f"{verb}_run")(args.run_id)
        if out.as_json:
            out.json({"run_id": args.run_id, "action": verb, "ok": True})
        else:
            out.line(f"{verb}d run {args.run_id}")
            if verb == "delete":
                out.note(f"(undo with `nbtrack runs restore {args.run_id}`)")
        return 0

    command.__doc__ = f"{verb.capitalize()} a run (soft delete: data stays until gc)."
    return command


# --------------------------------------------------------------------------- metrics


def cmd_metrics(args: argparse.Namespace, out: Output) -> int:
    """Print the history (step, value, timestamp) of one metric of one run."""
    from nbtrack.cli._output import frame_rows

    nt = api()
    # An unknown key raises MetricNotFoundError, listing the run's keys (as in Python).
    frame = nt.get_metric_history(args.run_id, args.key)
    columns = [c for c in ("step", "value", "timestamp") if c in frame.columns]
    columns += [c for c in frame.columns if c not in columns]
    frame = frame[columns]
    if out.as_json:
        out.json(frame_records(frame))
    else:
        names, rows = frame_rows(frame)
        out.table(names, rows)
    return 0
