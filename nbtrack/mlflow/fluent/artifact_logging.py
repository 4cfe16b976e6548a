"""Logging artifacts the MLflow way: files, folders, text, dicts, figures, images, tables."""

from __future__ import annotations

from typing import Any

from nbtrack.mlflow import _runs, artifacts
from nbtrack.mlflow.exceptions import MlflowException, translated
from nbtrack.mlflow.fluent.target import resolve_run_id


@translated
def log_artifact(
    local_path: str, artifact_path: str | None = None, run_id: str | None = None
) -> None:
    """Copy a local file into the run's artifacts.

    Args:
        local_path: The file.
        artifact_path: A folder inside the run's artifacts; None puts it at the top.
        run_id: Log to this run instead of the active one.

    Raises:
        MlflowException: a missing file, or a path that is absolute or climbs out (nbtrack's error message, MLflow's error code).

    Example:
        >>> mlflow.log_artifact("model.pkl", artifact_path="models")  # doctest: +SKIP
    """
    artifacts.put_file(resolve_run_id(run_id), local_path, artifact_path)


@translated
def log_artifacts(
    local_dir: str, artifact_path: str | None = None, run_id: str | None = None
) -> None:
    """Copy every file under a local folder into the run's artifacts.

    Args:
        local_dir: The folder.
        artifact_path: A folder inside the run's artifacts; None puts the files at the top.
        run_id: Log to this run instead of the active one.

    Raises:
        MlflowException: a missing folder, or a path that is absolute or climbs out (nbtrack's error message, MLflow's error code).

    Example:
        >>> mlflow.log_artifacts("outputs/")  # doctest: +SKIP
    """
    artifacts.put_dir(resolve_run_id(run_id), local_dir, artifact_path)


@translated
def log_text(text: str, artifact_file: str, run_id: str | None = None) -> None:
    """Save a string as a text artifact.

    Args:
        text: The text.
        artifact_file: Its path in the run, e.g. ``"notes.txt"``.
        run_id: Log to this run instead of the active one.

    Raises:
        MlflowException: ``text`` is not a string, or a bad path (nbtrack's error message, MLflow's error code).

    Example:
        >>> mlflow.log_text("lr was too high", "notes.txt")  # doctest: +SKIP
    """
    if not isinstance(text, str):
        raise MlflowException.invalid_parameter_value("log_text takes a str")
    artifacts.put(resolve_run_id(run_id), artifact_file, text.encode())


@translated
def log_dict(dictionary: Any, artifact_file: str, run_id: str | None = None) -> None:
    """Save a dict as a JSON artifact, or YAML when ``artifact_file`` ends in ``.yaml``/``.yml``.

    Args:
        dictionary: A JSON/YAML-serialisable object.
        artifact_file: Its path in the run, e.g. ``"config.json"``.
        run_id: Log to this run instead of the active one.

    Raises:
        MlflowException: the object cannot be serialised, or a bad path (nbtrack's error message, MLflow's error code).

    Example:
        >>> mlflow.log_dict({"features": 11}, "config.yaml")  # doctest: +SKIP
    """
    artifacts.put(resolve_run_id(run_id), artifact_file, artifacts.dict_bytes(dictionary, artifact_file))


@translated
def log_figure(
    figure: Any, artifact_file: str, *, save_kwargs: dict[str, Any] | None = None
) -> None:
    """Save a matplotlib or plotly figure as an artifact of the active run.

    Args:
        figure: A matplotlib ``Figure`` or a plotly figure.
        artifact_file: Its path in the run; the extension picks the format (``.png``,
            ``.html`` ...).
        save_kwargs: Extra arguments for matplotlib's ``savefig`` / plotly's writer.

    Raises:
        MlflowException: an unsupported figure or extension, or a bad path (nbtrack's error message, MLflow's error code).

    Example:
        >>> mlflow.log_figure(fig, "plots/loss.png")  # doctest: +SKIP
    """
    data = artifacts.figure_bytes(figure, artifact_file, save_kwargs)
    artifacts.put(resolve_run_id(), artifact_file, data)


@translated
def log_image(
    image: Any,
    artifact_file: str | None = None,
    key: str | None = None,
    step: int | None = None,
    timestamp: int | None = None,
    synchronous: bool | None = False,
) -> None:
    """An image file (``artifact_file``), or a step-indexed image series (``key``/``step``)."""
    artifact_file = artifacts.image_file(artifact_file, key, step, timestamp)
    artifacts.put(resolve_run_id(), artifact_file, artifacts.image_bytes(image, artifact_file))


@translated
def log_table(data: Any, artifact_file: str, run_id: str | None = None) -> None:
    artifacts.put(resolve_run_id(run_id), artifact_file, artifacts.table_bytes(data))


def get_artifact_uri(artifact_path: str | None = None) -> str:
    base = _runs.artifact_uri(resolve_run_id())
    return f"{base}/{artifact_path}" if artifact_path else base
