"""Helpers shared by the MLflow readers: local paths of URIs, YAML and key-value folders."""

from __future__ import annotations

import urllib.parse
from pathlib import Path
from typing import Any

from nbtrack.errors import NbtrackError


class SourceError(NbtrackError):
    """The MLflow source cannot be opened or read.

    Attributes:
        status: the HTTP status a tracking server answered with, if that was the failure.
    """

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def local_path(uri: str) -> Path | None:
    if not uri:
        return None
    if uri.startswith("file:"):
        return Path(urllib.parse.unquote(urllib.parse.urlparse(uri).path))
    if "://" not in uri:
        return Path(uri)
    return None


def yaml_load(path: Path) -> dict[str, Any]:
    try:
        import yaml
    except ImportError:
        raise SourceError("reading an MLflow file store needs PyYAML: pip install 'nbtrack[mlflow]'") from None
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh) or {}


def read_kv(folder: Path) -> dict[str, str]:
    if not folder.is_dir():
        return {}
    return {
        p.relative_to(folder).as_posix(): p.read_text(encoding="utf-8")
        for p in sorted(folder.rglob("*")) if p.is_file()
    }
