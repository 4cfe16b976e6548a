"""``TrackMagics``: ``%%track`` and the ``%track_*`` line magics.

Options are parsed with IPython's ``magic_arguments`` (so ``%%track?`` shows them) and
validated before anything is written: a bad option raises ``UsageError`` and no run is
created. The cell itself runs in :mod:`nbtrack.ipython._tracked_cell`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments
from IPython.utils.process import arg_split

from nbtrack.errors import NbtrackError
from nbtrack.ipython._context import kernel_id
from nbtrack.ipython._live import LiveRenderer, PlotlyLiveRenderer
from nbtrack.ipython._tracked_cell import TrackedCell, TrackOptions, prepare_cell
from nbtrack.tracking import query, settings
from nbtrack.tracking.validation import check_key

_EXPERIMENT_OPTION_RE = re.compile(
    r"^\s*(?:-e|--experiment)\s+(?P<q>['\"]?)(?P<name>.+?)(?P=q)(?:\s+|$)"
)


def _flatten(groups: list[list[str]] | None) -> list[str]:
    return [item for group in groups or [] for item in group]


def _has_kernel(shell: Any) -> bool:
    return getattr(shell, "kernel", None) is not None


@magics_class
class TrackMagics(Magics):
    """The nbtrack magics. Registered by ``%load_ext nbtrack``."""

    #: Builds the live view renderer. ``None`` picks plotly widgets inside a Jupyter
    #: kernel and no live view elsewhere (a terminal has no widget frontend). Tests set it.
    live_renderer_factory: Callable[[], LiveRenderer] | None = None

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell, **kwargs)
        self._kernel_id: str | None = None
        self._kernel_id_known = False

    # ------------------------------------------------------------------ %%track
    # The usage line is "%" + this name: a cell magic's name shows as %%track, not %track.
    @magic_arguments(name="%track")
    @argument("-e", "--experiment", metavar="EXPERIMENT", help="experiment of the run")
    @argument("-n", "--name", metavar="NAME", help="run name (default: a generated name)")
    @argument(
        "-t",
        "--tag",
        action="append",
        nargs="+",
        metavar="KEY=VALUE",
        help="tag(s) for the run, e.g. -t team=vision stage=dev",
    )
    @argument(
        "-p",
        "--param",
        action="append",
        nargs="+",
        metavar="VAR",
        help="variable(s) logged as params with their value at the end of the cell",
    )
    @argument(
        "--live",
        action="append",
        nargs="+",
        metavar="KEY",
        help="metric keys the live plot shows (default: all)",
    )
    @argument("--no-live", action="store_true", help="no live plot while the cell runs")
    @argument("--nested", action="store_true", help="start a child run of the active run")
    @argument(
        "--system",
        action="store_true",
        help="sample system metrics (CPU, memory, disk, network, GPUs) into system/... "
        "while the cell runs (NBTRACK_SYSTEM_METRICS_INTERVAL seconds apart, default 10)",
    )
    @argument(
        "--autolog",
        action="store_true",
        help="autolog the ML frameworks the cell trains with (scikit-learn, XGBoost, "
        "LightGBM, Keras, Lightning, transformers) into this cell's run",
    )
    @argument(
        "--as",
        dest="run_var",
        default="run",
        metavar="NAME",
        help="name of the variable that holds the Run in the cell (default: run)",
    )
    @cell_magic
    def track(self, line: str, cell: str) -> Any:
        """Run the cell as one nbtrack run.

        The run records the cell's code, its top-level literal assignments as params
        (``lr = 0.01``), the ``-p`` variables, every metric the cell logs with
        ``nbtrack.log_metric``, stdout/stderr, git state, environment, hardware and the
        status (FINISHED, FAILED with the traceback, KILLED on interrupt). Inside the
        cell the variable ``run`` (or ``--as NAME``) is the Run. While the cell runs a
        live plot shows the logged metrics; a run summary replaces it at the end.
        ``--autolog`` records what the ML frameworks train in the cell (``nbtrack.autolog``,
        on for this cell only, into this run); ``--system`` samples system metrics while
        the cell runs.
        """
        __tracebackhide__ = True
        options = self._parse_options(line)
        body = cell if cell is not None else ""
        prepared = prepare_cell(self.shell, body)
        missing = [
            var
            for var in options.param_vars
            if var not in self.shell.user_ns and var not in prepared.assigned_names
        ]
        if missing:
            raise UsageError(
                f"%%track -p: no variable {missing[0]!r} in the namespace nor assigned in the "
                "cell; no run was started"
            )
        tracked = TrackedCell(
            self.shell,
            options,
            prepared,
            renderer_factory=self._renderer_factory(options),
            kernel=self.kernel_id(),
        )
        if not options.autolog:
            tracked.start()
            return tracked.execute()
        from nbtrack.integrations import autolog_scope

        with autolog_scope():
            tracked.start()
            return tracked.execute()

    def _parse_options(self, line: str) -> TrackOptions:
        # magic_arguments' own parse_argstring keeps quotes (`-n "my run"` would name the
        # run '"my run"'); split POSIX-style instead, then let its parser validate.
        try:
            argv = arg_split(line, posix=True)
        except ValueError as exc:
            raise UsageError(f"%%track: cannot parse the options: {exc}") from None
        args = self.track.parser.parse_args(argv)
        tags: dict[str, str] = {}
        for item in _flatten(args.tag):
            key, sep, value = item.partition("=")
            key = key.strip()
            if not sep or not key:
                raise UsageError(f"%%track -t takes KEY=VALUE, got {item!r}")
            if key.startswith("nbtrack."):
                raise UsageError(f"%%track -t {key}: tags under 'nbtrack.' are reserved")
            try:
                check_key(key, "tag key")
            except NbtrackError as exc:
                raise UsageError(f"%%track -t: {exc}") from None
            tags[key] = value
        param_vars = _flatten(args.param)
        for var in param_vars:
            if not var.isidentifier():
                raise UsageError(f"%%track -p takes variable names, got {var!r}")
        run_var = args.run_var
        if not run_var.isidentifier():
            raise UsageError(f"%%track --as takes a variable name, got {run_var!r}")
        live_keys = _flatten(args.live)
        if args.name is not None and not args.name.strip():
            raise UsageError("%%track -n takes a non-empty name")
        if args.experiment is not None and not args.experiment.strip():
            raise UsageError("%%track -e takes a non-empty experiment name")
        return TrackOptions(
            experiment=args.experiment,
            name=args.name,
            tags=tags,
            param_vars=tuple(dict.fromkeys(param_vars)),
            live_keys=tuple(live_keys) if live_keys else None,
            live=not args.no_live,
            nested=args.nested,
            run_var=run_var,
            magic_line=f"%%track {line}".rstrip(),
            system=args.system,
            autolog=args.autolog,
        )

    def _renderer_factory(self, options: TrackOptions) -> Callable[[], LiveRenderer] | None:
        if not options.live:
            return None
        if self.live_renderer_factory is not None:
            return self.live_renderer_factory
        if _has_kernel(self.shell):
            return PlotlyLiveRenderer
        return None

    def kernel_id(self) -> str | None:
        """The kernel id, computed once."""
        if not self._kernel_id_known:
            self._kernel_id = kernel_id(self.shell)
            self._kernel_id_known = True
        return self._kernel_id

    # ------------------------------------------------------------------ line magics
    @line_magic
    def track_runs(self, line: str) -> Any:
        """Show the runs of the current experiment: ``%track_runs [-e EXPERIMENT] [FILTER]``.

        FILTER is the ``search_runs`` filter grammar, e.g.
        ``%track_runs metrics.acc > 0.9 and params.model = 'resnet'``. ``-e '*'`` shows
        every experiment.
        """
        experiment: str | None = None
        match = _EXPERIMENT_OPTION_RE.match(line)
        if match:
            experiment = match.group("name")
            line = line[match.end() :]
        filter_text = line.strip()
        show_runs = _view("show_runs")
        try:
            if show_runs is not None:
                return show_runs(experiment=experiment, filter=filter_text)
            return query.search_runs(experiment=experiment, filter=filter_text)
        except NbtrackError as exc:
            raise UsageError(f"%track_runs: {exc}") from None

    @line_magic
    def track_compare(self, line: str) -> Any:
        """Compare runs: ``%track_compare RUN_ID [RUN_ID ...]``."""
        run_ids = list(dict.fromkeys(line.replace(",", " ").split()))
        if not run_ids:
            raise UsageError("%track_compare takes one or more run ids")
        compare = _view("compare")
        try:
            for run_id in run_ids:
                query.get_run(run_id)  # an unknown id is a clear error, not an empty view
            if compare is not None:
                return compare(run_ids)
            return _compare_frame(run_ids)
        except NbtrackError as exc:
            raise UsageError(f"%track_compare: {exc}") from None

    @line_magic
    def track_store(self, line: str) -> None:
        """Use another store from now on: ``%track_store URI`` (a path or fsspec URL)."""
        uri = line.strip().strip("'\"")
        if not uri:
            raise UsageError("%track_store takes a store URI (a local path or fsspec URL)")
        try:
            settings.set_store(uri)
        except NbtrackError as exc:
            raise UsageError(f"%track_store: {exc}") from None
        print(f"nbtrack store: {uri}")

    @line_magic
    def track_experiment(self, line: str) -> None:
        """Make NAME the current experiment: ``%track_experiment NAME``."""
        name = line.strip().strip("'\"")
        if not name:
            raise UsageError("%track_experiment takes an experiment name")
        try:
            settings.set_experiment(name)
        except NbtrackError as exc:
            raise UsageError(f"%track_experiment: {exc}") from None
        print(f"nbtrack experiment: {name}")


def _view(name: str) -> Callable[..., Any] | None:
    """A view function from ``nbtrack.views`` if that layer provides it yet."""
    try:
        import nbtrack.views as views
    except ImportError:
        return None
    fn = getattr(views, name, None)
    return fn if callable(fn) else None


def _compare_frame(run_ids: list[str]) -> Any:
    """Plain comparison table (one column per run) used until ``nbtrack.views.compare`` exists."""
    import pandas as pd

    columns: dict[str, dict[str, Any]] = {}
    for run_id in run_ids:
        run = query.get_run(run_id)
        column: dict[str, Any] = {
            "name": run.name,
            "experiment": run.experiment,
            "status": run.status,
            "duration_s": run.duration_s,
        }
        column.update({f"params.{k}": v for k, v in run.params.items()})
        column.update({f"metrics.{k}": v for k, v in run.metrics.items()})
        columns[run.run_id] = column
    return pd.DataFrame(columns)
