"""Records written for a run from outside a live ``Run`` handle.

``Run`` writes the records of a run this process started (or resumed). Some callers need to
write to a run they do not hold open: the MLflow client (``MlflowClient.set_tag`` on an
ended run, ``set_terminated``, ``log_batch`` with explicit steps), and the importer, which
writes whole runs that another tool recorded, keeping their ids, times and owners.

Every function validates its input before anything is buffered (DESIGN.md §2.8) and leaves
the records in this process's buffer; call ``store.flush()`` (or read) to make them visible.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nbtrack.errors import InvalidValueError, ParamConflictError, RunNotFoundError
from nbtrack.storage.schema import experiment_id as partition_of
from nbtrack.tracking import validation
from nbtrack.tracking.validation import check_key

if TYPE_CHECKING:
    from nbtrack.storage import ParquetStore

ALL_STATUSES = ("RUNNING", "FINISHED", "FAILED", "KILLED")


@dataclass(frozen=True)
class RunState:
    """One lifecycle record of a run, as the ``runs`` table holds it."""

    run_id: str
    experiment: str
    name: str
    status: str
    start_ms: int
    end_ms: int | None = None
    parent_run_id: str | None = None
    description: str | None = None


def write_run_state(store: ParquetStore, state: RunState, *, owner: str | None = None) -> None:
    """Buffer a lifecycle record; the newest record of a run wins.

    ``owner`` is the writer whose liveness decides whether a RUNNING run is KILLED; None
    (imported runs) means nobody's: a RUNNING run then stays RUNNING, as its source said.

    Raises:
        InvalidValueError: a field is malformed (status, times, names).
    """
    validation.experiment_name(state.experiment)
    validation.run_name(state.name)
    validation.description(state.description)
    if not isinstance(state.run_id, str) or not state.run_id:
        raise InvalidValueError(f"run id must be a non-empty string, got {state.run_id!r}")
    if state.status not in ALL_STATUSES:
        raise InvalidValueError(f"run status must be one of {', '.join(ALL_STATUSES)}")
    start = validation.timestamp_ms(state.start_ms)
    end = None if state.end_ms is None else validation.timestamp_ms(state.end_ms)
    store.add_record(
        "runs",
        partition_of(state.experiment),
        (
            state.run_id,
            state.experiment,
            state.name,
            state.status,
            start,
            end,
            state.parent_run_id,
            state.description,
            owner,
            time.time_ns(),
        ),
    )


def current_state(store: ParquetStore, run_id: str, *, include_deleted: bool = False) -> RunState:
    """The newest lifecycle record of a run (its stored status, not KILLED-resolved).

    Raises:
        RunNotFoundError: no such run (or it is deleted and ``include_deleted`` is False).
    """
    rel = "_runs_cur" if not include_deleted else "_runs_raw"
    t = store.query(
        "SELECT run_id, experiment, name, status, epoch_ms(start_time) AS s, "
        f"epoch_ms(end_time) AS e, parent_run_id, description FROM {rel} WHERE run_id = ? "
        "ORDER BY record_time DESC LIMIT 1",
        [run_id],
    )
    if t.num_rows == 0:
        raise RunNotFoundError(f"no run with id {run_id!r} in the store at {store.uri}")
    r = t.to_pylist()[0]
    return RunState(
        r["run_id"],
        r["experiment"],
        r["name"],
        r["status"],
        r["s"],
        r["e"],
        r["parent_run_id"],
        r["description"],
    )


def existing_run_ids(store: ParquetStore, run_ids: Sequence[str]) -> set[str]:
    """Which of ``run_ids`` have any lifecycle record, deleted runs included."""
    if not run_ids:
        return set()
    t = store.query(
        "SELECT DISTINCT run_id FROM _runs_raw WHERE run_id IN (SELECT unnest(?::VARCHAR[]))",
        [list(run_ids)],
    )
    return set(t.column(0).to_pylist())


def write_params(
    store: ParquetStore,
    experiment: str,
    run_id: str,
    params: Mapping[str, Any],
    *,
    existing: Mapping[str, str] | None = None,
) -> None:
    """Buffer params; a key the run already has with another value is an error.

    Raises:
        ParamConflictError: a param would change (nothing is written).
    """
    checked = validation.checked_texts(params, "param", "log_params")
    old = dict(existing) if existing is not None else _stored(store, "params", run_id)
    for k, text in checked.items():
        if k in old and old[k] != text:
            raise ParamConflictError(
                f"param {k!r} of run {run_id} is already {old[k]!r}; a param cannot change "
                f"(tried {text[:60]!r}); use a metric or a tag for values that change"
            )
    now = time.time_ns()
    eid = partition_of(experiment)
    for k, text in checked.items():
        if k not in old:
            store.add_record("params", eid, (run_id, k, text, now))


def write_tags(
    store: ParquetStore, experiment: str, run_id: str, tags: Mapping[str, Any | None]
) -> None:
    """Buffer tags; a value of None deletes the tag."""
    if not isinstance(tags, Mapping):
        raise InvalidValueError(f"set_tags takes a dict, got {type(tags).__name__}")
    checked = {
        check_key(k, "tag key"): (None if v is None else validation.tag_value(k, v))
        for k, v in tags.items()
    }
    now = time.time_ns()
    eid = partition_of(experiment)
    for k, text in checked.items():
        store.add_record("tags", eid, (run_id, k, text, now))


def write_metrics(
    store: ParquetStore,
    experiment: str,
    run_id: str,
    keys: Sequence[str],
    steps: Sequence[int],
    timestamps_ms: Sequence[int],
    values: Sequence[Any],
) -> None:
    """Buffer metric points with explicit steps and timestamps (columns of equal length).

    Raises:
        InvalidKeyError, InvalidValueError: a key, value, step or timestamp is malformed.
    """
    n = len(keys)
    if not len(steps) == len(timestamps_ms) == len(values) == n:
        raise InvalidValueError("metric columns must have the same length")
    for k in set(keys):
        check_key(k, "metric key")
    vals = [v if v.__class__ is float else validation.metric_value(v) for v in values]
    st = [s if s.__class__ is int else validation.step_value(s) for s in steps]
    ts = [t if t.__class__ is int else validation.timestamp_ms(t) for t in timestamps_ms]
    if ts:
        lo, hi = min(ts), max(ts)
        validation.timestamp_ms(lo)
        validation.timestamp_ms(hi)
    mb = store.metric_buffer(run_id, partition_of(experiment))
    with mb.lock:
        code_of = {k: mb.code(k) for k in set(keys)}
        mb.codes.extend(code_of[k] for k in keys)
        mb.steps.extend(st)
        mb.timestamps.extend(ts)
        mb.values.extend(vals)


def write_artifact(
    store: ParquetStore, experiment: str, run_id: str, path: str, data: bytes
) -> str:
    """Store ``data`` as the run's artifact ``path`` (content-addressed)."""
    path = validation.artifact_path(path, "artifact name")
    if not path:
        raise InvalidValueError("artifact name is empty")
    sha = store.put_blob(data)
    store.add_record(
        "artifacts", partition_of(experiment), (run_id, path, len(data), sha, time.time_ns())
    )
    return path


