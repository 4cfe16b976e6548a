"""The registry one page at a time, as plain records: what a browser (the REST API) asks for.

``search_registered_models`` and ``search_model_versions`` return dataclasses; a client
wants JSON-ready dicts, a sort order, pages, and for each version what the sidebar shows
next to it: the logged model's flavor, size and sha256, and whether its run can be opened.
The filter grammar is the registry searches' one (``name``, ``tags.<key>``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nbtrack.errors import FilterError, ModelNotFoundError
from nbtrack.models import logged
from nbtrack.models.registry import (
    ModelVersion,
    RegisteredModel,
    get_registered_model,
    store_or_default,
)
from nbtrack.models.search import search_model_versions, search_registered_models
from nbtrack.models.uris import check_model_name
from nbtrack.tracking import pages, query
from nbtrack.tracking.colors import color_for

if TYPE_CHECKING:
    from nbtrack.storage.protocol import Store

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1_000

#: ``order_by`` fields of registered models -> the record's key (MLflow's names accepted).
ORDER_FIELDS = {
    "name": "name",
    "creation_time": "creation_time",
    "creation_timestamp": "creation_time",
    "last_updated_time": "last_updated_time",
    "last_updated_timestamp": "last_updated_time",
    "timestamp": "last_updated_time",
    "latest_version": "latest_version",
}
_ORDER_RE = re.compile(r"^\s*(?:attributes\.)?(?P<field>\w+)(?:\s+(?P<dir>asc|desc))?\s*$", re.I)


@dataclass(frozen=True)
class ModelPage:
    """One page of registered models.

    Attributes:
        models: One dict per registered model (see :func:`model_record`).
        next_page_token: Token of the next page, or None on the last page.
    """

    models: list[dict[str, Any]]
    next_page_token: str | None


def model_record(model: RegisteredModel) -> dict[str, Any]:
    """A registered model as a JSON-ready dict.

    Keys: name, description, creation_time and last_updated_time (ms since the epoch),
    latest_version (None for a model with no version), aliases (alias -> version), tags.
    """
    return {
        "name": model.name,
        "description": model.description,
        "creation_time": model.creation_time,
        "last_updated_time": model.last_updated_time,
        "latest_version": model.latest_version,
        "aliases": dict(model.aliases),
        "tags": dict(model.tags),
    }


def parse_model_order_by(order_by: Sequence[str] | str | None) -> list[tuple[str, bool]]:
    """``order_by`` items as (record key, descending); ``name ASC`` when None or empty.

    Raises:
        FilterError: an item is malformed, names an unknown field, or repeats one.
    """
    if isinstance(order_by, str):
        order_by = [order_by]
    out: list[tuple[str, bool]] = []
    for item in order_by or []:
        m = _ORDER_RE.match(item) if isinstance(item, str) else None
        if m is None:
            raise FilterError(
                f"cannot read order_by {item!r}; write e.g. 'name ASC' or 'last_updated_time DESC'",
                item if isinstance(item, str) else "",
                0,
            )
        key = ORDER_FIELDS.get(m.group("field").lower())
        if key is None:
            raise FilterError(
                f"registered models sort by {', '.join(ORDER_FIELDS)}; "
                f"{m.group('field')!r} is not one of them",
                item,
                m.start("field"),
            )
        if any(k == key for k, _ in out):
            raise FilterError(f"order_by names {key} twice: {list(order_by)!r}", item, 0)
        out.append((key, (m.group("dir") or "ASC").upper() == "DESC"))
    return out or [("name", False)]


def _sorted(records: list[dict[str, Any]], keys: list[tuple[str, bool]]) -> list[dict[str, Any]]:
    # Stable sorts from the last key to the first; a missing value (a model with no
    # version) sorts last in either direction; the name breaks ties.
    out = sorted(records, key=lambda r: r["name"])
    for key, descending in reversed(keys):
        present = [r for r in out if r[key] is not None]
        missing = [r for r in out if r[key] is None]
        out = sorted(present, key=lambda r: r[key], reverse=descending) + missing
    return out


def search_model_page(
    filter: str = "",
    order_by: Sequence[str] | str | None = None,
    max_results: int = DEFAULT_PAGE_SIZE,
    page_token: str | None = None,
    *,
    store: Store | None = None,
) -> ModelPage:
    """One page of ``search_registered_models`` as records, in ``order_by`` order.

    Args:
        filter: Filter text on ``name`` and ``tags.<key>`` (the registry searches' grammar).
        order_by: Items such as ``name``, ``last_updated_time DESC``, ``latest_version``.
        max_results: Models per page, 1 to ``MAX_PAGE_SIZE``.
        page_token: ``next_page_token`` of the previous page; None for the first page.
        store: The store; the current one when None.

    Raises:
        FilterError: the filter or an order_by item is malformed (with the position).
        InvalidValueError: a bad page size or a page token from another search.
    """
    pages.check_page_size(max_results, MAX_PAGE_SIZE)
    keys = parse_model_order_by(order_by)
    fingerprint = pages.query_fingerprint("registered_models", filter, order_by)
    offset = pages.page_offset(page_token, fingerprint) if page_token else 0
    found = search_registered_models(filter or None, store=store_or_default(store))
    records = _sorted([model_record(m) for m in found], keys)
    chunk = records[offset : offset + max_results]
    more = offset + max_results < len(records)
    token = pages.page_token(offset + max_results, fingerprint) if more else None
    return ModelPage(chunk, token)


def _run_links(run_ids: set[str], st: Store) -> dict[str, dict[str, Any]]:
    """What a link to each run needs (name, experiment, status, colour), for runs not deleted."""
    if not run_ids:
        return {}
    listed = ", ".join("'" + r.replace("'", "''") + "'" for r in sorted(run_ids))
    frame = query.search_runs(experiment="*", filter=f"attributes.run_id IN ({listed})", store=st)
    return {
        row["run_id"]: {
            "run_id": row["run_id"],
            "name": row["name"],
            "experiment": row["experiment"],
            "status": row["status"],
            "color": color_for(row["run_id"]),
        }
        for row in frame[["run_id", "name", "experiment", "status"]].to_dict("records")
    }


def version_record(
    version: ModelVersion, links: dict[str, dict[str, Any]], st: Store
) -> dict[str, Any]:
    """A model version as a JSON-ready dict.

    Keys: name, version, run_id, run (name, experiment, status and colour of the run, or
    None when the run is deleted), model_name, source (``runs:/`` URI), model_uri, flavor,
    format, size and sha256 (of the logged model; None if its record is gone), description,
    creation_time and last_updated_time (ms), aliases, tags.
    """
    try:
        info: logged.ModelInfo | None = logged.get_model_info(
            version.run_id, version.model_name, store=st, include_deleted=True
        )
    except ModelNotFoundError:
        info = None
    return {
        "name": version.name,
        "version": version.version,
        "run_id": version.run_id,
        "run": links.get(version.run_id),
        "model_name": version.model_name,
        "source": version.source,
        "model_uri": version.model_uri,
        "flavor": info.flavor if info else None,
        "format": info.format if info else None,
        "size": info.size if info else None,
        "sha256": info.sha256 if info else None,
        "description": version.description,
        "creation_time": version.creation_time,
        "last_updated_time": version.last_updated_time,
        "aliases": list(version.aliases),
        "tags": dict(version.tags),
    }


def list_version_records(name: str, *, store: Store | None = None) -> list[dict[str, Any]]:
    """Every version of registered model ``name`` as records, newest first.

    Raises:
        ModelError: a malformed name.
        ModelNotFoundError: no such registered model.
    """
    st = store_or_default(store)
    get_registered_model(check_model_name(name), store=st)
    # The name is checked: letters, digits, '_', '.', '-' and spaces, so no quote in it.
    versions = search_model_versions(f"name = '{name}'", store=st)
    links = _run_links({v.run_id for v in versions}, st)
    return [version_record(v, links, st) for v in versions]


def get_model_record(name: str, *, store: Store | None = None) -> dict[str, Any]:
    """One registered model as a record (see :func:`model_record`) with its ``versions``.

    Raises:
        ModelError: a malformed name.
        ModelNotFoundError: no such registered model.
    """
    st = store_or_default(store)
    record = model_record(get_registered_model(check_model_name(name), store=st))
    record["versions"] = list_version_records(name, store=st)
    return record
