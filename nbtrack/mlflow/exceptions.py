"""``MlflowException``: what MLflow code catches; nbtrack's errors are translated into it.

``MlflowException`` derives from ``NbtrackError``, and each translated error keeps the
original as ``__cause__``, so ``except nbtrack.NbtrackError`` and ``except
MlflowException`` both work.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from nbtrack.errors import (
    ActiveRunError,
    ArtifactError,
    FilterError,
    InvalidKeyError,
    InvalidValueError,
    ModelError,
    ModelNotFoundError,
    NbtrackError,
    ParamConflictError,
    QueryError,
    RunNotFoundError,
)
from nbtrack.tracking.experiments import ExperimentExistsError, ExperimentNotFoundError

INVALID_PARAMETER_VALUE = "INVALID_PARAMETER_VALUE"
RESOURCE_DOES_NOT_EXIST = "RESOURCE_DOES_NOT_EXIST"
RESOURCE_ALREADY_EXISTS = "RESOURCE_ALREADY_EXISTS"
BAD_REQUEST = "BAD_REQUEST"
INTERNAL_ERROR = "INTERNAL_ERROR"


class MlflowException(NbtrackError):
    """An error with MLflow's ``error_code`` (e.g. ``RESOURCE_DOES_NOT_EXIST``)."""

    def __init__(self, message: Any, error_code: str = INTERNAL_ERROR, **kwargs: Any) -> None:
        self.message = str(message)
        self.error_code = error_code
        self.json_kwargs = kwargs
        super().__init__(self.message)

    @classmethod
    def invalid_parameter_value(cls, message: str, **kwargs: Any) -> MlflowException:
        return cls(message, error_code=INVALID_PARAMETER_VALUE, **kwargs)

    def get_http_status_code(self) -> int:
        return {RESOURCE_DOES_NOT_EXIST: 404, INTERNAL_ERROR: 500}.get(self.error_code, 400)


class MlflowTracingException(MlflowException):
    pass


_CODES: list[tuple[type[Exception], str]] = [
    (RunNotFoundError, RESOURCE_DOES_NOT_EXIST),
    (ExperimentNotFoundError, RESOURCE_DOES_NOT_EXIST),
    (ExperimentExistsError, RESOURCE_ALREADY_EXISTS),
    (ParamConflictError, INVALID_PARAMETER_VALUE),
    (InvalidKeyError, INVALID_PARAMETER_VALUE),
    (InvalidValueError, INVALID_PARAMETER_VALUE),
    (FilterError, INVALID_PARAMETER_VALUE),
    (QueryError, INVALID_PARAMETER_VALUE),
    (ArtifactError, INVALID_PARAMETER_VALUE),
    (ActiveRunError, BAD_REQUEST),
    (ModelNotFoundError, RESOURCE_DOES_NOT_EXIST),
    (ModelError, INVALID_PARAMETER_VALUE),
]

F = TypeVar("F", bound=Callable[..., Any])


def translated(fn: F) -> F:
    """Re-raise nbtrack errors from ``fn`` as ``MlflowException`` with MLflow's error code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except MlflowException:
            raise
        except NbtrackError as exc:
            code = next((c for t, c in _CODES if isinstance(exc, t)), INTERNAL_ERROR)
            raise MlflowException(str(exc), error_code=code) from exc

    return wrapper  # type: ignore[return-value]
