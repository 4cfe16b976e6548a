"""A real Jupyter Server (pytest-jupyter) with the nbtrack extension over this test's store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

# pytest-jupyter's fixtures (jp_fetch, jp_serverapp ...) only for the tests in this folder:
# its autouse fixtures would otherwise run around every test of the suite.
from pytest_jupyter.jupyter_core import *  # noqa: F403
from pytest_jupyter.jupyter_server import *  # noqa: F403


@pytest.fixture
def second_store_path(store_path: Path) -> Path:
    """A second store the server is configured to serve (the lab setting "store")."""
    return store_path.parent / "second-store"


@pytest.fixture
def jp_server_config(store_path: Path, second_store_path: Path) -> dict[str, Any]:
    return {
        "ServerApp": {"jpserver_extensions": {"nbtrack.server": True}},
        "NbtrackApp": {"store": str(store_path), "stores": [str(second_store_path)]},
    }


@pytest.fixture
def api(jp_fetch):
    """``await api("runs", params={...})`` -> (status, JSON body); errors are returned too."""

    async def call(*parts: str, method: str = "GET", body: Any = None, **kwargs: Any):
        if body is not None:
            kwargs["body"] = json.dumps(body)
        kwargs.setdefault("raise_error", False)
        resp = await jp_fetch("nbtrack", "api", *parts, method=method, **kwargs)
        text = resp.body.decode()
        return resp.code, (json.loads(text) if text else None)

    return call
