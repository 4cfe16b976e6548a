"""Thin authenticated handlers of the REST API: parse, call tracking or models, answer JSON.

Every handler is a Jupyter ``APIHandler`` behind Jupyter's own login (token or cookie) and,
for writes with a cookie, its XSRF check. Work on the store runs in the extension's thread
pool, never on the event loop. Errors go through :mod:`nbtrack.server._errors`. The routes
and their JSON are documented in docs/rest.md.
"""

from __future__ import annotations

import asyncio
import json
import mimetypes
import posixpath
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from tornado import web

from nbtrack.errors import ArtifactError, InvalidValueError, NbtrackError
from nbtrack.models import pages as model_pages
from nbtrack.server import _errors
from nbtrack.tracking import downsample, edits, pages, query, validation

if TYPE_CHECKING:
    from nbtrack.server.extension import StoreAccess

T = TypeVar("T")

MAX_SQL_ROWS = 10_000
DEFAULT_SQL_ROWS = 1_000
_TEXT_TYPES = ("application/json", "application/javascript", "application/xml", "image/svg+xml")


def _json_default(value: Any) -> Any:
    iso = getattr(value, "isoformat", None)
    return iso() if iso is not None else str(value)


class NbtrackHandler(APIHandler):
    """Base of every nbtrack handler: store access, JSON replies, error mapping."""

    auth_resource = "nbtrack"

    def initialize(self, access: StoreAccess) -> None:  # type: ignore[override]
        self.access = access

    # ---- running tracking calls ------------------------------------------------------------
    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``fn(*args, store=<the server's store>, **kwargs)`` in the extension's threads."""

        chosen = self.request.headers.get(STORE_HEADER, "").strip() or None

        def work() -> T:
            return fn(*args, store=self.access.store(chosen), **kwargs)

        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.access.executor, work)

    # ---- request parsing -------------------------------------------------------------------
    def int_argument(self, name: str, default: int) -> int:
        """Query argument ``name`` as an int; InvalidValueError when it is not one."""
        raw = self.get_query_argument(name, None)
        if raw is None or raw == "":
            return default
        try:
            return int(raw)
        except ValueError:
            raise InvalidValueError(f"{name} must be an integer, got {raw!r:.40}") from None

    def json_body(self) -> dict[str, Any]:
        """The request body as a JSON object; InvalidValueError otherwise."""
        try:
            body = json.loads(self.request.body or b"{}")
        except ValueError as exc:
            raise InvalidValueError(f"the request body is not valid JSON: {exc}") from None
        if not isinstance(body, dict):
            raise InvalidValueError(
                f"the request body must be a JSON object, got {type(body).__name__}"
            )
        return body

    # ---- replies ---------------------------------------------------------------------------
    def reply(self, obj: Any, status: int = 200) -> None:
        self.set_status(status)
        self.finish(json.dumps(obj, default=_json_default))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, NbtrackError):
            self.set_status(_errors.status_of(exc))
            body = _errors.body_of(exc)
        elif isinstance(exc, web.HTTPError):
            reason = self._reason or "Error"
            body = {"error": reason.replace(" ", ""), "message": exc.log_message or reason}
        else:
            body = dict(_errors.INTERNAL)
        self.finish(json.dumps(body))

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, NbtrackError):
            # Bad input is the client's mistake: one line, no traceback.
            self.log.info("nbtrack API %s %s: %s", self.request.method, self.request.path, value)
            return
        super().log_exception(typ, value, tb)


#: The request header that picks one of the server's stores (the lab setting "store").
STORE_HEADER = "X-Nbtrack-Store"


class StoresHandler(NbtrackHandler):
    """``GET stores``: the store served by default and every store a request may pick."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.reply({"default": self.access.uri, "stores": list(self.access.uris)})


class ExperimentsHandler(NbtrackHandler):
    """``GET experiments``: every experiment with its run count and newest start."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.reply({"experiments": await self.call(pages.experiment_summaries)})


class RunsHandler(NbtrackHandler):
    """``GET runs?filter=&order_by=&max_results=&page_token=&experiment=``."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        experiments = self.get_query_arguments("experiment")
        order_by = self.get_query_arguments("order_by") or None
        page = await self.call(
            pages.search_run_page,
            experiments or "*",
            self.get_query_argument("filter", ""),
            order_by,
            self.int_argument("max_results", pages.DEFAULT_PAGE_SIZE),
            self.get_query_argument("page_token", None) or None,
        )
        self.reply({"runs": page.runs, "next_page_token": page.next_page_token})


class RunHandler(NbtrackHandler):
    """``GET``, ``PATCH`` (name, tags) and ``DELETE`` (soft) of one run."""

    @web.authenticated
    @authorized
    async def get(self, run_id: str) -> None:
        self.reply(await self.call(pages.get_run_record, run_id))

    @web.authenticated
    @authorized
    async def patch(self, run_id: str) -> None:
        body = self.json_body()
        unknown = set(body) - {"name", "tags"}
        if unknown:
            raise InvalidValueError(
                "PATCH runs/<id> takes 'name' and 'tags'; unknown field(s): "
                + ", ".join(sorted(unknown))
            )
        tags = body.get("tags", {})
        if not isinstance(tags, dict):
            raise InvalidValueError(
                f"'tags' must be an object of key -> text (null deletes), got {type(tags).__name__}"
            )
        # Check everything before the first write: all or nothing.
        for key, value in tags.items():
            if value is None:
                validation.check_key(key, "tag key")
            else:
                validation.checked_texts({key: value}, "tag", "PATCH runs/<id>")
        await self.call(pages.get_run_record, run_id)  # 404 before any write

        def apply(*, store: Any) -> None:
            if "name" in body:
                edits.rename_run(run_id, body["name"], store=store)
            for key, value in tags.items():
                if value is None:
                    edits.delete_run_tag(run_id, key, store=store)
                else:
                    edits.set_run_tag(run_id, key, value, store=store)

        await self.call(apply)
        self.reply(await self.call(pages.get_run_record, run_id))

    @web.authenticated
    @authorized
    async def delete(self, run_id: str) -> None:
        await self.call(query.delete_run, run_id)
        self.reply({"run_id": run_id, "deleted": True})


class RestoreHandler(NbtrackHandler):
    """``POST runs/<id>/restore``: undo a soft delete."""

    @web.authenticated
    @authorized
    async def post(self, run_id: str) -> None:
        await self.call(query.restore_run, run_id)
        self.reply(await self.call(pages.get_run_record, run_id))


class MetricHandler(NbtrackHandler):
    """``GET runs/<id>/metrics/<key>?max_points=N``: the history, downsampled."""

    @web.authenticated
    @authorized
    async def get(self, run_id: str, key: str) -> None:
        max_points = self.int_argument("max_points", downsample.DEFAULT_MAX_POINTS)
        history = await self.call(downsample.downsampled_history, run_id, key, max_points)
        points = [
            {
                "step": p["step"],
                "value": pages.json_number(p["value"]),
                "timestamp": pages.epoch_ms(p["timestamp"]),
            }
            for p in history.points.to_pylist()
        ]
        self.reply(
            {
                "run_id": run_id,
                "key": key,
                "total_points": history.total,
                "downsampled": history.downsampled,
                "points": points,
            }
        )


class ArtifactsHandler(NbtrackHandler):
    """``GET runs/<id>/artifacts``: paths, sizes and content types."""

    @web.authenticated
    @authorized
    async def get(self, run_id: str) -> None:
        items = await self.call(pages.list_artifact_records, run_id)
        for item in items:
            item["content_type"] = content_type(item["path"])
        self.reply({"run_id": run_id, "artifacts": items})


def content_type(path: str) -> str:
    """Content type of an artifact by its name; text types get ``charset=utf-8``."""
    kind = mimetypes.guess_type(path, strict=False)[0] or "application/octet-stream"
    if kind.startswith("text/") or kind in _TEXT_TYPES:
        kind += "; charset=utf-8"
    return kind


class ArtifactHandler(NbtrackHandler):
    """``GET runs/<id>/artifacts/<path>[?download=1]``: one artifact's bytes."""

    @property
    def content_security_policy(self) -> str:
        # An artifact (HTML, SVG) is the run author's content: never run it on this origin.
        return "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'"

    @web.authenticated
    @authorized
    async def get(self, run_id: str, path: str) -> None:
        # Tornado has already decoded %2e%2e and %2f: check the path as the Python API does.
        clean = validation.artifact_path(path, "artifact path")
        if not clean or clean != path.replace("\\", "/").strip("/"):
            raise ArtifactError(
                f"artifact path {path!r} is not a plain relative path; use a path that "
                "GET runs/<id>/artifacts lists"
            )
        try:
            data = await self.call(query.read_artifact, run_id, clean)
        except ArtifactError as exc:  # the path is valid, so this is a missing artifact
            self.reply(_errors.body_of(exc), status=404)
            return
        self.set_header("X-Content-Type-Options", "nosniff")
        name = posixpath.basename(clean).replace('"', "")
        disposition = "attachment" if self.get_query_argument("download", "") else "inline"
        self.set_header("Content-Disposition", f'{disposition}; filename="{name}"')
        self.finish(data, set_content_type=content_type(clean))


class SqlHandler(NbtrackHandler):
    """``POST sql`` with ``{"query": "SELECT ...", "max_rows": 1000}``: the nt.sql sandbox."""

    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.json_body()
        text = body.get("query")
        max_rows = body.get("max_rows", DEFAULT_SQL_ROWS)
        if (
            isinstance(max_rows, bool)
            or not isinstance(max_rows, int)
            or not (1 <= max_rows <= MAX_SQL_ROWS)
        ):
            raise InvalidValueError(
                f"max_rows must be an integer from 1 to {MAX_SQL_ROWS}, got {max_rows!r:.40}"
            )
        frame = await self.call(query.sql, text)
        shown = frame.head(max_rows)
        table = json.loads(shown.to_json(orient="split", date_format="iso", index=False))
        self.reply(
            {
                "columns": table["columns"],
                "rows": table["data"],
                "row_count": len(frame),
                "truncated": len(frame) > max_rows,
            }
        )


class ModelsHandler(NbtrackHandler):
    """``GET models?filter=&order_by=&max_results=&page_token=``: registered models."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        page = await self.call(
            model_pages.search_model_page,
            self.get_query_argument("filter", ""),
            self.get_query_arguments("order_by") or None,
            self.int_argument("max_results", model_pages.DEFAULT_PAGE_SIZE),
            self.get_query_argument("page_token", None) or None,
        )
        self.reply({"models": page.models, "next_page_token": page.next_page_token})


class ModelHandler(NbtrackHandler):
    """``GET models/<name>``: one registered model with its versions."""

    @web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        self.reply(await self.call(model_pages.get_model_record, name))


class ModelVersionsHandler(NbtrackHandler):
    """``GET models/<name>/versions``: the versions of one registered model, newest first."""

    @web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        versions = await self.call(model_pages.list_version_records, name)
        self.reply({"name": name, "versions": versions})


_RUN = r"runs/(?P<run_id>[^/]+)"
_MODEL = r"models/(?P<name>[^/]+)"
ROUTES: list[tuple[str, type[NbtrackHandler]]] = [
    ("stores", StoresHandler),
    ("experiments", ExperimentsHandler),
    ("runs", RunsHandler),
    (_RUN, RunHandler),
    (_RUN + "/restore", RestoreHandler),
    (_RUN + r"/metrics/(?P<key>.+)", MetricHandler),
    (_RUN + "/artifacts", ArtifactsHandler),
    (_RUN + r"/artifacts/(?P<path>.+)", ArtifactHandler),
    ("sql", SqlHandler),
    ("models", ModelsHandler),
    (_MODEL, ModelHandler),
    (_MODEL + "/versions", ModelVersionsHandler),
]
