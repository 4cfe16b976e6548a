"""MLflow's ``search_experiments`` grammar: the filter string and ``order_by``.

A filter is comparisons joined by ``AND``. Each compares an attribute (``name``,
``experiment_id``, ``creation_time``, ``last_update_time``, optionally written
``attribute.<key>``) or a tag (``tag.<key>`` / ``tags.<key>``; a key with spaces in
backticks or double quotes) with a quoted string or, for the two times, a number:

- ``name`` and ``experiment_id``: ``=``, ``!=``, ``LIKE``, ``ILIKE``; ``experiment_id``
  also ``IN (...)`` and ``NOT IN (...)``;
- ``creation_time`` / ``last_update_time``: ``=``, ``!=``, ``<``, ``<=``, ``>``, ``>=``;
- tags: ``=``, ``!=``, ``LIKE``, ``ILIKE``, ``IS NULL``, ``IS NOT NULL`` (an experiment
  without the tag matches only ``IS NULL``).

``LIKE`` is case-sensitive, ``ILIKE`` is not; ``%`` matches any text and ``_`` one
character, as in MLflow. Anything else is an ``MlflowException`` (INVALID_PARAMETER_VALUE),
raised before any experiment is read.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from nbtrack.mlflow.exceptions import MlflowException

ATTRIBUTES = ("name", "experiment_id", "creation_time", "last_update_time")
_TIMES = ("creation_time", "last_update_time")
_NUMERIC_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_STRING_OPS = ("=", "!=", "LIKE", "ILIKE", "IN", "NOT IN")
_TAG_OPS = ("=", "!=", "LIKE", "ILIKE", "IS NULL", "IS NOT NULL")

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<str>'(?:[^']|'')*'|"(?:[^"]|"")*")
    | (?P<num>-?\d+(?:\.\d+)?)
    | (?P<op>!=|<=|>=|=|<|>)
    | (?P<paren>[(),])
    | (?P<ident>(?:[A-Za-z_]\w*\.)?(?:`[^`]+`|"[^"]+"|[A-Za-z_][\w.]*))
    )""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class Clause:
    """One comparison of a filter: ``kind`` is ``attribute`` or ``tag``."""

    kind: str
    key: str
    op: str
    value: Any = None


def _bad(message: str) -> MlflowException:
    return MlflowException(message, error_code="INVALID_PARAMETER_VALUE")


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise _bad(f"Invalid filter string {text!r}: cannot read it at {text[pos:]!r}")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


def _key(ident: str) -> tuple[str, str]:
    """(kind, key) of an identifier such as ``name``, ``attribute.name``, ``tag.`k e y```."""
    m = re.fullmatch(r"(?:([A-Za-z_]\w*)\.)?(`[^`]+`|\"[^\"]+\"|[\w.]+)", ident)
    if m is None:
        raise _bad(f"Invalid identifier {ident!r}")
    entity, key = m.group(1), m.group(2)
    if entity is None and "." in key:
        entity, key = key.split(".", 1)
    if key[:1] in '`"':
        key = key[1:-1]
    if entity in ("tag", "tags"):
        return "tag", key
    if entity not in (None, "attribute", "attributes"):
        raise _bad(
            f"Invalid entity type '{entity}'. Valid entity types are ('attribute', 'tag', 'tags')"
        )
    if key not in ATTRIBUTES:
        raise _bad(f"Invalid attribute key '{key}' specified. Valid keys are {ATTRIBUTES}")
    return "attribute", key


def _literal(kind: str, text: str) -> str | float:
    if kind == "str":
        quote = text[0]
        return text[1:-1].replace(quote * 2, quote)
    return float(text)


def parse_filter(text: str | None) -> list[Clause]:
    """The clauses of a ``search_experiments`` filter string (empty: every experiment).

    Raises:
        MlflowException: the filter does not follow MLflow's experiment search grammar.
    """
    if not text or not text.strip():
        return []
    toks = _tokens(text)
    clauses: list[Clause] = []
    i = 0
    while True:
        if i >= len(toks) or toks[i][0] != "ident":
            raise _bad(f"Invalid filter string {text!r}: expected a key")
        kind, key = _key(toks[i][1])
        i += 1
        words = []
        while (
            i < len(toks)
            and toks[i][0] == "ident"
            and toks[i][1].upper() in ("LIKE", "ILIKE", "IN", "NOT", "IS", "NULL")
        ):
            words.append(toks[i][1].upper())
            i += 1
        if words:
            op = " ".join(words)
        elif i < len(toks) and toks[i][0] == "op":
            op = toks[i][1]
            i += 1
        else:
            raise _bad(f"Invalid filter string {text!r}: expected a comparison after {key!r}")
        value: Any = None
        if op in ("IN", "NOT IN"):
            if i >= len(toks) or toks[i] != ("paren", "("):
                raise _bad(f"Invalid filter string {text!r}: {op} takes a list in parentheses")
            i += 1
            value = []
            while i < len(toks) and toks[i][0] == "str":
                value.append(_literal("str", toks[i][1]))
                i += 1
                if i < len(toks) and toks[i] == ("paren", ","):
                    i += 1
            if i >= len(toks) or toks[i] != ("paren", ")") or not value:
                raise _bad(f"Invalid filter string {text!r}: unclosed or empty {op} list")
            i += 1
        elif op not in ("IS NULL", "IS NOT NULL"):
            if i >= len(toks) or toks[i][0] not in ("str", "num"):
                raise _bad(f"Invalid filter string {text!r}: expected a value after {op}")
            value = _literal(*toks[i])
            i += 1
        clauses.append(_checked(Clause(kind, key, op, value)))
        if i == len(toks):
            return clauses
        if toks[i][0] != "ident" or toks[i][1].upper() != "AND":
            raise _bad(
                f"Invalid clause(s) in filter string: {toks[i][1]} (only AND joins comparisons)"
            )
        i += 1


def _checked(c: Clause) -> Clause:
    if c.kind == "tag":
        allowed: Sequence[str] = _TAG_OPS
    elif c.key in _TIMES:
        allowed = tuple(_NUMERIC_OPS)
    else:
        allowed = _STRING_OPS
    if c.op not in allowed:
        raise _bad(f"Invalid comparator '{c.op}' for {c.key!r}: use one of {list(allowed)}")
    if c.op in ("IN", "NOT IN") and c.key != "experiment_id":
        raise _bad(
            "Only ['experiment_id'] attributes support comparison with a list of quoted "
            "string values."
        )
    if c.key in _TIMES and c.kind == "attribute" and not isinstance(c.value, float):
        raise _bad(f"Expected a numeric value for attribute {c.key!r}, got {c.value!r}")
    takes_text = c.kind == "tag" or c.key not in _TIMES
    if (
        takes_text
        and c.op not in ("IS NULL", "IS NOT NULL", "IN", "NOT IN")
        and not isinstance(c.value, str)
    ):
        raise _bad(f"Expected a quoted string value for {c.key!r}, got {c.value!r}")
    return c


def _like(value: str, pattern: str, flags: int = 0) -> bool:
    regex = re.escape(pattern).replace("%", ".*").replace("_", ".")
    return re.fullmatch(regex, value, flags | re.DOTALL) is not None


def matches(
    clauses: Sequence[Clause],
    name: str,
    experiment_id: str,
    creation_time: int | None,
    last_update_time: int | None,
    tags: dict[str, str],
) -> bool:
    """Whether an experiment with these fields passes every clause."""
    fields = {
        "name": name,
        "experiment_id": experiment_id,
        "creation_time": creation_time,
        "last_update_time": last_update_time,
    }
    for c in clauses:
        if c.kind == "tag":
            if c.op == "IS NULL" or c.op == "IS NOT NULL":
                if (c.key in tags) != (c.op == "IS NOT NULL"):
                    return False
                continue
            lhs: Any = tags.get(c.key)
        else:
            lhs = fields[c.key]
        if lhs is None:
            return False
        if c.op == "LIKE":
            ok = _like(lhs, c.value)
        elif c.op == "ILIKE":
            ok = _like(lhs, c.value, re.IGNORECASE)
        elif c.op == "IN":
            ok = lhs in c.value
        elif c.op == "NOT IN":
            ok = lhs not in c.value
        else:
            ok = _NUMERIC_OPS[c.op](lhs, c.value)
        if not ok:
            return False
    return True


def parse_order_by(order_by: Sequence[str] | None) -> list[tuple[str, bool]]:
    """``order_by`` as (attribute, descending) pairs; none: most recently updated first.

    Raises:
        MlflowException: an item names another column or direction.
    """
    if not order_by:
        return [("last_update_time", True)]
    keys = []
    for item in order_by:
        m = re.fullmatch(
            r"\s*(?:attributes?\.)?`?(\w+)`?(?:\s+(ASC|DESC))?\s*", str(item), re.IGNORECASE
        )
        if m is None or m.group(1) not in ATTRIBUTES:
            raise MlflowException(
                f"Invalid order_by clause {item!r} for search_experiments: use one of "
                f"{', '.join(ATTRIBUTES)}, optionally followed by ASC or DESC",
                error_code="INVALID_PARAMETER_VALUE",
            )
        keys.append((m.group(1), (m.group(2) or "ASC").upper() == "DESC"))
    return keys


def sortable(attribute: str, value: Any) -> tuple[int, Any]:
    """A sort key for one attribute: missing times sort first ascending (as NULLs do in
    MLflow's SQL stores); experiment ids that are numbers sort as numbers (``"9"`` before
    ``"10"``, as MLflow's integer ids), before any other id."""
    if value is None:
        return (0, 0)
    if attribute == "experiment_id":
        return (1, int(value)) if value.isdigit() else (2, value)
    return (1, value)


def check_max_results(max_results: int | None) -> None:
    """MLflow's bound on ``max_results`` (None: no bound).

    Raises:
        MlflowException: not a positive integer, or above 50,000.
    """
    if max_results is None:
        return
    if not isinstance(max_results, int) or isinstance(max_results, bool) or max_results < 1:
        raise _bad(
            f"Invalid value {max_results!r} for parameter 'max_results' supplied. "
            "It must be a positive integer"
        )
    if max_results > 50_000:
        raise _bad(
            f"Invalid value {max_results} for parameter 'max_results' supplied. "
            "It must be at most 50000"
        )
