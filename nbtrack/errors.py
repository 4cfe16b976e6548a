"""Every exception nbtrack raises.

    NbtrackError
    ├── InvalidKeyError          a param/metric/tag/artifact key breaks the key rule
    ├── InvalidValueError        a value of the wrong type or size
    ├── ParamConflictError       a param logged twice with different values
    ├── RunNotFoundError         an unknown run id (or a deleted run)
    │   └── AmbiguousRunIdError  a run id prefix that several runs share
    ├── ExperimentNotFoundError  an experiment name no run and no record has
    ├── MetricNotFoundError      a metric key the run never logged
    ├── RunFinishedError         logging to a run that has ended
    ├── ReadOnlyRunError         logging through a get_run handle of another process's run
    ├── NoActiveRunError         a fluent call with no active run
    ├── ActiveRunError           a second run started in a thread without nested=True
    ├── FilterError              a malformed filter (carries .position)
    ├── QueryError               nt.sql refused or failed
    ├── StoreError               the store cannot be opened, read or written
    ├── ConfigError              an NBTRACK_* environment variable is malformed
    ├── ArtifactError            an artifact path that is absolute, climbs out, or is missing
    └── ModelError               a model nbtrack cannot log or load (unknown flavor, too big)
        ├── SignatureError       input that does not match a model's signature
        └── ModelNotFoundError   an unknown model, registered model, version or alias

``NbtrackWarning`` is the category of every warning nbtrack emits.
"""

from __future__ import annotations


class NbtrackError(Exception):
    """Base class of every nbtrack error."""


class InvalidKeyError(NbtrackError, ValueError):
    """A key breaks the key rule of nbtrack (see ``nbtrack.tracking.validation``)."""


class InvalidValueError(NbtrackError, ValueError):
    """A metric, param or tag value of the wrong type or size."""


class ParamConflictError(NbtrackError, ValueError):
    """A param was logged twice in one run with different values."""


class RunNotFoundError(NbtrackError, LookupError):
    """No run with this id exists in the store (or it is deleted)."""


class AmbiguousRunIdError(RunNotFoundError):
    """A run id prefix matches several runs; the message lists them."""


class ExperimentNotFoundError(NbtrackError, LookupError):
    """No experiment has this name; the message lists those that exist."""


class MetricNotFoundError(NbtrackError, LookupError):
    """The run has no metric with this key; the message lists the keys it has."""


class RunFinishedError(NbtrackError):
    """The run has ended; it no longer accepts params, metrics, tags or artifacts."""


class ReadOnlyRunError(NbtrackError):
    """The run belongs to another process; this handle (from ``get_run``) only reads."""


class NoActiveRunError(NbtrackError):
    """A fluent call (``nt.log_metric`` ...) was made with no active run."""

    def __init__(self, what: str = "this call") -> None:
        super().__init__(
            f"{what} needs an active run: wrap the code in `with nbtrack.start_run():` "
            "or mark the cell with %%track."
        )


class ActiveRunError(NbtrackError):
    """A run is already active in this thread and ``nested=True`` was not given."""


class FilterError(NbtrackError, ValueError):
    """A filter string could not be parsed; ``position`` is the 0-based offset."""

    def __init__(self, message: str, text: str = "", position: int = 0) -> None:
        self.text = text
        self.position = position
        self.reason = message
        pointer = ""
        if text:
            # Show a window around the position: a filter may be 100 KB long.
            start = max(0, position - 40)
            snippet = text[start : position + 40].replace("\n", " ")
            lead = "..." if start else ""
            tail = "..." if position + 40 < len(text) else ""
            pointer = f"\n  {lead}{snippet}{tail}\n  {' ' * (len(lead) + position - start)}^"
        super().__init__(f"{message} at position {position}{pointer}")


class QueryError(NbtrackError):
    """``nt.sql`` refused a statement or DuckDB failed to run it."""


class StoreError(NbtrackError, OSError):
    """The store cannot be opened, read or written."""


class ConfigError(NbtrackError, ValueError):
    """An ``NBTRACK_*`` environment variable holds a value nbtrack cannot use."""


class ArtifactError(NbtrackError, ValueError):
    """An artifact path is absolute, climbs out of its folder, or the source is missing."""


class ModelError(NbtrackError, ValueError):
    """A model nbtrack cannot log or load: no flavor fits, too big, a bad name or URI."""


class SignatureError(ModelError):
    """Input to a model does not match its signature (columns, dtypes or shape)."""


class ModelNotFoundError(ModelError, LookupError):
    """No such logged model, registered model, model version or alias."""


class NbtrackWarning(UserWarning):
    """Category of every warning nbtrack emits (skipped files, dropped symlinks ...)."""
