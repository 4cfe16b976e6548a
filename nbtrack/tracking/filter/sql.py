"""The filter compiler: a tree to a parameterized DuckDB boolean expression.

Text the user typed is never pasted into SQL: every key and every literal travels as a
``?`` parameter. The relations the SQL reads are listed in the package docstring.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from nbtrack.errors import FilterError
from nbtrack.storage.reader import quote_ident
from nbtrack.tracking.filter.checks import (
    check_comparison,
    literal_text,
    parse_number_text,
    time_micros,
)
from nbtrack.tracking.filter.parser import parse_filter
from nbtrack.tracking.filter.tree import (
    COMPARISON_OPS,
    LIKE_OPS,
    LIST_OPS,
    MAX_DEPTH,
    NULL_OPS,
    TIME_ATTRIBUTES,
    And,
    Comparison,
    Literal,
    Node,
    Not,
    Number,
    Or,
)

__all__ = ["RELATIONS", "build_filter_sql", "compile_filter"]

_SQL_OPS = {"=": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
RELATIONS = {"metrics": "latest_metrics", "params": "params", "tags": "tags"}
_ALIAS = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def compile_filter(
    node: Node,
    alias: str = "r",
    *,
    wide: Mapping[str, Collection[str]] | None = None,
    wide_alias: str = "w",
    mlflow_values: bool = False,
) -> tuple[str, list[object]]:
    """Compile a tree into a DuckDB boolean expression and its parameters.

    Args:
        node: A tree from :func:`parse_filter` (or built by hand).
        alias: The alias of the ``runs`` relation in the enclosing query.
        wide: When given, the keys (per kind) of a wide table aliased ``wide_alias`` with
            one column per key named ``"<kind>.<key>"`` (the read path's ``_wide``).
            Comparisons then read those columns instead of running a subquery per clause;
            a key absent from ``wide`` is absent from every run. Column names are quoted
            identifiers of keys that exist in the store, never free user text.
        mlflow_values: Compare values exactly as MLflow does (``nbtrack.mlflow`` sets it):
            a quoted literal compares with params as text (``params.lr = '0.01'`` does not
            match ``1e-2``), and a NaN metric satisfies only ``!=``. Subquery mode only.

    Returns:
        ``(sql, params)``: run it as ``SELECT ... FROM runs AS {alias} WHERE {sql}`` with
        ``params``. See the module docstring for the relations it refers to.

    Raises:
        FilterError: A hand-built tree holds an invalid comparison.
        ValueError: ``alias`` is not a plain SQL identifier.
    """
    if not _ALIAS.fullmatch(alias) or not _ALIAS.fullmatch(wide_alias):
        raise ValueError(f"alias must be a plain SQL identifier, got {alias!r}")
    params: list[object] = []
    if mlflow_values and wide is not None:
        raise ValueError("mlflow_values works with the relations, not a wide table")
    target = _Target(alias, wide, wide_alias, mlflow_values)
    try:
        sql = _compile(node, target, params, 0)
    except RecursionError:
        raise FilterError("filter nested too deeply for the current Python stack") from None
    return sql, params


def build_filter_sql(
    text: str,
    *,
    alias: str = "r",
    wide: Mapping[str, Collection[str]] | None = None,
    wide_alias: str = "w",
) -> tuple[str, list[object]]:
    """Parse and compile ``text`` in one go; an empty filter gives ``("TRUE", [])``.

    Raises:
        FilterError: The filter is malformed.
    """
    node = parse_filter(text)
    if node is None:
        return "TRUE", []
    return compile_filter(node, alias, wide=wide, wide_alias=wide_alias)


@dataclass(frozen=True)
class _Target:
    """Where comparisons read from: the runs alias, and optionally a wide table."""

    alias: str
    wide: Mapping[str, Collection[str]] | None
    wide_alias: str
    mlflow_values: bool = False


def _compile(node: Node, target: _Target, params: list[object], depth: int) -> str:
    if depth > 2 * MAX_DEPTH + 1:
        raise FilterError(f"filter nested too deeply: more than {2 * MAX_DEPTH} levels")
    if isinstance(node, Comparison):
        return _compile_comparison(node, target, params)
    if isinstance(node, Not):
        # The extra parentheses keep NOT off a bare `x IN (...)`, whatever its precedence.
        return f"(NOT ({_compile(node.child, target, params, depth + 1)}))"
    if isinstance(node, (And, Or)):
        if not node.children:
            raise FilterError(f"{type(node).__name__} needs at least one child")
        joiner = " AND " if isinstance(node, And) else " OR "
        parts = [_compile(child, target, params, depth + 1) for child in node.children]
        return _balanced(parts, joiner)
    raise TypeError(f"not a filter node: {node!r}")


#: Most terms joined flat in one parenthesized group of the compiled SQL.
_FLAT_TERMS = 32


def _balanced(parts: list[str], joiner: str) -> str:
    """``(a OR b OR ...)`` as nested groups of at most ``_FLAT_TERMS`` terms.

    DuckDB parses a flat chain into a left-deep tree, one level per term, and refuses
    expressions deeper than 1,000 levels; halving the list recursively keeps the depth near
    ``_FLAT_TERMS + log2(n)`` however long the chain (a 5,000-term OR, for example).
    """
    if len(parts) <= _FLAT_TERMS:
        return "(" + joiner.join(parts) + ")"
    mid = len(parts) // 2
    return "(" + _balanced(parts[:mid], joiner) + joiner + _balanced(parts[mid:], joiner) + ")"


def _compile_comparison(node: Comparison, target: _Target, params: list[object]) -> str:
    literals = check_comparison(node)
    alias = target.alias
    if node.kind == "attributes":
        return _compile_attribute(node, literals, alias, params)
    if node.kind == "datasets":
        # node.key is one of DATASET_KEYS: safe to inline as the column name
        predicate = _text_predicate("tags", node.op, literals, params, f"i.{node.key}")
        return f"{alias}.run_id IN (SELECT i.run_id FROM inputs i WHERE {predicate})"
    if target.wide is not None:
        return _compile_wide(node, literals, target, params)
    relation = RELATIONS[node.kind]
    params.append(node.key)
    if node.op in NULL_OPS:
        negation = "NOT " if node.op == "IS NULL" else ""
        return f"{alias}.run_id {negation}IN (SELECT run_id FROM {relation} WHERE key = ?)"
    kind = node.kind
    if target.mlflow_values and kind == "params" and all(isinstance(x, str) for x in literals):
        kind = "tags"  # text comparison, as MLflow compares params
    if kind == "metrics":
        predicate = _metric_predicate(node.op, literals, params)
        if target.mlflow_values and node.op in COMPARISON_OPS:
            # MLflow: NaN is unequal to everything and neither smaller nor larger.
            nan = "isnan(value)" if node.op == "!=" else "NOT isnan(value)"
            predicate = f"({nan} {'OR' if node.op == '!=' else 'AND'} {predicate})"
    else:
        predicate = _text_predicate(kind, node.op, literals, params)
    return f"{alias}.run_id IN (SELECT run_id FROM {relation} WHERE key = ? AND {predicate})"


def _compile_wide(
    node: Comparison, literals: tuple[Literal, ...], target: _Target, params: list[object]
) -> str:
    assert target.wide is not None
    present = node.key in target.wide.get(node.kind, ())
    if node.op in NULL_OPS:
        if not present:
            return "TRUE" if node.op == "IS NULL" else "FALSE"
    elif not present:
        return "FALSE"  # no run has the key: every comparison on it is false
    column = f"{target.wide_alias}.{quote_ident(node.kind + '.' + node.key)}"
    if node.op in NULL_OPS:
        return f"({column} {node.op})"
    if node.kind == "metrics":
        predicate = _metric_predicate(node.op, literals, params, column)
    else:
        predicate = _text_predicate(node.kind, node.op, literals, params, column)
    # A run without the key has NULL here: the clause must be FALSE, not NULL.
    return f"COALESCE(({predicate}), FALSE)"


def _number(literal: Literal) -> float:
    assert not isinstance(literal, bool)  # ruled out by check_comparison
    if isinstance(literal, Number):
        return literal.value
    return float(literal)


def _metric_predicate(
    op: str, literals: tuple[Literal, ...], params: list[object], value: str = "value"
) -> str:
    params.extend(_number(literal) for literal in literals)
    if op in LIST_OPS:
        return f"{value} {op} ({', '.join('?' * len(literals))})"
    return f"{value} {_SQL_OPS[op]} ?"


def _text_predicate(
    kind: str, op: str, literals: tuple[Literal, ...], params: list[object], value: str = "value"
) -> str:
    if op in LIKE_OPS:
        params.append(literals[0])
        return f"{value} {op} ?"
    if op in LIST_OPS:
        parts = [_text_compare(kind, "=", literal, params, value) for literal in literals]
        any_equal = "(" + " OR ".join(parts) + ")"
        return f"NOT {any_equal}" if op == "NOT IN" else any_equal
    return _text_compare(kind, op, literals[0], params, value)


def _text_compare(
    kind: str, op: str, literal: Literal, params: list[object], value: str = "value"
) -> str:
    """Compare a param's or tag's value (the SQL expression ``value``) with one literal."""
    sql_op = _SQL_OPS[op]
    if isinstance(literal, bool):
        params.append(literal_text(literal))
        return f"lower({value}) {sql_op} ?"
    text = literal_text(literal)
    number = parse_number_text(text) if kind == "params" else None
    if number is None:
        params.append(text)
        return f"{value} {sql_op} ?"
    params.extend((number, text))
    return (
        f"CASE WHEN TRY_CAST({value} AS DOUBLE) IS NOT NULL "
        f"THEN TRY_CAST({value} AS DOUBLE) {sql_op} ? ELSE {value} {sql_op} ? END"
    )


def _compile_attribute(
    node: Comparison, literals: tuple[Literal, ...], alias: str, params: list[object]
) -> str:
    column = f"{alias}.{node.key}"  # node.key is one of ATTRIBUTES: safe to inline
    if node.op in NULL_OPS:
        return f"{column} {node.op}"
    if node.key in TIME_ATTRIBUTES:
        # make_timestamptz(micros) is a TIMESTAMPTZ; epoch_ms() would give a naive
        # TIMESTAMP that DuckDB casts through the session time zone.
        for literal in literals:
            assert not isinstance(literal, bool)
            params.append(time_micros(literal))
        placeholder = "make_timestamptz(?::BIGINT)"
    else:
        params.extend(literal_text(literal) for literal in literals)
        placeholder = "?"
    if node.op in LIST_OPS:
        predicate = f"{column} {node.op} ({', '.join([placeholder] * len(literals))})"
    elif node.op in LIKE_OPS:
        predicate = f"{column} {node.op} {placeholder}"
    else:
        predicate = f"{column} {_SQL_OPS[node.op]} {placeholder}"
    # A NULL name or end_time must make the clause FALSE, not NULL, or NOT would not invert.
    return f"COALESCE({predicate}, FALSE)"
