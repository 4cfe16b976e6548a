"""How the CLI writes: strict JSON for machines, plain tables fitted to the terminal for people."""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import shutil
import sys
from collections.abc import Iterable, Sequence
from typing import Any

#: Widest a table cell may be before it is cut with an ellipsis (ids are never cut).
MAX_CELL = 32
#: Narrowest a column is squeezed to before columns are dropped from the right to fit.
MIN_CELL = 8


def is_missing(value: Any) -> bool:
    """True for None and pandas' NaT/NA (without importing pandas when it is not loaded)."""
    if value is None:
        return True
    pd = sys.modules.get("pandas")
    return pd is not None and (value is pd.NaT or value is pd.NA)


def to_jsonable(value: Any) -> Any:
    """Convert a value from a DataFrame or a Run into strict JSON.

    Datetimes become ISO-8601 strings, numpy scalars plain numbers, and NaN/±inf ``null``
    (JSON has no spelling for them).
    """
    if is_missing(value):
        return None
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [to_jsonable(v) for v in value]
    if isinstance(value, _dt.datetime | _dt.date):
        return value.isoformat()
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    item = getattr(value, "item", None)  # numpy scalars and 0-d arrays
    if callable(item):
        try:
            return to_jsonable(item())
        except (TypeError, ValueError):
            pass
    if hasattr(value, "_asdict"):
        return to_jsonable(value._asdict())
    if hasattr(value, "__dataclass_fields__"):
        import dataclasses

        return to_jsonable(dataclasses.asdict(value))
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def format_duration(seconds: Any) -> str:
    """``0.8s``, ``42s``, ``3m05s``, ``2h07m``, ``3d04h``; empty when unknown."""
    if is_missing(seconds):
        return ""
    s = float(seconds)
    if math.isnan(s):
        return ""
    if s < 10:
        return f"{s:.1f}s"
    if s < 60:
        return f"{s:.0f}s"
    m, sec = divmod(round(s), 60)
    if m < 60:
        return f"{m}m{sec:02d}s"
    h, m = divmod(m, 60)
    if h < 24:
        return f"{h}h{m:02d}m"
    d, h = divmod(h, 24)
    return f"{d}d{h:02d}h"


def format_cell(value: Any, *, nan: str = "nan") -> str:
    """Render one value for a terminal table (UTC times to the second, floats to 6 digits)."""
    if is_missing(value):
        return ""
    if isinstance(value, _dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(_dt.timezone.utc)
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) or type(value).__name__.startswith("float"):
        number = float(value)
        if math.isnan(number):
            return nan
        return f"{number:.6g}"
    text = str(value)
    return text.replace("\r", " ").replace("\n", " ").replace("\t", " ")


def _truncate(text: str, width: int) -> str:
    if len(text) <= width:
        return text
    return text[: max(width - 1, 0)] + "…"


def _is_numeric_column(values: Iterable[Any]) -> bool:
    seen = False
    for value in values:
        if is_missing(value):
            continue
        is_number = isinstance(value, int | float) and not isinstance(value, bool)
        if not is_number and not type(value).__name__.startswith(("int", "float", "uint")):
            return False
        seen = True
    return seen


def _floor(header: str) -> int:
    """Narrowest a column is squeezed to: its header (up to ``MAX_CELL``), at least ``MIN_CELL``."""
    return max(MIN_CELL, min(len(header), MAX_CELL))


def fit_columns(
    headers: Sequence[str], cells: Sequence[Sequence[str]], width: int | None, keep: Iterable[str]
) -> int:
    """How many leading columns fit ``width`` once wide ones are squeezed to ``MIN_CELL``.

    Columns in ``keep`` (ids) are never squeezed. ``None`` fits every column.
    """
    if width is None:
        return len(headers)
    keep = set(keep)
    used = 0
    for i, name in enumerate(headers):
        natural = max([len(name)] + [len(row[i]) for row in cells])
        need = natural if name in keep else min(natural, _floor(name))
        need += 2 if i else 0
        if i and used + need > width:
            return i
        used += need
    return len(headers)


def cell_width(text: str) -> int:
    """Columns ``text`` takes in a terminal: East Asian wide characters take two, combining
    marks none (the rule ``rich`` and ``wcwidth`` follow)."""
    if text.isascii():
        return len(text)
    import unicodedata

    return sum(
        0
        if unicodedata.combining(ch)
        else 2
        if unicodedata.east_asian_width(ch) in ("W", "F")
        else 1
        for ch in text
    )


def _pad(text: str, width: int, right: bool) -> str:
    gap = " " * max(width - cell_width(text), 0)
    return gap + text if right else text + gap


