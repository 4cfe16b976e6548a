"""A filter tree back to text that :func:`parse_filter` reads to the same tree."""

from __future__ import annotations

from nbtrack.errors import FilterError
from nbtrack.tracking.filter.checks import literal_text
from nbtrack.tracking.filter.lexer import KEY
from nbtrack.tracking.filter.tree import (
    LIST_OPS,
    MAX_DEPTH,
    NULL_OPS,
    And,
    Comparison,
    Literal,
    Node,
    Not,
    Or,
)

__all__ = ["format_filter"]


def format_filter(node: Node | None) -> str:
    """Render a tree as filter text that :func:`parse_filter` reads back to the same tree.

    Widgets use it to build filters from selections without quoting by hand.
    """
    if node is None:
        return ""
    return _format(node, 0)


def _format(node: Node, depth: int) -> str:
    if depth > 2 * MAX_DEPTH + 1:
        raise FilterError(f"filter nested too deeply: more than {2 * MAX_DEPTH} levels")
    if isinstance(node, Comparison):
        return _format_comparison(node)
    if isinstance(node, Not):
        inner = _format(node.child, depth + 1)
        if isinstance(node.child, (And, Or)) and len(node.child.children) > 1:
            inner = f"({inner})"
        return f"NOT {inner}"
    joiner = " AND " if isinstance(node, And) else " OR "
    parts = []
    for child in node.children:
        part = _format(child, depth + 1)
        # Parenthesize nested And/Or so the text keeps the tree's shape exactly.
        if isinstance(child, (And, Or)) and len(child.children) > 1:
            part = f"({part})"
        parts.append(part)
    return joiner.join(parts)


def _format_comparison(node: Comparison) -> str:
    key = node.key if KEY.fullmatch(node.key) else "`" + node.key.replace("`", "``") + "`"
    text = f"{node.kind}.{key} {node.op}"
    if node.op in LIST_OPS:
        assert isinstance(node.value, tuple)
        return text + " (" + ", ".join(_format_literal(v) for v in node.value) + ")"
    if node.op in NULL_OPS:
        return text
    assert node.value is not None
    assert not isinstance(node.value, tuple)
    return f"{text} {_format_literal(node.value)}"


def _format_literal(literal: Literal) -> str:
    if isinstance(literal, str):
        return "'" + literal.replace("'", "''") + "'"
    return literal_text(literal)
