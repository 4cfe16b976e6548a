"""Run colours: the rules every view draws with (inline views and JupyterLab).

Two rules, for two situations:

- **Runs on screen together** (a plot, a comparison, the dashboard) get colours by
  position from :data:`PALETTE`, ten colours picked for distance: every pair is at least
  ΔE00 ≈ 28 apart (CIEDE2000; ~2 is just noticeable), and each stands off both a white
  and a near-black background, so they read on JupyterLab's light and dark themes.
  :func:`assign_colors` keeps the colour of a run that stays on screen and gives newcomers
  the free palette colours, so ticking one more run never repaints the others. A hash of
  the id cannot promise this: with hashed hues three of four runs came out orange.
- **A run on its own** (the JupyterLab sidebar, where the REST API sends a colour with
  each run) gets :func:`color_for`: a pure function of its id, the same in every
  process. Past ten runs on screen, :func:`assign_colors` also falls back to it.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence

LIGHTNESS = (0.60, 0.72)
CHROMA = 0.15

#: Colours of the runs on screen, in order of assignment. Chosen (greedy farthest-point
#: in CIEDE2000 over an OKLCH grid, each colour ≥ ΔE00 25 from white and 30 from #111)
#: so that any first k of them are as far apart as possible: the minimum pairwise ΔE00
#: is 67 for two runs, 46 for three, 34 for five and 28 for all ten.
PALETTE: tuple[str, ...] = (
    "#0b6eae",  # blue
    "#d9c72e",  # mustard
    "#bd1f3d",  # crimson
    "#137f1f",  # green
    "#feac9e",  # salmon
    "#8c5e1a",  # brown
    "#44e4a4",  # mint
    "#b4a5eb",  # lavender
    "#30c3ec",  # sky
    "#8540bd",  # purple
)


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


def assign_colors(
    run_ids: Sequence[str], previous: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Colour the runs shown together: distinct palette colours, stable while shown.

    Args:
        run_ids: The runs on screen, in display order.
        previous: The colours they had when last drawn (``{run_id: colour}``); a run
            still on screen keeps its colour.

    Returns:
        ``{run_id: colour}``: runs get the :data:`PALETTE` colours not taken by runs that
        keep theirs, in display order; past ten runs, :func:`color_for`.
    """
    ids = list(dict.fromkeys(str(r) for r in run_ids))
    kept = {r: previous[r] for r in ids if previous and r in previous and previous[r] in PALETTE}
    free = [c for c in PALETTE if c not in set(kept.values())]
    colors: dict[str, str] = {}
    for run_id in ids:
        if run_id in kept:
            colors[run_id] = kept[run_id]
        elif free:
            colors[run_id] = free.pop(0)
        else:
            colors[run_id] = color_for(run_id)
    return colors
