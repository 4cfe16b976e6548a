"""Artifacts the MLflow way: ``log_artifact(s)``, ``log_text``, ``log_dict`` (YAML for
``.yml``/``.yaml``), ``log_figure``, ``log_image``, ``log_table``/``load_table``, and reading
them back (``list_artifacts``, ``download_artifacts``, ``load_text``, ``load_dict``)."""

from __future__ import annotations

import io
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from nbtrack.errors import ArtifactError, InvalidValueError
from nbtrack.mlflow import _runs, entities
from nbtrack.mlflow.exceptions import MlflowException, translated
from nbtrack.tracking import query, records, validation


def _join(artifact_path: str | None, name: str) -> str:
    folder = validation.artifact_path(artifact_path)
    return f"{folder}/{name}" if folder else name


def put(run_id: str, path: str, data: bytes) -> str:
    st = _runs.store()
    w = _runs.RunWriter(st, run_id)
    out = records.write_artifact(st, w.experiment, run_id, path, data)
    st.flush()
    return out


def put_file(run_id: str, local_path: str | os.PathLike[str], artifact_path: str | None) -> None:
    st = _runs.store()
    w = _runs.RunWriter(st, run_id)
    if w.live is not None:
        w.live.log_artifact(local_path, artifact_path)
        return
    src = Path(local_path)
    if not src.is_file():
        raise ArtifactError(f"cannot log {str(src)!r}: no such file")
    put(run_id, _join(artifact_path, src.name), src.read_bytes())


def put_dir(run_id: str, local_dir: str | os.PathLike[str], artifact_path: str | None) -> None:
    st = _runs.store()
    w = _runs.RunWriter(st, run_id)
    if w.live is not None:
        w.live.log_artifacts(local_dir, artifact_path)
        return
    root = Path(local_dir)
    if not root.is_dir():
        raise ArtifactError(f"cannot log {str(root)!r}: no such folder")
    for p in sorted(root.rglob("*")):
        if p.is_file() and p.resolve().is_relative_to(root.resolve()):
            put(run_id, _join(artifact_path, p.relative_to(root).as_posix()), p.read_bytes())


def dict_bytes(dictionary: Any, artifact_file: str) -> bytes:
    """JSON (indent 2), or YAML for ``.yml``/``.yaml`` files, as MLflow writes them."""
    if artifact_file.endswith((".yml", ".yaml")):
        yaml = _yaml()
        return yaml.safe_dump(dictionary, default_flow_style=False).encode()
    try:
        return json.dumps(dictionary, indent=2).encode()
    except (TypeError, ValueError) as exc:
        raise InvalidValueError(f"log_dict could not serialise the object: {exc}") from exc


def _yaml() -> Any:
    try:
        import yaml
    except ImportError:
        raise InvalidValueError(
            "YAML artifacts need PyYAML: pip install 'nbtrack[mlflow]' (or pyyaml)"
        ) from None
    return yaml


def figure_bytes(figure: Any, artifact_file: str, save_kwargs: dict[str, Any] | None) -> bytes:
    ext = artifact_file.rsplit(".", 1)[-1].lower() if "." in artifact_file else "png"
    if hasattr(figure, "savefig"):
        buf = io.BytesIO()
        figure.savefig(buf, format=ext, **(save_kwargs or {}))
        return buf.getvalue()
    if hasattr(figure, "to_plotly_json"):
        if ext == "html":
            return figure.to_html(**(save_kwargs or {})).encode()
        if ext == "json":
            return figure.to_json().encode()
        return figure.to_image(format=ext, **(save_kwargs or {}))
    raise InvalidValueError(
        f"log_figure takes a matplotlib or plotly figure, got {type(figure).__name__}"
    )


def image_file(
    artifact_file: str | None, key: str | None, step: int | None, timestamp: int | None
) -> str:
    """Where ``log_image`` puts an image: ``artifact_file``, or for a step-indexed series
    (``key``) ``images/<key>/step_<step>_<ms>.png``.

    Raises:
        MlflowException: both or neither of ``artifact_file`` and ``key`` are given.
    """
    if (artifact_file is None) == (key is None):
        raise MlflowException.invalid_parameter_value(
            "log_image takes either artifact_file, or key (with step)"
        )
    if artifact_file is not None:
        return artifact_file
    ts = timestamp if timestamp is not None else time.time_ns() // 1_000_000
    return f"images/{key}/step_{step or 0}_{ts}.png"


def image_bytes(image: Any, artifact_file: str) -> bytes:
    """PNG (or the file's format) bytes of a numpy array or a PIL image."""
    try:
        from PIL import Image
    except ImportError:
        raise InvalidValueError("log_image needs Pillow: pip install pillow") from None
    if not isinstance(image, Image.Image):
        import numpy as np

        arr = np.asarray(image)
        if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (1, 3, 4)):
            raise InvalidValueError(
                f"log_image takes an array of shape (H, W), (H, W, 1|3|4); got {arr.shape}"
            )
        if arr.dtype.kind == "f":
            if arr.size and (arr.min() < 0 or arr.max() > 1):
                raise InvalidValueError("float images must have values in [0, 1]")
            arr = (arr * 255).round().astype(np.uint8)
        elif arr.dtype.kind in "iub":
            if arr.size and (arr.min() < 0 or arr.max() > 255):
                raise InvalidValueError("integer images must have values in [0, 255]")
            arr = arr.astype(np.uint8)
        if arr.ndim == 3 and arr.shape[2] == 1:
            arr = arr[:, :, 0]
        image = Image.fromarray(arr)
    buf = io.BytesIO()
    fmt = artifact_file.rsplit(".", 1)[-1].upper() if "." in artifact_file else "PNG"
    image.save(buf, format={"JPG": "JPEG"}.get(fmt, fmt))
    return buf.getvalue()


