"""One stable colour per run, and the colours of run statuses.

A run's colour is a pure function of its id (a hash into a fixed palette), so the
same run has the same colour in the run table, the curves, the comparison plots and
in every kernel, whatever other runs are shown next to it.
"""

from __future__ import annotations

import hashlib

# Mid-saturation colours that read on JupyterLab's light and dark themes, ordered so
# that neighbours differ in hue (Tableau 10 and D3 category 10, minus greys, plus a few).
PALETTE: tuple[str, ...] = (
    "#4e79a7",
    "#f28e2b",
    "#59a14f",
    "#e15759",
    "#b07aa1",
    "#76b7b2",
    "#edc948",
    "#ff9da7",
    "#9c755f",
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#9467bd",
    "#17becf",
    "#bcbd22",
    "#e377c2",
    "#8c564b",
    "#ff7f0e",
    "#393b79",
    "#637939",
    "#ad494a",
    "#3182bd",
    "#31a354",
    "#756bb1",
)

# Status colours as JupyterLab CSS variables with a fallback for nbconvert/GitHub.
STATUS_CSS: dict[str, str] = {
    "RUNNING": "var(--jp-brand-color1, #1976d2)",
    "FINISHED": "var(--jp-success-color1, #388e3c)",
    "FAILED": "var(--jp-error-color1, #d32f2f)",
    "KILLED": "var(--jp-warn-color1, #f57c00)",
}

# The same statuses as plain colours, for plotly (which cannot read CSS variables).
STATUS_HEX: dict[str, str] = {
    "RUNNING": "#1976d2",
    "FINISHED": "#388e3c",
    "FAILED": "#d32f2f",
    "KILLED": "#f57c00",
}


def color_for(run_id: str) -> str:
    """Return the colour of a run: a stable hash of its id into :data:`PALETTE`.

    Args:
        run_id: The run's id.

    Returns:
        A ``#rrggbb`` colour, the same in every view, process and session.
    """
    digest = hashlib.blake2b(str(run_id).encode("utf-8"), digest_size=8).digest()
    return PALETTE[int.from_bytes(digest, "big") % len(PALETTE)]


def colors_for(run_ids: list[str]) -> dict[str, str]:
    """Return ``{run_id: colour}`` for several runs (see :func:`color_for`)."""
    return {run_id: color_for(run_id) for run_id in run_ids}


def status_css(status: str | None) -> str:
    """Return the CSS colour of a run status (grey for an unknown one)."""
    return STATUS_CSS.get(str(status), "var(--jp-ui-font-color2, #757575)")
