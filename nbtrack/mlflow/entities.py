"""MLflow's entity classes, as callers use them: ``run.info.run_id``, ``run.data.metrics`` ...

Plain value objects with MLflow's attribute names. ``Run.info`` times are milliseconds since
the epoch and statuses are strings (``"FINISHED"``), as MLflow returns them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar


class RunStatus:
    """Run statuses as MLflow numbers them; ``to_string``/``from_string`` convert."""

    RUNNING, SCHEDULED, FINISHED, FAILED, KILLED = 1, 2, 3, 4, 5
    _NAMES: ClassVar[dict[Any, Any]] = {
        1: "RUNNING",
        2: "SCHEDULED",
        3: "FINISHED",
        4: "FAILED",
        5: "KILLED",
    }

    @classmethod
    def to_string(cls, status: int) -> str:
        return cls._NAMES[status]

    @classmethod
    def from_string(cls, status: str) -> int:
        for k, v in cls._NAMES.items():
            if v == status:
                return k
        raise ValueError(f"unknown run status {status!r}")

    @classmethod
    def all_status(cls) -> list[int]:
        return list(cls._NAMES)

    @staticmethod
    def is_terminated(status: int | str) -> bool:
        return status in (3, 4, 5, "FINISHED", "FAILED", "KILLED")


class ViewType:
    """Which runs or experiments a search returns."""

    ACTIVE_ONLY, DELETED_ONLY, ALL = 1, 2, 3
    _NAMES: ClassVar[dict[Any, Any]] = {"active_only": 1, "deleted_only": 2, "all": 3}

    @classmethod
    def from_string(cls, view_str: str) -> int:
        try:
            return cls._NAMES[view_str.lower()]
        except KeyError:
            raise ValueError(f"unknown view type {view_str!r}") from None

    @classmethod
    def to_string(cls, view_type: int) -> str:
        return {v: k for k, v in cls._NAMES.items()}[view_type]


class LifecycleStage:
    ACTIVE = "active"
    DELETED = "deleted"

    @classmethod
    def view_type_to_stages(cls, view_type: int = ViewType.ALL) -> list[str]:
        return {1: [cls.ACTIVE], 2: [cls.DELETED], 3: [cls.ACTIVE, cls.DELETED]}[view_type]


@dataclass(frozen=True)
class Metric:
    key: str
    value: float
    timestamp: int
    step: int


@dataclass(frozen=True)
class Param:
    key: str
    value: str


@dataclass(frozen=True)
class RunTag:
    key: str
    value: str


@dataclass(frozen=True)
class ExperimentTag:
    key: str
    value: str


@dataclass(frozen=True)
class InputTag:
    key: str
    value: str


@dataclass(frozen=True)
class FileInfo:
    """One entry of ``list_artifacts``: a file, or a folder (``is_dir``, no size)."""

    path: str
    is_dir: bool
    file_size: int | None


@dataclass(frozen=True)
class Dataset:
    """A dataset as MLflow records it for a run input."""

    name: str
    digest: str
    source_type: str
    source: str
    schema: str | None = None
    profile: str | None = None


@dataclass(frozen=True)
class DatasetInput:
    dataset: Dataset
    tags: list[InputTag] = field(default_factory=list)


@dataclass(frozen=True)
class RunInputs:
    dataset_inputs: list[DatasetInput] = field(default_factory=list)
    model_inputs: list[Any] = field(default_factory=list)


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    experiment_id: str
    user_id: str
    status: str
    start_time: int
    end_time: int | None
    lifecycle_stage: str
    artifact_uri: str
    run_name: str | None

    @property
    def run_uuid(self) -> str:
        return self.run_id


@dataclass(frozen=True)
class RunData:
    """``metrics`` holds each key's latest value; ``_metric_objs`` the latest points."""

    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    _metric_objs: tuple[Metric, ...] = field(default=(), repr=False, compare=False)


@dataclass(frozen=True)
class Run:
    info: RunInfo
    data: RunData
    inputs: RunInputs = field(default_factory=RunInputs)

    def to_dictionary(self) -> dict[str, Any]:
        return {
            "info": dict(self.info.__dict__),
            "data": {
                "metrics": dict(self.data.metrics),
                "params": dict(self.data.params),
                "tags": dict(self.data.tags),
            },
        }


@dataclass(frozen=True)
class Experiment:
    experiment_id: str
    name: str
    artifact_location: str
    lifecycle_stage: str
    tags: dict[str, str] = field(default_factory=dict)
    creation_time: int | None = None
    last_update_time: int | None = None


class PagedList(list):  # type: ignore[type-arg]
    """A page of results with the token of the next page (None on the last page)."""

    def __init__(self, items: list[Any], token: str | None) -> None:
        super().__init__(items)
        self.token = token
