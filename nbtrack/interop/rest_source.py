"""A running MLflow tracking server as an import source, through its REST API.

Plain HTTP with the standard library (no MLflow package needed): experiments and runs from
``experiments/search``, ``runs/search`` and ``metrics/get-history``, artifacts through
``artifacts/list`` and ``/get-artifact``, the model registry through ``registry_rest``.
Every failure (an unreachable host, a URL that is no MLflow server, an error the server
answers) is a ``SourceError`` naming the server and what failed.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

from nbtrack.interop._files import SourceError
from nbtrack.interop.registry_sources import SourceRegisteredModel
from nbtrack.interop.sources import Source, SourceExperiment, SourceRun, _int, _status

#: Seconds to wait for one answer of the server.
TIMEOUT = 60


class RestSource(Source):
    """A running MLflow tracking server (``http(s)://host:port``), through its REST API.

    Raises:
        SourceError: the server cannot be reached or does not answer as MLflow does.
    """

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        parts = urllib.parse.urlsplit(self.url)
        if not parts.hostname:
            raise SourceError(f"{url!r} is not a server URL: give http(s)://host:port")
        self._runs: dict[str, dict[str, Any]] = {}
        self.call("GET", "experiments/search", {"max_results": 1})

    # ---- HTTP ---------------------------------------------------------------------------
    def send(self, req: urllib.request.Request, what: str) -> bytes:
        """Send ``req`` to the server and return the body of its answer."""
        try:
            with urllib.request.urlopen(req, timeout=TIMEOUT) as resp:
                return resp.read()
        except urllib.error.HTTPError as exc:
            raise SourceError(
                f"MLflow server at {self.url} failed on {what}: HTTP {exc.code} "
                f"{_server_message(exc)}".rstrip(),
                status=exc.code,
            ) from None
        except (OSError, ValueError) as exc:  # ValueError: http.client.InvalidURL and kin
            reason = getattr(exc, "reason", None) or exc
            raise SourceError(
                f"cannot reach an MLflow server at {self.url} ({what}): {reason}"
            ) from None

    def call(self, method: str, endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
        """One call of MLflow's REST API (``/api/2.0/mlflow/<endpoint>``), its JSON answer."""
        return self.call_route(f"api/2.0/mlflow/{endpoint}", body, method=method)

    def call_route(
        self, route: str, body: dict[str, Any], *, method: str = "GET"
    ) -> dict[str, Any]:
        """A JSON call of any route of the server (``api/2.0/mlflow-artifacts/...``)."""
        url, data = f"{self.url}/{route}", None
        if method == "GET":
            url += "?" + urllib.parse.urlencode(body, doseq=True) if body else ""
        else:
            data = json.dumps(body).encode()
        req = urllib.request.Request(
            url, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        raw = self.send(req, route.rsplit("mlflow/", 1)[-1])
        try:
            answer = json.loads(raw or b"{}")
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise SourceError(
                f"{self.url} does not answer like an MLflow tracking server (no JSON from /{route})"
            )
        return answer

    def download(self, route: str, query: dict[str, str]) -> bytes:
        """The bytes a file route of the server sends (``get-artifact`` ...)."""
        url = f"{self.url}/{route}?{urllib.parse.urlencode(query)}"
        return self.send(urllib.request.Request(url), f"{route} {query.get('path', '')}")

    def pages(
        self, method: str, endpoint: str, body: dict[str, Any], key: str
    ) -> Iterator[dict[str, Any]]:
        """The items under ``key`` of every page of a paged endpoint."""
        token = None
        while True:
            page = self.call(method, endpoint, {**body, **({"page_token": token} if token else {})})
            yield from page.get(key, [])
            token = page.get("next_page_token")
            if not token:
                return

    # ---- Source -------------------------------------------------------------------------
    def experiments(self) -> list[SourceExperiment]:
        out = []
        body = {"max_results": 1000, "view_type": "ALL"}
        for e in self.pages("POST", "experiments/search", body, "experiments"):
            out.append(
                SourceExperiment(
                    str(e["experiment_id"]),
                    e["name"],
                    e.get("lifecycle_stage", "active"),
                    e.get("artifact_location", ""),
                    {t["key"]: t["value"] for t in e.get("tags", [])},
                    _int(e.get("creation_time")),
                    _int(e.get("last_update_time")),
                )
            )
        return out

    def registered_models(self, run_dirs: dict[str, str]) -> list[SourceRegisteredModel]:
        from nbtrack.interop.registry_rest import rest_registry

        return rest_registry(self)

    def run_ids(self, experiment_id: str) -> list[str]:
        ids = []
        body = {"experiment_ids": [experiment_id], "run_view_type": "ALL", "max_results": 1000}
        for r in self.pages("POST", "runs/search", body, "runs"):
            self._runs[r["info"]["run_id"]] = r
            ids.append(r["info"]["run_id"])
        return ids

    def run(self, experiment_id: str, run_id: str) -> SourceRun:
        r = self._runs.pop(run_id, None) or self.call("GET", "runs/get", {"run_id": run_id})["run"]
        info, data = r["info"], r.get("data", {})
        run = SourceRun(
            run_id,
            experiment_id,
            info.get("run_name"),
            _status(info.get("status", "FINISHED")),
            _int(info.get("start_time")) or 0,
            _int(info.get("end_time")),
            info.get("lifecycle_stage", "active"),
            info.get("user_id", ""),
            artifact_uri=info.get("artifact_uri", ""),
        )
        for ds_in in r.get("inputs", {}).get("dataset_inputs", []):
            d = ds_in.get("dataset", {})
            in_tags = {t["key"]: t["value"] for t in ds_in.get("tags", [])}
            ctx = in_tags.pop("mlflow.data.context", None)
            run.dropped_input_tags += len(in_tags)
            run.inputs.append(
                {
                    "name": d.get("name"),
                    "digest": d.get("digest"),
                    "source_type": d.get("source_type", ""),
                    "source": d.get("source", ""),
                    "schema": d.get("schema"),
                    "profile": d.get("profile"),
                    "context": ctx,
                }
            )
        run.params = {p["key"]: p["value"] for p in data.get("params", [])}
        run.tags = {t["key"]: t["value"] for t in data.get("tags", [])}
        for m in data.get("metrics", []):
            body = {"run_id": run_id, "metric_key": m["key"], "max_results": 25000}
            for p in self.pages("GET", "metrics/get-history", body, "metrics"):
                run.metrics.append(
                    (p["key"], float(p["value"]), int(p["timestamp"]), int(p.get("step", 0)))
                )
        return run

    def artifacts(self, run: SourceRun) -> Iterator[tuple[str, bytes]]:
        stack = [""]
        while stack:
            path = stack.pop()
            body = {"run_id": run.run_id, **({"path": path} if path else {})}
            for f in self.call("GET", "artifacts/list", body).get("files", []):
                if f.get("is_dir"):
                    stack.append(f["path"])
                    continue
                yield (
                    f["path"],
                    self.download("get-artifact", {"run_id": run.run_id, "path": f["path"]}),
                )


def _server_message(exc: urllib.error.HTTPError) -> str:
    """The ``message`` of MLflow's JSON error body, else nothing."""
    try:
        body = json.loads(exc.read() or b"{}")
    except (OSError, ValueError):
        return ""
    return str(body.get("message", "")) if isinstance(body, dict) else ""
