"""``nbtrack runs list``: runs as a table fitted to the terminal, or as JSON.

The default columns are the ones people read (id, name, status, start, duration and the
metrics most runs have); ``--columns`` picks, ``--wide`` shows all, ``--deleted`` lists
deleted runs. The table reads runs through ``nbtrack.tracking.bulk`` (plain Python values,
no pandas); ``--json`` of live runs is exactly what ``nbtrack.search_runs`` returns.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import itertools
from typing import Any

from nbtrack.cli._output import (
    Output,
    fit_columns,
    format_cell,
    format_duration,
    frame_records,
    is_missing,
)
from nbtrack.cli._runs import ATTRIBUTES, MIN_PREFIX, api, bulk_store
from nbtrack.errors import NbtrackError

#: Runs listed by ``runs list`` when ``--limit`` is not given (0 lists every run).
DEFAULT_LIMIT = 100
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


def _bulk_records(
    args: argparse.Namespace, max_results: int | None, *, deleted: bool
) -> list[dict[str, Any]]:
    """Runs as rows with the columns ``search_runs`` gives (plus ``deleted`` for deleted ones).

    Plain Python values straight from DuckDB: the table path of ``runs list`` never loads
    pandas (a third of the command's CPU time), and deleted runs come the same way.
    """
    bulk, store = bulk_store()
    rows = bulk.search_records(
        store,
        experiments=args.experiment or None,
        filter=args.filter or "",
        order_by=_order_by(args.order_by),
        max_results=max_results,
        view=bulk.DELETED_ONLY if deleted else bulk.ACTIVE_ONLY,
    )
    if not deleted:
        for row in rows:
            del row["deleted"]
    return rows


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
_PRIORITY = {
    "run_id": 0,
    "name": 1,
    "status": 2,
    "start_time": 4.5,
    "duration_s": 5,
    "experiment": 6,
}


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
    bulk, store = bulk_store()
    every = sorted(set(bulk.search_run_ids(store, experiments=None, view=bulk.ALL)) | set(ids))
    length = MIN_PREFIX
    for a, b in itertools.pairwise(every):
        common = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), len(a))
        length = max(length, common + 1)
    return {i: i[:length] for i in ids}


def cmd_runs_list(args: argparse.Namespace, out: Output) -> int:
    """List runs matching a filter, across all experiments unless one is given."""
    nt = api()
    if args.experiment:  # the Python API's check and message (lists them, suggests one)
        from nbtrack.tracking import lookup

        lookup.check_experiments(bulk_store()[1], args.experiment)
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
    empty = "(no deleted runs match)" if args.deleted else "(no runs match)"
    if not records:  # (with --columns too: no run means no column to check names against)
        out.line(empty)
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
    out.table(
        headers,
        rows,
        nan="",
        empty=empty,
        keep=_WHOLE,
        hidden=hidden,
        hint="use --columns a,b,c, --wide or --json",
    )
    if more:
        out.note(f"(showing the first {limit} runs; use --limit N for more, --limit 0 for all)")
    if args.deleted and records:
        out.note("(restore one with `nbtrack runs restore RUN_ID`)")
    return 0
