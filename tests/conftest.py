"""Shared fixtures: every test gets its own store folder (one env var) and clean state."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _isolated_store(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """Point NBTRACK_STORE at a fresh folder and reset the fluent API's settings."""
    root = tmp_path_factory.mktemp("store")
    monkeypatch.setenv("NBTRACK_STORE", str(root))
    from nbtrack.tracking import settings
    from nbtrack.tracking.fluent.stack import ACTIVE

    settings.SETTINGS.store_uri = None
    settings.SETTINGS.experiment = settings.DEFAULT_EXPERIMENT
    yield root
    for run in list(ACTIVE.stack):
        if not run.is_finished:
            run.end("KILLED")
    ACTIVE.stack.clear()
    from nbtrack.errors import StoreError
    from nbtrack.storage import release_store

    try:
        release_store(str(root))  # no thread, DuckDB connection or temp folder left behind
    except StoreError:
        pass  # a test that leaves a failing disk behind has already reported it
    settings.SETTINGS.store_uri = None
    settings.SETTINGS.experiment = settings.DEFAULT_EXPERIMENT


@pytest.fixture
def store_path(_isolated_store: Path) -> Path:
    """The folder of this test's store."""
    return _isolated_store


@pytest.fixture
def store(store_path: Path):
    """This test's store, opened and set as current."""
    import nbtrack as nt

    return nt.set_store(str(store_path))


@pytest.fixture
def run(store):
    """An active run in this test's store, ended after the test."""
    import nbtrack as nt

    r = nt.start_run(name="fixture-run")
    yield r
    if not r.is_finished:
        nt.end_run()


def python_env(store_path: Path | str) -> dict[str, str]:
    """Environment for a child Python process writing to ``store_path``."""
    env = dict(os.environ)
    env["NBTRACK_STORE"] = str(store_path)
    repo = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = repo + os.pathsep + env.get("PYTHONPATH", "")
    return env
