"""HTML pieces of the views: the stylesheet, cell formatting, static tables.

Colours are JupyterLab CSS variables with a plain fallback, so the same HTML follows
the light/dark theme in JupyterLab and still reads in nbconvert HTML or on GitHub.
Every value that comes from the store is escaped.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from nbtrack.views._colors import run_colors, status_css

FG = "var(--jp-ui-font-color1, #212121)"
FG_DIM = "var(--jp-ui-font-color2, #616161)"
BORDER = "var(--jp-border-color2, #e0e0e0)"
# Translucent, so the highlight reads on the light and the dark theme alike.
ACCENT_BG = "rgba(245, 124, 0, 0.16)"
# Selected rows and chips: translucent blue under the theme's own text colour. (JupyterLab's
# --jp-brand-color3 is a pale blue in both themes: white dark-theme text on it is unreadable.)
SELECTED_BG = "rgba(33, 150, 243, 0.24)"

STYLE = f"""
<style>
.nbt-root {{ color: {FG}; font-family: var(--jp-ui-font-family, system-ui, sans-serif);
  font-size: var(--jp-ui-font-size1, 13px); }}
.nbt-title {{ font-size: 15px; font-weight: 600; color: {FG}; }}
.nbt-sub {{ color: {FG_DIM}; font-weight: 400; margin-left: 6px; }}
.nbt-section {{ font-size: 13px; font-weight: 600; color: {FG}; margin: 10px 0 2px 2px;
  text-transform: uppercase; letter-spacing: .04em; }}
.nbt-h2 {{ font-size: 14px; font-weight: 600; color: {FG}; margin: 18px 0 4px 0;
  padding-top: 8px; border-top: 1px solid {BORDER}; }}
