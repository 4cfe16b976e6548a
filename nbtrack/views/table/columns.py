"""Which columns a run table shows, how wide they are, and how runs sort by one of them."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from nbtrack.views._html import header_label

ATTRIBUTE_COLUMNS = ("status", "name", "start_time", "duration_s")
HIDDEN_COLUMNS = ("parent_run_id", "description")


def default_columns(frame: pd.DataFrame, *, per_kind: int = 6, tags: int = 3) -> list[str]:
    """Pick the columns a table starts with.

    Args:
        frame: ``search_runs`` rows.
        per_kind: Most metric and most param columns.
        tags: Most tag columns; reserved ``nbtrack.*`` tags are left out.

    Returns:
        status, name, (experiment when several), start, duration, metrics, params, tags.
    """
    columns = [c for c in ATTRIBUTE_COLUMNS if c in frame.columns]
    if "experiment" in frame.columns and frame["experiment"].nunique() > 1:
        columns.insert(2, "experiment")
    metrics = [c for c in frame.columns if c.startswith("metrics.")][:per_kind]
    params = [c for c in frame.columns if c.startswith("params.")][:per_kind]
    user_tags = [
        c for c in frame.columns if c.startswith("tags.") and not c.startswith("tags.nbtrack.")
    ][:tags]
    return columns + metrics + params + user_tags


def sort_runs(frame: pd.DataFrame, column: str, ascending: bool) -> pd.DataFrame:
    """Sort runs by one column: numbers numerically (also numeric params), text case-blind.

    Missing values always go last; ties keep their previous order.
    """
    if column not in frame.columns or frame.empty:
        return frame

    def key(values: pd.Series) -> pd.Series:
        if pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_datetime64_any_dtype(
            values.dtype
        ):
            return values
        numbers = pd.to_numeric(values, errors="coerce")
        if numbers.notna().sum() == values.notna().sum():
            return numbers
        return values.astype("string").str.lower()

    return frame.sort_values(
        column, ascending=ascending, na_position="last", kind="stable", key=key
    ).reset_index(drop=True)


def column_width(column: str, texts: Iterable[str]) -> int:
    """A column's width in pixels: wide enough for its longest text and its bold header."""
    if column == "status":
        return 96
    longest = max([len(t) for t in texts], default=0)
    # The header is bold and always has room for the sort arrow (" ▲"), so sorting never
    # truncates it ("duratio…").
    header = 8.0 * (len(header_label(column)) + 2) + 22
    low = 130 if column == "name" else 56
    cap = 280 if column == "name" else 220
    return int(max(min(cap, max(low, 7.0 * longest + 16)), header))
