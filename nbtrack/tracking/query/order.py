"""``order_by``: MLflow's ordering syntax parsed, and turned into ORDER BY text."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from nbtrack.errors import FilterError
from nbtrack.tracking.filter.tree import SYSTEM_TAGS

if TYPE_CHECKING:
    pass

__all__ = ["OrderKey", "order_sql", "parse_order_by"]

_ATTRIBUTES = {
    "run_id": "run_id",
    "experiment": "experiment",
    "name": "name",
    "run_name": "name",
    "status": "status",
    "start_time": "start_time",
    "end_time": "end_time",
    "duration_s": "duration_s",
    "duration": "duration_s",
    "parent_run_id": "parent_run_id",
    # MLflow's spellings
    "run name": "name",
    "created": "start_time",
}
_ORDER_RE = re.compile(
    r"""^\s*(?:(?P<tick>`?)(?P<kind>metrics?|params?|parameters?|tags?|attributes?|attr|run)(?P=tick)\.)?
        (?P<key>`(?:[^`]|``)+`|"(?:[^"]|"")+"|[\w.\-/:]+)
        (?:\s+(?P<dir>ASC|DESC))?\s*$""",
    re.IGNORECASE | re.VERBOSE,
)


@dataclass(frozen=True)
class OrderKey:
    """One parsed ``order_by`` item: a wide-table column kind and key, or an attribute."""

    kind: str  # "metrics", "params", "tags" or "attributes"
    key: str  # for attributes: the ``runs`` column
    direction: str  # "ASC" or "DESC"


def parse_order_by(order_by: Sequence[str] | str | None) -> list[OrderKey] | None:
    """Parsed ``order_by`` items (MLflow's syntax: ``metrics.loss DESC``, ``created``).

    Raises:
        FilterError: an item is malformed, names an unknown attribute, or repeats a field.
    """
    if order_by is None:
        return None
    if isinstance(order_by, str):
        order_by = [order_by]
    out: list[OrderKey] = []
    for item in order_by:
        m = _ORDER_RE.match(item or "") if isinstance(item, str) else None
        if not m:
            raise FilterError(
                f"cannot read order_by {item!r}; write e.g. 'metrics.loss ASC' or "
                "'attributes.start_time DESC'",
                item if isinstance(item, str) else "",
                0,
            )
        kind = (m.group("kind") or "attributes").lower()
        key = m.group("key")
        if key[0] in '`"':
            key = key[1:-1].replace(key[0] * 2, key[0])
        plural = {"metric": "metrics", "param": "params", "parameter": "params", "tag": "tags"}.get(
            kind.rstrip("s"), "attributes"
        )
        # MLflow keeps these attributes as system tags; ordering by the tag orders by the attribute.
        if plural == "tags" and key in SYSTEM_TAGS:
            plural, key = "attributes", SYSTEM_TAGS[key]
        if plural == "attributes":
            col = _ATTRIBUTES.get(key.lower())
            if col is None:
                raise FilterError(
                    f"unknown attribute {key!r} in order_by; use one of "
                    + ", ".join(sorted(set(_ATTRIBUTES))),
                    item,
                    m.start("key"),
                )
            key = col
        if any(k.kind == plural and k.key == key for k in out):
            raise FilterError(f"order_by names {plural}.{key} twice: {list(order_by)!r}", item, 0)
        out.append(OrderKey(plural, key, (m.group("dir") or "ASC").upper()))
    return out


def order_sql(keys: list[OrderKey] | None, column_of: Callable[[str, str], str | None]) -> str:
    """ORDER BY text over ``runs r``, with MLflow's rules.

    ``column_of(kind, key)`` gives the SQL of a metric/param/tag value (None: no run has it).
    Missing values sort last in both directions, and NaN metrics just before them (as
    MLflow's SQL store); params and tags order as text. Ties go newest first (start time
    descending, unless ordered by start time), then by run id.
    """
    parts = []
    by_start = False
    for k in keys or []:
        if k.kind == "attributes":
            expr = f"r.{k.key}"
            by_start = by_start or k.key == "start_time"
        else:
            col = column_of(k.kind, k.key)
            if col is None:
                continue  # no run has this key: ordering by it changes nothing
            expr = col
        if k.kind == "metrics":
            parts.append(f"CASE WHEN {expr} IS NULL THEN 2 WHEN isnan({expr}) THEN 1 ELSE 0 END")
        else:
            parts.append(f"CASE WHEN {expr} IS NULL THEN 1 ELSE 0 END")
        parts.append(f"{expr} {k.direction}")
    if not by_start:
        parts.append("r.start_time DESC")
    parts.append("r.run_id ASC")
    return ", ".join(parts)
