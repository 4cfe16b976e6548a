"""Experiments as records: ids, tags, artifact location and lifecycle (active/deleted).

In nbtrack an experiment is first of all a name: runs carry it, and a name with runs is an
experiment. MLflow also gives each experiment an id, tags and a lifecycle stage; those live
in the ``experiments`` table (newest record per ``experiment_id`` wins). An experiment that
has runs but no record has an *implicit* id: ``"0"`` for ``Default`` (as in MLflow), else
its partition id (``<slug>-<8 hex>``). Two writers that create the same name at once get two
records; the one created first (then the smaller id) is the experiment.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from nbtrack.errors import ExperimentNotFoundError, InvalidValueError, NbtrackError
from nbtrack.storage.schema import experiment_id as partition_of
from nbtrack.tracking import validation
from nbtrack.tracking.settings import DEFAULT_EXPERIMENT

if TYPE_CHECKING:
    from nbtrack.storage import ParquetStore

DEFAULT_ID = "0"
ACTIVE = "active"
DELETED = "deleted"


class ExperimentExistsError(NbtrackError, ValueError):
    """An experiment with this name already exists."""


@dataclass(frozen=True)
class Experiment:
    """An experiment's metadata (times in ms since the epoch)."""

    experiment_id: str
    name: str
    lifecycle_stage: str = ACTIVE
    artifact_location: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    creation_time: int | None = None
    last_update_time: int | None = None
    registered: bool = True  # False: only runs name it (implicit id)


def implicit_id(name: str) -> str:
    """The id of an experiment that has runs but no record."""
    return DEFAULT_ID if name == DEFAULT_EXPERIMENT else partition_of(name)


def _write(store: ParquetStore, exp: Experiment) -> None:
    store.add_record(
        "experiments",
        partition_of(exp.name),
        (
            exp.experiment_id,
            exp.name,
            exp.lifecycle_stage,
            exp.artifact_location,
            json.dumps(exp.tags, ensure_ascii=False),
            exp.creation_time,
            exp.last_update_time,
            time.time_ns(),
        ),
    )
    store.flush()


def list_all(store: ParquetStore) -> list[Experiment]:
    """Every experiment, registered or implicit, deleted ones included, oldest first."""
    t = store.query(
        "SELECT experiment_id, name, lifecycle_stage, artifact_location, tags, creation_time, "
        "last_update_time FROM experiments ORDER BY creation_time NULLS FIRST, experiment_id"
    )
    out: list[Experiment] = []
    names: set[str] = set()
    for r in t.to_pylist():
        if r["name"] in names:
            continue  # a later duplicate of a name (two writers raced): the first one wins
        names.add(r["name"])
        r["tags"] = json.loads(r["tags"] or "{}")
        r["artifact_location"] = r["artifact_location"] or ""
        out.append(Experiment(**r))
    t = store.query(
        "SELECT experiment, min(epoch_ms(start_time)) AS t FROM runs GROUP BY experiment ORDER BY t"
    )
    for name, first in zip(t.column(0).to_pylist(), t.column(1).to_pylist(), strict=True):
        if name not in names:
            names.add(name)
            out.append(
                Experiment(
                    implicit_id(name),
                    name,
                    creation_time=first,
                    last_update_time=first,
                    registered=False,
                )
            )
    if DEFAULT_EXPERIMENT not in names:
        # "Default" exists from the store's creation on (as in MLflow).
        mtime = store.fs.mtime(store.fs.join("format.json"))
        born = int(mtime * 1000) if mtime is not None else None
        out.insert(
            0,
            Experiment(
                DEFAULT_ID,
                DEFAULT_EXPERIMENT,
                creation_time=born,
                last_update_time=born,
                registered=False,
            ),
        )
    return out


def get_by_id(store: ParquetStore, experiment_id: str) -> Experiment:
    """Raises: ExperimentNotFoundError."""
    if not isinstance(experiment_id, str):
        experiment_id = str(experiment_id)
    for exp in list_all(store):
        if exp.experiment_id == experiment_id:
            return exp
    raise ExperimentNotFoundError(f"no experiment with id {experiment_id!r}")


def get_by_name(store: ParquetStore, name: str) -> Experiment | None:
    for exp in list_all(store):
        if exp.name == name:
            return exp
    return None


def create(
    store: ParquetStore,
    name: str,
    *,
    artifact_location: str | None = None,
    tags: Mapping[str, Any] | None = None,
    experiment_id: str | None = None,
    lifecycle_stage: str = ACTIVE,
    creation_time: int | None = None,
    last_update_time: int | None = None,
) -> Experiment:
    """Register a new experiment (an existing id is kept when importing).

    Raises:
        ExperimentExistsError: the name is taken by a registered experiment.
        InvalidValueError: a malformed name, tag or stage.
    """
    name = validation.experiment_name(name)
    checked = validation.checked_texts(tags or {}, "tag", "create_experiment(tags=)")
    if lifecycle_stage not in (ACTIVE, DELETED):
        raise InvalidValueError(
            f"lifecycle_stage must be 'active' or 'deleted', got {lifecycle_stage!r}"
        )
    old = get_by_name(store, name)
    if old is not None and old.registered:
        raise ExperimentExistsError(
            f"experiment {name!r} already exists (id {old.experiment_id}, {old.lifecycle_stage})"
        )
    now = time.time_ns() // 1_000_000
    if experiment_id is None:
        # An implicit experiment (it has runs) keeps its id once registered.
        experiment_id = old.experiment_id if old is not None else _new_id()
    exp = Experiment(
        str(experiment_id),
        name,
        lifecycle_stage,
        artifact_location or "",
        checked,
        creation_time if creation_time is not None else (old.creation_time if old else now) or now,
        last_update_time if last_update_time is not None else now,
    )
    _write(store, exp)
    return exp


def ensure(store: ParquetStore, name: str) -> Experiment:
    """The experiment called ``name``, registered now if it is not yet."""
    exp = get_by_name(store, name)
    if exp is not None and exp.registered:
        return exp
    return create(store, name)


def update(
    store: ParquetStore, exp: Experiment, *, touch: bool = True, **changes: Any
) -> Experiment:
    """Write a new record of ``exp`` with ``changes`` (registering it if implicit).

    ``touch`` sets ``last_update_time`` to now; tag changes leave it (as in MLflow, where
    it moves with the experiment's name and lifecycle only), unless it was never set.
    """
    now = time.time_ns() // 1_000_000
    stamp = now if touch or exp.last_update_time is None else exp.last_update_time
    new = replace(exp, registered=True, last_update_time=stamp, **changes)
    if new.creation_time is None:
        new = replace(new, creation_time=new.last_update_time)
    _write(store, new)
    return new


def set_tag(store: ParquetStore, exp: Experiment, key: str, value: Any) -> Experiment:
    checked = validation.checked_texts({key: value}, "tag", "set_experiment_tag")
    return update(store, exp, touch=False, tags={**exp.tags, **checked})


def delete_tag(store: ParquetStore, exp: Experiment, key: str) -> Experiment:
    if key not in exp.tags:
        raise ExperimentNotFoundError(f"experiment {exp.name!r} has no tag {key!r}")
    return update(store, exp, touch=False, tags={k: v for k, v in exp.tags.items() if k != key})


def _new_id() -> str:
    # MLflow's file store uses long decimal ids; digits keep ids sortable as MLflow's are.
    return str(time.time_ns() // 1_000_000) + f"{secrets.randbelow(10**6):06d}"
