"""What users name, resolved: run ids (or unique prefixes), experiment names, metric keys.

One implementation for every edge: the Python API, the CLI and the REST API call these, so
a typo gets the same error everywhere — one that lists what exists and suggests the
closest name (``difflib``). Run ids may be shortened as git shortens commits: any prefix of
at least :data:`MIN_PREFIX` characters that no other run shares.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from nbtrack.errors import (
    AmbiguousRunIdError,
    ExperimentNotFoundError,
    MetricNotFoundError,
    RunNotFoundError,
)
from nbtrack.tracking.settings import DEFAULT_EXPERIMENT, current_experiment

if TYPE_CHECKING:
    from nbtrack.storage.protocol import Store

#: A run id prefix must be at least this long (as with git's abbreviated commits).
MIN_PREFIX = 6
#: Candidates an ambiguous-prefix error lists by name (the count says how many more).
_LISTED = 10
#: Matches a prefix lookup counts at most.
_LIMIT = 100


def suggestion(name: str, known: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` for the closest known name, or ``""`` when none is close."""
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _listed(names: Sequence[str], limit: int = 20) -> str:
    shown = ", ".join(repr(n) for n in names[:limit])
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return (shown + more) if names else "none yet"


# --------------------------------------------------------------------------- run ids


def resolve_run_id(run_id: str, store: Store, *, allow_deleted: bool = False) -> str:
    """The full id of the run named by ``run_id``: the id itself or a unique prefix.

    Args:
        run_id: A run id, or a prefix of at least ``MIN_PREFIX`` characters.
        store: The store to look in.
        allow_deleted: Accept a deleted run (``restore_run`` does); otherwise a deleted
            run raises ``RunNotFoundError`` saying how to restore it.

    Returns:
        The run's full id.

    Raises:
        RunNotFoundError: no run has this id or prefix, or the run is deleted.
        AmbiguousRunIdError: the prefix matches several runs (the message lists them).
    """
    if not isinstance(run_id, str) or not run_id:
        raise RunNotFoundError(f"run id must be a non-empty string, got {run_id!r}")
    # Every run that ever existed, deleted or not, with its newest deletion flag.
    t = store.query(
        "WITH ids AS (SELECT DISTINCT run_id FROM _runs_raw WHERE starts_with(run_id, ?)), "
        "dl AS (SELECT run_id, deleted FROM _deletions_raw WHERE starts_with(run_id, ?) "
        "QUALIFY row_number() OVER (PARTITION BY run_id ORDER BY record_time DESC) = 1) "
        "SELECT ids.run_id, coalesce(dl.deleted, false) AS deleted "
        f"FROM ids LEFT JOIN dl USING (run_id) ORDER BY ids.run_id LIMIT {_LIMIT + 1}",
        [run_id, run_id],
    )
    deleted = dict(zip(t.column(0).to_pylist(), t.column(1).to_pylist(), strict=True))
    if run_id in deleted:
        full = run_id
    elif not deleted or len(run_id) < MIN_PREFIX:
        short = (
            f" (a run id prefix needs at least {MIN_PREFIX} characters)"
            if deleted and len(run_id) < MIN_PREFIX
            else ""
        )
        raise RunNotFoundError(
            f"no run with id {run_id!r} in the store at {store.uri}{short}; list runs with "
            "`nbtrack runs list` or nbtrack.search_runs(experiment='*')"
        )
    elif len(deleted) > 1:
        raise AmbiguousRunIdError(_ambiguous(run_id, list(deleted), store))
    else:
        full = next(iter(deleted))
    if deleted[full] and not allow_deleted:
        raise RunNotFoundError(
            f"run {full} is deleted; restore it with nbtrack.restore_run({full!r}) or "
            f"`nbtrack runs restore {full}` (deleted runs: "
            "nbtrack.search_runs(experiment='*', deleted=True), `nbtrack runs list --deleted`)"
        )
    return full


def _ambiguous(prefix: str, ids: list[str], store: Store) -> str:
    t = store.query(
        "SELECT run_id, arg_max(name, record_time) AS name, "
        "arg_max(experiment, record_time) AS experiment FROM _runs_raw "
        "WHERE run_id IN (SELECT unnest(?::VARCHAR[])) GROUP BY run_id ORDER BY run_id",
        [ids[:_LISTED]],
    )
    listed = "; ".join(
        f"{r['run_id']} ({r['name'] or 'unnamed'}, {r['experiment']})" for r in t.to_pylist()
    )
    more = f" and {len(ids) - _LISTED} more" if len(ids) > _LISTED else ""
    count = str(len(ids)) if len(ids) <= _LIMIT else f"over {_LIMIT}"
    return (
        f"run id prefix {prefix!r} is ambiguous: it matches {count} runs: {listed}{more}; "
        "type more characters"
    )


# --------------------------------------------------------------------------- experiments


def known_experiments(reader: Any) -> list[str]:
    """Every experiment name: with runs (deleted ones too), or created as a record.

    ``reader`` is a ``Store`` or a ``Reading`` (anything with ``query``).
    """
    t = reader.query(
        "SELECT DISTINCT experiment FROM _runs_raw UNION SELECT name FROM experiments"
    )
    return sorted(n for n in t.column(0).to_pylist() if n is not None)


def check_experiments(reader: Any, names: Sequence[str] | None) -> None:
    """Refuse experiment names that exist nowhere (the current one and Default always exist).

    Raises:
        ExperimentNotFoundError: a name is unknown; the message lists the experiments and
            suggests the closest name.
    """
    if not names:
        return
    always = {current_experiment(), DEFAULT_EXPERIMENT}
    unknown = [n for n in names if n not in always]
    if not unknown:
        return
    known = known_experiments(reader)
    for name in unknown:
        if name not in known:
            raise ExperimentNotFoundError(
                f"no experiment named {name!r}{suggestion(str(name), known)} "
                f"(experiments: {_listed(known)})"
            )


# --------------------------------------------------------------------------- metrics


def missing_metric(run_id: str, key: str, keys: Sequence[str]) -> MetricNotFoundError:
    """The error for a metric key a run has not logged, listing the keys it has."""
    have = _listed(sorted(keys)) if keys else "no metrics yet"
    return MetricNotFoundError(
        f"run {run_id} has no metric {key!r}{suggestion(key, keys)} (it has: {have})"
    )
