"""Fixtures for the integration tests: autolog off after each test, an IPython shell."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests._ipython_shell import nbtrack_shell


@pytest.fixture(autouse=True)
def _autolog_off(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Autolog off and the guard's memory empty around each test; no hidden failures.

    pytest turns NbtrackWarning into an error, which the guard swallows (it must survive
    ``-W error``), so a broken integration could pass a test unnoticed: every failure the
    guard reports is recorded, and a test not marked ``autolog_failure`` fails on one.
    """
    from nbtrack.integrations import FRAMEWORKS, _guard, autolog

    failures: list[str] = []
    real_report = _guard.report

    def recording_report(integration: str, exc: BaseException) -> None:
        failures.append(f"{integration}: {type(exc).__name__}: {exc}")
        real_report(integration, exc)

    monkeypatch.setattr(_guard, "report", recording_report)
    _guard.reset_warnings()
    yield
    autolog(list(FRAMEWORKS), disable=True)
    _guard.reset_warnings()
    if request.node.get_closest_marker("autolog_failure") is None:
        assert not failures, f"an integration failed inside the guard: {failures}"


@pytest.fixture
def ip(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """IPython's test shell (real cells) with nbtrack loaded and no live view."""
    with nbtrack_shell(monkeypatch) as shell:
        yield shell
