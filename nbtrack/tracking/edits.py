"""Edits to a run after the fact: tag, untag and rename any run, running or ended.

``Run.set_tag`` refuses a run that has ended (a finished run no longer takes logging), but
a person browsing yesterday's runs wants to mark one ``best`` or give it a readable name.
These functions write one new record through the store and flush it, so every reader (the
REST API, another kernel) sees the edit at once. Inputs are checked with
:mod:`nbtrack.tracking.validation` before anything is written.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nbtrack.errors import ActiveRunError, InvalidValueError, RunNotFoundError
from nbtrack.storage.schema import experiment_id
from nbtrack.tracking import _clock, validation
from nbtrack.tracking.query.reads import current_store, fetch_run_row, run_sql

if TYPE_CHECKING:
    from nbtrack.storage import ParquetStore

MAX_NAME = 250


def _current(run_id: str, st: ParquetStore) -> dict[str, Any]:
    """The newest lifecycle record of a (not deleted) run, plus its status as readers see it."""
    if not isinstance(run_id, str) or not run_id:
        raise RunNotFoundError(f"run id must be a non-empty string, got {run_id!r}")
    t = run_sql(
        "SELECT c.run_id, c.experiment, c.name, c.status AS raw_status, "
        "epoch_ms(c.start_time) AS start_ms, epoch_ms(c.end_time) AS end_ms, "
        "c.parent_run_id, c.description, c.owner, r.status "
        "FROM _runs_cur c JOIN runs r USING (run_id) WHERE c.run_id = ?",
        [run_id],
        st,
    )
    if t.num_rows == 0:
        fetch_run_row(run_id, st)  # raises the usual RunNotFoundError
    return t.to_pylist()[0]


def set_run_tag(run_id: str, key: str, value: Any, *, store: ParquetStore | None = None) -> None:
    """Set tag ``key`` of any run (running or ended) to ``value`` and flush it.

    Raises:
        InvalidKeyError: ``key`` breaks the key rule.
        InvalidValueError: the value is longer than a tag may be.
        RunNotFoundError: no (not deleted) run has this id.
    """
    checked = validation.checked_texts({key: value}, "tag", "set_run_tag")
    st = current_store(store)
    row = _current(run_id, st)
    st.add_record(
        "tags", experiment_id(row["experiment"]), (run_id, key, checked[key], _clock.record_ns())
    )
    st.flush()


def delete_run_tag(run_id: str, key: str, *, store: ParquetStore | None = None) -> None:
    """Delete tag ``key`` of any run; deleting a tag the run does not have is a no-op.

    Raises:
        InvalidKeyError: ``key`` breaks the key rule.
        RunNotFoundError: no (not deleted) run has this id.
    """
    validation.check_key(key, "tag key")
    st = current_store(store)
    row = _current(run_id, st)
    st.add_record("tags", experiment_id(row["experiment"]), (run_id, key, None, _clock.record_ns()))
    st.flush()


def rename_run(run_id: str, name: str, *, store: ParquetStore | None = None) -> None:
    """Give an ended run a new name (a run still running in a process keeps its own).

    Raises:
        InvalidValueError: ``name`` is empty, too long or holds control characters.
        ActiveRunError: the run is still running: its process would write its old name
            back when it ends; rename it after that.
        RunNotFoundError: no (not deleted) run has this id.
    """
    if not isinstance(name, str) or not name.strip():
        raise InvalidValueError(f"run name must be a non-empty string, got {name!r:.80}")
    if len(name) > MAX_NAME or any(ord(c) < 32 for c in name):
        raise InvalidValueError(
            f"run name {name[:60]!r} is longer than {MAX_NAME} characters or holds "
            "control characters"
        )
    st = current_store(store)
    row = _current(run_id, st)
    if row["status"] == "RUNNING":
        raise ActiveRunError(
            f"run {row['name']!r} ({run_id}) is still running; its process writes the run's "
            "name again when it ends, so rename it after it has ended"
        )
    st.add_record(
        "runs",
        experiment_id(row["experiment"]),
        (
            run_id,
            row["experiment"],
            name,
            row["raw_status"],
            row["start_ms"],
            row["end_ms"],
            row["parent_run_id"],
            row["description"],
            row["owner"],
            _clock.record_ns(),
        ),
    )
    st.flush()
