"""Plain-text forms of the views, for terminals (IPython without a browser, ``print``).

A view's ``__repr__`` is a title line and a small table made here; its mimebundle's
``text/plain`` is the same text (ipywidgets would otherwise cut its repr at 110 characters).
Nothing here imports ipywidgets or plotly.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Sequence
from typing import Any

#: Rows a text table shows before it says how many more there are.
MAX_ROWS = 10
#: Widest a cell gets before it is cut with "…".
MAX_CELL = 24


def cell(value: Any, limit: int | None = MAX_CELL) -> str:
    """One value as table text: short floats, minute-precision UTC times, blanks for NaN."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return f"{value:.4g}"
    if isinstance(value, _dt.datetime) or hasattr(value, "to_pydatetime"):
        try:
            return value.strftime("%Y-%m-%d %H:%M")
        except ValueError:  # NaT
            return ""
    text = str(value).replace("\n", " ")
    return text if limit is None or len(text) <= limit else text[: limit - 1] + "…"


def table(
    headers: Sequence[str],
    rows: Sequence[Sequence[Any]],
    total: int | None = None,
    whole: Sequence[int] = (),
) -> str:
    """Left-aligned columns, two spaces apart; numbers right-aligned; at most MAX_ROWS rows.

    Columns whose index is in ``whole`` are never cut (run ids: users copy them).
    """
    shown = [
        [cell(v, None if i in whole else MAX_CELL) for i, v in enumerate(row)]
        for row in rows[:MAX_ROWS]
    ]
    heads = [cell(h) for h in headers]
    widths = [max([len(h)] + [len(r[i]) for r in shown]) for i, h in enumerate(heads)]
    numeric = [
        bool(rows) and all(isinstance(r[i], int | float) and not isinstance(r[i], bool)
                           for r in rows[:MAX_ROWS])
        for i in range(len(heads))
    ]

    def line(values: Sequence[str]) -> str:
        parts = [
            v.rjust(w) if num else v.ljust(w)
            for v, w, num in zip(values, widths, numeric, strict=True)
        ]
        return "  ".join(parts).rstrip()

    lines = [line(heads), line(["-" * w for w in widths])]
    lines += [line(r) for r in shown]
    count = len(rows) if total is None else total
    if count > len(shown):
        lines.append(f"… {count - len(shown)} more")
    return "\n".join(lines)


def frame_table(frame: Any, columns: Sequence[str]) -> str:
    """Rows of a runs DataFrame as a text table: the run id, then ``columns``."""
    if frame is None or len(frame) == 0:
        return "(no runs)"
    columns = [c for c in columns if c in frame.columns and c != "run_id"]
    head = frame.head(MAX_ROWS)
    rows = []
    for rec in head.to_dict("records"):
        rows.append([str(rec.get("run_id", "")), *(rec.get(c) for c in columns)])
    return table(["run_id", *columns], rows, total=len(frame), whole=(0,))
