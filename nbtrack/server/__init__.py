"""The Jupyter Server extension: nbtrack's REST API under ``<base_url>/nbtrack/api/``.

Enabled by ``jupyter-config/jupyter_server_config.d/nbtrack.json`` (installed with the
package, also by ``pip install -e .``) as the extension ``nbtrack.server``; the entry point
is :func:`_jupyter_server_extension_points` below. (It lives here, not in the package root,
so that importing ``nbtrack`` never reaches the server layer.) The API's reference is
docs/rest.md.
"""

from __future__ import annotations

from typing import Any


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from nbtrack.server.extension import NbtrackApp

    return [{"module": "nbtrack.server.extension", "app": NbtrackApp}]
