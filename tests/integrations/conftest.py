"""Fixtures for the integration tests: autolog off after each test, an IPython shell."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def _autolog_off() -> Iterator[None]:
    """Every test starts and ends with autolog off and the guard's warn-once memory empty."""
    from nbtrack.integrations import FRAMEWORKS, _guard, autolog

    _guard.reset_warnings()
    yield
    autolog(list(FRAMEWORKS), disable=True)
    _guard.reset_warnings()


@pytest.fixture
def ip(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """IPython's test shell (real cells) with nbtrack loaded and no live view."""
    from IPython.testing.globalipapp import get_ipython

    shell = get_ipython()
    shell.run_line_magic("load_ext", "nbtrack")
    magics = shell.magics_manager.registry["TrackMagics"]
    monkeypatch.setattr(magics, "live_renderer_factory", None)
    before = set(shell.user_ns)
    yield shell
    for name in set(shell.user_ns) - before:
        shell.user_ns.pop(name, None)

