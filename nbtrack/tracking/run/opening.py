"""Opening a run for writing: start a new one, resume one, or attach as a worker."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from nbtrack.tracking import validation
from nbtrack.tracking.run import registry
from nbtrack.tracking.run.handle import Run

if TYPE_CHECKING:
    from nbtrack.storage.protocol import Store

__all__ = ["attach_worker", "open_owned", "owned_run", "start_owned_run"]


def start_owned_run(
    store: Store,
    *,
    experiment: str,
    name: str | None,
    parent_run_id: str | None,
    description: str | None,
    params: Mapping[str, Any] | None,
    tags: Mapping[str, Any] | None,
) -> Run:
    """Create a RUNNING run owned by this process (inputs validated before any record).

    The run's start record (with its params and tags) is written before this returns, so
    other processes see the run at once.
    """
    from nbtrack.tracking._names import new_run_id, new_run_name

    experiment = validation.experiment_name(experiment)
    name = validation.run_name(name)
    description = validation.description(description)
    checked_params = validation.checked_texts(params or {}, "param", "start_run(params=)")
    checked_tags = validation.checked_texts(tags or {}, "tag", "start_run(tags=)")
    run = Run(
        store,
        run_id=new_run_id(),
        name=name or new_run_name(),
        experiment=experiment,
        status="RUNNING",
        start_ms=time.time_ns() // 1_000_000,
        parent_run_id=parent_run_id,
        description=description,
    )
    return open_owned(run, checked_params, checked_tags)


def open_owned(run: Run, params: dict[str, str], tags: dict[str, str]) -> Run:
    """Make ``run`` this process's to write: start record, params, tags, visible at once."""
    store = run._store
    run._read_only = False
    run._finished = False
    store.run_opened(run.run_id)
    run._write_state()
    if params:
        run.log_params(params)
    if tags:
        run.set_tags(tags)
    registry.register(run)
    # Visible to other processes as soon as start_run returns (DESIGN.md §2.4).
    store.flush()
    return run


def attach_worker(store: Store, run: Run) -> Run:
    """Make ``run`` (RUNNING, owned by another process) writable here as a worker.

    A worker handle logs metrics, params, tags and artifacts under this process's own
    writer identity (DESIGN.md §2.3: no lock, nothing lost) and never ends the run: its
    ``end()`` only makes the points logged here durable. The owner ends the run.
    """
    run._read_only = False
    run._finished = False
    run._owner_pid = -1  # never this process: end() flushes and returns
    store.run_opened(run.run_id)  # starts this process's background flusher
    return run


def owned_run(run_id: str) -> Run | None:
    """The live handle of run ``run_id`` if this process opened it for writing."""
    return cast("Run | None", registry.lookup(run_id))
