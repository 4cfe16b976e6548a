"""Registry searches: the filter grammar of ``search_runs``, evaluated over registry records.

Registry searches parse the same grammar (``nbtrack.tracking.filter``) and evaluate the tree
in Python over the few records a registry holds: each record is a dict of attributes (such
as ``name`` and ``run_id``) and a dict of tags. The semantics are the runs' ones: a
comparison on a missing tag is false, also for ``!=`` and ``NOT IN``; ``NOT`` inverts it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from nbtrack.errors import FilterError
from nbtrack.models.registry import (
    ModelVersion,
    RegisteredModel,
    aliases_of,
    get_registered_model,
    store_or_default,
    version_from_row,
)
from nbtrack.tracking.filter import And, Comparison, Node, Not, Number, Or, parse_filter

if TYPE_CHECKING:
    from nbtrack.storage.protocol import Store


def _text(literal: Any) -> str:
    if isinstance(literal, bool):
        return "true" if literal else "false"
    if isinstance(literal, Number):
        return literal.text
    return str(literal)


def _like(pattern: str, value: str, ignore_case: bool) -> bool:
    regex = "".join(
        ".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern
    )
    return re.fullmatch(regex, value, re.S | (re.I if ignore_case else 0)) is not None


def _compare(op: str, value: str, literal: Any) -> bool:
    if op in ("LIKE", "NOT LIKE", "ILIKE", "NOT ILIKE"):
        hit = _like(_text(literal), value, "ILIKE" in op)
        return not hit if op.startswith("NOT") else hit
    if op in ("IN", "NOT IN"):
        hit = any(_compare("=", value, lit) for lit in literal)
        return not hit if op == "NOT IN" else hit
    text = _text(literal)
    if isinstance(literal, bool):
        value = value.lower()
    return {
        "=": value == text, "!=": value != text, "<": value < text, "<=": value <= text,
        ">": value > text, ">=": value >= text,
    }[op]


def _holds(node: Node, attrs: dict[str, Any], tags: dict[str, str], allowed: Sequence[str]) -> bool:
    if isinstance(node, And):
        return all(_holds(c, attrs, tags, allowed) for c in node.children)
    if isinstance(node, Or):
        return any(_holds(c, attrs, tags, allowed) for c in node.children)
    if isinstance(node, Not):
        return not _holds(node.child, attrs, tags, allowed)
    assert isinstance(node, Comparison)
    if node.kind == "tags":
        value = tags.get(node.key)
    elif node.kind == "attributes" and node.key in allowed:
        value = attrs.get(node.key)
    else:
        raise FilterError(
            f"registry searches filter on {', '.join(allowed)} and tags.<key>; "
            f"{node.kind}.{node.key} is not one of them", "", node.position)
    if node.op == "IS NULL":
        return value is None
    if node.op == "IS NOT NULL":
        return value is not None
    if value is None:
        return False
    return _compare(node.op, str(value), node.value)


def filter_records(
    text: str | None, items: Sequence[tuple[dict[str, Any], dict[str, str]]],
    allowed: Sequence[str],
) -> list[dict[str, Any]]:
    """The attribute dicts of ``items`` (attributes, tags) that ``text`` matches.

    Raises:
        FilterError: a malformed filter or an identifier outside ``allowed`` and tags.
    """
    tree = parse_filter(text) if text else None
    if tree is None:
        return [a for a, _ in items]
    try:
        return [a for a, t in items if _holds(tree, a, t, allowed)]
    except FilterError as exc:
        raise FilterError(exc.reason, text or "", exc.position) from None


def search_registered_models(
    filter: str | None = None, *, max_results: int | None = None, store: Store | None = None
) -> list[RegisteredModel]:
    """Registered models matching ``filter``, by name.

    The filter grammar of ``search_runs`` over ``name`` (``attributes.name``) and
    ``tags.<key>``: ``name LIKE 'churn%' AND tags.team = 'growth'``.

    Raises:
        FilterError: a malformed filter, or an identifier other than these.

    Args:
        filter: a filter in nbtrack's grammar on ``name``, ``run_id`` and ``tags.<key>``.
        max_results: at most this many results.
        store: the store; the current one when None.

    Example:
        >>> nt.search_registered_models("name LIKE 'churn%'")  # doctest: +SKIP
    """
    st = store_or_default(store)
    rows = st.query("SELECT name FROM registered_models ORDER BY name").column(0).to_pylist()
    tags = _all_tags(st, versions=False)
    names = filter_records(
        filter, [({"name": n}, tags.get((n, None), {})) for n in rows], ("name",))
    out = [get_registered_model(n["name"], store=st) for n in names]
    return out[:max_results] if max_results is not None else out


def search_model_versions(
    filter: str | None = None, *, max_results: int | None = None, store: Store | None = None
) -> list[ModelVersion]:
    """Model versions matching ``filter``, by name then newest version first.

    Identifiers: ``name``, ``run_id`` and ``tags.<key>`` (the version's tags).

    Raises:
        FilterError: a malformed filter, or an identifier other than these.

    Args:
        filter: a filter in nbtrack's grammar on ``name``, ``run_id`` and ``tags.<key>``.
        max_results: at most this many results.
        store: the store; the current one when None.

    Example:
        >>> nt.search_model_versions("name = 'churn-model'")  # doctest: +SKIP
    """
    st = store_or_default(store)
    rows = st.query("SELECT * FROM model_versions ORDER BY name, version DESC").to_pylist()
    tags = _all_tags(st, versions=True)
    picked = filter_records(
        filter,
        [({"name": r["name"], "run_id": r["run_id"], "_row": r},
          tags.get((r["name"], r["version"]), {})) for r in rows],
        ("name", "run_id"),
    )
    aliases: dict[str, dict[str, int]] = {}
    out = []
    for p in picked:
        r = p["_row"]
        if r["name"] not in aliases:
            aliases[r["name"]] = aliases_of(st, r["name"])
        out.append(version_from_row(st, r, aliases[r["name"]]))
    return out[:max_results] if max_results is not None else out


def _all_tags(st: Store, *, versions: bool) -> dict[tuple[str, int | None], dict[str, str]]:
    cond = "version IS NOT NULL" if versions else "version IS NULL"
    out: dict[tuple[str, int | None], dict[str, str]] = {}
    for r in st.query(f"SELECT name, version, key, value FROM registry_tags WHERE {cond}").to_pylist():
        out.setdefault((r["name"], r["version"]), {})[r["key"]] = r["value"]
    return out
