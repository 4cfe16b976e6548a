"""The ``RunTable`` widget and ``show_runs``: a checkbox and one ``HTML`` widget per row, a
fixed pool of ``page_size`` rows whose values change on paging or sorting (see the package
docstring for why plain ipywidgets)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import ipywidgets as widgets
import pandas as pd
import traitlets

from nbtrack.views import _data
from nbtrack.views._colors import run_colors
from nbtrack.views._html import (
    STYLE,
    is_numeric_column,
    runs_table_html,
)
from nbtrack.views.table.columns import HIDDEN_COLUMNS, default_columns, sort_runs
from nbtrack.views.table.grid import grid_template, header_buttons, page_cells, row_html

PAGE_SIZE = 50
_CHECK = widgets.Layout(width="28px", min_width="28px", margin="0 0 0 6px", height="28px")


class RunTable(widgets.VBox):
    """Runs as a table: sort by clicking a header, pick columns, select rows, page.

    ``selected_run_ids`` (a traitlet, observable) holds the ticked runs in the
    order they were ticked. Build one with :func:`nbtrack.show_runs` or directly
    from a ``search_runs`` frame.
    """

    selected_run_ids = traitlets.List(traitlets.Unicode(), help="Ticked run ids.")
    filter = traitlets.Unicode("", help="The filter the rows were searched with.")

    def __init__(
        self,
        runs: pd.DataFrame | None = None,
        *,
        experiment: str | Sequence[str] | None = None,
        filter: str = "",
        columns: Sequence[str] | None = None,
        page_size: int = PAGE_SIZE,
        max_height: str | None = None,
    ) -> None:
        """Build the table.

        Args:
            runs: Rows to show; ``None`` searches the store with ``experiment``/``filter``
                (and :meth:`refresh` searches again).
            experiment: Experiment(s) searched when ``runs`` is None (``"*"`` for all).
            filter: Filter grammar string applied when searching.
            columns: Columns to show; ``None`` picks :func:`default_columns`.
            page_size: Rows per page.
            max_height: CSS height past which the rows scroll under a fixed header
                (e.g. ``"320px"``); ``None`` shows every row of the page.

        Raises:
            nbtrack.FilterError: ``filter`` is malformed.
        """
        super().__init__()
        self.add_class("nbt-root")
        self.add_class("nbt-run-table")
        self._experiment = experiment
        self._from_store = runs is None
        self._page_size = max(1, int(page_size))
        self._page = 0
        self._sort: tuple[str, bool] = ("start_time", False)
        self._syncing = False
        self._page_ids: list[str] = []
        self._colors: dict[str, str] | None = None
        self._all = (
            _data.search_runs(experiment, filter) if runs is None else runs.reset_index(drop=True)
        )
        self.filter = filter
        self._frame = sort_runs(self._all, *self._sort)
        self._columns = list(columns) if columns is not None else default_columns(self._all)
        self._explicit_columns = columns is not None

        self._summary = widgets.HTML(layout=widgets.Layout(margin="0 12px 0 4px"))
        self._prev = widgets.Button(icon="chevron-left", tooltip="Previous page", layout=_small())
        self._next = widgets.Button(icon="chevron-right", tooltip="Next page", layout=_small())
        self._page_label = widgets.HTML()
        self._columns_toggle = widgets.ToggleButton(
            description="Columns",
            icon="columns",
            tooltip="Choose the columns",
            layout=widgets.Layout(width="auto"),
        )
        self._picker = widgets.SelectMultiple(
            rows=10, layout=widgets.Layout(width="360px", display="none")
        )
        self._select_all = widgets.Checkbox(
            indent=False, tooltip="Select every run on this page", layout=_CHECK
        )
        self._header_grid = widgets.GridBox(layout=widgets.Layout(margin="0"))
        header = widgets.HBox([self._select_all, self._header_grid])
        header.add_class("nbt-head")
        self._body = widgets.VBox(layout=widgets.Layout(margin="0"))
        self._empty = widgets.HTML(
            '<div class="nbt-dim" style="padding:6px 10px">No runs match.</div>'
        )
        self._rows: list[tuple[widgets.HBox, widgets.Checkbox, widgets.HTML]] = []
        toolbar = widgets.HBox(
            [self._summary, self._prev, self._page_label, self._next, self._columns_toggle],
            layout=widgets.Layout(align_items="center"),
        )
        grid = widgets.VBox(
            [header, self._body], layout=widgets.Layout(overflow="auto", max_height=max_height)
        )
        grid.add_class("nbt-table-scroll")
        self.children = [widgets.HTML(STYLE), toolbar, self._picker, grid]

        self._prev.on_click(lambda _: self.show_page(self._page - 1))
        self._next.on_click(lambda _: self.show_page(self._page + 1))
        self._columns_toggle.observe(self._on_toggle_columns, "value")
        self._picker.observe(self._on_pick_columns, "value")
        self._select_all.observe(self._on_select_all, "value")
        self._update_picker()
        self._render()

    # -- public API ------------------------------------------------------------------
    @property
    def frame(self) -> pd.DataFrame:
        """Every matching run in display order (all pages)."""
        return self._frame

    @property
    def columns(self) -> list[str]:
        """The columns shown, in order."""
        return list(self._columns)

    @property
    def page(self) -> int:
        """The page shown, from 0."""
        return self._page

    @property
    def page_count(self) -> int:
        """How many pages the rows fill (at least 1)."""
        return max(1, -(-len(self._frame) // self._page_size))

    @property
    def visible_run_ids(self) -> list[str]:
        """Run ids of the rows on the page shown, top to bottom."""
        return list(self._page_ids)

    @property
    def sort_key(self) -> tuple[str, bool]:
        """``(column, ascending)`` the rows are sorted by."""
        return self._sort

    def sort(self, column: str, ascending: bool | None = None) -> None:
        """Sort by ``column``; ``ascending=None`` flips the order when already sorted by it."""
        if column not in self._frame.columns:
            raise KeyError(f"no column {column!r}; columns are {', '.join(self._frame.columns)}")
        if ascending is None:
            current, was_ascending = self._sort
            ascending = not was_ascending if current == column else column != "start_time"
        self._sort = (column, ascending)
        self._frame = sort_runs(self._all, column, ascending)
        self._page = 0
        self._render()

    def set_columns(self, columns: Sequence[str]) -> None:
        """Show these columns, in this order (unknown ones are ignored)."""
        self._columns = [c for c in columns if c in self._all.columns]
        self._explicit_columns = True
        self._update_picker()
        self._render()

    def show_page(self, page: int) -> None:
        """Show page ``page`` (from 0), clamped to the pages that exist."""
        self._page = min(max(0, int(page)), self.page_count - 1)
        self._render()

    def select(self, run_ids: Iterable[str]) -> None:
        """Replace the selection with ``run_ids`` (ids not in the table are ignored)."""
        present = set(self._frame["run_id"]) if "run_id" in self._frame else set()
        self.selected_run_ids = [r for r in dict.fromkeys(map(str, run_ids)) if r in present]
        self._sync_checks()

    def set_runs(self, runs: pd.DataFrame) -> None:
        """Show new rows, keeping the sort, the columns and the still-present selection."""
        self._all = runs.reset_index(drop=True)
        self._frame = sort_runs(self._all, *self._sort)
        if not self._explicit_columns:
            self._columns = default_columns(self._all)
        else:
            self._columns = [c for c in self._columns if c in self._all.columns]
        self._page = min(self._page, self.page_count - 1)
        self._update_picker()
        present = set(self._all["run_id"]) if "run_id" in self._all else set()
        kept = [r for r in self.selected_run_ids if r in present]
        if kept != list(self.selected_run_ids):
            self.selected_run_ids = kept
        self._render()

    def set_colors(self, colors: Mapping[str, str] | None) -> None:
        """Colour the name dots as the plots beside the table do (others: hollow dots).

        Args:
            colors: ``{run_id: colour}`` of the runs drawn; ``None`` colours the rows of
                the page shown by position.
        """
        new = dict(colors) if colors is not None else None
        if new != self._colors:
            self._colors = new
            self._render()

    def set_filter(self, filter: str) -> None:
        """Search the store again with a new filter (raises ``FilterError`` when malformed)."""
        frame = _data.search_runs(self._experiment, filter)
        self.filter = filter
        self._from_store = True
        self.set_runs(frame)

    def refresh(self) -> None:
        """Search the store again (runs logged meanwhile by any kernel appear)."""
        if self._from_store:
            self.set_runs(_data.search_runs(self._experiment, self.filter))

    def to_html(self, max_rows: int = PAGE_SIZE) -> str:
        """The table as static HTML (what nbconvert and GitHub show)."""
        return runs_table_html(self._frame, self._columns, max_rows=max_rows, colors=self._colors)

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = super()._repr_mimebundle_(**kwargs) or {}
        bundle["text/html"] = self.to_html()
        bundle["text/plain"] = repr(self)  # a terminal shows this (ipywidgets cuts its own)
        return bundle

    def __repr__(self) -> str:
        from nbtrack.views import _text

        title = f"RunTable: {len(self._frame)} runs, {len(self.selected_run_ids)} selected"
        return f"{title}\n{_text.frame_table(self._frame, self._columns[:6])}"

    # -- rendering -------------------------------------------------------------------
    def _render(self) -> None:
        frame = self._frame
        start = self._page * self._page_size
        page = frame.iloc[start : start + self._page_size]
        self._page_ids = [str(r) for r in page["run_id"]] if "run_id" in page else []
        records = page.to_dict("records")
        colors = self._colors if self._colors is not None else run_colors(self._page_ids)
        cells = page_cells(records, self._columns, colors)
        template, total = grid_template(self._columns, cells)
        numeric = {c: is_numeric_column(frame, c) for c in self._columns}
        self._render_header(template, total, numeric)
        while len(self._rows) < len(records):
            self._rows.append(self._new_row(len(self._rows)))
        for i in range(len(records)):
            _box, _check, cell_html = self._rows[i]
            cell_html.value = row_html(self._columns, cells, numeric, i, template)
            cell_html.layout.width = total
        self._body.children = [row[0] for row in self._rows[: len(records)]] or [self._empty]
        self._sync_checks()
        self._update_summary()

    def _render_header(self, template: str, total: str, numeric: dict[str, bool]) -> None:
        buttons = header_buttons(self._columns, self._sort, numeric, self.sort)
        for old in self._header_grid.children:
            old.close()
        self._header_grid.children = buttons
        self._header_grid.layout.grid_template_columns = template
        self._header_grid.layout.width = total

    def _new_row(self, index: int) -> tuple[widgets.HBox, widgets.Checkbox, widgets.HTML]:
        check = widgets.Checkbox(indent=False, layout=_CHECK)
        cells = widgets.HTML(layout=widgets.Layout(margin="0"))
        box = widgets.HBox([check, cells], layout=widgets.Layout(margin="0"))
        box.add_class("nbt-row")
        check.observe(lambda change, i=index: self._on_check(i, change["new"]), "value")
        return box, check, cells

    def _sync_checks(self) -> None:
        chosen = set(self.selected_run_ids)
        self._syncing = True
        try:
            for i, run_id in enumerate(self._page_ids):
                box, check, _ = self._rows[i]
                check.value = run_id in chosen
                if run_id in chosen:
                    box.add_class("nbt-selected")
                else:
                    box.remove_class("nbt-selected")
            self._select_all.value = bool(self._page_ids) and all(
                r in chosen for r in self._page_ids
            )
        finally:
            self._syncing = False
        self._update_summary()

    def _update_summary(self) -> None:
        n = len(self._frame)
        chosen = len(self.selected_run_ids)
        selected = f" · <b>{chosen}</b> selected" if chosen else ""
        self._summary.value = (
            f'<span class="nbt-count"><b>{n:,}</b> run{"s" if n != 1 else ""}{selected}</span>'
        )
        first = self._page * self._page_size + 1 if n else 0
        last = min(n, (self._page + 1) * self._page_size)
        self._page_label.value = f'<span class="nbt-count">{first:,}–{last:,} of {n:,}</span>'
        self._prev.disabled = self._page == 0
        self._next.disabled = self._page >= self.page_count - 1

    def _update_picker(self) -> None:
        options = [c for c in self._all.columns if c not in HIDDEN_COLUMNS]
        self._syncing = True
        try:
            # Empty the selection before the options change, and select after: the browser's
            # SelectMultiple applies a new index before new options that arrive with it,
            # and an index past the old options threw "Cannot set properties of undefined
            # (setting 'selected')".
            self._picker.value = ()
            self._picker.options = options
            self._picker.value = tuple(c for c in self._columns if c in options)
        finally:
            self._syncing = False

    # -- events ----------------------------------------------------------------------
    def _on_check(self, index: int, ticked: bool) -> None:
        if self._syncing or index >= len(self._page_ids):
            return
        run_id = self._page_ids[index]
        chosen = [r for r in self.selected_run_ids if r != run_id]
        if ticked:
            chosen.append(run_id)
        self.selected_run_ids = chosen
        self._sync_checks()

    def _on_select_all(self, change: dict[str, Any]) -> None:
        if self._syncing:
            return
        others = [r for r in self.selected_run_ids if r not in self._page_ids]
        self.selected_run_ids = others + (list(self._page_ids) if change["new"] else [])
        self._sync_checks()

    def _on_toggle_columns(self, change: dict[str, Any]) -> None:
        self._picker.layout.display = None if change["new"] else "none"

    def _on_pick_columns(self, change: dict[str, Any]) -> None:
        if self._syncing:
            return
        chosen = set(change["new"])
        # Keep the current order for columns already shown, append new ones at the end.
        kept = [c for c in self._columns if c in chosen]
        added = [c for c in self._picker.options if c in chosen and c not in kept]
        self._columns = kept + added
        self._explicit_columns = True
        self._render()


def _small() -> widgets.Layout:
    return widgets.Layout(width="32px", padding="0")


def show_runs(
    experiment: str | Sequence[str] | None = None,
    filter: str = "",
    columns: Sequence[str] | None = None,
) -> RunTable:
    """Show the runs of an experiment as a sortable, selectable, paged table.

    Args:
        experiment: Experiment(s) searched; ``None`` is the current one, ``"*"`` all.
        filter: Filter grammar string, e.g. ``"metrics.loss < 0.5"``.
        columns: Columns to show (``"status"``, ``"params.lr"`` ...); ``None`` picks
            status, name, start, duration and the first metrics, params and tags.

    Returns:
        A :class:`RunTable`; ``table.selected_run_ids`` holds the ticked runs.

    Raises:
        nbtrack.FilterError: ``filter`` is malformed.
    """
    return RunTable(experiment=experiment, filter=filter, columns=columns)
