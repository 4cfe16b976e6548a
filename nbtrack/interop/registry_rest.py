"""The MLflow model registry as a running tracking server gives it, through its REST API.

Registered models come from ``registered-models/search`` (paged) and ``registered-models/get``
(aliases, tags, description), their versions from ``model-versions/search`` (paged, one model
at a time). A version's model files are fetched only when the import needs them (never for a
version nbtrack already has): listed through the logged model's artifact API (MLflow 3,
``models:/m-…`` sources), the proxied artifact store (``mlflow-artifacts:/…``) or the run's
artifact list (``runs:/…`` sources of MLflow 2), and downloaded one by one from
``/model-versions/get-artifact``, the route MLflow's own UI uses; a model folder the server
keeps on this machine's disk is read directly. No MLflow package is needed.
"""

from __future__ import annotations

import functools
import posixpath
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from nbtrack.interop._files import SourceError, local_path
from nbtrack.interop.registry_sources import (
    SourceModelVersion,
    SourceRegisteredModel,
    model_files,
)

if TYPE_CHECKING:
    from nbtrack.interop.sources import RestSource

T = TypeVar("T")

#: Items asked for per page of ``registered-models/search`` and ``model-versions/search``
#: (MLflow's largest page of registered models is 1,000).
PAGE_SIZE = 1000

#: A lister: folder (relative to the model's root, "" for the root) -> (path relative to the
#: model's root, is a folder) of its entries.
Lister = Callable[[str], list[tuple[str, bool]]]


def rest_registry(src: RestSource) -> list[SourceRegisteredModel]:
    """Every registered model of the server with its versions, tags and aliases."""
    try:
        found = [
            m["name"]
            for m in src.pages(
                "GET", "registered-models/search", {"max_results": PAGE_SIZE}, "registered_models"
            )
        ]
    except SourceError as exc:
        if exc.status == 404:  # a server without a model registry
            return []
        raise
    out = []
    for name in found:
        rm = src.call("GET", "registered-models/get", {"name": name})["registered_model"]
        model = SourceRegisteredModel(
            name,
            rm.get("description") or None,
            _int(rm.get("creation_timestamp")),
            _tags(rm),
            {a["alias"]: int(a["version"]) for a in rm.get("aliases", [])},
        )
        body = {"filter": f"name = {quoted(name)}", "max_results": PAGE_SIZE}
        for v in src.pages("GET", "model-versions/search", body, "model_versions"):
            if v.get("name") == name and v.get("current_stage") != "Deleted_Internal":
                model.versions.append(_version(src, name, v))
        model.versions.sort(key=lambda x: x.version)
        out.append(model)
    return out


def _version(src: RestSource, name: str, v: dict[str, Any]) -> SourceModelVersion:
    source = v.get("source") or ""
    run_id = v.get("run_id") or None
    model_id = v.get("model_id") or None
    if model_id is None and source.startswith("models:/m-"):
        model_id = source[len("models:/") :].split("/")[0]
    if model_id is not None:
        # MLflow 3: the version is a logged model, kept apart from the run's artifacts.
        info = _found(lambda: src.call("GET", f"logged-models/{model_id}", {})) or {}
        info = info.get("model", {}).get("info", {})
        model_name = info.get("name") or "model"
        run_id = run_id or info.get("source_run_id") or None
    elif source.startswith("runs:/"):
        model_name = source[len("runs:/") :].partition("/")[2].strip("/") or "model"
    elif "/artifacts/" in source:
        model_name = source.split("/artifacts/", 1)[1].strip("/") or "model"
    else:
        model_name = "model"
    number = int(v["version"])
    files = functools.partial(_fetch_files, src, name, number, model_id, run_id, source)
    fetch = functools.partial(_found, files)
    return SourceModelVersion(
        number,
        run_id,
        source,
        v.get("description") or None,
        _int(v.get("creation_timestamp")),
        _tags(v),
        None,
        model_name,
        fetch=fetch,
    )


