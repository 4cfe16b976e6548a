"""Run colours (the rule lives in :mod:`nbtrack.tracking.colors`) and status colours."""

from __future__ import annotations

from nbtrack.tracking.colors import CHROMA, LIGHTNESS, color_for, colors_for, oklch_to_hex

__all__ = [
    "CHROMA",
    "LIGHTNESS",
    "STATUS_CSS",
    "STATUS_HEX",
    "color_for",
    "colors_for",
    "oklch_to_hex",
    "status_css",
]

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


def status_css(status: str | None) -> str:
    """Return the CSS colour of a run status (grey for an unknown one)."""
    return STATUS_CSS.get(str(status), "var(--jp-ui-font-color2, #757575)")
