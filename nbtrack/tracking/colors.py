"""One stable colour per run: the rule every view draws with (inline views and JupyterLab).

A run's colour is a pure function of its id, so the same run has the same colour in
the run table, the curves, the comparison plots, in every kernel and in the JupyterLab
sidebar (the REST API sends it with each run), whatever other runs are shown next to it.

The id's hash picks a hue on a continuous wheel and one of two lightness levels, in
OKLCH (a perceptually even colour space) at a fixed chroma, rather than one of N palette
entries: with a 12-colour palette three runs share the *same* colour one time in four,
while here two runs look alike only when their hues fall within ~20° at the same
lightness (≈ 5 % per pair). Both lightness levels read on JupyterLab's light and dark
themes.
"""

from __future__ import annotations

import hashlib
import math

LIGHTNESS = (0.60, 0.72)
CHROMA = 0.15


def _srgb(channel: float) -> float:
    channel = min(1.0, max(0.0, channel))
    return 12.92 * channel if channel <= 0.0031308 else 1.055 * channel ** (1 / 2.4) - 0.055


def oklch_to_hex(lightness: float, chroma: float, hue_degrees: float) -> str:
    """Convert an OKLCH colour to ``#rrggbb`` (channels clipped to the sRGB gamut)."""
    hue = math.radians(hue_degrees)
    a, b = chroma * math.cos(hue), chroma * math.sin(hue)
    l_ = lightness + 0.3963377774 * a + 0.2158037573 * b
    m_ = lightness - 0.1055613458 * a - 0.0638541728 * b
    s_ = lightness - 0.0894841775 * a - 1.2914855480 * b
    long_, medium, short = l_**3, m_**3, s_**3
    rgb = (
        4.0767416621 * long_ - 3.3077115913 * medium + 0.2309699292 * short,
        -1.2684380046 * long_ + 2.6097574011 * medium - 0.3413193965 * short,
        -0.0041960863 * long_ - 0.7034186147 * medium + 1.7076147010 * short,
    )
    return "#" + "".join(f"{round(_srgb(c) * 255):02x}" for c in rgb)


def color_for(run_id: str) -> str:
    """Return the colour of a run: a stable hash of its id onto the OKLCH hue wheel.

    Args:
        run_id: The run's id.

    Returns:
        A ``#rrggbb`` colour, the same in every view, process and session.
    """
    digest = hashlib.blake2b(str(run_id).encode("utf-8"), digest_size=8).digest()
    number = int.from_bytes(digest, "big")
    hue = (number & 0xFFFF) / 0x10000 * 360.0
    lightness = LIGHTNESS[(number >> 16) % len(LIGHTNESS)]
    return oklch_to_hex(lightness, CHROMA, hue)


def colors_for(run_ids: list[str]) -> dict[str, str]:
    """Return ``{run_id: colour}`` for several runs (see :func:`color_for`)."""
    return {run_id: color_for(run_id) for run_id in run_ids}
