"""nbval runs of the demo notebooks (`pytest --nbval-lax notebooks/`) get a fresh store.

The notebooks write to ``$NBTRACK_STORE`` (else ``notebooks/.nbtrack``). Under pytest it
points at one new, empty folder for the whole session, set before nbval starts the
kernels (they inherit the environment), so the checked outputs never depend on runs
left by earlier sessions, and 05-dashboard sees what 01–04 logged in this session.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

_created: list[str] = []


def pytest_configure(config: pytest.Config) -> None:
    root = tempfile.mkdtemp(prefix="nbtrack-nbval-")
    _created.append(root)
    os.environ["NBTRACK_STORE"] = os.path.join(root, "store")


def pytest_unconfigure(config: pytest.Config) -> None:
    for root in _created:
        shutil.rmtree(root, ignore_errors=True)
