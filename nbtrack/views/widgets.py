"""The interactive views, one module per noun, gathered here.

- :class:`~nbtrack.views.table.RunTable` (``table.py``): paged, sortable, selectable runs.
- :class:`~nbtrack.views.tag_filter.TagFilter` (``tag_filter.py``): tag chips, statuses, free text.
- :class:`~nbtrack.views.plots.CurvesPanel` (``plots.py``): metric curves with controls.
- :class:`~nbtrack.views.comparison.RunCompare` (``comparison.py``): params diff and comparison plots.
- :class:`~nbtrack.views.dashboard_view.Dashboard` (``dashboard_view.py``): all of them, linked.
"""

from __future__ import annotations

from nbtrack.views.comparison import RunCompare
from nbtrack.views.dashboard_view import Dashboard
from nbtrack.views.plots import CurvesPanel, MetricsPlot
from nbtrack.views.table import RunTable
from nbtrack.views.tag_filter import TagFilter

__all__ = ["CurvesPanel", "Dashboard", "MetricsPlot", "RunCompare", "RunTable", "TagFilter"]
