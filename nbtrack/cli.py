"""The ``nbtrack`` command: list, show, query and maintain a store from a shell.

Usage::

    nbtrack [--store URI] experiments
    nbtrack [--store URI] runs list [--experiment E] [--filter F] [--limit N] [--order-by O]
    nbtrack [--store URI] runs show|delete|restore RUN_ID
    nbtrack [--store URI] metrics RUN_ID KEY
    nbtrack [--store URI] sql QUERY
    nbtrack [--store URI] compact | gc | doctor

Every command takes ``--json`` (strict JSON on stdout: non-finite floats become ``null``,
times are ISO-8601 UTC strings). Exit status: 0 on success, 1 with one line on stderr
(``nbtrack: error: ...``) for any :class:`nbtrack.errors.NbtrackError`, 2 for usage errors.

This is an edge adapter: it calls the public tracking API (the functions ``nbtrack.*``
re-exports, taken from ``nbtrack.tracking``) and, for maintenance,
``nbtrack.tracking.maintenance``. It must not import views, ipython or server.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
import shutil
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from nbtrack.errors import FilterError, NbtrackError, StoreError

#: Runs listed by ``runs list`` when ``--limit`` is not given (0 lists every run).
DEFAULT_LIMIT = 100
#: Widest a table cell may be before it is cut with an ellipsis.
MAX_CELL = 32
#: Columns of ``runs list`` shown before params, metrics and tags.
RUN_COLUMNS = ("run_id", "experiment", "name", "status", "start_time", "duration_s")
#: File at the root of every store (docs/format.md); a non-empty folder without it is not one.
STORE_MARKER = "format.json"
#: Tags with this prefix are recorded by ``%%track``; tables hide them (``--json`` keeps them).
CAPTURED_TAG_PREFIX = "tags.nbtrack."

_ATTRIBUTES = (
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


# --------------------------------------------------------------------------- values


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        import pandas as pd

        return value is pd.NaT or value is pd.NA
    except ImportError:  # pragma: no cover - pandas is a runtime dependency
        return False


def to_jsonable(value: Any) -> Any:
    """Convert a value from a DataFrame or a Run into strict JSON.

    Datetimes become ISO-8601 strings, numpy scalars plain numbers, and NaN/±inf ``null``
    (JSON has no spelling for them).
    """
    if _is_missing(value):
        return None
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [to_jsonable(v) for v in value]
    if isinstance(value, _dt.datetime | _dt.date):
        return value.isoformat()
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    item = getattr(value, "item", None)  # numpy scalars and 0-d arrays
    if callable(item):
        try:
            return to_jsonable(item())
        except (TypeError, ValueError):
            pass
    if hasattr(value, "_asdict"):
        return to_jsonable(value._asdict())
    if hasattr(value, "__dataclass_fields__"):
        import dataclasses

        return to_jsonable(dataclasses.asdict(value))
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def format_cell(value: Any, *, nan: str = "nan") -> str:
    """Render one value for a terminal table (UTC times to the second, floats to 6 digits)."""
    if _is_missing(value):
        return ""
    if isinstance(value, _dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(_dt.timezone.utc)
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) or type(value).__name__.startswith("float"):
        number = float(value)
        if math.isnan(number):
            return nan
        return f"{number:.6g}"
    text = str(value)
    return text.replace("\r", " ").replace("\n", " ").replace("\t", " ")


def _truncate(text: str, width: int) -> str:
    if len(text) <= width:
        return text
    return text[: max(width - 1, 0)] + "…"


def _is_numeric_column(values: Sequence[Any]) -> bool:
    seen = False
    for value in values:
        if _is_missing(value):
            continue
        is_number = isinstance(value, int | float) and not isinstance(value, bool)
        if not is_number and not type(value).__name__.startswith(("int", "float", "uint")):
            return False
        seen = True
    return seen


def render_table(
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    max_cell: int = MAX_CELL,
    width: int | None = None,
    keep: Iterable[str] = ("run_id",),
    nan: str = "nan",
) -> tuple[str, int]:
    """Lay rows out as an aligned plain-text table.

    Args:
        columns: Header names.
        rows: Row values (any type; see :func:`format_cell`).
        max_cell: Cells wider than this are cut with ``…`` (columns in ``keep`` never are).
        width: Terminal width; columns that do not fit are dropped from the right. ``None``
            keeps every column.
        keep: Columns never truncated (ids the user copies).
        nan: How a float NaN is shown.

    Returns:
        The table text and how many columns were dropped to fit ``width``.
    """
    keep = set(keep)
    numeric = [_is_numeric_column([row[i] for row in rows]) for i in range(len(columns))]
    cells = [[format_cell(v, nan=nan) for v in row] for row in rows]
    widths = []
    for i, name in enumerate(columns):
        limit = None if name in keep else max_cell
        for row in cells:
            if limit is not None:
                row[i] = _truncate(row[i], limit)
        header = name if limit is None else _truncate(name, limit)
        widths.append(max([len(header)] + [len(row[i]) for row in cells]))
    shown = len(columns)
    if width is not None:
        used = 0
        for i, w in enumerate(widths):
            extra = w + (2 if i else 0)
            if i and used + extra > width:
                shown = i
                break
            used += extra
    lines = []
    header_cells = [
        (name if name in keep else _truncate(name, max_cell)).ljust(widths[i])
        for i, name in enumerate(columns[:shown])
    ]
    lines.append("  ".join(header_cells).rstrip())
    lines.append("  ".join("-" * widths[i] for i in range(shown)))
    for row in cells:
        out = [
            row[i].rjust(widths[i]) if numeric[i] else row[i].ljust(widths[i]) for i in range(shown)
        ]
        lines.append("  ".join(out).rstrip())
    return "\n".join(lines), len(columns) - shown


# --------------------------------------------------------------------------- output


class Output:
    """Where a command writes: JSON for machines, tables and notes for people."""

    def __init__(self, *, as_json: bool, stream: Any = None) -> None:
        self.as_json = as_json
        self.stream = stream if stream is not None else sys.stdout

    @property
    def terminal_width(self) -> int | None:
        """Width to fit tables to, or ``None`` when stdout is not a terminal (keep all columns)."""
        isatty = getattr(self.stream, "isatty", None)
        if callable(isatty) and isatty():
            return shutil.get_terminal_size((100, 24)).columns
        return None

    def json(self, data: Any) -> None:
        json.dump(to_jsonable(data), self.stream, indent=2, allow_nan=False, ensure_ascii=False)
        self.stream.write("\n")

    def line(self, text: str = "") -> None:
        self.stream.write(text + "\n")

    def note(self, text: str) -> None:
        """A hint for people (never in ``--json`` output); goes to stderr to keep stdout clean."""
        sys.stderr.write(text + "\n")

    def table(
        self,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
        *,
        nan: str = "nan",
        empty: str = "(no rows)",
    ) -> None:
        if not rows:
            self.line(empty)
            return
        text, hidden = render_table(columns, rows, width=self.terminal_width, nan=nan)
        self.line(text)
        if hidden:
            self.note(
                f"({hidden} more column(s) hidden to fit the terminal; use --json to see all)"
            )


def _frame_rows(frame: Any, columns: Sequence[str] | None = None) -> tuple[list[str], list[list]]:
    columns = list(frame.columns) if columns is None else list(columns)
    rows = [list(row) for row in frame[columns].itertuples(index=False, name=None)]
    return [str(c) for c in columns], rows


def _frame_records(frame: Any) -> list[dict[str, Any]]:
    columns = [str(c) for c in frame.columns]
    return [
        {c: to_jsonable(v) for c, v in zip(columns, row, strict=True)}
        for row in frame.itertuples(index=False, name=None)
    ]


# --------------------------------------------------------------------------- store


def _check_store(uri: str | None) -> str:
    """Resolve the store URI and refuse a local path that is not an existing directory.

    A read command must not create an empty store where the user mistyped a path.
    """
    from nbtrack import config

    resolved = uri or config.default_store_uri()
    if "://" in resolved and not resolved.startswith("file://"):
        return resolved  # object storage: the tracking layer reports what it cannot read
    path = resolved[len("file://") :] if resolved.startswith("file://") else resolved
    where = (
        "--store"
        if uri
        else ("$NBTRACK_STORE" if os.environ.get("NBTRACK_STORE") else "the default")
    )
    if not os.path.exists(path):
        raise StoreError(
            f"no nbtrack store at {path} ({where}); pass --store PATH or set NBTRACK_STORE"
        )
    if not os.path.isdir(path):
        raise StoreError(f"{path} is not a directory, so it cannot be an nbtrack store")
    if not os.access(path, os.R_OK | os.X_OK):
        raise StoreError(f"cannot read the store at {path}: permission denied")
    # Leftover temporary files (".format.json.<random>.tmp" from a writer killed while
    # creating the store) don't make a folder foreign.
    entries = [e for e in os.listdir(path) if not (e.startswith(".") and e.endswith(".tmp"))]
    if entries and not os.path.exists(os.path.join(path, STORE_MARKER)):
        # A folder with files but no store marker is a mistyped path: don't write into it.
        raise StoreError(
            f"{path} is not an nbtrack store (it has files but no {STORE_MARKER}); "
            "check --store / NBTRACK_STORE"
        )
    return resolved


#: The public functions the CLI calls (``nt.<name>``), by the tracking module defining them.
_PUBLIC = {
    "settings": ("set_store",),
    "query": (
        "search_runs",
        "get_run",
        "get_metric_history",
        "sql",
        "list_experiments",
        "delete_run",
        "restore_run",
        "list_artifacts",
    ),
}


def _api() -> Any:
    """The public tracking API, taken from ``nbtrack.tracking`` (the objects ``nt.*`` names).

    Not ``import nbtrack``: the package root is also the Jupyter entry point and refers to
    the ipython and views layers, which this edge must not depend on (import-linter).
    """
    from types import SimpleNamespace

    from nbtrack.tracking import query, settings

    modules = {"settings": settings, "query": query}
    return SimpleNamespace(
        **{name: getattr(modules[m], name) for m, names in _PUBLIC.items() for name in names}
    )


def _maintenance(name: str) -> Callable[..., Any]:
    try:
        from nbtrack.tracking import maintenance
    except ImportError:
        raise NbtrackError(f"`nbtrack {name}` is not available in this version") from None
    func = getattr(maintenance, name, None)
    if func is None:
        raise NbtrackError(f"`nbtrack {name}` is not available in this version")
    return func


# --------------------------------------------------------------------------- commands


def cmd_experiments(args: argparse.Namespace, out: Output) -> int:
    """List experiments with their number of runs and latest start."""
    nt = _api()
    names = [str(_name_of(e)) for e in nt.list_experiments()]
    counts: dict[str, tuple[int, Any]] = {}
    stats = nt.sql(
        "SELECT experiment, count(*) AS runs, max(start_time) AS last_start "
        "FROM runs GROUP BY experiment"
    )
    for experiment, runs, last_start in stats.itertuples(index=False, name=None):
        counts[str(experiment)] = (int(runs), last_start)
    for name in counts:
        if name not in names:
            names.append(name)
    records = [
        {
            "experiment": n,
            "runs": counts.get(n, (0, None))[0],
            "last_start": counts.get(n, (0, None))[1],
        }
        for n in sorted(names)
    ]
    if out.as_json:
        out.json(records)
    else:
        out.table(
            ["experiment", "runs", "last_start"],
            [[r["experiment"], r["runs"], r["last_start"]] for r in records],
            empty="(no experiments)",
        )
    return 0


def _name_of(experiment: Any) -> Any:
    return getattr(experiment, "name", experiment)


def _order_by(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    clauses = [part.strip() for value in values for part in value.split(",")]
    return [c for c in clauses if c] or None


def cmd_runs_list(args: argparse.Namespace, out: Output) -> int:
    """List runs matching a filter, across all experiments unless one is given."""
    nt = _api()
    if args.experiment:
        known = {str(_name_of(e)) for e in nt.list_experiments()}
        unknown = [e for e in args.experiment if e not in known]
        if unknown:
            have = ", ".join(sorted(known)) or "none yet"
            raise NbtrackError(f"no experiment named {unknown[0]!r} (experiments: {have})")
    experiment: Any = args.experiment if args.experiment else "*"
    if isinstance(experiment, list) and len(experiment) == 1:
        experiment = experiment[0]
    limit = DEFAULT_LIMIT if args.limit is None else args.limit
    frame = nt.search_runs(
        experiment=experiment,
        filter=args.filter or "",
        order_by=_order_by(args.order_by),
        max_results=(limit + 1) if limit else None,
    )
    more = bool(limit) and len(frame) > limit
    if more:
        frame = frame.iloc[:limit]
    if out.as_json:
        out.json(_frame_records(frame))
        return 0
    first = [c for c in RUN_COLUMNS if c in frame.columns]
    groups = ("metrics.", "params.", "tags.")
    rest = [
        c
        for prefix in groups
        for c in sorted(str(c) for c in frame.columns if str(c).startswith(prefix))
        if not c.startswith(CAPTURED_TAG_PREFIX)
    ]
    columns, rows = _frame_rows(frame, first + rest)
    out.table(columns, rows, nan="", empty="(no runs match)")
    if more:
        out.note(f"(showing the first {limit} runs; use --limit N for more, --limit 0 for all)")
    return 0


def _run_record(nt: Any, run: Any) -> dict[str, Any]:
    record: dict[str, Any] = {}
    for name in _ATTRIBUTES:
        if name == "run_id":
            value = getattr(run, "run_id", None) or getattr(run, "id", None)
        else:
            value = getattr(run, name, None)
        record[name] = value
    record["params"] = dict(getattr(run, "params", {}) or {})
    record["metrics"] = dict(getattr(run, "metrics", {}) or {})
    record["tags"] = dict(getattr(run, "tags", {}) or {})
    record["artifacts"] = list(nt.list_artifacts(record["run_id"]))
    return record


def _artifact_row(item: Any) -> list[Any]:
    if isinstance(item, str):
        return [item, None]
    if isinstance(item, dict):
        return [item.get("path"), item.get("size")]
    return [getattr(item, "path", str(item)), getattr(item, "size", None)]


def cmd_runs_show(args: argparse.Namespace, out: Output) -> int:
    """Show one run: attributes, params, latest metrics, tags and artifacts."""
    nt = _api()
    record = _run_record(nt, nt.get_run(args.run_id))
    if out.as_json:
        out.json(record)
        return 0
    label = max(len(n) for n in _ATTRIBUTES)
    for name in _ATTRIBUTES:
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
    return 0


def _cmd_run_state(verb: str) -> Callable[[argparse.Namespace, Output], int]:
    def command(args: argparse.Namespace, out: Output) -> int:
        nt = _api()
        getattr(nt, f"{verb}_run")(args.run_id)
        if out.as_json:
            out.json({"run_id": args.run_id, "action": verb, "ok": True})
        else:
            out.line(f"{verb}d run {args.run_id}")
        return 0

    command.__doc__ = f"{verb.capitalize()} a run (soft delete: data stays until gc)."
    return command


def cmd_metrics(args: argparse.Namespace, out: Output) -> int:
    """Print the history (step, value, timestamp) of one metric of one run."""
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
        out.json(_frame_records(frame))
    else:
        names, rows = _frame_rows(frame)
        out.table(names, rows)
    return 0


def cmd_sql(args: argparse.Namespace, out: Output) -> int:
    """Run a read-only SQL query over the views runs, params, metrics, tags, artifacts."""
    nt = _api()
    query = sys.stdin.read() if args.query == "-" else args.query
    frame = nt.sql(query)
    if out.as_json:
        out.json(_frame_records(frame))
    else:
        names, rows = _frame_rows(frame)
        out.table(names, rows)
    return 0


def _print_mapping(out: Output, data: Any) -> None:
    if out.as_json:
        out.json(data)
        return
    if not isinstance(data, dict):
        out.line(format_cell(data))
        return
    width = max((len(str(k)) for k in data), default=0)
    for key, value in data.items():
        out.line(f"{str(key).ljust(width)}  {format_cell(value)}")


def cmd_compact(args: argparse.Namespace, out: Output) -> int:
    """Merge small segments into large ones (safe while writers are active)."""
    _print_mapping(out, _maintenance("compact")(store_uri=args.store_uri))
    return 0


def cmd_gc(args: argparse.Namespace, out: Output) -> int:
    """Delete segments that compaction replaced once their grace period has passed."""
    _print_mapping(out, _maintenance("gc")(store_uri=args.store_uri))
    return 0


def cmd_doctor(args: argparse.Namespace, out: Output) -> int:
    """Check the store and list each problem found with the action for it."""
    problems = list(_maintenance("doctor")(store_uri=args.store_uri))
    if out.as_json:
        out.json(problems)
        return 0
    if not problems:
        out.line(f"store {args.store_uri}: no problems found")
        return 0
    # One block per problem: paths and actions are long and must be shown whole.
    for p in problems:
        out.line(f"{p.get('path')}\n  problem: {p.get('problem')}\n  action:  {p.get('action')}")
    out.note(f"({len(problems)} problem(s) found)")
    return 0


# --------------------------------------------------------------------------- parser


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative")
    return value


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser (exposed for tests and docs)."""
    parser = argparse.ArgumentParser(
        prog="nbtrack",
        description="Inspect and maintain an nbtrack store from a shell.",
        epilog="Times are UTC. Exit status: 0 ok, 1 bad input or failed operation, 2 usage.",
    )
    parser.add_argument(
        "--store",
        metavar="URI",
        help="store path or fsspec URL (default: $NBTRACK_STORE, else ./.nbtrack)",
    )
    parser.add_argument(
        "--json", action="store_true", dest="json_top", help="print JSON instead of tables"
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print JSON instead of a table")

    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    p = commands.add_parser("experiments", parents=[common], help="list experiments")
    p.set_defaults(func=cmd_experiments)

    runs = commands.add_parser("runs", help="list, show, delete or restore runs")
    actions = runs.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    p = actions.add_parser("list", parents=[common], help="list runs (all experiments by default)")
    p.add_argument(
        "-e",
        "--experiment",
        action="append",
        metavar="NAME",
        help="only this experiment (repeat for several)",
    )
    p.add_argument(
        "-f",
        "--filter",
        metavar="FILTER",
        help="e.g. \"metrics.loss < 0.5 AND params.lr = '0.01'\"",
    )
    p.add_argument(
        "-n",
        "--limit",
        type=_non_negative,
        metavar="N",
        help=f"at most N runs (default {DEFAULT_LIMIT}; 0 = all)",
    )
    p.add_argument(
        "-o",
        "--order-by",
        action="append",
        metavar="ORDER",
        help='e.g. "metrics.loss ASC" (repeat, or separate with commas)',
    )
    p.set_defaults(func=cmd_runs_list)
    for name, func, text in (
        ("show", cmd_runs_show, "show one run"),
        ("delete", _cmd_run_state("delete"), "soft-delete a run (hidden until restored)"),
        ("restore", _cmd_run_state("restore"), "restore a deleted run"),
    ):
        p = actions.add_parser(name, parents=[common], help=text)
        p.add_argument("run_id", metavar="RUN_ID")
        p.set_defaults(func=func)

    p = commands.add_parser("metrics", parents=[common], help="history of one metric of a run")
    p.add_argument("run_id", metavar="RUN_ID")
    p.add_argument("key", metavar="KEY")
    p.set_defaults(func=cmd_metrics)

    p = commands.add_parser(
        "sql", parents=[common], help="read-only SQL over runs, params, metrics, tags, artifacts"
    )
    p.add_argument("query", metavar="QUERY", help="the query, or - to read it from stdin")
    p.set_defaults(func=cmd_sql)

    for name, func, text in (
        ("compact", cmd_compact, "merge small segment files (safe while writing)"),
        ("gc", cmd_gc, "delete replaced segments after their grace period"),
        ("doctor", cmd_doctor, "check the store and report problems"),
    ):
        p = commands.add_parser(name, parents=[common], help=text)
        p.set_defaults(func=func)
    _add_interop_commands(commands, common)
    return parser


# ---- import / export (MLflow interop) ------------------------------------------------------
def _add_interop_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    p = commands.add_parser(
        "import", parents=[common],
        help="import runs from an MLflow file store, SQLite database or tracking server",
    )
    p.add_argument("source", metavar="SOURCE", help="mlruns folder, sqlite:///mlflow.db or http://host:port")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_import)
    p = commands.add_parser(
        "export", parents=[common], help="export runs to an MLflow file store or SQLite database"
    )
    p.add_argument("dest", metavar="DEST", help="new folder (file store) or sqlite:///out.db")
    p.add_argument("-e", "--experiment", action="append", metavar="NAME", help="only this experiment (repeat)")
    p.add_argument("-f", "--filter", default="", metavar="FILTER", help="only runs matching this filter")
    p.set_defaults(func=cmd_export)


