"""The capture caches as one: forget them all, or fill them in the background."""

from __future__ import annotations

import os
import threading

from nbtrack.tracking.capture.git import clear_git_cache, collect_git_info
from nbtrack.tracking.capture.machine import (
    clear_machine_cache,
    collect_environment,
    collect_hardware,
)
from nbtrack.tracking.capture.packages import clear_packages_cache, collect_packages

__all__ = ["reset_capture_cache", "warm_capture_cache"]

_lock = threading.Lock()
_warm_thread: threading.Thread | None = None


def reset_capture_cache() -> None:
    """Forget every cached capture (for tests, or after the environment changed)."""
    global _warm_thread
    with _lock:
        clear_git_cache()
        clear_machine_cache()
        clear_packages_cache()
        _warm_thread = None


def warm_capture_cache(directory: str | None = None) -> threading.Thread:
    """Start collecting environment, hardware, package map and git info in the background.

    Calling it again while a warm-up runs (or after one finished) returns the same thread.

    Args:
        directory: Directory whose git state to prefetch; the current directory by default.

    Returns:
        The daemon thread doing the work (join it to wait).
    """
    global _warm_thread
    with _lock:
        if _warm_thread is not None:
            return _warm_thread
        thread = threading.Thread(
            target=_warm, args=(directory,), name="nbtrack-capture-warmup", daemon=True
        )
        _warm_thread = thread
    thread.start()
    return thread


def _warm(directory: str | None) -> None:
    # A failure here only means the first tracked cell collects synchronously; never raise
    # from a daemon thread (it would print to the user's notebook).
    try:
        collect_environment()
        collect_hardware()
        collect_packages()
        collect_git_info(directory or os.getcwd())
    except Exception:  # noqa: BLE001 - best-effort prefetch, see comment above
        pass
