"""A figure's display bundle, independent of ``plotly.io.renderers``."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go


def figure_bundle(fig: go.Figure, *, include_html: bool = False) -> dict[str, Any]:
    """Return the display bundle of a figure, independent of ``plotly.io.renderers``.

    ``application/vnd.plotly.v1+json`` is drawn by JupyterLab's plotly renderer
    (even in an untrusted notebook); the optional ``text/html`` loads plotly.js from
    its CDN, for nbconvert HTML and nbviewer.

    Args:
        fig: The figure.
        include_html: Add the ``text/html`` fallback.

    Returns:
        A mime bundle dict with JSON-safe values.
    """
    import json

    import plotly.io as pio

    spec = json.loads(pio.to_json(fig, validate=False))
    spec.setdefault("config", {})
    # Not plotly's "responsive" mode: JupyterLab's renderer already follows the output's
    # width on every resize (Plots.resize), and that resize deletes the layout's height;
    # in responsive mode plotly then sizes the plot to 100% of a container whose height
    # is the plot's own, and the next re-render (a theme switch, a tab shown again) drew
    # it 0 px tall. Without it the fixed height stays and the width still follows.
    spec["config"].update({"displaylogo": False})
    bundle: dict[str, Any] = {
        "application/vnd.plotly.v1+json": spec,
        "text/plain": f"<plotly figure: {len(fig.data)} traces>",
    }
    if include_html:
        bundle["text/html"] = pio.to_html(
            fig,
            include_plotlyjs="cdn",
            full_html=False,
            validate=False,
            config={"displaylogo": False, "responsive": True},  # standalone HTML: no JupyterLab
        )
    return bundle
