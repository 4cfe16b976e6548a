"""Export runs and their model registry to a running MLflow tracking server, over REST.

MLflow's REST API gives every run it creates an id of its own, so an exported run gets a new
id on the server; its nbtrack id goes into the run's tag ``nbtrack.run_id``, and parent links
are rewritten to the new ids. The tag ``nbtrack.exported`` is set once a run is complete, so
a second export skips the runs the server already has, and a run an interrupted export left
half written is deleted on the server and written again. The run's inputs (datasets) go
through ``runs/log-inputs``. Artifacts are uploaded through the
server's artifact proxy (``mlflow server --serve-artifacts``, MLflow's default).

The registry of the exported runs follows: registered models (created if the server lacks
them) with description and tags, each version as ``runs:/<new run id>/<model name>`` with
its description and tags, and the aliases. The server numbers versions itself, in the order
given (nbtrack's order); each carries ``nbtrack.version``, by which a second export knows it
and aliases are mapped. scikit-learn models get an ``MLmodel`` file so that
``mlflow.sklearn.load_model("models:/<name>@<alias>")`` works against the server.
"""

from __future__ import annotations

import posixpath
import urllib.parse
import urllib.request
from typing import TYPE_CHECKING, Any

from nbtrack.interop import registry_export
from nbtrack.interop._files import SourceError
from nbtrack.interop.registry_rest import proxied_path, quoted

if TYPE_CHECKING:
    from nbtrack.interop.exporter import _Run
    from nbtrack.interop.rest_source import RestSource
    from nbtrack.storage import ParquetStore
    from nbtrack.tracking import experiments as exps

RUN_TAG = "nbtrack.run_id"
DONE_TAG = "nbtrack.exported"
VERSION_TAG = "nbtrack.version"
#: MLflow's limits of one ``runs/log-batch`` call.
BATCH_METRICS, BATCH_PARAMS, BATCH_TAGS = 1000, 100, 100


def to_server(
    st: ParquetStore, server: RestSource, chosen: list[exps.Experiment], runs: list[_Run]
) -> int:
    """Write ``runs`` (of the experiments ``chosen``) and their registry; returns how many
    runs were written (runs the server already had are not counted)."""
    exp_ids = {e.name: _experiment(server, e) for e in chosen}
    _check_artifact_proxy(server, {exp_ids[r.rec.experiment] for r in runs if r.artifacts})
    new_ids = _exported(server, set(exp_ids.values()))
    mine = {r.rec.run_id for r in runs}
    written = 0
    for run in _parents_first(runs):
        r = run.rec
        if r.run_id in new_ids:
            continue
        parent = new_ids.get(r.parent_run_id or "", r.parent_run_id)
        new_ids[r.run_id] = _write_run(st, server, exp_ids[r.experiment], run, parent)
        written += 1
    registry = registry_export.collect(st, mine)
    _write_registry(st, server, registry, new_ids)
    return written


def _experiment(server: RestSource, e: exps.Experiment) -> str:
    try:
        got = server.call("GET", "experiments/get-by-name", {"experiment_name": e.name})
        return str(got["experiment"]["experiment_id"])
    except SourceError as exc:
        if exc.status != 404:
            raise
    tags = [{"key": k, "value": v} for k, v in e.tags.items()]
    made = server.call("POST", "experiments/create", {"name": e.name, "tags": tags})
    return str(made["experiment_id"])


def _check_artifact_proxy(server: RestSource, experiment_ids: set[str]) -> None:
    """Refuse, before any run is written, to export artifacts into an experiment whose
    artifact location the server does not proxy (it could not store them)."""
    from nbtrack.interop.exporter import ExportError

    for eid in sorted(experiment_ids):
        got = server.call("GET", "experiments/get", {"experiment_id": eid})["experiment"]
        location = got.get("artifact_location", "")
        if not location.startswith("mlflow-artifacts:"):
            raise ExportError(
                f"the MLflow server at {server.url} does not proxy the artifacts of experiment "
                f"{got.get('name')!r} (stored at {location!r}): start it with --serve-artifacts "
                "and no --default-artifact-root to export artifacts"
            )


def _exported(server: RestSource, experiment_ids: set[str]) -> dict[str, str]:
    """nbtrack run id -> server run id of the runs a finished export wrote; runs an
    interrupted export left unfinished are deleted on the server."""
    out = {}
    body = {
        "experiment_ids": sorted(experiment_ids),
        "run_view_type": "ALL",
        "max_results": 1000,
        "filter": f"tags.`{RUN_TAG}` != ''",
    }
    for r in server.pages("POST", "runs/search", body, "runs"):
        tags = {t["key"]: t["value"] for t in r.get("data", {}).get("tags", [])}
        if tags.get(DONE_TAG) == "true":
            out[tags[RUN_TAG]] = r["info"]["run_id"]
        elif r["info"].get("lifecycle_stage") != "deleted":
            server.call("POST", "runs/delete", {"run_id": r["info"]["run_id"]})
    return out


def _parents_first(runs: list[_Run]) -> list[_Run]:
    by_id = {r.rec.run_id: r for r in runs}
    out: list[_Run] = []
    seen: set[str] = set()

    def visit(run: _Run) -> None:
        if run.rec.run_id in seen:
            return
        seen.add(run.rec.run_id)
        parent = by_id.get(run.rec.parent_run_id or "")
        if parent is not None:
            visit(parent)
        out.append(run)

    for run in runs:
        visit(run)
    return out