def _fetch_files(
    src: RestSource,
    name: str,
    version: int,
    model_id: str | None,
    run_id: str | None,
    source: str,
) -> dict[str, bytes] | None:
    """The version's model files by path relative to the model's root; None if the server
    cannot list them."""
    query = {"name": name, "version": str(version)}
    uri = src.call("GET", "model-versions/get-download-uri", query).get("artifact_uri", "")
    route, base = "model-versions/get-artifact", ""
    lister: Lister | None = None
    if model_id is not None:
        lister = functools.partial(_logged_model_entries, src, model_id)
    elif run_id is not None and source.startswith("runs:/"):
        # MLflow 2: the model is a folder of the run's artifacts; the server resolves
        # ``runs:/`` itself only through the run, so read it as run artifacts.
        base = source[len("runs:/") :].partition("/")[2].strip("/")
        lister = functools.partial(_run_entries, src, run_id, base)
        route, query = "get-artifact", {"run_id": run_id}
    elif uri.startswith("mlflow-artifacts:"):
        lister = functools.partial(_proxied_entries, src, proxied_path(uri))
    if lister is None:
        folder = local_path(uri)
        return model_files(folder) if folder is not None and folder.is_dir() else None
    files = {}
    for path in _walk(lister):
        where = posixpath.join(base, path) if route == "get-artifact" and base else path
        files[path] = src.download(route, {**query, "path": where})
    return files or None


def _found(call: Callable[[], T]) -> T | None:
    """``call()``, or None when the server answers 404: a version whose logged model or
    files are gone is skipped (and counted), while any other failure stops the import (it
    resumes where it stopped)."""
    try:
        return call()
    except SourceError as exc:
        if exc.status == 404:
            return None
        raise


def _walk(lister: Lister) -> list[str]:
    """Every file below the model's root, depth first, sorted."""
    out, stack = [], [""]
    while stack:
        for path, is_dir in lister(stack.pop()):
            (stack if is_dir else out).append(path)
    return sorted(out)


def _relative(folder: str, path: str) -> str:
    """An entry's path relative to the model's root: servers answer some listings with
    paths relative to the listed folder, others relative to the root."""
    if folder and not (path == folder or path.startswith(folder + "/")):
        path = posixpath.join(folder, posixpath.basename(path))
    return path


def _logged_model_entries(src: RestSource, model_id: str, folder: str) -> list[tuple[str, bool]]:
    query = {"artifact_directory_path": folder} if folder else {}
    page = src.call("GET", f"logged-models/{model_id}/artifacts/directories", query)
    return [(_relative(folder, f["path"]), bool(f.get("is_dir"))) for f in page.get("files", [])]


def _proxied_entries(src: RestSource, root: str, folder: str) -> list[tuple[str, bool]]:
    path = posixpath.join(root, folder) if folder else root
    page = src.call_route("api/2.0/mlflow-artifacts/artifacts", {"path": path})
    return [(_relative(folder, f["path"]), bool(f.get("is_dir"))) for f in page.get("files", [])]


def _run_entries(src: RestSource, run_id: str, base: str, folder: str) -> list[tuple[str, bool]]:
    path = posixpath.join(base, folder) if folder else base
    page = src.call("GET", "artifacts/list", {"run_id": run_id, "path": path})
    out = []
    for f in page.get("files", []):
        rel = f["path"][len(base) + 1 :] if base and f["path"].startswith(base + "/") else f["path"]
        out.append((_relative(folder, rel), bool(f.get("is_dir"))))
    return out


def proxied_path(uri: str) -> str:
    """``mlflow-artifacts:/0/models/m-1/artifacts`` (or ``mlflow-artifacts://host/…``) ->
    ``0/models/m-1/artifacts``, the path the proxied artifact API takes."""
    rest = uri[len("mlflow-artifacts:") :]
    if rest.startswith("//"):
        rest = rest[2:].partition("/")[2]
    return rest.strip("/")


def quoted(name: str) -> str:
    """A model name as a string literal of MLflow's search filter."""
    return f'"{name}"' if "'" in name else f"'{name}'"


def _tags(entity: dict[str, Any]) -> dict[str, str]:
    return {t["key"]: t.get("value", "") for t in entity.get("tags", [])}


def _int(v: Any) -> int | None:
    return None if v is None else int(v)
