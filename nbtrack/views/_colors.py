"""One stable colour per run, and the colours of run statuses.

A run's colour is a pure function of its id (a hash into a fixed palette), so the
same run has the same colour in the run table, the curves, the comparison plots and
in every kernel, whatever other runs are shown next to it.
"""

from __future__ import annotations

import hashlib

# Twelve colours that read on JupyterLab's light and dark themes, no two of them
# near-duplicates: a larger palette makes exact collisions rarer but puts look-alike
# hues (teal/cyan, brown/maroon) side by side, which is worse on a plot.
PALETTE: tuple[str, ...] = (
    "#4e79a7",  # blue
    "#f28e2b",  # orange
    "#e15759",  # red
    "#59a14f",  # green
    "#b07aa1",  # purple
    "#17becf",  # cyan
    "#edc948",  # yellow
    "#ff9da7",  # pink
    "#9c755f",  # brown
    "#bcbd22",  # olive
    "#e7298a",  # magenta
    "#393b79",  # navy
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
