"""``nt.sql``: one read-only SELECT over the public views."""

from __future__ import annotations

from typing import TYPE_CHECKING

import duckdb

from nbtrack.errors import QueryError
from nbtrack.tracking.query.reads import current_store, to_pandas

if TYPE_CHECKING:
    import pandas as pd

    from nbtrack.storage.protocol import Store

__all__ = ["sql"]

_ALLOWED_STATEMENTS = {"StatementType.SELECT"}


def sql(query: str, *, store: Store | None = None) -> pd.DataFrame:
    """Run one read-only SELECT over the views runs, params, metrics, tags, artifacts.

    ``runs`` has the attribute columns of ``search_runs``; ``params``/``tags`` are
    ``(run_id, key, value)``; ``metrics`` is ``(run_id, key, step, timestamp, value)``, one
    row per point; ``artifacts`` is ``(run_id, path, size, sha256)``. Deleted runs are
    not in them.

    Args:
        query: One DuckDB SELECT statement.
        store: The store to read; the current one when None.

    Returns:
        The result as a pandas DataFrame.

    Example:
        >>> nt.sql("SELECT status, count(*) AS n FROM runs GROUP BY status")  # doctest: +SKIP

    Raises:
        QueryError: the text is not a single SELECT, or DuckDB refused or failed it.
    """
    if not isinstance(query, str) or not query.strip():
        raise QueryError("nt.sql takes one SELECT statement as a string")
    try:
        statements = duckdb.extract_statements(query)
    except duckdb.Error as exc:
        raise QueryError(f"cannot parse the SQL: {str(exc).splitlines()[0]}") from exc
    if len(statements) != 1:
        raise QueryError(f"nt.sql runs exactly one statement; got {len(statements)}")
    kind = str(statements[0].type)
    if kind not in _ALLOWED_STATEMENTS:
        raise QueryError(
            f"nt.sql is read-only: {kind.split('.')[-1]} statements are refused; "
            "write a SELECT over runs, params, metrics, tags or artifacts"
        )
    st = current_store(store)
    try:
        with st.reading() as reading:
            # A connection that holds nothing but the five public views (no internal
            # tables, so no deleted runs), sandboxed to the store like the main one.
            table = reading.sql(query)
    except duckdb.Error as exc:
        first = str(exc).splitlines()[0]
        raise QueryError(f"the query failed: {first}") from exc
    return to_pandas(table)
