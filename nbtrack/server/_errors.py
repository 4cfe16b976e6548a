"""The one place that turns an nbtrack error into an HTTP status and a JSON body.

Every error reply of the API is ``{"error": <type>, "message": <text>}`` where the text is
exactly what the Python API says for the same input (a ``FilterError`` adds
``"position"``). Nothing else reaches the client: an unexpected exception is logged on the
server and answered with a generic 500 JSON body, never a traceback.
"""

from __future__ import annotations

from typing import Any

from nbtrack.errors import (
    ActiveRunError,
    AmbiguousRunIdError,
    ArtifactError,
    ExperimentNotFoundError,
    FilterError,
    MetricNotFoundError,
    ModelNotFoundError,
    NbtrackError,
    NoActiveRunError,
    ParamConflictError,
    RunFinishedError,
    RunNotFoundError,
    StoreError,
)


class StoreNotServedError(NbtrackError):
    """A request picked a store that the server's configuration does not list."""


# First match wins: order subclasses before their bases.
_STATUS: tuple[tuple[type[NbtrackError], int], ...] = (
    (StoreNotServedError, 403),
    (AmbiguousRunIdError, 400),
    (RunNotFoundError, 404),
    (ExperimentNotFoundError, 404),
    (MetricNotFoundError, 404),
    (ModelNotFoundError, 404),
    (FilterError, 400),
    (ParamConflictError, 409),
    (RunFinishedError, 409),
    (ActiveRunError, 409),
    (NoActiveRunError, 409),
    (StoreError, 503),
    (ArtifactError, 400),
    (NbtrackError, 400),
)


def status_of(exc: NbtrackError) -> int:
    """HTTP status of an nbtrack error (400 unless a more precise one applies)."""
    for cls, status in _STATUS:
        if isinstance(exc, cls):
            return status
    return 400


def body_of(exc: NbtrackError) -> dict[str, Any]:
    """JSON body of an nbtrack error: its type name, its message, a filter's position."""
    body: dict[str, Any] = {"error": type(exc).__name__, "message": str(exc)}
    if isinstance(exc, FilterError):
        body["position"] = exc.position
    return body


INTERNAL = {
    "error": "InternalError",
    "message": "the nbtrack server extension failed unexpectedly; see the Jupyter server log",
}
