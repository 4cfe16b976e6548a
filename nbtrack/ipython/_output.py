"""Teeing a tracked cell's stdout and stderr: the user sees them live, the run keeps a copy.

The copy is capped at :data:`MAX_OUTPUT_BYTES` (UTF-8) per stream: past the cap the first
half and the last half are kept and a one-line marker says how many bytes were dropped
in between, so both the setup messages and the final results of a chatty training loop
survive.

Only writes through ``sys.stdout`` / ``sys.stderr`` are captured (``print``, warnings,
most progress bars). Output written straight to file descriptor 1/2 by C code, or by a
logging handler that kept a reference to the old stream, is shown but not stored.
"""

from __future__ import annotations

import collections
import contextlib
import sys
import threading
from collections.abc import Iterator
from typing import Any, TextIO

#: Cap of each stored stream (stdout.txt, stderr.txt), in bytes.
MAX_OUTPUT_BYTES = 1_000_000

_OMITTED = (
    "\n[nbtrack: {n} bytes of output omitted here; "
    "the stored copy keeps the first and last {half} bytes]\n"
)


class CappedText:
    """An append-only text buffer that keeps the head and the tail once it exceeds a cap.

    Args:
        limit: Bytes to keep in total (half head, half tail).
    """

    def __init__(self, limit: int = MAX_OUTPUT_BYTES) -> None:
        self._half = max(1, limit // 2)
        self._head = bytearray()
        self._tail: collections.deque[bytes] = collections.deque()
        self._tail_size = 0
        self._total = 0
        self._lock = threading.Lock()

    @property
    def total_bytes(self) -> int:
        """Bytes written so far, including the omitted ones."""
        return self._total

    def write(self, text: str) -> None:
        """Append ``text``."""
        data = text.encode("utf-8", "replace")
        with self._lock:
            self._total += len(data)
            room = self._half - len(self._head)
            if room > 0:
                self._head += data[:room]
                data = data[room:]
            if not data:
                return
            self._tail.append(data)
            self._tail_size += len(data)
            while self._tail_size - len(self._tail[0]) >= self._half:
                self._tail_size -= len(self._tail.popleft())

    def getvalue(self) -> str:
        """The kept text: everything, or head + marker + tail when over the cap."""
        with self._lock:
            tail = b"".join(self._tail)
            head = bytes(self._head)
            total = self._total
        if total <= 2 * self._half:
            # nothing was dropped: the tail only loses chunks once it holds more than half
            return (head + tail).decode("utf-8", "replace")
        tail = tail[len(tail) - self._half :]
        omitted = total - len(head) - len(tail)
        # "ignore" drops a multi-byte character cut in half at the seams
        return (
            head.decode("utf-8", "ignore")
            + _OMITTED.format(n=omitted, half=self._half)
            + tail.decode("utf-8", "ignore")
        )


class TeeStream:
    """A text stream that writes through to ``target`` and copies into a :class:`CappedText`.

    Every other attribute (``encoding``, ``isatty``, ``fileno`` ...) is the target's.

    Args:
        target: The stream the user sees (the kernel's ``OutStream``).
        copy: Where the copy goes.
    """

    def __init__(self, target: TextIO, copy: CappedText) -> None:
        self._target = target
        self._copy = copy

    def write(self, text: str) -> int:
        """Write to the target, then to the copy."""
        written = self._target.write(text)
        if isinstance(text, str):
            self._copy.write(text)
        return written if written is not None else len(text)

    def writelines(self, lines: Any) -> None:
        """Write each line."""
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        """Flush the target."""
        self._target.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target, name)


@contextlib.contextmanager
def tee_output(stdout: CappedText, stderr: CappedText) -> Iterator[None]:
    """Tee ``sys.stdout``/``sys.stderr`` into the two buffers for the duration of the block.

    On exit a stream is put back only if it is still our tee: code that replaced it inside
    the block (and did not restore it) keeps its replacement.
    """
    old_out, old_err = sys.stdout, sys.stderr
    tee_out, tee_err = TeeStream(old_out, stdout), TeeStream(old_err, stderr)
    sys.stdout, sys.stderr = tee_out, tee_err  # type: ignore[assignment]
    try:
        yield
    finally:
        if sys.stdout is tee_out:
            sys.stdout = old_out
        if sys.stderr is tee_err:
            sys.stderr = old_err
