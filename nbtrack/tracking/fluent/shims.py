"""The module-level logging calls: each gets the active run (or raises) and delegates to it.

``nt.log_metric`` and the others are shims over the :class:`~nbtrack.tracking.run.Run`
methods of the same names; ``NoActiveRunError`` tells the user to call
``nbtrack.start_run()`` or use ``%%track``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from nbtrack.tracking.fluent.stack import ACTIVE, require

if TYPE_CHECKING:
    pass

__all__ = [
    "delete_tag",
    "log_artifact",
    "log_artifacts",
    "log_dict",
    "log_figure",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "set_tag",
    "set_tags",
]


def log_param(key: str, value: Any) -> None:
    """Log one param (a setting of the run, e.g. a learning rate) to the active run.

    Params are stored as text (``str(value)``) and are set once: logging the same key
    again with the same value is a no-op, with another value an error.

    Args:
        key: The param name (letters, digits, ``_ - . / : `` and spaces; ≤ 250 chars).
        value: Any value; stored as ``str(value)`` (at most 6,000 characters).

    Raises:
        NoActiveRunError: no run is active in this thread (use ``start_run`` or ``%%track``).
        InvalidKeyError: ``key`` breaks the key rule.
        InvalidValueError: the value's text is too long.
        ParamConflictError: the run already has ``key`` with another value.

    Example:
        >>> with nt.start_run():
        ...     nt.log_param("lr", 0.01)
    """
    require("log_param").log_param(key, value)


def log_params(params: Mapping[str, Any]) -> None:
    """Log several params at once to the active run (all or none: bad input writes nothing).

    Args:
        params: Param names to values; each value is stored as ``str(value)``.

    Raises:
        NoActiveRunError: no run is active in this thread (use ``start_run`` or ``%%track``).
        InvalidKeyError: a key breaks the key rule.
        InvalidValueError: ``params`` is not a mapping, or a value is too long.
        ParamConflictError: the run already has a key with another value.

    Example:
        >>> with nt.start_run():
        ...     nt.log_params({"batch_size": 64, "optimizer": "adam"})
    """
    require("log_params").log_params(params)


def log_metric(key: str, value: Any, step: int | None = None, timestamp: Any = None) -> None:
    """Log one point of a metric (a number that changes as the run goes) to the active run.

    Points are buffered and flushed within about a second, so this is cheap in a training
    loop; ``end_run`` waits until every point is durable.

    Args:
        key: The metric name, e.g. ``"loss"`` or ``"val/acc"``.
        value: A real number (int, float, a numpy scalar or 0-d array); NaN and ±inf are
            kept as such.
        step: The step (an int ≥ 0); None means one past the highest step logged so far
            for this key in this run (0 for the first point).
        timestamp: Milliseconds since the epoch (as MLflow) or a ``datetime``; None means
            now.

    Raises:
        NoActiveRunError: no run is active in this thread (use ``start_run`` or ``%%track``).
        InvalidKeyError: ``key`` breaks the key rule.
        InvalidValueError: ``value`` is not a real number, or ``step``/``timestamp`` is
            out of range.

    Example:
        >>> with nt.start_run():
        ...     for epoch in range(3):
        ...         nt.log_metric("loss", 1 / (epoch + 1))   # steps 0, 1, 2
    """
    # The hot path of a training loop: plain attribute reads only.
    st = ACTIVE.stack
    if not st or st[-1]._finished:
        require("log_metric")
        st = ACTIVE.stack
    st[-1].log_metric(key, value, step, timestamp)


def log_metrics(metrics: Mapping[str, Any], step: int | None = None, timestamp: Any = None) -> None:
    """Log one point of several metrics at once to the active run.

    Args:
        metrics: Metric names to values (real numbers).
        step: The step of every point; None gives each key its own next step.
        timestamp: Milliseconds since the epoch or a ``datetime``; None means now.

    Raises:
        NoActiveRunError: no run is active in this thread (use ``start_run`` or ``%%track``).
        InvalidKeyError: a key breaks the key rule.
        InvalidValueError: ``metrics`` is not a mapping, a value is not a real number, or
            ``step``/``timestamp`` is out of range (nothing is logged then).

    Example:
        >>> with nt.start_run():
        ...     nt.log_metrics({"loss": 0.42, "acc": 0.87}, step=10)
    """
    require("log_metrics").log_metrics(metrics, step, timestamp)


def set_tag(key: str, value: Any) -> None:
    """Set a tag (a label you can filter on and change later) on the active run.

    Unlike a param, a tag may be set again: the newest value wins.

    Args:
        key: The tag name; ``nbtrack.*`` names are reserved for what ``%%track`` records.
        value: Any value; stored as ``str(value)`` (at most 8,000 characters).

    Raises:
        NoActiveRunError: no run is active in this thread (use ``start_run`` or ``%%track``).
        InvalidKeyError: ``key`` breaks the key rule.
        InvalidValueError: the value's text is too long.

    Example:
        >>> with nt.start_run():
        ...     nt.set_tag("stage", "dev")
    """
    require("set_tag").set_tag(key, value)


def set_tags(tags: Mapping[str, Any]) -> None:
    """Set several tags at once on the active run (all or none: bad input writes nothing).

    Args:
        tags: Tag names to values; each value is stored as ``str(value)``.

    Raises:
        NoActiveRunError: no run is active in this thread (use ``start_run`` or ``%%track``).
        InvalidKeyError: a key breaks the key rule.
        InvalidValueError: ``tags`` is not a mapping, or a value is too long.

    Example:
        >>> with nt.start_run():
        ...     nt.set_tags({"team": "vision", "stage": "dev"})
    """
    require("set_tags").set_tags(tags)


def delete_tag(key: str) -> None:
    """Remove a tag from the active run (a no-op when the run has no such tag).

    Args:
        key: The tag name.

    Raises:
        NoActiveRunError: no run is active in this thread (use ``start_run`` or ``%%track``).
        InvalidKeyError: ``key`` breaks the key rule.

    Example:
        >>> with nt.start_run():
        ...     nt.set_tag("draft", "yes")
        ...     nt.delete_tag("draft")
    """
    require("delete_tag").delete_tag(key)


def log_artifact(local_path: str | os.PathLike[str], artifact_path: str | None = None) -> str:
    """Copy a local file into the active run's artifacts.

    Args:
        local_path: The file to copy.
        artifact_path: A folder inside the run's artifacts to put it in (relative, no
            ``..``); None puts it at the top.

    Returns:
        The artifact's path in the run, e.g. ``"plots/loss.png"``.

    Raises:
        NoActiveRunError: no run is active in this thread (use ``start_run`` or ``%%track``).
        ArtifactError: ``artifact_path`` is absolute or climbs out (``..``), or the source
            is missing.

    Example:
        >>> with nt.start_run() as run:                      # doctest: +SKIP
        ...     nt.log_artifact("model.pkl", artifact_path="models")
        'models/model.pkl'
    """
    return require("log_artifact").log_artifact(local_path, artifact_path)


def log_artifacts(local_dir: str | os.PathLike[str], artifact_path: str | None = None) -> list[str]:
    """Copy every file under a local folder into the active run's artifacts.

    A symlink that points outside the folder is skipped with a warning.

    Args:
        local_dir: The folder to copy (its subfolders too).
        artifact_path: A folder inside the run's artifacts to put the files in; None
            puts them at the top.

    Returns:
        The artifact paths of the copied files.

    Raises:
        NoActiveRunError: no run is active in this thread (use ``start_run`` or ``%%track``).
        ArtifactError: ``artifact_path`` is absolute or climbs out (``..``), or the source
            is missing.

    Example:
        >>> with nt.start_run():                             # doctest: +SKIP
        ...     nt.log_artifacts("outputs/", artifact_path="outputs")
    """
    return require("log_artifacts").log_artifacts(local_dir, artifact_path)


def log_text(text: str, name: str) -> str:
    """Save a string as a text artifact of the active run (UTF-8).

    Args:
        text: The text.
        name: The artifact's path in the run, e.g. ``"notes.md"`` or ``"logs/train.txt"``.

    Returns:
        The artifact's path.

    Raises:
        NoActiveRunError: no run is active in this thread (use ``start_run`` or ``%%track``).
        InvalidValueError: ``text`` is not a string.
        ArtifactError: ``name`` is absolute or climbs out (``..``).

    Example:
        >>> with nt.start_run() as run:
        ...     nt.log_text("lr was too high", "notes.md")
        'notes.md'
    """
    return require("log_text").log_text(text, name)


def log_dict(obj: Any, name: str) -> str:
    """Save a dict (or list) as a JSON artifact of the active run (indented, UTF-8).

    Args:
        obj: A dict, list or other JSON value; values JSON cannot hold are written as
            ``str(value)``.
        name: The artifact's path in the run, e.g. ``"config.json"``.

    Returns:
        The artifact's path.

    Raises:
        NoActiveRunError: no run is active in this thread (use ``start_run`` or ``%%track``).
        InvalidValueError: ``obj`` cannot be serialised.
        ArtifactError: ``name`` is absolute or climbs out (``..``).

    Example:
        >>> with nt.start_run() as run:
        ...     nt.log_dict({"classes": 10}, "config.json")
        'config.json'
    """
    return require("log_dict").log_dict(obj, name)


def log_figure(fig: Any, name: str) -> str:
    """Save a plotly or matplotlib figure as an artifact of the active run.

    A plotly figure is saved as JSON when ``name`` ends in ``.json``, else as an HTML page
    (which loads plotly.js from its CDN when opened); a matplotlib figure as an image in the
    format of ``name``'s extension (``.png``, ``.svg``, ``.pdf`` ...; PNG when it has none).

    Args:
        fig: A ``plotly.graph_objects.Figure`` or a ``matplotlib.figure.Figure``.
        name: The artifact's path in the run, e.g. ``"plots/loss.html"``.

    Returns:
        The artifact's path.

    Raises:
        NoActiveRunError: no run is active in this thread (use ``start_run`` or ``%%track``).
        InvalidValueError: ``fig`` is neither a plotly nor a matplotlib figure.
        ArtifactError: ``name`` is absolute or climbs out (``..``).

    Example:
        >>> import plotly.graph_objects as go
        >>> with nt.start_run():
        ...     nt.log_figure(go.Figure(go.Scatter(y=[3, 1, 2])), "plots/curve.html")
        'plots/curve.html'
    """
    return require("log_figure").log_figure(fig, name)