def write_deleted(store: ParquetStore, experiment: str, run_id: str, deleted: bool) -> None:
    """Buffer a soft delete (or restore) record."""
    store.add_record("deletions", partition_of(experiment), (run_id, bool(deleted), time.time_ns()))


@dataclass(frozen=True)
class DatasetInput:
    """A dataset a run used: MLflow's run input (name, digest, source, schema, profile)."""

    name: str
    digest: str
    source_type: str = ""
    source: str = ""
    schema: str | None = None
    profile: str | None = None
    context: str | None = None


def write_input(store: ParquetStore, experiment: str, run_id: str, ds: DatasetInput) -> None:
    """Buffer one run input record."""
    for what, value in (("dataset name", ds.name), ("dataset digest", ds.digest)):
        if not isinstance(value, str) or not value:
            raise InvalidValueError(f"{what} must be a non-empty string, got {value!r}")
        validation.text(value, what)
    for what, value in (
        ("dataset source", ds.source),
        ("dataset schema", ds.schema),
        ("dataset profile", ds.profile),
        ("dataset context", ds.context),
        ("dataset source type", ds.source_type),
    ):
        if value is not None:
            if not isinstance(value, str):
                raise InvalidValueError(f"{what} must be a string")
            validation.text(value, what)
    store.add_record(
        "inputs",
        partition_of(experiment),
        (
            run_id,
            ds.name,
            ds.digest,
            ds.source_type,
            ds.source,
            ds.schema,
            ds.profile,
            ds.context,
            time.time_ns(),
        ),
    )


def run_inputs(store: ParquetStore, run_id: str) -> list[DatasetInput]:
    """The datasets a run used, in name order."""
    t = store.query(
        "SELECT name, digest, source_type, source, schema, profile, context FROM inputs "
        "WHERE run_id = ? ORDER BY name, digest, context",
        [run_id],
    )
    return [DatasetInput(**r) for r in t.to_pylist()]


def _stored(store: ParquetStore, table: str, run_id: str) -> dict[str, str]:
    t = store.query(f"SELECT key, value FROM {table} WHERE run_id = ?", [run_id])
    return dict(zip(t.column(0).to_pylist(), t.column(1).to_pylist(), strict=True))
