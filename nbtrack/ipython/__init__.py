"""The IPython extension: ``%load_ext nbtrack`` registers ``%%track`` and the line magics.

This is an edge layer: it may import IPython, ``nbtrack.views`` and ``nbtrack.tracking``;
nothing below it imports this package. ``nbtrack.load_ipython_extension`` delegates here.
"""

from __future__ import annotations

from typing import Any

__all__ = ["load_ipython_extension", "unload_ipython_extension"]


def load_ipython_extension(ipython: Any) -> None:
    """Register :class:`~nbtrack.ipython.magics.TrackMagics` on ``ipython``.

    Also starts collecting the environment, hardware, package index and git state in a
    background thread, so the first tracked cell does not pay for it.
    """
    from nbtrack.ipython.magics import TrackMagics
    from nbtrack.tracking import capture

    ipython.register_magics(TrackMagics)
    # Only stdlib work and file reads in this thread. The store layer (duckdb, pyarrow,
    # pandas) is deliberately not imported in the background: two threads importing the
    # same modules can hand the user's thread a half-initialised module.
    capture.warm_capture_cache()


def unload_ipython_extension(ipython: Any) -> None:
    """Remove the nbtrack magics from ``ipython``."""
    magics = ipython.magics_manager.magics
    for kind, names in (("cell", ("track",)), ("line", _LINE_MAGICS)):
        for name in names:
            magics[kind].pop(name, None)
    ipython.magics_manager.registry.pop("TrackMagics", None)


_LINE_MAGICS = ("track_runs", "track_compare", "track_store", "track_experiment")
