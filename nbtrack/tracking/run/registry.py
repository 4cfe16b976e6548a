"""The runs this process owns: ended at exit, forgotten in a forked child.

A run started here is registered until it ends; at interpreter exit the still-open ones
end FINISHED, or FAILED after an uncaught exception or a non-zero ``sys.exit``.
"""

from __future__ import annotations

import os
import threading
import weakref
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    pass

__all__ = ["install_exit_handlers", "lookup", "register", "release"]


class _OwnedRun(Protocol):
    """What the registry needs of a run (a :class:`~nbtrack.tracking.run.Run`)."""

    run_id: str

    def end(self, status: str = ...) -> None: ...

    def _reset_after_fork(self) -> None: ...


# Runs started in this process and not yet ended, by id (for get_run and exit handling).
_owned: weakref.WeakValueDictionary[str, _OwnedRun] = weakref.WeakValueDictionary()
_owned_strong: dict[str, _OwnedRun] = {}
_owned_lock = threading.Lock()


def register(run: _OwnedRun) -> None:
    """Hold ``run`` as this process's until :func:`release`; end it at exit if still open."""
    with _owned_lock:
        _owned[run.run_id] = run
        _owned_strong[run.run_id] = run
    install_exit_handlers()


def release(run_id: str) -> None:
    """The run has ended: exit handling no longer ends it (``owned_run`` finds it while alive)."""
    with _owned_lock:
        _owned_strong.pop(run_id, None)


def lookup(run_id: str) -> _OwnedRun | None:
    """The run ``run_id`` if this process started it and still holds a reference to it."""
    return _owned.get(run_id)


_exit_installed = False
_uncaught = False
_exit_code: Any = None


def install_exit_handlers() -> None:
    """End open runs at exit: FINISHED on a clean exit, FAILED otherwise.

    "Otherwise" is an uncaught exception (seen through ``sys.excepthook``, chained to the
    previous hook) or ``sys.exit(code)`` with a non-zero code (seen through a wrapper that
    records the code and calls the previous ``sys.exit``). A bare ``raise SystemExit(3)``
    cannot be observed from Python and still reads FINISHED.
    """
    global _exit_installed
    if _exit_installed:
        return
    _exit_installed = True
    import atexit
    import sys

    previous_hook = sys.excepthook

    def hook(tp: Any, value: Any, tb: Any) -> None:
        global _uncaught
        _uncaught = True
        previous_hook(tp, value, tb)

    previous_exit = sys.exit

    def exit(status: Any = None) -> None:
        global _exit_code
        _exit_code = status
        previous_exit(status)

    exit.__doc__ = previous_exit.__doc__
    sys.excepthook = hook
    sys.exit = exit
    atexit.register(_end_open_runs)


def _exit_failed() -> bool:
    code = _exit_code
    return _uncaught or (code is not None and code != 0)


def _end_open_runs() -> None:
    status = "FAILED" if _exit_failed() else "FINISHED"
    with _owned_lock:
        runs = list(_owned_strong.values())
    for run in runs:
        try:
            run.end(status)
        # At exit nobody can handle the error; report it and end the other runs.
        except Exception as exc:  # noqa: BLE001
            import sys

            print(f"nbtrack: could not end run {run.run_id}: {exc}", file=sys.stderr)


def _after_fork_in_child() -> None:
    """A forked child owns none of its parent's runs: it never ends them at exit.

    Its handles keep working for logging points (written under the child's own writer id,
    into fresh buffers: the parent's pending points are the parent's to write).
    """
    global _owned_lock
    _owned_lock = threading.Lock()
    _owned_strong.clear()
    for run in list(_owned.values()):
        run._reset_after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)
