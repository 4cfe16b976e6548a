"""The module-level API: ``nt.start_run``, ``nt.log_metric`` ... shims over ``Run``.

The active run is per thread (a stack, for nested runs). We keep it in a ``threading.local``
rather than a ContextVar: ipykernel may run each cell in a copied context, and a run
started in one cell must still be active in the next.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from typing import Any

from nbtrack.errors import ActiveRunError, NoActiveRunError
from nbtrack.tracking import settings
from nbtrack.tracking.run import Run, start_owned_run


class _ActiveRuns(threading.local):
    def __init__(self) -> None:
        self.stack: list[Run] = []


_active = _ActiveRuns()


def _stack() -> list[Run]:
    st = _active.stack
    while st and st[-1].is_finished:
        st.pop()
    return st


def _forget(run: Run) -> None:
    st = _active.stack
    if run in st:
        st.remove(run)


def active_run() -> Run | None:
    """The run active in this thread, or None."""
    st = _stack()
    return st[-1] if st else None


def _require(what: str) -> Run:
    st = _stack()
    if not st:
        raise NoActiveRunError(what)
    return st[-1]


def start_run(
    name: str | None = None,
    experiment: str | None = None,
    params: Mapping[str, Any] | None = None,
    tags: Mapping[str, Any] | None = None,
    nested: bool = False,
    description: str | None = None,
) -> Run:
    """Start a run and make it active in this thread; use it as a context manager.

    Raises:
        ActiveRunError: a run is already active here and ``nested`` is False.
    """
    st = _stack()
    if st and not nested:
        raise ActiveRunError(
            f"run {st[-1].name!r} ({st[-1].run_id}) is still active in this thread; end it "
            "first (nbtrack.end_run()) or pass nested=True to start a child run"
        )
    parent = st[-1].run_id if st and nested else None
    exp = experiment if experiment is not None else settings.current_experiment()
    run = start_owned_run(
        settings.get_store(),
        experiment=exp,
        name=name,
        parent_run_id=parent,
        description=description,
        params=params,
        tags=tags,
    )
    st.append(run)
    return run


def end_run(status: str = "FINISHED") -> None:
    """End the active run of this thread (no-op when there is none)."""
    run = active_run()
    if run is None:
        return
    try:
        run.end(status)
    finally:
        _forget(run)


def log_param(key: str, value: Any) -> None:
    _require("log_param").log_param(key, value)


def log_params(params: Mapping[str, Any]) -> None:
    _require("log_params").log_params(params)


def log_metric(key: str, value: Any, step: int | None = None, timestamp: Any = None) -> None:
    # The hot path of a training loop: plain attribute reads only.
    st = _active.stack
    if not st or st[-1]._finished:
        _require("log_metric")
        st = _active.stack
    st[-1].log_metric(key, value, step, timestamp)


def log_metrics(metrics: Mapping[str, Any], step: int | None = None, timestamp: Any = None) -> None:
    _require("log_metrics").log_metrics(metrics, step, timestamp)


def set_tag(key: str, value: Any) -> None:
    _require("set_tag").set_tag(key, value)


def set_tags(tags: Mapping[str, Any]) -> None:
    _require("set_tags").set_tags(tags)


def delete_tag(key: str) -> None:
    _require("delete_tag").delete_tag(key)


def log_artifact(local_path: str | os.PathLike[str], artifact_path: str | None = None) -> str:
    return _require("log_artifact").log_artifact(local_path, artifact_path)


def log_artifacts(local_dir: str | os.PathLike[str], artifact_path: str | None = None) -> list[str]:
    return _require("log_artifacts").log_artifacts(local_dir, artifact_path)


def log_text(text: str, name: str) -> str:
    return _require("log_text").log_text(text, name)


def log_dict(obj: Any, name: str) -> str:
    return _require("log_dict").log_dict(obj, name)


def log_figure(fig: Any, name: str) -> str:
    return _require("log_figure").log_figure(fig, name)