def cmd_import(args: argparse.Namespace, out: Output) -> int:
    from nbtrack.interop import import_mlflow

    stats = import_mlflow(args.source, progress=not args.no_progress and not out.as_json)
    data = dict(stats.__dict__)
    if out.as_json:
        print(json.dumps(data))
    else:
        print(
            f"imported {stats.runs} runs ({stats.points} metric points, {stats.artifacts} "
            f"artifacts) and {stats.experiments} experiments; {stats.skipped} runs already here"
        )
        if stats.renamed:
            print(f"{stats.renamed} artifact names had characters nbtrack keys do not allow; "
                  "they were replaced by '_'")
    return 0


def cmd_export(args: argparse.Namespace, out: Output) -> int:
    from nbtrack.interop import export_mlflow

    n = export_mlflow(args.dest, experiments=args.experiment, filter=args.filter)
    if out.as_json:
        print(json.dumps({"runs": n, "dest": args.dest}))
    else:
        print(f"exported {n} runs to {args.dest}")
    return 0


def _one_line(error: Exception) -> str:
    if isinstance(error, FilterError) and error.text:
        return f"bad filter: {error.reason} at position {error.position} in {error.text!r}"
    text = " ".join(part.strip() for part in str(error).splitlines() if part.strip())
    return text or type(error).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    out = Output(as_json=bool(args.json or args.json_top))
    try:
        args.store_uri = _check_store(args.store)
        _api().set_store(args.store_uri)
        status = int(args.func(args, out))
        sys.stdout.flush()
        return status
    except NbtrackError as error:
        sys.stdout.flush()
        sys.stderr.write(f"nbtrack: error: {_one_line(error)}\n")
        return 1
    except BrokenPipeError:
        # `nbtrack runs list | head`: the reader left; stop quietly like other Unix tools.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        return 130
    # The CLI never shows a traceback: anything nbtrack did not anticipate (a DuckDB or
    # encoding error from a damaged store ...) is one line too; NBTRACK_DEBUG=1 re-raises.
    except Exception as error:
        if os.environ.get("NBTRACK_DEBUG") == "1":
            raise
        sys.stdout.flush()
        sys.stderr.write(
            f"nbtrack: error: unexpected {type(error).__name__}: {_one_line(error)} "
            "(run with NBTRACK_DEBUG=1 for the traceback)\n"
        )
        return 1


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
