"""The IPython extension: ``%load_ext nbtrack`` registers ``%%track`` and the line magics.

This is an edge layer: it may import IPython, ``nbtrack.views`` and ``nbtrack.tracking``;
nothing below it imports this package. ``nbtrack.load_ipython_extension`` delegates here.
"""

from __future__ import annotations

import threading
from typing import Any

__all__ = ["load_ipython_extension", "unload_ipython_extension"]


def load_ipython_extension(ipython: Any) -> None:
    """Register :class:`~nbtrack.ipython.magics.TrackMagics` on ``ipython``.

    Also starts, in background threads, collecting the environment, hardware and package
    index, and importing the tracking core, so the first tracked cell does not pay for it.
    """
    from nbtrack.ipython.magics import TrackMagics
    from nbtrack.tracking import capture

    ipython.register_magics(TrackMagics)
    capture.warm_capture_cache()
    threading.Thread(target=_import_core, name="nbtrack-import-warmup", daemon=True).start()


def _import_core() -> None:
    # The store layer imports duckdb and pyarrow (~0.5 s); importing it while the user is
    # still typing makes the first %%track cell fast. A failure here resurfaces, with a
    # proper traceback, when the first cell imports the same modules.
    try:
        import nbtrack.tracking.fluent  # noqa: F401
    except Exception:  # noqa: BLE001 - see comment above
        pass


def unload_ipython_extension(ipython: Any) -> None:
    """Remove the nbtrack magics from ``ipython``."""
    magics = ipython.magics_manager.magics
    for kind, names in (("cell", ("track",)), ("line", _LINE_MAGICS)):
        for name in names:
            magics[kind].pop(name, None)
    ipython.magics_manager.registry.pop("TrackMagics", None)


_LINE_MAGICS = ("track_runs", "track_compare", "track_store", "track_experiment")
