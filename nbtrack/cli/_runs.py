"""``nbtrack runs list|show|delete|restore`` and ``nbtrack metrics``: runs by id or prefix.

Live runs come from the public API (``search_runs``, ``get_run`` ...); deleted runs, which
every public view hides, from ``nbtrack.tracking.bulk`` (the same search MLflow's
``run_view_type`` uses).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import itertools
import re
from collections.abc import Callable
from typing import Any

from nbtrack.cli._output import (
    Output,
    fit_columns,
    format_cell,
    format_duration,
    frame_records,
    is_missing,
)
from nbtrack.errors import NbtrackError, RunNotFoundError

#: Runs listed by ``runs list`` when ``--limit`` is not given (0 lists every run).
DEFAULT_LIMIT = 100
#: A run id prefix must be at least this long (as with git).
MIN_PREFIX = 6
#: Attribute columns of ``runs list`` (``--wide`` shows all of them).
RUN_COLUMNS = ("run_id", "experiment", "name", "status", "start_time", "duration_s")
#: Tags with this prefix are recorded by ``%%track``; tables hide them (``--json`` keeps them).
CAPTURED_TAG_PREFIX = "tags.nbtrack."
#: Metrics shown by default in ``runs list`` (the most informative ones, see ``_best_metrics``).
DEFAULT_METRICS = 3
#: Short names accepted by ``--columns``.
ALIASES = {
    "id": "run_id",
    "run": "run_id",
    "start": "start_time",
    "end": "end_time",
    "duration": "duration_s",
    "parent": "parent_run_id",
}
#: Table headers of attribute columns.
HEADERS = {"start_time": "start", "end_time": "end", "duration_s": "duration"}

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
_ID_TEXT = re.compile(r"^[0-9A-Za-z-]+$")


def _api() -> Any:
    from nbtrack.cli import _api as api

    return api()


def _bulk() -> tuple[Any, Any]:
    """The bulk search module and the current store (deleted runs included)."""
    from nbtrack.tracking import bulk, settings

    return bulk, settings.get_store()


# --------------------------------------------------------------------------- run ids


def resolve_run_id(text: str) -> str:
    """The full id of the run named by ``text``: an id, or a unique prefix (≥ 6 characters).

    Deleted runs count too (they can be shown and restored). An unknown id is returned as
    given, so the API call that follows raises its usual not-found error.

    Raises:
        NbtrackError: the prefix matches several runs (the message lists them).
    """
    if len(text) < MIN_PREFIX or not _ID_TEXT.match(text):
        return text
    bulk, store = _bulk()
    # LIKE's "_" is a wildcard; ids have none, and the exact check below drops false hits.
    ids = bulk.search_run_ids(
        store, experiments=None, filter=f"attributes.run_id LIKE '{text}%'", view=bulk.ALL,
        max_results=1000,
    )
    matches = [i for i in ids if i.startswith(text)]
    if text in matches or not matches:
        return text
    if len(matches) == 1:
        return str(matches[0])
    shown = bulk.read_runs(store, matches[:10])
    listed = "; ".join(
        f"{r.run_id} ({r.name or 'unnamed'}, {r.experiment}{', deleted' if r.deleted else ''})"
        for r in shown
    )
    more = f" and {len(matches) - 10} more" if len(matches) > 10 else ""
    raise NbtrackError(
        f"run id prefix {text!r} is ambiguous: it matches {len(matches)} runs: "
        f"{listed}{more}; type more characters"
    )


def deleted_run(run_id: str) -> Any:
    """The bulk record of ``run_id`` if it exists and is deleted, else None."""
    bulk, store = _bulk()
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


# --------------------------------------------------------------------------- runs list


def _known_experiments(nt: Any, deleted: bool) -> set[str]:
    known = {str(e) for e in nt.list_experiments()}
    if deleted:
        bulk, store = _bulk()
        ids = bulk.search_run_ids(store, experiments=None, view=bulk.DELETED_ONLY)
        known |= {r.experiment for r in bulk.read_runs(store, ids)}
    return known


def _bulk_records(
    args: argparse.Namespace, max_results: int | None, *, deleted: bool
) -> list[dict[str, Any]]:
    """Runs as rows with the columns ``search_runs`` gives (plus ``deleted`` for deleted ones).

    Plain Python values straight from DuckDB: the table path of ``runs list`` never loads
    pandas (a third of the command's CPU time), and deleted runs come the same way.
    """
    bulk, store = _bulk()
    ids = bulk.search_run_ids(
        store,
        experiments=args.experiment or None,
        filter=args.filter or "",
        order_by=_order_by(args.order_by),
        max_results=max_results,
        view=bulk.DELETED_ONLY if deleted else bulk.ACTIVE_ONLY,
    )
    now_ms = _dt.datetime.now(_dt.timezone.utc).timestamp() * 1000
    out = []
    for r in bulk.read_runs(store, ids):
        end_ms = r.end_ms if r.end_ms is not None or r.status != "RUNNING" else now_ms
        row: dict[str, Any] = {
            "run_id": r.run_id,
            "experiment": r.experiment,
            "name": r.name,
            "status": r.status,
            "start_time": _ms_to_dt(r.start_ms),
            "end_time": _ms_to_dt(r.end_ms),
            "duration_s": (end_ms - r.start_ms) / 1000 if end_ms is not None else None,
            "parent_run_id": r.parent_run_id,
            "description": r.description,
        }
        if deleted:
            row["deleted"] = True
        row.update({f"params.{k}": v for k, v in r.params.items()})
        row.update({f"metrics.{k}": v[0] for k, v in r.metrics.items()})
        row.update({f"tags.{k}": v for k, v in r.tags.items()})
        out.append(row)
    return out


def _ms_to_dt(ms: int | None) -> _dt.datetime | None:
    if ms is None:
        return None
    return _dt.datetime.fromtimestamp(ms / 1000, tz=_dt.timezone.utc)


def _order_by(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    clauses = [part.strip() for value in values for part in value.split(",")]
    return [c for c in clauses if c] or None


def _best_metrics(records: list[dict[str, Any]], columns: list[str], n: int) -> list[str]:
    """The ``n`` metrics most runs have, preferring those whose values differ between runs."""

    def score(column: str) -> tuple[int, int, str]:
        values = [r.get(column) for r in records]
        present = [v for v in values if not is_missing(v) and v == v]  # NaN != NaN
        return (-len(present), -len({format_cell(v) for v in present}), column)

    metrics = [c for c in columns if c.startswith("metrics.")]
    return sorted(metrics, key=score)[:n]


def _choose_columns(
    args: argparse.Namespace, records: list[dict[str, Any]], available: list[str]
) -> list[str]:
    if args.columns:
        wanted = [c.strip() for c in args.columns.split(",") if c.strip()]
        chosen = []
        for name in wanted:
            chosen.append(_column_named(name, available))
        return chosen
    extra = [
        c
        for prefix in ("metrics.", "params.", "tags.")
        for c in sorted(c for c in available if c.startswith(prefix))
        if not c.startswith(CAPTURED_TAG_PREFIX)
    ]
    if args.wide:
        first = [c for c in ATTRIBUTES if c in available and c != "description"]
        return first + (["deleted"] if "deleted" in available else []) + extra
    experiments = {r.get("experiment") for r in records}
    first = [c for c in RUN_COLUMNS if c in available]
    if len(experiments) <= 1 and "experiment" in first:
        first.remove("experiment")
    return first + _best_metrics(records, extra, DEFAULT_METRICS)


#: Table columns never cut short (a cut id, time or duration is useless): dropped instead.
_WHOLE = ("run_id", "status", "start", "end", "duration", *RUN_COLUMNS, "end_time")
#: Which default columns stay when the terminal is narrow (lower first; the first metric
#: ranks 3, the others after the experiment).
_PRIORITY = {"run_id": 0, "name": 1, "status": 2, "start_time": 4.5, "duration_s": 5, "experiment": 6}


def _cell(record: dict[str, Any], column: str, short: dict[str, str], default_view: bool) -> Any:
    value = record.get(column)
    if column == "run_id":
        return short.get(value, value)
    if default_view and column == "duration_s":
        return format_duration(value)
    if default_view and column in ("start_time", "end_time") and isinstance(value, _dt.datetime):
        return value.astimezone(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M")
    return value


def _column_named(name: str, available: list[str]) -> str:
    if name in available:
        return name
    name = ALIASES.get(name, name)
    if name in available:
        return name
    candidates = [c for c in available if c.split(".", 1)[-1] == name and "." in c]
    if len(candidates) == 1:
        return candidates[0]
    shown = ", ".join(c for c in available if not c.startswith(CAPTURED_TAG_PREFIX))
    if len(candidates) > 1:
        raise NbtrackError(
            f"column {name!r} is ambiguous: {', '.join(candidates)}; use the full name"
        )
    raise NbtrackError(f"no column {name!r} in these runs (columns: {shown})")


def _short_ids(ids: list[str]) -> dict[str, str]:
    """The shortest prefix (≥ ``MIN_PREFIX``) of each id that no other run in the store shares."""
    if not ids:
        return {}
    bulk, store = _bulk()
    every = sorted(set(bulk.search_run_ids(store, experiments=None, view=bulk.ALL)) | set(ids))
    length = MIN_PREFIX
    for a, b in itertools.pairwise(every):
        common = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), len(a))
        length = max(length, common + 1)
    return {i: i[:length] for i in ids}


def cmd_runs_list(args: argparse.Namespace, out: Output) -> int:
    """List runs matching a filter, across all experiments unless one is given."""
    nt = _api()
    if args.experiment:
        known = _known_experiments(nt, args.deleted)
        unknown = [e for e in args.experiment if e not in known]
        if unknown:
            have = ", ".join(sorted(known)) or "none yet"
            raise NbtrackError(f"no experiment named {unknown[0]!r} (experiments: {have})")
    limit = DEFAULT_LIMIT if args.limit is None else args.limit
    max_results = (limit + 1) if limit else None
    if args.deleted or not out.as_json:
        records = _bulk_records(args, max_results, deleted=args.deleted)
        available = list(dict.fromkeys(k for r in records for k in r))
    else:  # --json of live runs: exactly what nbtrack.search_runs returns
        experiment: Any = args.experiment if args.experiment else "*"
        if isinstance(experiment, list) and len(experiment) == 1:
            experiment = experiment[0]
        frame = nt.search_runs(
            experiment=experiment,
            filter=args.filter or "",
            order_by=_order_by(args.order_by),
            max_results=max_results,
        )
        records = frame_records(frame)
        available = [str(c) for c in frame.columns]
    more = bool(limit) and len(records) > limit
    records = records[:limit] if limit else records
    if out.as_json:
        out.json(records)
        return 0
    columns = _choose_columns(args, records, available)
    default_view = not (args.wide or args.columns)
    short = _short_ids([r["run_id"] for r in records]) if default_view else {}
    rows = [[_cell(r, c, short, default_view) for c in columns] for r in records]
    headers = [HEADERS.get(c, c) if default_view else c for c in columns]
    hidden = 0
    width = out.terminal_width
    if default_view and width is not None and rows:
        # Keep what matters most when the terminal is narrow: the first metric before the
        # start time, the experiment and the other metrics; show them in the usual order.
        metrics = [c for c in columns if c.startswith("metrics.")]

        def rank(i: int) -> float:
            if columns[i] in _PRIORITY:
                return _PRIORITY[columns[i]]
            m = metrics.index(columns[i]) if columns[i] in metrics else len(columns)
            return 3 if m == 0 else 7 + m

        order = sorted(range(len(columns)), key=rank)
        cells = [[format_cell(row[i], nan="") for i in order] for row in rows]
        fits = fit_columns([headers[i] for i in order], cells, width, ("run_id", *_WHOLE))
        kept = sorted(order[:fits])
        hidden = len(columns) - len(kept)
        headers = [headers[i] for i in kept]
        rows = [[row[i] for i in kept] for row in rows]
    empty = "(no deleted runs match)" if args.deleted else "(no runs match)"
    out.table(
        headers, rows, nan="", empty=empty, keep=_WHOLE, hidden=hidden,
        hint="use --columns a,b,c, --wide or --json",
    )
    if more:
        out.note(f"(showing the first {limit} runs; use --limit N for more, --limit 0 for all)")
    if args.deleted and records:
        out.note("(restore one with `nbtrack runs restore RUN_ID`)")
    return 0


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
    bulk, store = _bulk()
    start, end = _ms_to_dt(r.start_ms), _ms_to_dt(r.end_ms)
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
    nt = _api()
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
        nt = _api()
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

    nt = _api()
    frame = nt.get_metric_history(args.run_id, args.key)
    if len(frame) == 0:
        run = nt.get_run(args.run_id)  # raises RunNotFoundError for an unknown run
        known = sorted(getattr(run, "metrics", {}) or {})
        if args.key not in known:
            have = ", ".join(known) if known else "no metrics"
            raise NbtrackError(f"run {args.run_id} has no metric {args.key!r} (it has: {have})")
    columns = [c for c in ("step", "value", "timestamp") if c in frame.columns]
    columns += [c for c in frame.columns if c not in columns]
    frame = frame[columns]
    if out.as_json:
        out.json(frame_records(frame))
    else:
        names, rows = frame_rows(frame)
        out.table(names, rows)
    return 0


def add_commands(commands: Any, common: Any, non_negative: Callable[[str], int]) -> None:
    """Add ``runs`` (list, show, delete, restore) and ``metrics`` to the parser."""
    runs = commands.add_parser("runs", parents=[common], help="list, show, delete or restore runs")
    actions = runs.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    p = actions.add_parser("list", parents=[common], help="list runs (all experiments by default)")
    p.add_argument(
        "-e", "--experiment", action="append", metavar="NAME",
        help="only this experiment (repeat for several)",
    )
    p.add_argument(
        "-f", "--filter", metavar="FILTER",
        help="e.g. \"metrics.loss < 0.5 AND params.lr = '0.01'\"",
    )
    p.add_argument(
        "-n", "--limit", type=non_negative, metavar="N",
        help=f"at most N runs (default {DEFAULT_LIMIT}; 0 = all)",
    )
    p.add_argument(
        "-o", "--order-by", action="append", metavar="ORDER",
        help='e.g. "metrics.loss ASC" (repeat, or separate with commas)',
    )
    p.add_argument(
        "-c", "--columns", metavar="A,B,C",
        help="columns to show, e.g. name,status,loss,params.lr (short names work when unique)",
    )
    p.add_argument("-w", "--wide", action="store_true", help="show every column")
    p.add_argument("--deleted", action="store_true", help="list deleted runs instead")
    p.set_defaults(func=cmd_runs_list)
    for name, func, text in (
        ("show", cmd_runs_show, "show one run (deleted ones too)"),
        ("delete", cmd_run_state("delete"), "soft-delete a run (hidden until restored)"),
        ("restore", cmd_run_state("restore"), "restore a deleted run"),
    ):
        p = actions.add_parser(name, parents=[common], help=text)
        p.add_argument("run_id", metavar="RUN_ID", help=f"an id or a unique prefix (≥ {MIN_PREFIX})")
        p.set_defaults(func=func)

    p = commands.add_parser("metrics", parents=[common], help="history of one metric of a run")
    p.add_argument("run_id", metavar="RUN_ID", help=f"an id or a unique prefix (≥ {MIN_PREFIX})")
    p.add_argument("key", metavar="KEY")
    p.set_defaults(func=cmd_metrics)
