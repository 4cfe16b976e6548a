"""Run colours (the rules live in :mod:`nbtrack.tracking.colors`) and status colours."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from nbtrack.tracking.colors import (
    CHROMA,
    LIGHTNESS,
    PALETTE,
    assign_colors,
    color_for,
    colors_for,
    oklch_to_hex,
)

__all__ = [
    "CHROMA",
    "LIGHTNESS",
    "PALETTE",
    "STATUS_CSS",
    "STATUS_HEX",
    "assign_colors",
    "color_for",
    "colors_for",
    "oklch_to_hex",
    "run_colors",
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


def run_colors(run_ids: Sequence[str], colors: Mapping[str, str] | None = None) -> dict[str, str]:
    """Colours of runs drawn together: ``colors`` where given, palette colours otherwise.

    Args:
        run_ids: The runs drawn, in display order.
        colors: Colours a caller already chose (a dashboard keeps them while runs stay
            shown); runs missing from it get free palette colours.

    Returns:
        ``{run_id: colour}`` for every run in ``run_ids``.
    """
    ids = [str(r) for r in run_ids]
    given = {r: colors[r] for r in ids if colors and r in colors}
    missing = [r for r in ids if r not in given]
    if not missing:
        return given
    taken = set(given.values())
    # Newcomers get palette colours no given run uses (pretend they were all shown).
    fill = assign_colors(list(given) + missing, given)
    out = dict(given)
    for r in missing:
        color = fill[r]
        out[r] = color if color not in taken else color_for(r)
    return out
