"""Reading small text files (``/proc``, distribution metadata) that may be missing."""

from __future__ import annotations

__all__ = ["read_text"]


def read_text(path: str) -> str | None:
    """The text of the file at ``path``, or None when it cannot be read."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return None
