"""The single never-raise boundary for autolog patches, callbacks and loggers.

Tracking must never break a training loop (STYLE.md §7). Every piece of integration code
that runs inside the user's training — a patched ``fit``'s bookkeeping, a callback, a
logger method — runs inside :func:`guard`. An exception there is logged (with its
traceback, at DEBUG level) to the ``nbtrack`` logger and reported once per integration as
an :class:`~nbtrack.errors.NbtrackWarning`; training carries on. ``autolog(silent=True)``
turns the warning off (the DEBUG record stays).

The user's own code never runs inside the guard: a patched ``fit`` calls the original
outside it, so the user's exceptions reach the user unchanged.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import warnings
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from nbtrack.errors import NbtrackWarning

_log = logging.getLogger("nbtrack")
_lock = threading.Lock()
# Integration names that have warned already, and those muted by autolog(silent=True).
# Process-wide on purpose: "warn once" means once per process and integration.
_warned: set[str] = set()
_silent: set[str] = set()

T = TypeVar("T")


def set_silent(integration: str, silent: bool) -> None:
    """Mute (or unmute) the warnings of one integration."""
    with _lock:
        if silent:
            _silent.add(integration)
        else:
            _silent.discard(integration)


def report(integration: str, exc: BaseException) -> None:
    """Log ``exc`` and warn once for ``integration``; never raises."""
    try:
        _log.debug("nbtrack %s integration failed", integration, exc_info=exc)
        with _lock:
            first = integration not in _warned and integration not in _silent
            _warned.add(integration)
        if first:
            warnings.warn(
                f"nbtrack: the {integration} integration failed and stopped logging part of "
                f"this run ({type(exc).__name__}: {exc}); training is not affected. Further "
                f"{integration} failures are logged to the 'nbtrack' logger only.",
                NbtrackWarning,
                stacklevel=2,
            )
    # The user may turn warnings into errors (-W error); even then training goes on.
    except Exception:  # noqa: BLE001
        pass


@contextlib.contextmanager
def guard(integration: str) -> Iterator[None]:
    """Run the body; an exception in it is reported (see :func:`report`) and swallowed."""
    try:
        yield
    # The one place integrations catch everything: tracking must not break training.
    except Exception as exc:  # noqa: BLE001
        report(integration, exc)


def guarded(integration: str, default: Any = None) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """Decorator form of :func:`guard`: the function returns ``default`` when it fails."""

    def wrap(fn: Callable[..., T]) -> Callable[..., T]:
        import functools

        @functools.wraps(fn)
        def inner(*args: Any, **kwargs: Any) -> T:
            try:
                return fn(*args, **kwargs)
            # Same boundary as guard(): callbacks and logger methods fail silently.
            except Exception as exc:  # noqa: BLE001
                report(integration, exc)
                return default  # type: ignore[no-any-return]

        return inner

    return wrap


def reset_warnings() -> None:
    """Forget which integrations warned (tests use it to see the warning again)."""
    with _lock:
        _warned.clear()