def render_table(
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    width: int | None = None,
    keep: Iterable[str] = ("run_id",),
    nan: str = "nan",
    max_cell: int = MAX_CELL,
    ascii_only: bool = False,
) -> tuple[str, int]:
    """Lay rows out as a table, fitted to ``width``.

    Args:
        columns: Header names.
        rows: Row values (any type; see :func:`format_cell`; strings are shown as they are).
        width: Terminal width: columns that do not fit even when squeezed are dropped from
            the right, the others are cut with ``…``. ``None`` keeps every column whole.
        keep: Columns never cut (ids the user copies).
        nan: How a float NaN is shown.
        max_cell: Cells wider than this are cut with ``…`` (columns in ``keep`` never are).
        ascii_only: Rule the header with ``-`` and cut with ``...`` (for non-UTF-8 output).

    Returns:
        The table text (no colour codes) and how many columns were dropped to fit ``width``.
    """
    keep = set(keep)
    total = len(columns)
    cells = [[format_cell(v, nan=nan) for v in row] for row in rows]
    for i, name in enumerate(columns):
        if name not in keep:
            for row in cells:
                row[i] = _truncate(row[i], max_cell)
    shown = fit_columns(columns, cells, width, keep)
    if width is not None:
        # Squeeze the widest columns (never ids) until the table fits, cutting with "…".
        widths = [max([len(n)] + [len(r[i]) for r in cells]) for i, n in enumerate(columns)]
        widths = widths[:shown]
        while sum(widths) + 2 * (len(widths) - 1) > width:
            i = max(
                (
                    j
                    for j in range(shown)
                    if columns[j] not in keep and widths[j] > _floor(columns[j])
                ),
                key=lambda j: widths[j],
                default=None,
            )
            if i is None:
                break
            widths[i] -= 1
        for i, w in enumerate(widths):
            for row in cells:
                row[i] = _truncate(row[i], w)
        columns = [_truncate(name, widths[i]) for i, name in enumerate(columns[:shown])]
    # Plain padding, not rich: every cell is already cut to fit, and rendering a rich
    # Table took a third of `nbtrack runs list`'s time.
    names = list(columns)[:shown]
    right = [_is_numeric_column(row[i] for row in rows) for i in range(shown)]
    widths = [
        max([cell_width(name)] + [cell_width(row[i]) for row in cells])
        for i, name in enumerate(names)
    ]

    def row_text(values: Sequence[str]) -> str:
        return "  ".join(
            _pad(v, w, r) for v, w, r in zip(values, widths, right, strict=True)
        ).rstrip()

    rule = ("-" if ascii_only else "─") * (sum(widths) + 2 * (len(widths) - 1))
    lines = [row_text(names), rule, *(row_text(row[:shown]) for row in cells)]
    if ascii_only:
        lines = [text.replace("…", "...") for text in lines]
    return "\n".join(line for line in lines if line.strip()), total - shown


class Output:
    """Where a command writes: JSON for machines, tables and notes for people."""

    def __init__(self, *, as_json: bool, stream: Any = None) -> None:
        self.as_json = as_json
        self.stream = stream if stream is not None else sys.stdout

    @property
    def terminal_width(self) -> int | None:
        """Width to fit tables to: the terminal's, else ``$COLUMNS``, else ``None`` (all)."""
        isatty = getattr(self.stream, "isatty", None)
        if callable(isatty) and isatty():
            return shutil.get_terminal_size((100, 24)).columns
        columns = os.environ.get("COLUMNS", "")
        return int(columns) if columns.isdigit() and int(columns) > 0 else None

    def json(self, data: Any) -> None:
        json.dump(to_jsonable(data), self.stream, indent=2, allow_nan=False, ensure_ascii=False)
        self.stream.write("\n")

    def line(self, text: str = "") -> None:
        self.stream.write(text + "\n")

    def note(self, text: str) -> None:
        """A hint for people (never in ``--json`` output); goes to stderr to keep stdout clean."""
        sys.stderr.write(text + "\n")

    def table(
        self,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
        *,
        nan: str = "nan",
        empty: str = "(no rows)",
        keep: Iterable[str] = ("run_id",),
        hint: str = "use --json to see all",
        hidden: int = 0,
    ) -> None:
        """Print a table fitted to the terminal; note on stderr how many columns it hides.

        ``hidden`` counts columns the caller already left out to fit.
        """
        if not rows:
            self.line(empty)
            return
        encoding = (getattr(self.stream, "encoding", None) or "utf-8").lower()
        text, dropped = render_table(
            columns,
            rows,
            width=self.terminal_width,
            nan=nan,
            keep=keep,
            ascii_only=not encoding.replace("-", "").startswith("utf"),
        )
        hidden += dropped
        self.line(text)
        if hidden:
            self.note(f"({hidden} more column(s) hidden to fit the terminal; {hint})")


def frame_rows(frame: Any, columns: Sequence[str] | None = None) -> tuple[list[str], list[list]]:
    """Header names and row values of a DataFrame (all columns, or ``columns``)."""
    columns = list(frame.columns) if columns is None else list(columns)
    rows = [list(row) for row in frame[columns].itertuples(index=False, name=None)]
    return [str(c) for c in columns], rows


def frame_records(frame: Any) -> list[dict[str, Any]]:
    """A DataFrame as a list of strict-JSON-ready dicts."""
    columns = [str(c) for c in frame.columns]
    return [
        {c: to_jsonable(v) for c, v in zip(columns, row, strict=True)}
        for row in frame.itertuples(index=False, name=None)
    ]
