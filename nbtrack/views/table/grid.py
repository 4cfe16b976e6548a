"""A page of runs as a CSS grid: the cells, the column template, a row's HTML, the header.

Pure functions of the page's records and columns; ``RunTable`` puts the results into its
pooled row widgets and header buttons.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import ipywidgets as widgets

from nbtrack.views._html import esc, format_cell, header_label
from nbtrack.views.table.columns import column_width

Cells = dict[str, list[tuple[str, str]]]


def page_cells(
    records: Sequence[Mapping[str, Any]], columns: Sequence[str], colors: Mapping[str, str]
) -> Cells:
    """Each column's formatted cells for a page of runs, as ``(html, tooltip)`` pairs.

    Args:
        records: The page's rows (``search_runs`` records).
        columns: The columns shown.
        colors: Run id to colour, for the run's swatch.

    Returns:
        Column name to one ``(html, tooltip)`` per record, in record order.
    """
    return {
        c: [
            format_cell(c, rec.get(c), rid, color=colors.get(rid))
            for rec in records
            for rid in [str(rec.get("run_id", ""))]
        ]
        for c in columns
    }


def grid_template(columns: Sequence[str], cells: Cells) -> tuple[str, str]:
    """The grid's ``grid-template-columns`` and its total width, both in CSS pixels.

    Args:
        columns: The columns shown.
        cells: The page's cells from :func:`page_cells` (the tooltips size the columns).

    Returns:
        ``("96px 130px ...", "480px")``.
    """
    widths = [column_width(c, (tip for _, tip in cells[c])) for c in columns]
    return " ".join(f"{w}px" for w in widths), f"{sum(widths)}px"


def row_html(
    columns: Sequence[str], cells: Cells, numeric: Mapping[str, bool], index: int, template: str
) -> str:
    """One row of the grid as HTML: a cell per column, numbers right-aligned.

    Args:
        columns: The columns shown.
        cells: The page's cells from :func:`page_cells`.
        numeric: Column name to whether it holds numbers.
        index: The row's position on the page.
        template: The grid's column template from :func:`grid_template`.

    Returns:
        The row's ``<div class="nbt-tr">``.
    """
    parts = []
    for column in columns:
        content, tip = cells[column][index]
        css = "nbt-td nbt-num" if numeric[column] else "nbt-td"
        parts.append(f'<div class="{css}" title="{esc(tip)}">{content}</div>')
    return f'<div class="nbt-tr" style="grid-template-columns:{template}">{"".join(parts)}</div>'


def header_buttons(
    columns: Sequence[str],
    sort: tuple[str, bool],
    numeric: Mapping[str, bool],
    on_sort: Callable[[str], Any],
) -> list[widgets.Button]:
    """One header button per column; the sorted column shows its arrow, a click sorts.

    Args:
        columns: The columns shown.
        sort: The ``(column, ascending)`` the rows are sorted by.
        numeric: Column name to whether it holds numbers (right-aligned header).
        on_sort: Called with the column's name when its button is clicked.

    Returns:
        The buttons, in column order.
    """
    column, ascending = sort
    buttons = []
    for c in columns:
        arrow = (" ▲" if ascending else " ▼") if c == column else ""
        button = widgets.Button(
            description=header_label(c) + arrow,
            tooltip=f"{c} — click to sort",
            layout=widgets.Layout(width="auto", margin="0"),
        )
        button.add_class("nbt-th")
        if numeric[c]:
            button.add_class("nbt-num-h")
        button.on_click(lambda _b, c=c: on_sort(c))
        buttons.append(button)
    return buttons