.nbt-dim {{ color: {FG_DIM}; }}
.nbt-badge {{ display: inline-block; padding: 0 7px; border-radius: 9px; font-size: 11px;
  font-weight: 600; line-height: 18px; color: #fff; letter-spacing: .02em; }}
.nbt-dot {{ display: inline-block; width: 9px; height: 9px; border-radius: 50%;
  margin-right: 6px; vertical-align: middle; }}
.nbt-dot-off {{ background: transparent; box-shadow: inset 0 0 0 1.5px {FG_DIM}; opacity: .6; }}
.nbt-tr {{ display: grid; align-items: center; height: 28px; border-bottom: 1px solid {BORDER}; }}
.nbt-td {{ padding: 0 8px; overflow: hidden; white-space: nowrap; text-overflow: ellipsis; }}
.nbt-num {{ text-align: right; font-variant-numeric: tabular-nums; }}
.nbt-row:hover {{ background: var(--jp-layout-color2, #f5f5f5); }}
.nbt-row.nbt-selected {{ background: {SELECTED_BG}; }}
.nbt-table-scroll > *, .nbt-table-scroll .nbt-row {{ flex-shrink: 0; }}
.nbt-head {{ border-bottom: 2px solid var(--jp-border-color1, #bdbdbd); position: sticky; top: 0;
  z-index: 2; background: var(--jp-layout-color1, #fff); }}
.jupyter-button.nbt-th {{ background: transparent; box-shadow: none; font-weight: 600;
  color: {FG}; text-align: left; padding: 0 8px; height: 28px; margin: 0; }}
.jupyter-button.nbt-th:hover {{ background: var(--jp-layout-color2, #eee); box-shadow: none; }}
.jupyter-button.nbt-th.nbt-num-h {{ text-align: right; }}
.jupyter-button.nbt-chip {{ border-radius: 12px; height: 24px; padding: 0 10px;
  background: {SELECTED_BG}; color: {FG}; font-size: 12px; }}
.jupyter-button.nbt-chip:hover {{ background: var(--jp-error-color3, #ffebee); }}
.nbt-error {{ color: var(--jp-error-color1, #d32f2f); font-family: var(--jp-code-font-family,
  monospace); font-size: 12px; white-space: pre; line-height: 1.35; margin: 2px 0 0 4px; }}
.nbt-bad input {{ border-color: var(--jp-error-color1, #d32f2f) !important; }}
.nbt-count {{ color: {FG_DIM}; font-size: 12px; }}
table.nbt-table {{ border-collapse: collapse; font-size: 12px; color: {FG}; }}
table.nbt-table th {{ text-align: left; padding: 4px 10px; font-weight: 600;
  border-bottom: 2px solid var(--jp-border-color1, #bdbdbd); }}
table.nbt-table td {{ padding: 3px 10px; border-bottom: 1px solid {BORDER}; white-space: nowrap;
  max-width: 320px; overflow: hidden; text-overflow: ellipsis; }}
table.nbt-table tr.nbt-diff td {{ background: {ACCENT_BG}; }}
table.nbt-table tr.nbt-diff td:first-child {{ font-weight: 600; }}
table.nbt-table tr.nbt-same td {{ color: {FG_DIM}; }}
</style>
"""

ATTRIBUTE_LABELS = {
    "run_id": "run id",
    "experiment": "experiment",
    "name": "name",
    "status": "status",
    "start_time": "started",
    "end_time": "ended",
    "duration_s": "duration",
}


def esc(value: object) -> str:
    """HTML-escape ``value`` (quotes too)."""
    return html.escape(str(value), quote=True)


def is_missing(value: Any) -> bool:
    """True for None, NaN, NaT and pandas NA."""
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def format_duration(seconds: float) -> str:
    """``4.2 s``, ``3m 05s``, ``2h 03m`` or ``3d 04h``."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours:02d}h"


def format_number(value: float) -> str:
    """Four significant digits, no exponent for ordinary magnitudes."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return f"{value:.4g}"


def status_badge(status: Any) -> str:
    """A coloured pill with the status text."""
    text = "—" if is_missing(status) else str(status)
    return f'<span class="nbt-badge" style="background:{status_css(text)}">{esc(text)}</span>'


def header_label(column: str) -> str:
    """Short column header: ``params.lr`` → ``lr``, ``start_time`` → ``started``."""
    if column in ATTRIBUTE_LABELS:
        return ATTRIBUTE_LABELS[column]
    return column.split(".", 1)[1] if "." in column else column


def is_numeric_column(frame: pd.DataFrame, column: str) -> bool:
    """True when a column is drawn right-aligned (metrics, durations, numbers)."""
    return (
        column == "duration_s"
        or column.startswith("metrics.")
        or (
            column in frame.columns
            and pd.api.types.is_numeric_dtype(frame[column].dtype)
            and not pd.api.types.is_bool_dtype(frame[column].dtype)
        )
    )


def format_cell(
    column: str, value: Any, run_id: str = "", *, color: str | None = None
) -> tuple[str, str]:
    """Return ``(html, plain text)`` of one table cell.

    The plain text is the tooltip and the basis of the column width. ``color`` is the
    run's colour in the plots beside the table (a dot before the name); a run not drawn
    there gets a hollow dot.
    """
    if column == "status":
        text = "—" if is_missing(value) else str(value)
        return status_badge(value), text
    if is_missing(value):
        return '<span class="nbt-dim">—</span>', ""
    if column == "name":
        text = str(value)
        dot = (
            f'<span class="nbt-dot" style="background:{color}"></span>'
            if color
            else '<span class="nbt-dot nbt-dot-off"></span>'
        )
        return dot + esc(text), text
    if column in ("start_time", "end_time"):
        text = pd.Timestamp(value).strftime("%Y-%m-%d %H:%M:%S")
        return esc(text), text + " UTC"
    if column == "duration_s":
        text = format_duration(float(value))
        return esc(text), text
    if isinstance(value, float):
        text = format_number(float(value))
        return esc(text), str(value)
    text = str(value)
    return esc(text), text


def runs_table_html(
    frame: pd.DataFrame,
    columns: Sequence[str],
    *,
    max_rows: int = 50,
    colors: Mapping[str, str] | None = None,
) -> str:
    """A static HTML table of runs (the fallback shown without a live kernel).

    Args:
        frame: ``search_runs`` rows in display order.
        columns: Columns to show.
        max_rows: Rows shown; a footer says how many were left out.
        colors: ``{run_id: colour}`` of the runs drawn in plots beside the table;
            ``None`` colours the rows shown by position.

    Returns:
        An HTML string with its stylesheet.
    """
    columns = [c for c in columns if c in frame.columns]
    head = "".join(f"<th title='{esc(c)}'>{esc(header_label(c))}</th>" for c in columns)
    body = []
    records = frame.head(max_rows).to_dict("records")
    if colors is None:
        colors = run_colors([str(r.get("run_id", "")) for r in records])
    for record in records:
        cells = []
        run_id = str(record.get("run_id", ""))
        for column in columns:
            cell, tip = format_cell(column, record.get(column), run_id, color=colors.get(run_id))
            align = ' style="text-align:right"' if is_numeric_column(frame, column) else ""
            cells.append(f"<td title='{esc(tip)}'{align}>{cell}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    more = ""
    if len(frame) > max_rows:
        more = f'<div class="nbt-dim">… {len(frame) - max_rows} more runs</div>'
    if not len(frame):
        more = '<div class="nbt-dim">No runs match.</div>'
    return (
        f'{STYLE}<div class="nbt-root"><table class="nbt-table"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>{more}</div>"
    )


def params_diff_html(
    runs: pd.DataFrame,
    labels: dict[str, str],
    *,
    show_same: bool = True,
    colors: Mapping[str, str] | None = None,
) -> str:
    """A params table, one column per run, rows whose values differ highlighted.

    Args:
        runs: ``search_runs`` rows of the runs compared.
        labels: ``{run_id: label}`` for the column headers.
        show_same: Also list the params that are equal in every run (dimmed).
        colors: ``{run_id: colour}`` for the header dots; others get palette colours.

    Returns:
        HTML with its stylesheet; differing params come first. When every param differs
        the summary says so and no row is highlighted (highlighting all points at none).
    """
    ids = [str(r) for r in runs["run_id"]]
    palette = run_colors(ids, colors)
    params = [c for c in runs.columns if c.startswith("params.")]
    differing, same = [], []
    for column in params:
        values = runs[column].astype("string").fillna("\0")
        (differing if values.nunique() > 1 else same).append(column)
    head = "<th>param</th>" + "".join(
        f'<th><span class="nbt-dot" style="background:{palette[r]}"></span>{esc(labels.get(r, r))}</th>'
        for r in ids
    )
    every = bool(params) and len(differing) == len(params) and len(ids) > 1
    rows = []
    diff_css = "nbt-all-diff" if every else "nbt-diff"
    for column, css in [(c, diff_css) for c in differing] + (
        [(c, "nbt-same") for c in same] if show_same else []
    ):
        cells = "".join(
            f"<td title='{esc(v)}'>{'<span class=nbt-dim>—</span>' if is_missing(v) else esc(v)}</td>"
            for v in runs[column]
        )
        rows.append(f'<tr class="{css}"><td>{esc(column.removeprefix("params."))}</td>{cells}</tr>')
    if not params:
        rows.append(
            f'<tr><td colspan="{len(ids) + 1}" class="nbt-dim">These runs have no params.</td></tr>'
        )
    if every:
        text = f"all {len(params)} params differ" if len(params) > 1 else "the param differs"
    else:
        text = f"{len(differing)} of {len(params)} params differ" + (
            " (highlighted)" if differing else ""
        )
    summary = f'<div class="nbt-count">{text}</div>'
    return (
        f'{STYLE}<div class="nbt-root">{summary}<table class="nbt-table"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )
