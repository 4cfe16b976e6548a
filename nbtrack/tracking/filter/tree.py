"""The filter tree: node and literal types, the grammar's vocabulary, and tree walks.

Trees are frozen dataclasses (:class:`Comparison`, :class:`And`, :class:`Or`, :class:`Not`,
with :class:`Number` for number literals); the parser builds them and code may build them
by hand. This module imports nothing else of the filter package.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = [
    "ATTRIBUTES",
    "COMPARISON_OPS",
    "DATASET_KEYS",
    "KINDS",
    "LIKE_OPS",
    "LIST_OPS",
    "MAX_DEPTH",
    "NULL_OPS",
    "NUMBER",
    "OPS",
    "SYSTEM_TAGS",
    "TIME_ATTRIBUTES",
    "And",
    "Comparison",
    "Literal",
    "Node",
    "Not",
    "Number",
    "Or",
    "referenced_keys",
]

MAX_DEPTH = 200
"""Deepest nesting of parentheses and ``NOT`` a filter may use."""

KINDS = ("metrics", "params", "tags", "attributes", "datasets")
"""Canonical kinds of :class:`Comparison`, in the order they are documented."""

ATTRIBUTES = ("status", "name", "run_id", "start_time", "end_time", "experiment", "parent_run_id")
"""Canonical attribute names (``run_name`` is parsed as ``name``)."""

DATASET_KEYS = ("name", "digest", "context")
"""Keys of ``datasets.<key>`` (a run's inputs, as MLflow's ``log_input`` records them)."""
# MLflow keeps these run attributes as system tags; a filter on the tag reads the attribute.
SYSTEM_TAGS = {"mlflow.runName": "name", "mlflow.parentRunId": "parent_run_id"}
TIME_ATTRIBUTES = frozenset({"start_time", "end_time"})

COMPARISON_OPS = ("=", "!=", "<", "<=", ">", ">=")
LIKE_OPS = ("LIKE", "ILIKE", "NOT LIKE", "NOT ILIKE")
LIST_OPS = ("IN", "NOT IN")
NULL_OPS = ("IS NULL", "IS NOT NULL")
OPS = COMPARISON_OPS + LIKE_OPS + LIST_OPS + NULL_OPS
"""Every value of :attr:`Comparison.op`."""

# ASCII digits only: Python's \d also matches digits of other scripts, which DuckDB's
# TRY_CAST does not read as numbers.
NUMBER = re.compile(r"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")


@dataclass(frozen=True)
class Number:
    """A number literal, kept as written so that params and tags can compare its text.

    Attributes:
        text: The literal as it appears in the filter, e.g. ``"1e-3"`` or ``"-2"``.
    """

    text: str

    def __post_init__(self) -> None:
        """Refuse text that the filter lexer would not read as one number."""
        if not NUMBER.fullmatch(self.text):
            raise ValueError(f"not a number literal: {self.text!r}")

    @property
    def value(self) -> float:
        """The literal as a float."""
        return float(self.text)


Literal = str | Number | bool
"""A value in a filter: a string, a :class:`Number` or ``True``/``False``."""


@dataclass(frozen=True)
class Comparison:
    """One clause, such as ``metrics.loss < 0.5``.

    Attributes:
        kind: ``"metrics"``, ``"params"``, ``"tags"`` or ``"attributes"``.
        key: The metric, param or tag key, or the canonical attribute name.
        op: One of :data:`OPS`: ``=``, ``!=``, ``<``, ``<=``, ``>``, ``>=``, ``LIKE``,
            ``ILIKE``, ``NOT LIKE``, ``NOT ILIKE``, ``IN``, ``NOT IN``, ``IS NULL``,
            ``IS NOT NULL``.
        value: A :data:`Literal`; a tuple of them for ``IN``/``NOT IN``; ``None`` for
            ``IS NULL``/``IS NOT NULL``.
        position: Offset of the clause in the filter text (not part of equality).
    """

    kind: str
    key: str
    op: str
    value: Literal | tuple[Literal, ...] | None = None
    position: int = field(default=0, compare=False)


@dataclass(frozen=True)
class And:
    """All children hold."""

    children: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    """At least one child holds."""

    children: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    """The child does not hold."""

    child: Node


Node = Comparison | And | Or | Not
"""A filter tree."""


def referenced_keys(node: Node | None) -> set[tuple[str, str]]:
    """The ``(kind, key)`` pairs a tree refers to, e.g. ``{("metrics", "loss")}``.

    Kinds are the canonical plural ones, so ``f"{kind}.{key}"`` is the matching
    ``search_runs`` column for metrics, params and tags.
    """
    found: set[tuple[str, str]] = set()
    stack: list[Node] = [] if node is None else [node]
    while stack:
        current = stack.pop()
        if isinstance(current, Comparison):
            found.add((current.kind, current.key))
        elif isinstance(current, Not):
            stack.append(current.child)
        else:
            stack.extend(current.children)
    return found
