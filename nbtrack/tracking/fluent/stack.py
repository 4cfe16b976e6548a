"""The active runs: a stack per thread (for nested runs), innermost last.

We keep it in a ``threading.local`` rather than a ContextVar: ipykernel may run each cell
in a copied context, and a run started in one cell must still be active in the next.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from nbtrack.errors import NoActiveRunError
from nbtrack.tracking.run import Run

if TYPE_CHECKING:
    pass

__all__ = ["ACTIVE", "active_run", "last_active_id", "note_active", "push", "require", "stack"]


class _ActiveRuns(threading.local):
    def __init__(self) -> None:
        self.stack: list[Run] = []


ACTIVE = _ActiveRuns()
"""This thread's stack of runs (``ACTIVE.stack``), read directly on the logging hot path."""


def stack() -> list[Run]:
    """This thread's open runs, innermost last (ended runs are dropped wherever they are)."""
    st = ACTIVE.stack
    if any(r._finished for r in st):
        st[:] = [r for r in st if not r._finished]
    return st


# The run most recently made active or ended through the stack, in any thread of this
# process (MLflow's ``last_active_run``; autolog's implicit runs included).
_last_active: list[str] = []


def push(run: Run) -> None:
    """Make ``run`` this thread's active run (the innermost one)."""
    stack().append(run)
    _last_active[:] = [run.run_id]


def note_active(run_id: str) -> None:
    """Remember ``run_id`` as the last active run (a run being ended)."""
    _last_active[:] = [run_id]


def last_active_id() -> str | None:
    """The id of the run most recently started or ended here, or None."""
    return _last_active[0] if _last_active else None


def active_run() -> Run | None:
    """The run active in this thread (the innermost one when runs are nested), or None.

    Returns:
        The active ``Run``, or None when no run is active in this thread.

    Example:
        >>> with nt.start_run(name="probe") as run:
        ...     assert nt.active_run() is run
        >>> nt.active_run() is None
        True
    """
    st = stack()
    return st[-1] if st else None


def require(what: str) -> Run:
    """The active run, or ``NoActiveRunError`` naming the call ``what`` that needed one."""
    st = stack()
    if not st:
        raise NoActiveRunError(what)
    return st[-1]
