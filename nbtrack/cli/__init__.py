"""The ``nbtrack`` command: list, show, query and maintain a store from a shell.

Usage::

    nbtrack experiments
    nbtrack runs list [--experiment E] [--filter F] [--limit N] [--order-by O]
                      [--columns A,B,C | --wide] [--deleted]
    nbtrack runs show|delete|restore RUN_ID
    nbtrack metrics RUN_ID KEY
    nbtrack sql QUERY
    nbtrack compact | gc | doctor
    nbtrack models list [--filter F] | show NAME | versions NAME
    nbtrack models alias NAME ALIAS [VERSION | --delete]

The global options ``--store URI`` and ``--json`` go before or after the command. ``--json``
prints strict JSON on stdout (non-finite floats become ``null``, times are ISO-8601 UTC
strings). A RUN_ID may be a unique prefix of at least 6 characters. Exit status: 0 on
success, 1 with one line on stderr (``nbtrack: error: ...``) for any
:class:`nbtrack.errors.NbtrackError` (and when ``doctor`` finds problems), 2 for usage errors.

This is an edge adapter: it calls the public tracking API (the functions ``nbtrack.*``
re-exports, taken from ``nbtrack.tracking``), ``nbtrack.tracking.bulk`` for deleted runs and
``nbtrack.tracking.maintenance``, and ``nbtrack.models`` for the registry. It must not
import views, ipython or server.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from nbtrack.cli import _maintenance, _models, _run_list, _runs
from nbtrack.cli._output import (
    Output,
    format_cell,
    frame_records,
    frame_rows,
    render_table,
    to_jsonable,
)
from nbtrack.errors import FilterError, NbtrackError, RunNotFoundError, StoreError

__all__ = ["Output", "build_parser", "format_cell", "main", "render_table", "to_jsonable"]

#: File at the root of every store (docs/format.md); a non-empty folder without it is not one.
STORE_MARKER = "format.json"

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
    "search": ("search_runs",),
    "query": (
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

    from nbtrack.tracking import query, search, settings

    modules = {"settings": settings, "query": query, "search": search}
    return SimpleNamespace(
        **{name: getattr(modules[m], name) for m, names in _PUBLIC.items() for name in names}
    )


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


def cmd_sql(args: argparse.Namespace, out: Output) -> int:
    """Run a read-only SQL query over the views runs, params, metrics, tags, artifacts."""
    nt = _api()
    query = sys.stdin.read() if args.query == "-" else args.query
    frame = nt.sql(query)
    if out.as_json:
        out.json(frame_records(frame))
    else:
        names, rows = frame_rows(frame)
        out.table(names, rows)
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
    """Build the argument parser (exposed for tests and docs).

    ``--store`` and ``--json`` are accepted before the command and after it: every
    sub-parser has them too, with a default that leaves the value given earlier alone.
    """
    parser = argparse.ArgumentParser(
        prog="nbtrack",
        description="Inspect and maintain an nbtrack store from a shell.",
        epilog="Times are UTC. Exit status: 0 ok, 1 bad input, failed operation or doctor "
        "found problems, 2 usage. --store and --json may also follow the command.",
    )
    store_help = "store path or fsspec URL (default: $NBTRACK_STORE, else ./.nbtrack)"
    parser.add_argument("--store", metavar="URI", help=store_help)
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--store", metavar="URI", default=argparse.SUPPRESS, help=store_help)
    common.add_argument(
        "--json",
        action="store_true",
        default=argparse.SUPPRESS,
        help="print JSON instead of a table",
    )

    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    p = commands.add_parser("experiments", parents=[common], help="list experiments")
    p.set_defaults(func=cmd_experiments)
    _add_run_commands(commands, common)
    p = commands.add_parser(
        "sql", parents=[common], help="read-only SQL over runs, params, metrics, tags, artifacts"
    )
    p.add_argument("query", metavar="QUERY", help="the query, or - to read it from stdin")
    p.set_defaults(func=cmd_sql)
    _maintenance.add_commands(commands, common)
    _models.add_commands(commands, common)
    _add_interop_commands(commands, common)
    return parser


def _add_run_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add ``runs`` (list, show, delete, restore) and ``metrics`` to the parser."""
    runs = commands.add_parser("runs", parents=[common], help="list, show, delete or restore runs")
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
        help=f"at most N runs (default {_run_list.DEFAULT_LIMIT}; 0 = all)",
    )
    p.add_argument(
        "-o",
        "--order-by",
        action="append",
        metavar="ORDER",
        help='e.g. "metrics.loss ASC" (repeat, or separate with commas)',
    )
    p.add_argument(
        "-c",
        "--columns",
        metavar="A,B,C",
        help="columns to show, e.g. name,status,loss,params.lr (short names work when unique)",
    )
    p.add_argument("-w", "--wide", action="store_true", help="show every column")
    p.add_argument("--deleted", action="store_true", help="list deleted runs instead")
    p.set_defaults(func=_run_list.cmd_runs_list)
    for name, func, text in (
        ("show", _runs.cmd_runs_show, "show one run (deleted ones too)"),
        ("delete", _runs.cmd_run_state("delete"), "soft-delete a run (hidden until restored)"),
        ("restore", _runs.cmd_run_state("restore"), "restore a deleted run"),
    ):
        p = actions.add_parser(name, parents=[common], help=text)
        p.add_argument(
            "run_id", metavar="RUN_ID", help=f"an id or a unique prefix (≥ {_runs.MIN_PREFIX})"
        )
        p.set_defaults(func=func)

    p = commands.add_parser("metrics", parents=[common], help="history of one metric of a run")
    p.add_argument(
        "run_id", metavar="RUN_ID", help=f"an id or a unique prefix (≥ {_runs.MIN_PREFIX})"
    )
    p.add_argument("key", metavar="KEY")
    p.set_defaults(func=_runs.cmd_metrics)


