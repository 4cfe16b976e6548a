"""Runs one page at a time, as plain records: what a browser (the REST API) asks for.

``search_runs`` returns one wide DataFrame; a client that lists 100,000 runs wants them in
pages and wants each run as one record with its params, latest metrics and tags as maps.
:func:`search_run_page` gives that, with the same filter grammar and ``order_by`` as
``search_runs`` (it runs the same query) and an opaque page token that is only valid for
the query that made it.
"""

from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nbtrack.errors import InvalidValueError
from nbtrack.tracking.colors import color_for
from nbtrack.tracking.filter import Comparison
from nbtrack.tracking.query.order import parse_order_by
from nbtrack.tracking.query.reads import current_store, fetch_run_row, run_sql
from nbtrack.tracking.query.run_search import parse_filter_text, search_table

if TYPE_CHECKING:
    import pyarrow as pa

    from nbtrack.storage.protocol import Store

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 10_000
_KINDS = ("params", "metrics", "tags")


@dataclass(frozen=True)
class RunPage:
    """One page of runs.

    Attributes:
        runs: One dict per run (see :func:`run_record`).
        next_page_token: Token of the next page, or None on the last page.
    """

    runs: list[dict[str, Any]]
    next_page_token: str | None


def epoch_ms(value: Any) -> int | None:
    """Milliseconds since the epoch of a datetime (or a number of ms); None stays None."""
    if value is None:
        return None
    if isinstance(value, _dt.datetime):
        return int(value.timestamp() * 1000)
    return int(value)


def json_number(value: Any) -> float | str | None:
    """A metric value for JSON: non-finite numbers as the strings 'NaN', 'Infinity'..."""
    if value is None:
        return None
    f = float(value)
    if math.isfinite(f):
        return f
    return "NaN" if math.isnan(f) else ("Infinity" if f > 0 else "-Infinity")


def run_record(row: dict[str, Any]) -> dict[str, Any]:
    """A run as one JSON-ready dict from a row of the wide table.

    Keys: run_id, color (the run's colour in every view), name, experiment, status, start_time and end_time (ms since the epoch),
    duration_s, parent_run_id, description, params, metrics (latest values; non-finite
    ones as 'NaN'/'Infinity'/'-Infinity') and tags.
    """
    out: dict[str, Any] = {
        "run_id": row["run_id"],
        "color": color_for(row["run_id"]),
        "name": row["name"],
        "experiment": row["experiment"],
        "status": row["status"],
        "start_time": epoch_ms(row["start_time"]),
        "end_time": epoch_ms(row["end_time"]),
        "duration_s": row["duration_s"],
        "parent_run_id": row["parent_run_id"],
        "description": row["description"],
    }
    maps: dict[str, dict[str, Any]] = {k: {} for k in _KINDS}
    for name, value in row.items():
        kind, dot, key = name.partition(".")
        if dot and kind in maps and value is not None:
            maps[kind][key] = json_number(value) if kind == "metrics" else value
    out.update(maps)
    return out


