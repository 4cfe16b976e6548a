"""What the filter grammar refuses, and the messages that say so.

The parser asks these checks while it reads, so a malformed filter fails at the offending
token; the SQL compiler asks them again for hand-built trees.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from nbtrack.errors import FilterError
from nbtrack.tracking.filter.tree import (
    ATTRIBUTES,
    KINDS,
    LIKE_OPS,
    LIST_OPS,
    NULL_OPS,
    OPS,
    TIME_ATTRIBUTES,
    Comparison,
    Literal,
    Number,
)

__all__ = [
    "check_comparison",
    "literal_problem",
    "literal_text",
    "op_problem",
    "parse_number_text",
    "quote",
    "time_micros",
]

_MAX_MICROS = 2**63 - 2  # DuckDB keeps the two extreme int64 values for +-infinity
_NUMERIC_TEXT = re.compile(
    r"[-+]?(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|inf|infinity|nan)",
    re.IGNORECASE,
)
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def parse_number_text(text: str) -> float | None:
    """The float a string literal stands for, or None when it is not a number."""
    if _NUMERIC_TEXT.fullmatch(text):
        return float(text)
    return None


def op_problem(kind: str, key: str, op: str) -> str | None:
    if kind == "datasets" and op in NULL_OPS:
        return f"{op} does not apply to datasets; compare datasets.{key} with a string"
    if op in LIKE_OPS:
        if kind == "metrics":
            return f"{op} applies to params, tags and text attributes; metrics are numbers"
        if kind == "attributes" and key in TIME_ATTRIBUTES:
            return f"{op} applies to text; attributes.{key} is a time"
    return None


def literal_problem(kind: str, key: str, op: str, literal: Literal) -> str | None:
    """Why ``literal`` cannot be compared with ``kind.key`` through ``op`` (None if it can)."""
    if isinstance(literal, bool):
        if op in LIST_OPS:
            return "true/false compare only through = or !=, not in an IN list"
        if kind in ("params", "tags") and op in ("=", "!="):
            return None
        return "true/false compare only with params and tags, through = or !="
    if op in LIKE_OPS:
        if not isinstance(literal, str):
            return f"expected a quoted pattern after {op}"
        return None
    if kind == "metrics" and isinstance(literal, str) and parse_number_text(literal) is None:
        return f"metrics are numbers: expected a number, got {quote(literal)}"
    if kind == "attributes" and key in TIME_ATTRIBUTES:
        micros = time_micros(literal)
        if isinstance(micros, str):
            return micros
    return None


def time_micros(literal: str | Number) -> int | str:
    """Microseconds since the epoch for a time literal, or a message saying what is wrong."""
    if isinstance(literal, Number):
        try:
            micros = int(Decimal(literal.text) * 1000)
        except ArithmeticError:  # decimal.Overflow for exponents like 1e999999999
            micros = _MAX_MICROS + 1
    else:
        iso = literal.strip()
        if iso[-1:] in ("Z", "z"):  # fromisoformat takes "Z" only from Python 3.11 on
            iso = iso[:-1] + "+00:00"
        try:
            moment = datetime.fromisoformat(iso)
        except ValueError:
            return (
                "expected an ISO-8601 time such as '2024-05-01T12:00:00Z' or "
                f"milliseconds since the epoch, got {quote(literal)}"
            )
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        micros = (moment - _EPOCH) // timedelta(microseconds=1)
    if abs(micros) > _MAX_MICROS:
        return f"time {quote(literal_text(literal))} is out of range"
    return micros


def quote(text: str, limit: int = 40) -> str:
    """``text`` quoted for an error message, cut short when long."""
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return repr(text)


def literal_text(literal: Literal) -> str:
    if isinstance(literal, bool):
        return "true" if literal else "false"
    if isinstance(literal, Number):
        return literal.text
    return literal


def check_comparison(node: Comparison) -> tuple[Literal, ...]:
    """Validate a (possibly hand-built) comparison; return its literals."""
    if node.kind not in KINDS:
        raise FilterError(
            f"unknown kind {node.kind!r}; use one of {', '.join(KINDS)}", "", node.position
        )
    if node.kind == "attributes" and node.key not in ATTRIBUTES:
        raise FilterError(
            f"unknown attribute {node.key!r}; use one of {', '.join(ATTRIBUTES)}",
            "",
            node.position,
        )
    if node.op not in OPS:
        raise FilterError(
            f"unknown operator {node.op!r}; use one of {', '.join(OPS)}", "", node.position
        )
    problem = op_problem(node.kind, node.key, node.op)
    if problem:
        raise FilterError(problem, "", node.position)
    literals: tuple[Literal, ...]
    if node.op in NULL_OPS:
        return ()
    if node.op in LIST_OPS:
        if not isinstance(node.value, tuple) or not node.value:
            raise FilterError(f"{node.op} needs a non-empty tuple of values", "", node.position)
        literals = node.value
    else:
        if node.value is None or isinstance(node.value, tuple):
            raise FilterError(f"{node.op} needs one value", "", node.position)
        literals = (node.value,)
    for literal in literals:
        if not isinstance(literal, (str, Number, bool)):
            raise FilterError(f"not a filter value: {literal!r}", "", node.position)
        problem = literal_problem(node.kind, node.key, node.op, literal)
        if problem:
            raise FilterError(problem, "", node.position)
    return literals