def table_bytes(data: Any) -> bytes:
    """MLflow's table JSON: ``{"columns": [...], "data": [[...], ...]}``."""
    import pandas as pd

    if isinstance(data, dict):
        data = pd.DataFrame(data)
    if not isinstance(data, pd.DataFrame):
        raise InvalidValueError(f"log_table takes a dict or a DataFrame, got {type(data).__name__}")
    return data.to_json(orient="split", index=False, date_format="iso").encode()


@translated
def list_artifacts(run_id: str, path: str | None = None) -> list[entities.FileInfo]:
    """One folder level of a run's artifacts (folders first marked ``is_dir``)."""
    st = _runs.store()
    prefix = validation.artifact_path(path)
    t = st.query("SELECT path, size FROM artifacts WHERE run_id = ? ORDER BY path", [run_id])
    query.list_artifacts(run_id, store=st)  # unknown run -> RunNotFoundError
    out: dict[str, entities.FileInfo] = {}
    for p, size in zip(t.column(0).to_pylist(), t.column(1).to_pylist(), strict=True):
        if prefix:
            if p == prefix:
                return [entities.FileInfo(p, False, size)]
            if not p.startswith(prefix + "/"):
                continue
        rest = p[len(prefix) + 1 :] if prefix else p
        head = rest.split("/", 1)[0]
        full = f"{prefix}/{head}" if prefix else head
        out.setdefault(full, entities.FileInfo(full, "/" in rest, None if "/" in rest else size))
    return sorted(out.values(), key=lambda f: f.path)


@translated
def download_artifacts(
    artifact_uri: str | None = None,
    run_id: str | None = None,
    artifact_path: str | None = None,
    dst_path: str | os.PathLike[str] | None = None,
) -> str:
    """Copy a run's artifact file or folder to ``dst_path`` (a new temp folder by default).

    Give ``artifact_uri`` (``runs:/<run_id>/<path>``) or ``run_id`` and ``artifact_path``.
    """
    if artifact_uri is not None:
        run_id, artifact_path = parse_runs_uri(artifact_uri)
    if not run_id:
        raise ArtifactError("give artifact_uri='runs:/<run_id>/<path>' or run_id=")
    st = _runs.store()
    path = artifact_path or ""
    prefix = validation.artifact_path(path)
    paths = query.list_artifacts(run_id, store=st)
    chosen = [p for p in paths if not prefix or p == prefix or p.startswith(prefix + "/")]
    if not chosen:
        raise ArtifactError(f"run {run_id} has no artifact {path!r}")
    dst = Path(dst_path) if dst_path is not None else Path(tempfile.mkdtemp(prefix="nbtrack-"))
    for p in chosen:
        target = dst / p
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(query.read_artifact(run_id, p, store=st))
    return str((dst / prefix) if prefix else dst)


@translated
def load_text(artifact_uri: str) -> str:
    run_id, path = parse_runs_uri(artifact_uri)
    return query.read_artifact(run_id, path, store=_runs.store()).decode()


@translated
def load_dict(artifact_uri: str) -> Any:
    run_id, path = parse_runs_uri(artifact_uri)
    data = query.read_artifact(run_id, path, store=_runs.store())
    if path.endswith((".yml", ".yaml")):
        return _yaml().safe_load(data)
    return json.loads(data)


def parse_runs_uri(uri: str) -> tuple[str, str]:
    """``runs:/<run_id>/<path>`` -> (run_id, path)."""
    if not isinstance(uri, str) or not uri.startswith("runs:/"):
        raise ArtifactError(f"expected a runs:/<run_id>/<path> URI, got {uri!r}")
    rest = uri[len("runs:/") :].strip("/")
    run_id, _, path = rest.partition("/")
    return run_id, path


@translated
def load_table(
    artifact_file: str, run_ids: list[str] | None = None, extra_columns: list[str] | None = None
) -> Any:
    """Tables logged with ``log_table`` under ``artifact_file``, concatenated."""
    import pandas as pd

    st = _runs.store()
    if run_ids is None:
        t = st.query("SELECT DISTINCT run_id FROM artifacts WHERE path = ?", [artifact_file])
        run_ids = t.column(0).to_pylist()
    frames = []
    for rid in run_ids:
        try:
            data = query.read_artifact(rid, artifact_file, store=st)
        except ArtifactError:
            continue
        df = pd.read_json(io.BytesIO(data), orient="split")
        for col in extra_columns or []:
            if col == "run_id":
                df[col] = rid
            else:
                raise InvalidValueError(f"unsupported extra column {col!r}; use 'run_id'")
        frames.append(df)
    if not frames:
        raise ArtifactError(f"no run has a table artifact {artifact_file!r}")
    return pd.concat(frames, ignore_index=True)
