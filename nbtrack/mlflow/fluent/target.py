"""Which run a fluent logging call writes to, and how a ``synchronous=False`` call fails.

Like MLflow, a logging call with no active run starts one (``resolve_run_id``).
"""

from __future__ import annotations

import logging
from typing import Any

from nbtrack.errors import NbtrackError
from nbtrack.mlflow import _runs
from nbtrack.mlflow.fluent.lifecycle import start_run
from nbtrack.tracking import fluent as nt_fluent


def resolve_run_id(run_id: str | None = None) -> str:
    """``run_id``, else the active run's id, starting a run when none is active (MLflow)."""
    if run_id is not None:
        return run_id
    run = nt_fluent.active_run()
    if run is None:
        return start_run()._run.run_id
    return run.run_id


def writer(run_id: str | None = None) -> _runs.RunWriter:
    """A ``RunWriter`` for ``run_id``, else for the active run (started when none is)."""
    return _runs.RunWriter(_runs.store(), resolve_run_id(run_id))


def deferred(synchronous: bool | None, fn: Any, *args: Any) -> None:
    """Run ``fn``; with ``synchronous=False`` an error is logged, not raised (as MLflow's
    asynchronous logging reports failures in the background)."""
    if synchronous is False:
        try:
            fn(*args)
        except NbtrackError as exc:
            logging.getLogger("nbtrack").error("asynchronous logging failed: %s", exc)
        return
    fn(*args)
