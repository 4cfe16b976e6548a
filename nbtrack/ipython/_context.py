"""What a tracked cell knows about where it runs: kernel id, context tags, git state.

Also the SIGINT guard used while a tracked cell does its bookkeeping.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any

from nbtrack.errors import NbtrackError
from nbtrack.tracking import capture

_KERNEL_FILE_RE = re.compile(r"kernel-(?P<id>.+)\.json$")


def kernel_id(shell: Any) -> str | None:
    """The Jupyter kernel id (from the connection file name), or ``None`` outside a kernel."""
    kernel = getattr(shell, "kernel", None)
    if kernel is None:
        return None
    connection_file = None
    try:
        from ipykernel.kernelapp import IPKernelApp

        if IPKernelApp.initialized():
            connection_file = IPKernelApp.instance().connection_file
    except ImportError:
        pass
    if connection_file:
        match = _KERNEL_FILE_RE.search(os.path.basename(connection_file))
        if match:
            return match.group("id")
    ident = getattr(kernel, "ident", None)
    return str(ident) if ident else None


def cell_hash(body: str) -> str:
    """First 16 hex digits of the SHA-256 of the cell body."""
    return hashlib.sha256(body.encode("utf-8")).hexdigest()[:16]


def current_execution_count(shell: Any) -> int:
    """The number shown in the running cell's prompt.

    IPython 9 increments ``execution_count`` before a cell runs, IPython 8 after it, so
    the running cell is ``execution_count - 1`` on 9 and ``execution_count`` on 8.
    """
    import IPython

    count = int(shell.execution_count)
    return count - 1 if IPython.version_info[0] >= 9 else count


def context_tags(
    shell: Any, body: str, git: capture.GitInfo | None, kernel: str | None
) -> dict[str, str]:
    """The ``nbtrack.*`` tags of a tracked cell."""
    env = capture.collect_environment()
    tags = {
        "nbtrack.cell.hash": cell_hash(body),
        "nbtrack.cell.execution_count": str(current_execution_count(shell)),
        "nbtrack.python": env["python"],
        "nbtrack.platform": env["platform"],
        "nbtrack.host": env["host"],
    }
    notebook = capture.find_notebook_path(shell.user_ns)
    if notebook:
        tags["nbtrack.notebook"] = notebook
    if kernel:
        tags["nbtrack.kernel_id"] = kernel
    if git is not None:
        tags.update(git.as_tags())
    return tags


@contextlib.contextmanager
def deferred_sigint() -> Iterator[None]:
    """Hold a SIGINT that arrives inside the block and raise it as KeyboardInterrupt after.

    Only in the main thread (signal handlers can only be set there); elsewhere a no-op.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []

    def hold(signum: int, frame: Any) -> None:
        pending.append(signum)

    try:
        previous = signal.signal(signal.SIGINT, hold)
    except (ValueError, OSError):
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if pending:
        raise KeyboardInterrupt


class GitCapture:
    """Git state fetched off the critical path and logged to the run as soon as it is known.

    A fresh cache entry is used at once. Otherwise ``git`` runs in a thread started with
    the cell; the thread sets the ``nbtrack.git.*`` tags and ``git.diff`` on the run the
    moment it finishes (a few ms into the cell, so a kernel that dies later still has
    them); :meth:`finish` waits for it before the run ends, so an empty cell pays at most
    the git time and a real cell pays nothing.
    """

    def __init__(self, directory: str) -> None:
        self._lock = threading.Lock()
        self._run: Any = None
        self._logged = False
        self._abandoned = False
        self._tags_given = False  # the git tags went into start_run already
        self.is_done, self.info = capture.peek_git_info(directory)
        self._thread: threading.Thread | None = None
        if not self.is_done:
            self._thread = threading.Thread(
                target=self._collect, args=(directory,), name="nbtrack-git", daemon=True
            )
            self._thread.start()

    def _collect(self, directory: str) -> None:
        info = capture.collect_git_info(directory)
        with self._lock:
            self.info = info
            self.is_done = True
            if self._run is not None and not self._abandoned:
                self._log()

    def start_tags(self) -> dict[str, str]:
        """Tags to start the run with: the git tags if already known."""
        with self._lock:
            if self.is_done and self.info is not None:
                self._tags_given = True
                return self.info.as_tags()
        return {}

    def attach(self, run: Any) -> None:
        """The run exists: log what is known now (the diff) or when the thread finishes."""
        with self._lock:
            self._run = run
            if self.is_done:
                # git may have answered between start_tags() and now: log its tags then.
                self._log(tags=not self._tags_given)

    def finish(self, timeout: float = 3 * capture.GIT_TIMEOUT_S) -> None:
        """Wait for git (bounded) so its records go in before the run ends."""
        if self._thread is not None:
            self._thread.join(timeout)
        with self._lock:
            self._abandoned = True
            if self.is_done and self._run is not None:
                self._log()

    def _log(self, *, tags: bool = True) -> None:
        if self._logged or self.info is None or self._run.is_finished:
            return
        self._logged = True
        # In the git thread or at the end of the cell: a write error is reported, it
        # must not kill the thread silently nor mask the cell's outcome.
        try:
            if tags:
                self._run.set_tags(self.info.as_tags())
            if self.info.diff:
                self._run.log_text(self.info.diff, "git.diff")
        except NbtrackError as exc:
            _warn(f"could not store the git state: {exc}")


def _warn(message: str) -> None:
    print(f"nbtrack: {message}", file=sys.stderr)
