"""The module-level API: ``nt.start_run``, ``nt.log_metric`` ... shims over ``Run``.

The active run is per thread (a stack, for nested runs). We keep it in a ``threading.local``
rather than a ContextVar: ipykernel may run each cell in a copied context, and a run
started in one cell must still be active in the next.

Modules
    This package's ``__init__`` is its door: ``nbtrack`` and the other layers import from
    ``nbtrack.tracking.fluent``. Inside, imports point downward only (an import-linter
    contract): :mod:`.lifecycle` (start, resume, attach and end runs) and :mod:`.shims`
    (the logging calls) both use :mod:`.stack` (this thread's active runs).
"""

from __future__ import annotations

from nbtrack.tracking.fluent.lifecycle import (
    GROUP_TAG,
    attach_run,
    end_run,
    start_run,
    wants_system_metrics,
)
from nbtrack.tracking.fluent.shims import (
    delete_tag,
    log_artifact,
    log_artifacts,
    log_dict,
    log_figure,
    log_metric,
    log_metrics,
    log_param,
    log_params,
    log_text,
    set_tag,
    set_tags,
)
from nbtrack.tracking.fluent.stack import active_run

__all__ = [
    "GROUP_TAG",
    "active_run",
    "attach_run",
    "delete_tag",
    "end_run",
    "log_artifact",
    "log_artifacts",
    "log_dict",
    "log_figure",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "log_text",
    "set_tag",
    "set_tags",
    "start_run",
    "wants_system_metrics",
]
