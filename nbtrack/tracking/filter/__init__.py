"""The filter grammar of ``search_runs(filter=...)``, the run widgets and the REST API.

A filter is a small boolean expression over a run's metrics, params, tags and attributes.
It is parsed into a tree (:func:`parse_filter`) and the tree is compiled into a
parameterized SQL expression (:func:`compile_filter`). Text the user typed is never pasted
into SQL: every key and every literal travels as a ``?`` parameter.

Examples::

    metrics.accuracy > 0.9 AND params.optimizer = 'adam'
    metrics.`val loss` < 0.2 OR tags.team IN ('vision', 'nlp')
    NOT tags.reviewed = 'yes' AND attributes.status != 'FAILED'
    params.lr = 0.01 AND attributes.run_name LIKE 'resnet%'
    tags.note ILIKE '%baseline%' AND attributes.start_time >= '2024-05-01'
    metrics.f1 IS NULL OR (metrics.f1 < 0.5 AND NOT tags.stage = 'prod')

The fourth also matches a run whose ``lr`` param was stored as ``0.010`` or ``1e-2``; the
last matches runs that never logged ``f1`` among others. There are no comments.

Identifiers
    ``metrics.<key>``, ``params.<key>``, ``tags.<key>`` and ``attributes.<name>``. The
    singular prefixes ``metric.``, ``param.``, ``tag.``, ``attribute.`` and MLflow's
    ``parameter(s).``, ``attr.`` and ``run.`` are accepted too; prefixes and attribute names
    are case-insensitive, keys are not. A key is made of letters, digits and ``_ . - / :``;
    a key with any other character (a space, say) is quoted with backticks or double
    quotes after the dot: ``metrics.`val loss` `` or ``metrics."val loss"`` (double the
    quote character to put it inside the key). The attributes are ``status``, ``name``
    (alias ``run_name``), ``run_id``, ``start_time``, ``end_time`` and ``experiment``.

Literals
    Numbers: ``3``, ``-2``, ``0.5``, ``.5``, ``1.``, ``1e-3``, ``2.5E+4``. Strings in single
    or double quotes; a quote is escaped by doubling it: ``'it''s'``. ``true`` and
    ``false`` (any case) compare with params and tags through ``=`` and ``!=`` and match
    the stored text case-insensitively (a tag set to ``True`` matches ``tags.done = true``).

Operators
    ``=`` (also ``==``), ``!=`` (also ``<>``), ``<``, ``<=``, ``>``, ``>=``, ``LIKE``,
    ``ILIKE``, ``NOT LIKE``, ``NOT ILIKE``, ``IN (v, ...)``, ``NOT IN (v, ...)``,
    ``IS NULL`` and ``IS NOT NULL``; clauses combine with ``AND``, ``OR``, ``NOT`` and
    parentheses. ``NOT`` binds tighter than ``AND``, which binds tighter than ``OR``:
    ``a OR b AND NOT c`` means ``a OR (b AND (NOT c))``. Keywords are case-insensitive.
    In ``LIKE`` patterns ``%`` matches any run of characters and ``_`` one character; there
    is no escape character. ``ILIKE`` ignores case.

Semantics
    * A comparison on a key the run does not have is false, also for ``!=``, ``NOT IN``
      and ``NOT LIKE`` (as in MLflow). Logic is two-valued, so ``NOT`` inverts exactly:
      ``NOT tags.team = 'a'`` matches runs whose team is not ``a`` *and* runs with no
      ``team`` tag, while ``tags.team != 'a'`` matches only runs that have a team tag.
      ``IS NULL`` matches runs without the key, ``IS NOT NULL`` runs with it.
    * Metrics compare numerically with the latest value of the key (the value at the highest
      step). A quoted number works too (``metrics.loss < '0.5'``, or ``'nan'``/``'inf'``);
      any other string is an error. NaN follows DuckDB, not IEEE: NaN equals NaN and is
      greater than every other number, so ``metrics.loss > 1e308`` matches a run whose loss
      is NaN and ``metrics.loss = 'nan'`` finds diverged runs.
    * Params are stored as text. When the literal is a number (or a string that reads as
      one), a stored value that reads as a number is compared numerically
      (``params.lr = 0.01`` matches ``0.010`` and ``1e-2``; ``params.layers > 3`` works) and
      any other stored value is compared as text with the literal as written. A literal
      that is not a number compares as text.
    * Tags compare as text; a number literal is compared as it is written (``tags.v = 2``
      matches the tag ``2``, not ``2.0``). Text comparisons are by code point
      (case-sensitive), as DuckDB orders ``VARCHAR``.
    * ``status``, ``name``, ``run_id`` and ``experiment`` compare as text; a NULL value
      (a run without a name) is matched only by ``IS NULL``. ``start_time`` and ``end_time``
      compare with milliseconds since the epoch (``attributes.start_time > 1714560000000``)
      or an ISO-8601 string (``'2024-05-01'``, ``'2024-05-01T12:00:00+02:00'``); a time
      without a zone is UTC. ``end_time`` is NULL while a run is still running, so
      ``attributes.end_time IS NULL`` finds running runs.

Errors
    A malformed filter raises :class:`nbtrack.errors.FilterError`; its ``position`` is the
    0-based offset of the offending token and the message says what was expected there.
    Nesting (parentheses and ``NOT``) deeper than :data:`MAX_DEPTH` levels is refused.

Python API
    :func:`parse_filter` (text to tree, ``None`` for an empty filter),
    :func:`compile_filter` (tree to SQL and parameters), :func:`build_filter_sql` (both, with
    ``TRUE`` for an empty filter), :func:`format_filter` (tree back to text, for code that
    builds filters) and :func:`referenced_keys` (the ``(kind, key)`` pairs a tree uses).
    Trees are frozen dataclasses: :class:`Comparison`, :class:`And`, :class:`Or`,
    :class:`Not`, with :class:`Number` for number literals.

SQL contract (for the read path)
    The SQL that :func:`compile_filter` returns is a boolean expression meant to run as
    ``SELECT ... FROM runs AS r WHERE <sql>`` on DuckDB, with these relations in scope:
    ``runs`` (aliased, columns ``run_id``, ``experiment``, ``name``, ``status``,
    ``start_time``/``end_time`` as ``TIMESTAMPTZ``), ``latest_metrics(run_id, key, value
    DOUBLE)`` with one row per run and key, ``params(run_id, key, value VARCHAR)`` and
    ``tags(run_id, key, value VARCHAR)``, one row per run and key. ``run_id`` is never
    NULL in these relations; under that invariant every clause is TRUE or FALSE, never
    NULL.

Modules
    This package's ``__init__`` is its door: code outside it imports from
    ``nbtrack.tracking.filter``. Inside, imports point downward only (an import-linter
    contract): :mod:`.sql` (the compiler) and :mod:`.formatting` (tree to text) use
    :mod:`.parser`, which uses :mod:`.lexer`, which uses :mod:`.checks` (what is refused,
    and the messages), which uses :mod:`.tree` (the node types and the vocabulary).
"""

from __future__ import annotations

from nbtrack.tracking.filter.formatting import format_filter
from nbtrack.tracking.filter.parser import parse_filter
from nbtrack.tracking.filter.sql import build_filter_sql, compile_filter
from nbtrack.tracking.filter.tree import (
    ATTRIBUTES,
    KINDS,
    MAX_DEPTH,
    And,
    Comparison,
    Literal,
    Node,
    Not,
    Number,
    Or,
    referenced_keys,
)

__all__ = [
    "ATTRIBUTES",
    "KINDS",
    "MAX_DEPTH",
    "And",
    "Comparison",
    "Literal",
    "Node",
    "Not",
    "Number",
    "Or",
    "build_filter_sql",
    "compile_filter",
    "format_filter",
    "parse_filter",
    "referenced_keys",
]