def _write_run(
    st: ParquetStore, server: RestSource, experiment_id: str, run: _Run, parent: str | None
) -> str:
    from nbtrack.interop.exporter import ExportError
    from nbtrack.mlflow import _systags

    r = run.rec
    tags = dict(run.tags)
    if parent is not None:
        tags[_systags.PARENT_RUN_ID] = parent
    tags[RUN_TAG] = r.run_id
    made = server.call(
        "POST",
        "runs/create",
        {
            "experiment_id": experiment_id,
            "start_time": r.start_ms,
            "run_name": r.name or "",
            "user_id": _systags.user_id(r.tags),
            "tags": [{"key": RUN_TAG, "value": r.run_id}],
        },
    )["run"]["info"]
    rid = made["run_id"]
    params = [{"key": k, "value": v} for k, v in r.params.items()]
    tag_list = [{"key": k, "value": v} for k, v in tags.items() if k != RUN_TAG]
    metrics = [
        {"key": k, "value": _number(v), "timestamp": ts, "step": step}
        for k, step, ts, v in run.points
    ]
    while params or tag_list or metrics:
        server.call(
            "POST",
            "runs/log-batch",
            {
                "run_id": rid,
                "params": params[:BATCH_PARAMS],
                "tags": tag_list[:BATCH_TAGS],
                "metrics": metrics[:BATCH_METRICS],
            },
        )
        params, tag_list = params[BATCH_PARAMS:], tag_list[BATCH_TAGS:]
        metrics = metrics[BATCH_METRICS:]
    if r.inputs:
        server.call("POST", "runs/log-inputs", {"run_id": rid, "datasets": _datasets(r.inputs)})
    if run.artifacts:
        root = made.get("artifact_uri", "")
        if not root.startswith("mlflow-artifacts:"):
            raise ExportError(
                f"the MLflow server at {server.url} does not proxy artifacts (its run artifact "
                f"root is {root!r}): start it with --serve-artifacts to export artifacts"
            )
        for path, sha in run.artifacts.items():
            _upload(server, root, path, st.read_blob(sha))
    server.call(
        "POST",
        "runs/update",
        {
            "run_id": rid,
            "status": r.status,
            **({"end_time": r.end_ms} if r.end_ms is not None else {}),
        },
    )
    server.call("POST", "runs/set-tag", {"run_id": rid, "key": DONE_TAG, "value": "true"})
    if r.deleted:
        server.call("POST", "runs/delete", {"run_id": rid})
    return str(rid)


def _datasets(inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A run's inputs as the ``datasets`` of MLflow's ``runs/log-inputs`` request."""
    out = []
    for ds in inputs:
        dataset = {k: ds.get(k) or "" for k in ("name", "digest", "source_type", "source")}
        dataset.update({k: ds[k] for k in ("schema", "profile") if ds.get(k) is not None})
        tags = [{"key": "mlflow.data.context", "value": ds["context"]}] if ds.get("context") else []
        out.append({"dataset": dataset, "tags": tags})
    return out


def _upload(server: RestSource, artifact_root: str, path: str, data: bytes) -> None:
    """PUT one file into a run's proxied artifact root (``mlflow-artifacts:/…``)."""

    target = posixpath.join(proxied_path(artifact_root), path)
    url = f"{server.url}/api/2.0/mlflow-artifacts/artifacts/{urllib.parse.quote(target)}"
    req = urllib.request.Request(
        url, data=data, method="PUT", headers={"Content-Type": "application/octet-stream"}
    )
    server.send(req, f"upload of {path}")


def _write_registry(
    st: ParquetStore, server: RestSource, registry: list[Any], new_ids: dict[str, str]
) -> None:
    import yaml

    for rm, versions in registry:
        try:
            server.call("GET", "registered-models/get", {"name": rm.name})
        except SourceError as exc:
            if exc.status != 404:
                raise
            server.call(
                "POST",
                "registered-models/create",
                {
                    "name": rm.name,
                    "description": rm.description or "",
                    "tags": [{"key": k, "value": v} for k, v in rm.tags.items()],
                },
            )
        number_of = {}  # nbtrack version -> the server's number
        body = {"filter": f"name = {quoted(rm.name)}", "max_results": 1000}
        for mv in server.pages("GET", "model-versions/search", body, "model_versions"):
            tags = {t["key"]: t["value"] for t in mv.get("tags", [])}
            if VERSION_TAG in tags:
                number_of[int(tags[VERSION_TAG])] = str(mv["version"])
        for v in versions:
            mv, info = v.mv, v.info
            if mv.version in number_of or mv.run_id not in new_ids:
                continue
            rid = new_ids[mv.run_id]
            doc = registry_export.mlmodel(info)
            if doc is not None:
                doc["run_id"] = rid
                made = server.call("GET", "runs/get", {"run_id": rid})["run"]["info"]
                _upload(
                    server,
                    made["artifact_uri"],
                    f"{info.name}/MLmodel",
                    yaml.safe_dump(doc).encode(),
                )
            tags = [{"key": k, "value": val} for k, val in mv.tags.items()]
            tags.append({"key": VERSION_TAG, "value": str(mv.version)})
            made_v = server.call(
                "POST",
                "model-versions/create",
                {
                    "name": rm.name,
                    "source": f"runs:/{rid}/{info.name}",
                    "run_id": rid,
                    "description": mv.description or "",
                    "tags": tags,
                },
            )["model_version"]
            number_of[mv.version] = str(made_v["version"])
        for alias, version in rm.aliases.items():
            if version in number_of:
                server.call(
                    "POST",
                    "registered-models/alias",
                    {"name": rm.name, "alias": alias, "version": number_of[version]},
                )


def _number(v: float) -> float | str:
    """A metric value as MLflow's JSON takes it (NaN and ±inf as strings)."""
    if v != v:
        return "NaN"
    if v in (float("inf"), float("-inf")):
        return "Infinity" if v > 0 else "-Infinity"
    return v
