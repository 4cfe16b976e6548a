"""Running one ``%%track`` cell as one run.

The sequence, each step before the next:

1. ``prepare_cell``: IPython-transform the body, parse it (a syntax error raises
   ``UsageError`` and nothing is written), find the literal params.
2. ``TrackedCell.run``: start the run with the context tags and the literal params
   (``ActiveRunError`` becomes a ``UsageError`` naming ``--nested``); log ``cell.py`` and
   ``git.diff``; bind the Run to ``run`` (or ``--as``) in the user namespace; tee
   stdout/stderr; execute the body in the user namespace like IPython does (the last
   expression's value is returned, so it shows as ``Out[n]``).
3. In a ``finally`` with SIGINT deferred (an interrupt during bookkeeping must not leave
   the run RUNNING): log ``-p`` params, ``stdout.txt``, ``stderr.txt``, ``traceback.txt``,
   ``environment.json``; end runs the cell left open; end the run FINISHED, FAILED or
   KILLED; show the summary in place of the live view. The cell's exception is then
   re-raised unchanged, so IPython shows its normal traceback and the cell fails.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import os
import sys
import time
import traceback
from collections.abc import Callable
from types import CodeType
from typing import Any

from IPython.core.error import UsageError

from nbtrack.errors import ActiveRunError, NbtrackError, ParamConflictError
from nbtrack.ipython._context import (
    GitCapture,
    context_tags,
    current_execution_count,
    deferred_sigint,
)
from nbtrack.ipython._live import LiveMetricsView, LiveRenderer
from nbtrack.ipython._output import CappedText, tee_output
from nbtrack.ipython._series import MetricSeriesSet
from nbtrack.ipython._summary import RunSummary, latest_metrics
from nbtrack.tracking import capture, fluent
from nbtrack.tracking.colors import color_for
from nbtrack.tracking.validation import MAX_PARAM


@dataclasses.dataclass(frozen=True)
class TrackOptions:
    """The parsed and validated ``%%track`` options."""

    experiment: str | None = None
    name: str | None = None
    tags: dict[str, str] = dataclasses.field(default_factory=dict)
    param_vars: tuple[str, ...] = ()
    live_keys: tuple[str, ...] | None = None
    live: bool = True
    nested: bool = False
    run_var: str = "run"
    magic_line: str = ""
    system: bool = False
    autolog: bool = False


@dataclasses.dataclass(frozen=True)
class PreparedCell:
    """A cell body ready to execute."""

    raw: str
    filename: str
    tree: ast.Module
    code: CodeType
    last_expression: CodeType | None
    literal_params: dict[str, Any]
    assigned_names: frozenset[str]
    is_silenced: bool


def prepare_cell(shell: Any, body: str) -> PreparedCell:
    """Transform and parse a cell body; raise ``UsageError`` on a syntax error.

    The compiled source gets one leading blank line so that traceback line numbers match
    the lines the user sees (line 1 is the ``%%track`` line).
    """
    try:
        transformed = shell.transform_cell(body)
    except SyntaxError as exc:
        raise UsageError(_syntax_message(exc, body)) from None
    source = "\n" + transformed
    # Under the running cell's number, so a traceback cites "Cell In[N]" of this cell.
    filename = shell.compile.cache(
        source, current_execution_count(shell), raw_code="%%track\n" + body
    )
    try:
        tree = shell.compile.ast_parse(source, filename=filename)
    except (SyntaxError, ValueError) as exc:
        raise UsageError(_syntax_message(exc, "\n" + body)) from None
    tree = shell.transform_ast(tree)
    if tree is None:
        raise UsageError("an AST transformer rejected the %%track cell; no run was started")
    # Compile now: errors only the compiler sees ('await' or 'return' outside a function)
    # must stop the cell before a run exists. The last expression is compiled apart, as
    # IPython does, so its value can be the cell's Out[n].
    body_tree, last = tree, None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        body_tree = ast.Module(tree.body[:-1], type_ignores=[])
        last = ast.Expression(tree.body[-1].value)
    try:
        code = shell.compile(body_tree, filename, "exec")
        last_code = shell.compile(last, filename, "eval") if last is not None else None
    except (SyntaxError, ValueError) as exc:
        raise UsageError(_syntax_message(exc, "\n" + body)) from None
    return PreparedCell(
        raw=body,
        filename=filename,
        tree=tree,
        code=code,
        last_expression=last_code,
        literal_params=capture.extract_literal_params(tree),
        assigned_names=frozenset(capture.names_assigned(tree)),
        is_silenced=_ends_with_semicolon(transformed),
    )


def _syntax_message(exc: BaseException, source: str) -> str:
    lineno = getattr(exc, "lineno", None)
    msg = getattr(exc, "msg", None) or str(exc)
    text = f"{type(exc).__name__} in the %%track cell"
    if lineno:
        text += f", line {lineno}"
        lines = source.splitlines()
        if 0 < lineno <= len(lines):
            code = lines[lineno - 1]
            offset = getattr(exc, "offset", None) or 0
            text += f": {msg}\n    {code.strip()}"
            if offset:
                indent = len(code) - len(code.lstrip())
                text += "\n    " + " " * max(0, offset - 1 - indent) + "^"
            return text + "\nNo run was started."
    return f"{text}: {msg}. No run was started."


def _ends_with_semicolon(source: str) -> bool:
    lines = [line.split("#", 1)[0].rstrip() for line in source.rstrip().splitlines()]
    lines = [line for line in lines if line]
    return bool(lines) and lines[-1].endswith(";")


def loggable_params(params: dict[str, Any]) -> dict[str, Any]:
    """Drop captured values too long for a param (they would make the run fail to start)."""
    return {
        k: v for k, v in params.items() if len(v if isinstance(v, str) else str(v)) <= MAX_PARAM
    }


def _user_traceback(exc: BaseException, filename: str) -> str:
    """The exception formatted from the first frame of the cell down (no magic frames)."""
    tb = exc.__traceback__
    start = tb
    while start is not None and start.tb_frame.f_code.co_filename != filename:
        start = start.tb_next
    return "".join(traceback.format_exception(type(exc), exc, start or tb))


class TrackedCell:
    """One execution of a ``%%track`` cell.

    Args:
        shell: The IPython shell.
        options: Validated options.
        cell: The prepared body.
        renderer_factory: Builds the live view renderer, or ``None`` for no live view.
        kernel: The kernel id for the ``nbtrack.kernel_id`` tag, if known.
    """

    def __init__(
        self,
        shell: Any,
        options: TrackOptions,
        cell: PreparedCell,
        *,
        renderer_factory: Callable[[], LiveRenderer] | None,
        kernel: str | None = None,
    ) -> None:
        self.shell = shell
        self.options = options
        self.cell = cell
        self.renderer_factory = renderer_factory
        self.kernel = kernel
        self.stdout = CappedText()
        self.stderr = CappedText()
        self.series = MetricSeriesSet(list(options.live_keys) if options.live_keys else None)
        self.all_series = self.series if options.live_keys is None else MetricSeriesSet()
        self.live: LiveMetricsView | None = None
        self.run_obj: Any = None
        self.git: GitCapture
        self.status = "FINISHED"
        self.params: dict[str, Any] = {}

    def start(self) -> Any:
        """Start the run (nothing is written when this raises)."""
        self.git = git = GitCapture(os.getcwd())
        tags = context_tags(self.shell, self.cell.raw, None, self.kernel)
        tags.update(git.start_tags())
        tags.update(self.options.tags)
        # `_`-names are throwaways or private by convention, not configuration
        params = {
            k: v
            for k, v in self.cell.literal_params.items()
            if k not in self.options.param_vars and not k.startswith("_")
        }
        self.params = loggable_params(params)
        try:
            run = fluent.start_run(
                name=self.options.name,
                experiment=self.options.experiment,
                params=self.params,
                tags=tags,
                nested=self.options.nested,
                log_system_metrics=True if self.options.system else None,
            )
        except ActiveRunError as exc:
            raise UsageError(
                f"%%track: {exc}. Use `%%track --nested` for a child run of the active one."
            ) from None
        except NbtrackError as exc:
            raise UsageError(f"%%track: {exc}. No run was started.") from None
        self.run_obj = run
        header = f"# {self.options.magic_line}".rstrip() + "\n"
        # The run exists now: a failed artifact write is reported, never left RUNNING.
        try:
            run.log_text(header + self.cell.raw, "cell.py")
        except NbtrackError as exc:
            _warn(f"could not store the cell's code: {exc}")
        git.attach(run)
        return run

    def execute(self) -> Any:
        """Run the started cell; return the last expression's value; re-raise its error."""
        __tracebackhide__ = True
        run = self.run_obj
        shell = self.shell
        shell.user_ns[self.options.run_var] = run
        removers = []
        if self.all_series is not self.series:
            removers.append(run.add_metric_listener(self.all_series.add))
        removers.append(run.add_metric_listener(self.series.add))
        if self.renderer_factory is not None:
            factory = self.renderer_factory
            if getattr(factory, "takes_color", False):  # the plot draws in the run's colour
                factory = functools.partial(factory, color=color_for(run.run_id))
            self.live = LiveMetricsView(self.series, factory, title=f"{run.name} ({run.run_id})")
            removers.append(run.add_metric_listener(self.live.on_metric))
        started = time.perf_counter()
        error: BaseException | None = None
        try:
            with tee_output(self.stdout, self.stderr):
                return self._exec_body()
        except BaseException as exc:
            error = exc
            self.status = "KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED"
            raise
        finally:
            with deferred_sigint():
                for remove in removers:
                    remove()
                try:
                    self._finish(error, time.perf_counter() - started)
                # The cell's own exception matters more than a bookkeeping failure: report
                # ours and let the user's error propagate unchanged.
                except Exception as exc:
                    if error is None:
                        raise
                    _warn(f"could not end run {run.run_id}: {exc}")

    def _exec_body(self) -> Any:
        __tracebackhide__ = True
        shell = self.shell
        exec(self.cell.code, shell.user_global_ns, shell.user_ns)
        if self.cell.last_expression is None:
            return None
        value = eval(self.cell.last_expression, shell.user_global_ns, shell.user_ns)
        return None if self.cell.is_silenced else value

    # ------------------------------------------------------------------ end of the cell
    def _finish(self, error: BaseException | None, duration_s: float) -> None:
        run = self.run_obj
        self.git.finish()
        if not run.is_finished:
            self._log_end_records(run, error)
            self._end_run(run)
        else:
            self.status = run.status
        summary = RunSummary(
            run_id=run.run_id,
            name=run.name,
            experiment=run.experiment,
            status=run.status if run.is_finished else self.status,
            duration_s=duration_s,
            params=self.params,
            metrics=latest_metrics(run, self.all_series.latest()),
            series=self.all_series.snapshot(),
            error=f"{type(error).__name__}: {error}".rstrip(": ") if error is not None else None,
        )
        self._show(summary)

    def _log_end_records(self, run: Any, error: BaseException | None) -> None:
        # Each record separately: one failure (a huge param, a full disk) must not stop the
        # others nor the run from ending; the user is told on stderr.
        ns = self.shell.user_ns
        for var in self.options.param_vars:
            if var not in ns:
                _warn(f"-p {var}: no variable {var!r} at the end of the cell; param not logged")
                continue
            text = str(ns[var])
            if len(text) > MAX_PARAM:
                _warn(f"-p {var}: value has {len(text)} characters (limit {MAX_PARAM}); not logged")
                continue
            try:
                run.log_param(var, ns[var])
                self.params[var] = text
            except ParamConflictError as exc:
                _warn(f"-p {var}: {exc}")
            except NbtrackError as exc:
                _warn(f"-p {var}: {exc}")
        records: list[tuple[str, Callable[[], object]]] = []
        out, err = self.stdout.getvalue(), self.stderr.getvalue()
        if out:
            records.append(("stdout.txt", lambda: run.log_text(out, "stdout.txt")))
        if err:
            records.append(("stderr.txt", lambda: run.log_text(err, "stderr.txt")))
        if error is not None:
            text = _user_traceback(error, self.cell.filename)
            records.append(("traceback.txt", lambda: run.log_text(text, "traceback.txt")))
        records.append(
            ("environment.json", lambda: run.log_dict(_environment(), "environment.json"))
        )
        for name, log in records:
            try:
                log()
            except NbtrackError as exc:
                _warn(f"could not store {name}: {exc}")

    def _end_run(self, run: Any) -> None:
        # Runs the cell started and left open are children of this one: end them first,
        # with the cell's status, so the fluent stack is back to what it was.
        while True:
            top = fluent.active_run()
            if top is None or top is run or run.is_finished:
                break
            fluent.end_run(self.status)
        if not run.is_finished:
            if fluent.active_run() is run:
                fluent.end_run(self.status)
            else:
                run.end(self.status)

    def _show(self, summary: RunSummary) -> None:
        if self.live is not None and self.live.finish(summary):
            return
        from IPython.display import display

        display(summary)


def _environment() -> dict[str, Any]:
    env = capture.collect_environment()
    return {**env, "packages": capture.collect_packages(), "hardware": capture.collect_hardware()}


def _warn(message: str) -> None:
    print(f"nbtrack: {message}", file=sys.stderr)


__all__ = ["PreparedCell", "TrackOptions", "TrackedCell", "prepare_cell"]
