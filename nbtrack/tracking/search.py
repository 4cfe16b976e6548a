"""``nbtrack.search_runs``: the public search, live runs or deleted ones.

Live runs (the default) take the fast path, ``query.search_runs`` over the read model's
views. Deleted runs, which every view hides, come through ``bulk`` (the search MLflow's
``run_view_type`` uses) and are turned into the same DataFrame, with a ``deleted`` column.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

from nbtrack.errors import QueryError
from nbtrack.tracking import bulk, lookup, query
from nbtrack.tracking.query.reads import current_store, experiment_names
from nbtrack.tracking.query.run_search import RUN_COLUMNS, parse_filter_text

if TYPE_CHECKING:
    import pandas as pd

    from nbtrack.storage.protocol import Store

_VIEWS = {True: bulk.DELETED_ONLY, "all": bulk.ALL}


def search_runs(
    experiment: str | Sequence[str] | None = None,
    filter: str | None = "",
    order_by: Sequence[str] | str | None = None,
    max_results: int | None = None,
    *,
    deleted: bool | Literal["all"] = False,
    store: Store | None = None,
) -> pd.DataFrame:
    """Find runs: one row per run, with its attributes, params, latest metrics and tags.

    Args:
        experiment: An experiment name, a list of names, or ``"*"`` for every experiment;
            None searches the current experiment (``set_experiment``).
        filter: MLflow's filter grammar plus ``OR``, ``NOT``, parentheses, ``IN``,
            ``IS NULL`` and ``ILIKE``, e.g. ``"metrics.loss < 0.5 AND params.lr = '0.01'"``;
            keys with spaces in backticks (``metrics.`val loss```).
        order_by: Items such as ``"metrics.loss ASC"`` or ``"attributes.start_time DESC"``;
            newest first when not given.
        max_results: The most rows to return (all when None).
        deleted: False (the default) hides deleted runs; True returns only deleted runs
            (to find one to ``restore_run``); ``"all"`` returns both. With True or
            ``"all"`` the frame has a boolean ``deleted`` column.
        store: The store to read; the current one (``set_store``) when None.

    Returns:
        A pandas DataFrame, newest run first by default, with columns ``run_id``,
        ``experiment``, ``name``, ``status``, ``start_time``, ``end_time``, ``duration_s``,
        ``parent_run_id``, ``description``, then ``params.<key>``, ``metrics.<key>``
        (latest value) and ``tags.<key>`` for every key a matching run has.

    Raises:
        FilterError: the filter or an order_by item is malformed (with the position).
        ExperimentNotFoundError: a named experiment does not exist (the message lists the
            experiments and suggests the closest name).
        QueryError: ``max_results`` is not a non-negative integer, or ``deleted`` is not
            False, True or ``"all"``.

    Example:
        >>> nt.search_runs(filter="metrics.loss < 0.5", order_by=["metrics.loss"])  # doctest: +SKIP
        >>> nt.search_runs(experiment="*", deleted=True)[["run_id", "name"]]  # doctest: +SKIP
    """
    if deleted is False:
        return query.search_runs(experiment, filter, order_by, max_results, store=store)
    if deleted not in _VIEWS or (isinstance(deleted, int) and deleted is not True):
        raise QueryError(f"deleted must be False, True or 'all', got {deleted!r}")
    if max_results is not None and (
        isinstance(max_results, bool) or not isinstance(max_results, int) or max_results < 0
    ):
        raise QueryError(f"max_results must be a non-negative integer, got {max_results!r}")
    parse_filter_text(filter)  # malformed input fails before the store is read
    st = current_store(store)
    names = experiment_names(experiment)
    if experiment is not None:
        lookup.check_experiments(st, names)
    rows = bulk.search_records(
        st,  # type: ignore[arg-type]
        experiments=names,
        filter=filter or "",
        order_by=order_by,
        max_results=max_results,
        view=_VIEWS[deleted],
    )
    return _frame(rows)


def _frame(rows: list[dict[str, object]]) -> pd.DataFrame:
    import pandas as pd

    first = [*RUN_COLUMNS, "deleted"]
    keys = sorted({k for r in rows for k in r} - set(first))
    ordered = [k for p in ("params.", "metrics.", "tags.") for k in keys if k.startswith(p)]
    frame = pd.DataFrame.from_records(rows, columns=[*first, *ordered])
    for column in ("start_time", "end_time"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    for column in ("duration_s", *(k for k in ordered if k.startswith("metrics."))):
        frame[column] = frame[column].astype("float64")
    frame["deleted"] = frame["deleted"].astype(bool)
    return frame
