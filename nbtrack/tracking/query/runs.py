"""One run read back by id: its attributes, params, metrics and tags; soft delete and restore."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nbtrack.errors import RunNotFoundError
from nbtrack.tracking import _clock, lookup
from nbtrack.tracking.query.reads import current_store, fetch_run_row, key_values, run_sql
from nbtrack.tracking.run import Run, owned_run

if TYPE_CHECKING:
    from nbtrack.storage.protocol import Store

__all__ = [
    "delete_run",
    "full_run_id",
    "get_run",
    "last_record_ns",
    "max_steps",
    "restore_run",
    "run_metrics",
    "run_params",
    "run_tags",
]


def full_run_id(run_id: str, *, store: Store | None = None, allow_deleted: bool = False) -> str:
    """The full id of a run named by its id or a unique prefix (≥ 6 characters).

    Raises:
        RunNotFoundError: no such run (or it is deleted and ``allow_deleted`` is False).
        AmbiguousRunIdError: a prefix that several runs share (the message lists them).
    """
    return lookup.resolve_run_id(run_id, current_store(store), allow_deleted=allow_deleted)


def get_run(run_id: str, *, store: Store | None = None) -> Run:
    """Read one run back: its attributes, params, latest metrics and tags.

    A run this process is logging to comes back as that live ``Run``; any other run as a
    read-only handle.

    Args:
        run_id: The run's id, or a prefix of it of at least 6 characters that no other run
            shares (as git abbreviates commits).
        store: The store to read; the current one (``set_store``) when None.

    Returns:
        A ``Run`` with ``.run_id``, ``.name``, ``.experiment``, ``.status``,
        ``.start_time``, ``.end_time``, ``.params``, ``.metrics`` (latest value per key)
        and ``.tags``.

    Raises:
        RunNotFoundError: no run has this id, or the run is deleted (the message says how
            to restore it).
        AmbiguousRunIdError: the prefix matches several runs (the message lists them).

    Example:
        >>> run = nt.get_run("3f2a9c")                 # doctest: +SKIP
        >>> run.status, run.params["lr"], run.metrics["loss"]  # doctest: +SKIP
        ('FINISHED', '0.01', 0.01)
    """
    st = current_store(store)
    row = fetch_run_row(run_id, st)
    live = owned_run(row["run_id"])
    if live is not None and live._store is st:
        return live
    return Run(
        st,
        run_id=row["run_id"],
        name=row["name"],
        experiment=row["experiment"],
        status=row["status"],
        start_ms=row["s_ms"],
        end_ms=row["e_ms"],
        parent_run_id=row["parent_run_id"],
        description=row["description"],
    )


def run_params(run_id: str, store: Store | None = None) -> dict[str, str]:
    return key_values("SELECT key, value FROM params WHERE run_id = ? ORDER BY key", run_id, store)


def run_metrics(run_id: str, store: Store | None = None) -> dict[str, float]:
    return key_values(
        "SELECT key, value FROM latest_metrics WHERE run_id = ? ORDER BY key", run_id, store
    )


def run_tags(run_id: str, store: Store | None = None) -> dict[str, str]:
    return key_values("SELECT key, value FROM tags WHERE run_id = ? ORDER BY key", run_id, store)


def last_record_ns(run_id: str, *, store: Store | None = None) -> int:
    """The newest ``record_time`` among a run's records (0 when it has none)."""
    t = run_sql(
        "SELECT coalesce(max(t), 0) FROM ("
        "SELECT max(record_time) AS t FROM _runs_raw WHERE run_id = $1 "
        "UNION ALL SELECT max(record_time) FROM _params_raw WHERE run_id = $1 "
        "UNION ALL SELECT max(record_time) FROM _tags_raw WHERE run_id = $1 "
        "UNION ALL SELECT max(record_time) FROM _artifacts_raw WHERE run_id = $1 "
        "UNION ALL SELECT max(record_time) FROM _deletions_raw WHERE run_id = $1)",
        [run_id],
        current_store(store),
    )
    return int(t.column(0)[0].as_py())


def max_steps(run_id: str, *, store: Store | None = None) -> dict[str, int]:
    """Highest step logged so far for each metric key of a run."""
    return key_values(
        "SELECT key, max(step) FROM metrics WHERE run_id = ? GROUP BY key", run_id, store
    )


def delete_run(run_id: str, *, store: Store | None = None) -> None:
    """Soft-delete a run: every read path hides it until ``restore_run``.

    Nothing is erased: the run's data stays in the store, ``search_runs(deleted=True)``
    and ``nbtrack runs list --deleted`` find it, ``restore_run`` brings it back.

    Args:
        run_id: The run's id or a unique prefix of it (at least 6 characters).
        store: The store; the current one when None.

    Raises:
        RunNotFoundError: no run has this id.
        AmbiguousRunIdError: the prefix matches several runs.

    Example:
        >>> nt.delete_run(run.run_id)  # doctest: +SKIP
        >>> nt.restore_run(run.run_id)  # doctest: +SKIP
    """
    _set_deleted(run_id, True, store)


def restore_run(run_id: str, *, store: Store | None = None) -> None:
    """Undo ``delete_run``: the run shows again in every read path.

    Restoring a run that is not deleted changes nothing.

    Args:
        run_id: The run's id or a unique prefix of it (at least 6 characters); deleted
            runs are listed by ``search_runs(experiment="*", deleted=True)``.
        store: The store; the current one when None.

    Raises:
        RunNotFoundError: no run (deleted or not) has this id.
        AmbiguousRunIdError: the prefix matches several runs.

    Example:
        >>> gone = nt.search_runs(experiment="*", deleted=True)  # doctest: +SKIP
        >>> nt.restore_run(gone.run_id[0])  # doctest: +SKIP
    """
    _set_deleted(run_id, False, store)


def _set_deleted(run_id: str, deleted: bool, store: Store | None) -> None:
    from nbtrack.storage.schema import experiment_id

    st = current_store(store)
    run_id = lookup.resolve_run_id(run_id, st, allow_deleted=True)
    t = run_sql("SELECT experiment FROM _runs_raw WHERE run_id = ? LIMIT 1", [run_id], st)
    if t.num_rows == 0:
        raise RunNotFoundError(f"no run with id {run_id!r} in the store at {st.uri}")
    st.add_record(
        "deletions", experiment_id(t.column(0)[0].as_py()), (run_id, deleted, _clock.record_ns())
    )
    st.flush()
