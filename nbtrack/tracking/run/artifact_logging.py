"""Logging artifacts to a run: files, folders, text, dicts and figures."""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nbtrack.errors import ArtifactError, InvalidValueError, NbtrackWarning
from nbtrack.tracking import validation
from nbtrack.tracking.run.state import RunState, now_ns

if TYPE_CHECKING:
    pass

__all__ = ["ArtifactLogging"]


class ArtifactLogging(RunState):
    """``log_artifact(s)``, ``log_text``, ``log_dict`` and ``log_figure``: stored as blobs."""

    def _add_artifact(self, path: str, data: bytes) -> str:
        if not path:
            raise ArtifactError("artifact name is empty; give a file name such as 'model.pkl'")
        sha = self._store.put_blob(data)
        self._store.add_record(
            "artifacts", self._experiment_id, (self.run_id, path, len(data), sha, now_ns())
        )
        return path

    def log_artifact(
        self, local_path: str | os.PathLike[str], artifact_path: str | None = None
    ) -> str:
        """Copy a file into the run; returns its path inside the run."""
        self._check_open()
        folder = validation.artifact_path(artifact_path)
        src = Path(local_path)
        if not src.is_file():
            raise ArtifactError(f"cannot log {str(src)!r}: no such file")
        name = validation.artifact_path(src.name, "artifact name")
        path = f"{folder}/{name}" if folder else name
        return self._add_artifact_file(path, src)

    def _add_artifact_file(self, path: str, src: Path) -> str:
        """Store the file at ``src`` as artifact ``path``, streamed (never read whole)."""
        sha, size = self._store.put_blob_file(str(src))
        self._store.add_record(
            "artifacts", self._experiment_id, (self.run_id, path, size, sha, now_ns())
        )
        return path

    def log_artifacts(
        self, local_dir: str | os.PathLike[str], artifact_path: str | None = None
    ) -> list[str]:
        """Copy a folder's files into the run; symlinks that point outside it are skipped."""
        self._check_open()
        folder = validation.artifact_path(artifact_path)
        root = Path(local_dir)
        if not root.is_dir():
            raise ArtifactError(f"cannot log {str(root)!r}: no such folder")
        real_root = root.resolve()
        # Every name is checked before anything is stored; files are then streamed one by one.
        items: list[tuple[str, Path]] = []
        for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
            for d in list(dirnames):
                full = Path(dirpath) / d
                if full.is_symlink() and _target_inside(full, root, real_root) is None:
                    dirnames.remove(d)
            for fname in sorted(filenames):
                full = Path(dirpath) / fname
                target = _target_inside(full, root, real_root)
                if target is None or not target.is_file():
                    continue
                rel = full.relative_to(root).as_posix()
                rel = validation.artifact_path(rel, "artifact name")
                items.append((f"{folder}/{rel}" if folder else rel, target))
        return [self._add_artifact_file(p, src) for p, src in items]

    def log_text(self, text: str, name: str) -> str:
        self._check_open()
        if not isinstance(text, str):
            raise InvalidValueError(f"log_text takes a str, got {type(text).__name__}")
        path = validation.artifact_path(name, "artifact name")
        return self._add_artifact(path, validation.text(text, "log_text's text").encode())

    def log_dict(self, obj: Any, name: str) -> str:
        self._check_open()
        path = validation.artifact_path(name, "artifact name")
        try:
            body = json.dumps(obj, indent=2, default=str, allow_nan=True)
        except (TypeError, ValueError) as exc:
            raise InvalidValueError(f"log_dict could not serialise the object: {exc}") from exc
        return self._add_artifact(path, body.encode())

    def log_figure(self, fig: Any, name: str) -> str:
        """Store a plotly figure (.html or .json) or a matplotlib figure (.png, .svg, .pdf)."""
        self._check_open()
        path = validation.artifact_path(name, "artifact name")
        if hasattr(fig, "savefig"):
            import io

            buf = io.BytesIO()
            fmt = path.rsplit(".", 1)[-1] if "." in path else "png"
            fig.savefig(buf, format=fmt)
            return self._add_artifact(path, buf.getvalue())
        if hasattr(fig, "to_plotly_json"):
            if path.endswith(".json"):
                return self._add_artifact(path, fig.to_json().encode())
            html = fig.to_html(include_plotlyjs="cdn", full_html=True)
            return self._add_artifact(path, html.encode())
        raise InvalidValueError(
            f"log_figure takes a plotly or matplotlib figure, got {type(fig).__name__}"
        )


def _target_inside(full: Path, root: Path, real_root: Path) -> Path | None:
    """Where ``full`` resolves to, or None (with a warning) when that is outside ``root``."""
    target = full.resolve()
    if target.is_relative_to(real_root):
        return target
    warnings.warn(
        f"nbtrack: skipped {full}: a symlink pointing outside {root}",
        NbtrackWarning,
        stacklevel=3,  # the caller of log_artifacts
    )
    return None
