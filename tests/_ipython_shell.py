"""IPython's test shell with nbtrack loaded: the one setup the ``ip`` fixtures share."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest


@contextmanager
def nbtrack_shell(
    monkeypatch: pytest.MonkeyPatch, live_renderer_factory: Any = None
) -> Iterator[Any]:
    """IPython's test shell (real cells) with nbtrack loaded; names a test adds to the
    namespace are removed afterwards.

    Args:
        monkeypatch: The test's monkeypatch (undoes the renderer change).
        live_renderer_factory: What ``%%track`` draws live curves with; None draws none.
    """
    from IPython.testing.globalipapp import get_ipython

    shell = get_ipython()
    shell.run_line_magic("load_ext", "nbtrack")
    magics = shell.magics_manager.registry["TrackMagics"]
    monkeypatch.setattr(magics, "live_renderer_factory", live_renderer_factory)
    before = set(shell.user_ns)
    try:
        yield shell
    finally:
        for name in set(shell.user_ns) - before:
            shell.user_ns.pop(name, None)
