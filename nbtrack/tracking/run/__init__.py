"""Run: one tracked execution — its lifecycle, and every way to log to it.

A Run started in this process owns its records: params, metrics and tags are buffered in
memory and flushed by the store (on size, on a timer, at ``end``, at exit). A Run object
is safe to use from any thread.

Modules
    This package's ``__init__`` is its door: code outside it imports from
    ``nbtrack.tracking.run``. Inside, imports point downward only (an import-linter
    contract): :mod:`.opening` (start, resume or attach a run for writing) uses
    :mod:`.handle` (the :class:`Run` class: attributes, lifecycle, params and tags), which
    is built from the mixins :mod:`.metric_logging` and :mod:`.artifact_logging` over
    :mod:`.state` (identity and buffers) and uses :mod:`.registry` (the runs this process
    owns, ended at exit).
"""

from __future__ import annotations

from nbtrack.tracking.run.handle import Run
from nbtrack.tracking.run.opening import attach_worker, open_owned, owned_run, start_owned_run
from nbtrack.tracking.run.state import MetricListener

__all__ = [
    "MetricListener",
    "Run",
    "attach_worker",
    "open_owned",
    "owned_run",
    "start_owned_run",
]