def _fingerprint(experiment: Any, filter: str, order_by: Any) -> str:
    text = json.dumps([experiment, filter, order_by], sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def _encode(offset: int, fingerprint: str) -> str:
    raw = json.dumps({"o": offset, "q": fingerprint}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(token: str, fingerprint: str) -> int:
    bad = InvalidValueError(
        f"page_token {token[:40]!r} was not made by this search; pass the next_page_token "
        "of the previous page of the same filter, order_by and experiment"
    )
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = json.loads(raw)
        offset = data["o"]
        same = data["q"] == fingerprint
    except (ValueError, TypeError, KeyError):
        raise bad from None
    if not same or isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise bad
    return offset


def query_fingerprint(scope: Any, filter: str, order_by: Any) -> str:
    """A short digest of a search's inputs: a page token is valid only for the same ones."""
    return _fingerprint(scope, filter, order_by)


def page_token(offset: int, fingerprint: str) -> str:
    """An opaque token for the page that starts at ``offset`` of the search ``fingerprint``."""
    return _encode(offset, fingerprint)


def page_offset(token: str, fingerprint: str) -> int:
    """The offset a :func:`page_token` holds.

    Raises:
        InvalidValueError: the token was not made by the search ``fingerprint``.
    """
    return _decode(token, fingerprint)


def check_page_size(max_results: Any, limit: int) -> None:
    """Raise ``InvalidValueError`` unless ``max_results`` is an integer from 1 to ``limit``."""
    if (
        isinstance(max_results, bool)
        or not isinstance(max_results, int)
        or not (1 <= max_results <= limit)
    ):
        raise InvalidValueError(
            f"max_results must be an integer from 1 to {limit}, got {max_results!r}"
        )


def search_run_page(
    experiment: str | Sequence[str] | None = "*",
    filter: str = "",
    order_by: Sequence[str] | str | None = None,
    max_results: int = DEFAULT_PAGE_SIZE,
    page_token: str | None = None,
    *,
    store: Store | None = None,
) -> RunPage:
    """One page of ``search_runs`` as run records.

    Args:
        experiment: Name(s), or ``"*"`` (the default here) for every experiment.
        filter: Filter text (the grammar of ``search_runs``).
        order_by: ``order_by`` items, as for ``search_runs``.
        max_results: Runs per page, 1 to ``MAX_PAGE_SIZE``.
        page_token: ``next_page_token`` of the previous page; None for the first page.
        store: The store; the current one when None.

    Raises:
        FilterError: the filter or an order_by item is malformed (with the position).
        InvalidValueError: a bad page size or a page token from another search.
    """
    check_page_size(max_results, MAX_PAGE_SIZE)
    node = parse_filter_text(filter)  # malformed input fails before the store is touched
    order_keys = parse_order_by(order_by)
    fingerprint = _fingerprint(experiment, filter, order_by)
    offset = _decode(page_token, fingerprint) if page_token else 0
    st = current_store(store)
    with st.reading() as reading:
        # One more row than asked tells whether another page follows.
        table: pa.Table = search_table(
            reading, experiment, node, order_keys, max_results + 1, offset
        )
    rows = table.to_pylist()
    more = len(rows) > max_results
    records = [run_record(r) for r in rows[:max_results]]
    token = _encode(offset + max_results, fingerprint) if more else None
    return RunPage(records, token)


def get_run_record(run_id: str, *, store: Store | None = None) -> dict[str, Any]:
    """One run as a record (see :func:`run_record`), with its artifacts' paths and sizes.

    Raises:
        RunNotFoundError: no (not deleted) run has this id.
    """
    st = current_store(store)
    fetch_run_row(run_id, st)
    with st.reading() as reading:
        table = search_table(reading, "*", Comparison("attributes", "run_id", "=", run_id), None, 1)
    rows = table.to_pylist()
    if not rows:
        fetch_run_row(run_id, st)  # deleted in between: the same error
    record = run_record(rows[0])
    record["artifacts"] = list_artifact_records(run_id, store=st)
    return record


def list_artifact_records(run_id: str, *, store: Store | None = None) -> list[dict[str, Any]]:
    """``[{"path", "size"}]`` of a run's artifacts, by path.

    Raises:
        RunNotFoundError: no (not deleted) run has this id.
    """
    st = current_store(store)
    fetch_run_row(run_id, st)
    t = run_sql("SELECT path, size FROM artifacts WHERE run_id = ? ORDER BY path", [run_id], st)
    return t.to_pylist()


def experiment_summaries(*, store: Store | None = None) -> list[dict[str, Any]]:
    """``[{"name", "run_count", "running", "last_start_time"}]`` of every experiment, by name.

    ``last_start_time`` is in ms since the epoch; deleted runs are not counted.
    """
    t = run_sql(
        "SELECT experiment AS name, count(*) AS run_count, "
        "count(*) FILTER (WHERE status = 'RUNNING') AS running, "
        "epoch_ms(max(start_time)) AS last_start_time "
        "FROM runs GROUP BY experiment ORDER BY experiment",
        None,
        current_store(store),
    )
    return t.to_pylist()