# ---- import / export (MLflow interop) ------------------------------------------------------
def _add_interop_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    p = commands.add_parser(
        "import",
        parents=[common],
        help="import runs and the model registry from an MLflow file store, SQLite database "
        "or tracking server",
    )
    p.add_argument(
        "source", metavar="SOURCE", help="mlruns folder, sqlite:///mlflow.db or http://host:port"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_import)
    p = commands.add_parser(
        "export",
        parents=[common],
        help="export runs and their registry to an MLflow file store, SQLite database or "
        "tracking server",
    )
    p.add_argument(
        "dest", metavar="DEST", help="new folder (file store), sqlite:///out.db or http://host:port"
    )
    p.add_argument(
        "-e", "--experiment", action="append", metavar="NAME", help="only this experiment (repeat)"
    )
    p.add_argument(
        "-f", "--filter", default="", metavar="FILTER", help="only runs matching this filter"
    )
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
        if stats.input_tags_dropped:
            print(
                f"{stats.input_tags_dropped} dataset input tags other than "
                "mlflow.data.context were not kept (nbtrack keeps a dataset's context only)"
            )
        if stats.model_versions or stats.registered_models or stats.versions_skipped:
            print(
                f"imported {stats.registered_models} registered models and "
                f"{stats.model_versions} model versions ({stats.versions_skipped} versions "
                "skipped: run or model files not found)"
            )
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
    out = Output(as_json=bool(args.json))
    try:
        args.store_uri = _check_store(args.store)
        _api().set_store(args.store_uri)
        if getattr(args, "run_id", None) is not None:
            args.run_id = _runs.resolve_run_id(args.run_id)
        try:
            status = int(args.func(args, out))
        except RunNotFoundError as error:
            run_id = getattr(args, "run_id", None)
            raise (_runs.not_found_hint(run_id, error) if run_id else error) from None
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
