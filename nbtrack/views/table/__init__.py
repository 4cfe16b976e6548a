"""RunTable: a paged, sortable, selectable table of runs built from plain ipywidgets.

Why plain widgets and no custom JavaScript: it renders in any JupyterLab or Notebook
that has ipywidgets, with no front-end extension to install. Each row is a checkbox
plus one ``HTML`` widget laid out as a CSS grid; the header is a grid of buttons with
the same column template, so clicking a header sorts. Rows are a fixed pool of
``page_size`` widgets whose values change on paging or sorting, so a table of
10,000 runs costs one page of widgets.

Split by noun: ``columns`` (which columns show, their widths, sorting runs by one) and
``run_table`` (the ``RunTable`` widget and ``show_runs``). This ``__init__`` is the door.
"""

from __future__ import annotations

from nbtrack.views.table.columns import ATTRIBUTE_COLUMNS, default_columns, sort_runs
from nbtrack.views.table.run_table import PAGE_SIZE, RunTable, show_runs

__all__ = [
    "ATTRIBUTE_COLUMNS",
    "PAGE_SIZE",
    "RunTable",
    "default_columns",
    "show_runs",
    "sort_runs",
]
