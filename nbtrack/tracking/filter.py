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
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import cast

from nbtrack.errors import FilterError

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

MAX_DEPTH = 200
"""Deepest nesting of parentheses and ``NOT`` a filter may use."""

KINDS = ("metrics", "params", "tags", "attributes", "datasets")
"""Canonical kinds of :class:`Comparison`, in the order they are documented."""

ATTRIBUTES = ("status", "name", "run_id", "start_time", "end_time", "experiment", "parent_run_id")
"""Canonical attribute names (``run_name`` is parsed as ``name``)."""

_PREFIXES = {
    "metrics": "metrics",
    "metric": "metrics",
    "params": "params",
    "param": "params",
    "parameters": "params",
    "parameter": "params",
    "tags": "tags",
    "tag": "tags",
    "attributes": "attributes",
    "attribute": "attributes",
    "attr": "attributes",
    "run": "attributes",
    "datasets": "datasets",
    "dataset": "datasets",
}
DATASET_KEYS = ("name", "digest", "context")
"""Keys of ``datasets.<key>`` (a run's inputs, as MLflow's ``log_input`` records them)."""
# MLflow's spellings: ``run_name``, ``attributes.`Run name` `` and ``created`` (start time).
_ATTRIBUTE_ALIASES = {"run_name": "name", "run name": "name", "created": "start_time"}
# MLflow keeps these run attributes as system tags; a filter on the tag reads the attribute.
_SYSTEM_TAGS = {"mlflow.runName": "name", "mlflow.parentRunId": "parent_run_id"}
# MLflow's ``attributes.user_id`` is the ``mlflow.user`` tag.
_ATTRIBUTE_TAGS = {"user_id": "mlflow.user"}
_TIME_ATTRIBUTES = frozenset({"start_time", "end_time"})

COMPARISON_OPS = ("=", "!=", "<", "<=", ">", ">=")
LIKE_OPS = ("LIKE", "ILIKE", "NOT LIKE", "NOT ILIKE")
LIST_OPS = ("IN", "NOT IN")
NULL_OPS = ("IS NULL", "IS NOT NULL")
OPS = COMPARISON_OPS + LIKE_OPS + LIST_OPS + NULL_OPS
"""Every value of :attr:`Comparison.op`."""

_SQL_OPS = {"=": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_KEYWORDS = frozenset({"AND", "OR", "NOT", "IN", "IS", "NULL", "LIKE", "ILIKE", "TRUE", "FALSE"})
_RELATIONS = {"metrics": "latest_metrics", "params": "params", "tags": "tags"}
_MAX_MICROS = 2**63 - 2  # DuckDB keeps the two extreme int64 values for +-infinity

# Lexer patterns. Each one is matched at a position with `.match(text, pos)`; none of them
# can backtrack catastrophically, so lexing is linear in the length of the filter.
_SPACE = re.compile(r"\s+")
_WORD = re.compile(r"[^\W\d]\w*")
_KEY = re.compile(r"[\w.\-/:]+")
# ASCII digits only: Python's \d also matches digits of other scripts, which DuckDB's
# TRY_CAST does not read as numbers.
_NUMBER = re.compile(r"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
_NUMBER_TAIL = re.compile(r"[\w.]")
_NUMERIC_TEXT = re.compile(
    r"[-+]?(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|inf|infinity|nan)",
    re.IGNORECASE,
)
_ALIAS = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPERATOR_CHARS = ("<=", ">=", "<>", "!=", "==", "<", ">", "=")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


# --------------------------------------------------------------------------- tree


@dataclass(frozen=True)
class Number:
    """A number literal, kept as written so that params and tags can compare its text.

    Attributes:
        text: The literal as it appears in the filter, e.g. ``"1e-3"`` or ``"-2"``.
    """

    text: str

    def __post_init__(self) -> None:
        """Refuse text that the filter lexer would not read as one number."""
        if not _NUMBER.fullmatch(self.text):
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


# --------------------------------------------------------------------------- lexer


class _Token:
    __slots__ = ("end", "kind", "pos", "value")

    # kind: "ident" (value (kind, key)), "keyword" (value upper-cased), "word" (a bare word),
    # "op", "string", "number", "(", ")", ",", "eof"
    def __init__(self, kind: str, value: object, pos: int, end: int) -> None:
        self.kind = kind
        self.value = value
        self.pos = pos
        self.end = end


def _tokens(text: str) -> Iterator[_Token]:
    """Yield the tokens of ``text`` lazily, so the earliest error is the one reported."""
    n = len(text)
    i = 0
    while True:
        m = _SPACE.match(text, i)
        if m:
            i = m.end()
        if i >= n:
            yield _Token("eof", None, n, n)
            return
        c = text[i]
        if c in "(),":
            yield _Token(c, c, i, i + 1)
            i += 1
            continue
        op = next((o for o in _OPERATOR_CHARS if text.startswith(o, i)), None)
        if op is not None:
            canonical = {"==": "=", "<>": "!="}.get(op, op)
            yield _Token("op", canonical, i, i + len(op))
            i += len(op)
            continue
        if c in "'\"":
            value, end = _read_quoted(text, i, "unterminated string: add the closing " + c)
            yield _Token("string", value, i, end)
            i = end
            continue
        m = _NUMBER.match(text, i)
        if m:
            end = m.end()
            if end < n and _NUMBER_TAIL.match(text, end):
                raise FilterError(
                    f"invalid number {_quote(text[i : end + 1])}: expected digits, '.' or an exponent",
                    text,
                    i,
                )
            yield _Token("number", Number(m.group()), i, end)
            i = end
            continue
        m = _WORD.match(text, i)
        if m:
            token = _read_word(text, m)
            yield token
            i = token.end
            continue
        if c == "`":
            # MLflow accepts a backticked prefix: `metrics`.loss, `tags`.team
            inner, end = _read_quoted(text, i, "unterminated backtick: add the closing `")
            if not text.startswith(".", end) or inner.lower() not in _PREFIXES:
                raise FilterError(
                    "backticks quote a key after a prefix, as in metrics.`val loss`", text, i
                )
            token = _read_identifier(text, inner, i, end)
            yield token
            i = token.end
            continue
        raise FilterError(f"unexpected character {c!r}", text, i)


def _read_quoted(text: str, start: int, unterminated: str) -> tuple[str, int]:
    """Read a quoted string or key starting at ``start``; a doubled quote escapes it."""
    quote = text[start]
    parts = []
    k = start + 1
    while True:
        j = text.find(quote, k)
        if j < 0:
            raise FilterError(unterminated, text, start)
        parts.append(text[k:j])
        if text.startswith(quote, j + 1):
            parts.append(quote)
            k = j + 2
        else:
            return "".join(parts), j + 1


def _read_word(text: str, m: re.Match[str]) -> _Token:
    """Turn a word into a keyword, a bare word or (``prefix.key``) an identifier."""
    word, start, end = m.group(), m.start(), m.end()
    if not text.startswith(".", end):
        upper = word.upper()
        if upper in _KEYWORDS:
            return _Token("keyword", upper, start, end)
        name = _ATTRIBUTE_ALIASES.get(word.lower(), word.lower())
        if name in ATTRIBUTES:
            # A bare attribute name, as MLflow allows: run_name = 'x', run_id = '...'
            return _Token("ident", ("attributes", name), start, end)
        if word.lower() in _ATTRIBUTE_TAGS:
            return _Token("ident", ("tags", _ATTRIBUTE_TAGS[word.lower()]), start, end)
        return _Token("word", word, start, end)
    return _read_identifier(text, word, start, end)


def _read_identifier(text: str, word: str, start: int, end: int) -> _Token:
    """Read ``<word>.<key>`` where ``text[end]`` is the dot."""
    kind = _PREFIXES.get(word.lower())
    if kind is None:
        raise FilterError(
            f"unknown identifier {_quote(word + '.')}: identifiers are metrics.<key>, "
            "params.<key>, tags.<key> or attributes.<name>",
            text,
            start,
        )
    k = end + 1
    if k < len(text) and text[k] in '`"':
        key, key_end = _read_quoted(
            text, k, f"unterminated key: add the closing {text[k]} after the key"
        )
        if not key:
            raise FilterError(f"expected a key between the quotes after '{word}.'", text, k)
    else:
        km = _KEY.match(text, k)
        if km is None:
            raise FilterError(
                f"expected a key after '{word}.' (quote keys with spaces in backticks: "
                f"{word}.`my key`)",
                text,
                k,
            )
        key, key_end = km.group(), km.end()
    if kind == "tags" and key in _SYSTEM_TAGS:
        kind, key = "attributes", _SYSTEM_TAGS[key]
    elif kind == "attributes" and key.lower() in _ATTRIBUTE_TAGS:
        kind, key = "tags", _ATTRIBUTE_TAGS[key.lower()]
    elif kind == "datasets" and key not in DATASET_KEYS:
        raise FilterError(
            f"unknown dataset key {_quote(key)}; use one of {', '.join(DATASET_KEYS)}", text, k
        )
    elif kind == "attributes":
        name = key.lower()
        name = _ATTRIBUTE_ALIASES.get(name, name)
        if name not in ATTRIBUTES:
            raise FilterError(
                f"unknown attribute {_quote(key)}; use one of {', '.join(ATTRIBUTES)} (or run_name)",
                text,
                k,
            )
        key = name
    return _Token("ident", (kind, key), start, key_end)


# --------------------------------------------------------------------------- checks


def _parse_number_text(text: str) -> float | None:
    """The float a string literal stands for, or None when it is not a number."""
    if _NUMERIC_TEXT.fullmatch(text):
        return float(text)
    return None


def _op_problem(kind: str, key: str, op: str) -> str | None:
    if kind == "datasets" and op in NULL_OPS:
        return f"{op} does not apply to datasets; compare datasets.{key} with a string"
    if op in LIKE_OPS:
        if kind == "metrics":
            return f"{op} applies to params, tags and text attributes; metrics are numbers"
        if kind == "attributes" and key in _TIME_ATTRIBUTES:
            return f"{op} applies to text; attributes.{key} is a time"
    return None


def _literal_problem(kind: str, key: str, op: str, literal: Literal) -> str | None:
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
    if kind == "metrics" and isinstance(literal, str) and _parse_number_text(literal) is None:
        return f"metrics are numbers: expected a number, got {_quote(literal)}"
    if kind == "attributes" and key in _TIME_ATTRIBUTES:
        micros = _time_micros(literal)
        if isinstance(micros, str):
            return micros
    return None


def _time_micros(literal: str | Number) -> int | str:
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
                f"milliseconds since the epoch, got {_quote(literal)}"
            )
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        micros = (moment - _EPOCH) // timedelta(microseconds=1)
    if abs(micros) > _MAX_MICROS:
        return f"time {_quote(_literal_text(literal))} is out of range"
    return micros


def _quote(text: str, limit: int = 40) -> str:
    """``text`` quoted for an error message, cut short when long."""
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return repr(text)


def _literal_text(literal: Literal) -> str:
    if isinstance(literal, bool):
        return "true" if literal else "false"
    if isinstance(literal, Number):
        return literal.text
    return literal


# --------------------------------------------------------------------------- parser


class _Parser:
    """Recursive descent parser, depth-limited by :data:`MAX_DEPTH`.

    Grammar: ``or := and (OR and)*``, ``and := unary (AND unary)*``,
    ``unary := NOT* (comparison | '(' or ')')``.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.tok = next(self.tokens)

    def fail(self, message: str, position: int | None = None) -> FilterError:
        return FilterError(message, self.text, self.tok.pos if position is None else position)

    def advance(self) -> _Token:
        tok = self.tok
        self.tok = next(self.tokens)
        return tok

    def is_keyword(self, *words: str) -> bool:
        return self.tok.kind == "keyword" and self.tok.value in words

    def describe(self, tok: _Token | None = None) -> str:
        tok = tok or self.tok
        if tok.kind == "eof":
            return "the end of the filter"
        return _quote(self.text[tok.pos : tok.end])

    def parse(self) -> Node:
        node = self.parse_or(0)
        if self.tok.kind == ")":
            raise self.fail("unbalanced parenthesis: ')' has no matching '('")
        if self.tok.kind != "eof":
            raise self.fail(f"expected AND, OR or the end of the filter, got {self.describe()}")
        return node

    def parse_or(self, depth: int) -> Node:
        children = [self.parse_and(depth)]
        while self.is_keyword("OR"):
            self.advance()
            children.append(self.parse_and(depth))
        return children[0] if len(children) == 1 else Or(tuple(children))

    def parse_and(self, depth: int) -> Node:
        children = [self.parse_unary(depth)]
        while self.is_keyword("AND"):
            self.advance()
            children.append(self.parse_unary(depth))
        return children[0] if len(children) == 1 else And(tuple(children))

    def enter(self, depth: int) -> int:
        depth += 1
        if depth > MAX_DEPTH:
            raise self.fail(
                f"filter nested too deeply: at most {MAX_DEPTH} levels of parentheses and NOT"
            )
        return depth

    def parse_unary(self, depth: int) -> Node:
        negations = 0
        while self.is_keyword("NOT"):
            depth = self.enter(depth)
            negations += 1
            self.advance()
        node: Node
        if self.tok.kind == "(":
            depth = self.enter(depth)
            opening = self.advance()
            node = self.parse_or(depth)
            if self.tok.kind == "eof":
                raise self.fail(
                    f"unbalanced parenthesis: the '(' at position {opening.pos} is never closed"
                )
            if self.tok.kind != ")":
                raise self.fail(f"expected AND, OR or ')', got {self.describe()}")
            self.advance()
        elif self.tok.kind == "ident":
            node = self.parse_comparison()
        else:
            raise self.fail(self.expected_identifier())
        for _ in range(negations):
            node = Not(node)
        return node

    def expected_identifier(self) -> str:
        tok = self.tok
        if tok.kind == "word" and str(tok.value).lower() in _PREFIXES:
            return f"expected '.<key>' after {_quote(str(tok.value))}, as in {tok.value}.loss"
        example = "metrics.loss < 0.5, params.lr = 0.01 or tags.team = 'vision'"
        if tok.kind == "eof":
            return f"expected a comparison such as {example}"
        return f"expected a comparison such as {example}, got {self.describe()}"

    def parse_comparison(self) -> Comparison:
        ident = self.advance()
        kind, key = cast("tuple[str, str]", ident.value)
        name = self.text[ident.pos : ident.end]
        tok = self.tok
        op: str
        if tok.kind == "op" or self.is_keyword("LIKE", "ILIKE", "IN"):
            op = str(self.advance().value)
        elif self.is_keyword("NOT"):
            self.advance()
            if not self.is_keyword("LIKE", "ILIKE", "IN"):
                raise self.fail(f"expected IN, LIKE or ILIKE after NOT, got {self.describe()}")
            op = "NOT " + str(self.advance().value)
        elif self.is_keyword("IS"):
            self.advance()
            negated = self.is_keyword("NOT")
            if negated:
                self.advance()
            if not self.is_keyword("NULL"):
                raise self.fail(f"expected NULL or NOT NULL after IS, got {self.describe()}")
            self.advance()
            op = "IS NOT NULL" if negated else "IS NULL"
        else:
            raise self.fail(
                "expected an operator (=, !=, <, <=, >, >=, LIKE, ILIKE, IN, NOT IN, IS NULL) "
                f"after {_quote(name)}, got {self.describe()}"
            )
        problem = _op_problem(kind, key, op)
        if problem:
            raise self.fail(problem, tok.pos)
        value: Literal | tuple[Literal, ...] | None = None
        if op in LIST_OPS:
            value = self.parse_list(kind, key, op)
        elif op not in NULL_OPS:
            value = self.parse_literal(kind, key, op)
        return Comparison(kind, key, op, value, ident.pos)

    def parse_literal(self, kind: str, key: str, op: str) -> Literal:
        tok = self.tok
        literal: Literal
        if tok.kind in ("string", "number"):
            literal = cast(Literal, tok.value)
        elif self.is_keyword("TRUE", "FALSE"):
            literal = tok.value == "TRUE"
        elif self.is_keyword("NULL"):
            raise self.fail("NULL is not a value: use IS NULL or IS NOT NULL")
        elif tok.kind == "eof":
            raise self.fail(f"expected a value after '{op}'")
        else:
            raise self.fail(f"expected a value after '{op}', got {self.describe()}")
        problem = _literal_problem(kind, key, op, literal)
        if problem:
            raise self.fail(problem)
        self.advance()
        return literal

    def parse_list(self, kind: str, key: str, op: str) -> tuple[Literal, ...]:
        if self.tok.kind != "(":
            raise self.fail(f"expected '(' after {op}, as in {op} ('a', 'b')")
        opening = self.advance()
        items = [self.parse_literal(kind, key, op)]
        while self.tok.kind == ",":
            self.advance()
            items.append(self.parse_literal(kind, key, op))
        if self.tok.kind == "eof":
            raise self.fail(
                f"unbalanced parenthesis: the '(' at position {opening.pos} is never closed"
            )
        if self.tok.kind != ")":
            raise self.fail(f"expected ',' or ')' in the {op} list, got {self.describe()}")
        self.advance()
        return tuple(items)


def parse_filter(text: str) -> Node | None:
    """Parse a filter into a tree.

    Args:
        text: The filter, e.g. ``"metrics.loss < 0.5 AND tags.team = 'vision'"``.

    Returns:
        The tree, or ``None`` when ``text`` is empty or only whitespace (no filter).

    Raises:
        FilterError: The filter is malformed; ``position`` points at the offending token.
    """
    if not text or text.isspace():
        return None
    parser = _Parser(text)
    try:
        return parser.parse()
    except RecursionError:
        # Only when the caller's own stack is already deep: MAX_DEPTH keeps the parser's
        # recursion far below Python's default limit.
        raise parser.fail("filter nested too deeply for the current Python stack") from None


# --------------------------------------------------------------------------- compiler


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


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


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


def _check_comparison(node: Comparison) -> tuple[Literal, ...]:
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
    problem = _op_problem(node.kind, node.key, node.op)
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
        problem = _literal_problem(node.kind, node.key, node.op, literal)
        if problem:
            raise FilterError(problem, "", node.position)
    return literals


def _compile_comparison(node: Comparison, target: _Target, params: list[object]) -> str:
    literals = _check_comparison(node)
    alias = target.alias
    if node.kind == "attributes":
        return _compile_attribute(node, literals, alias, params)
    if node.kind == "datasets":
        # node.key is one of DATASET_KEYS: safe to inline as the column name
        predicate = _text_predicate("tags", node.op, literals, params, f"i.{node.key}")
        return f"{alias}.run_id IN (SELECT i.run_id FROM inputs i WHERE {predicate})"
    if target.wide is not None:
        return _compile_wide(node, literals, target, params)
    relation = _RELATIONS[node.kind]
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
    column = f"{target.wide_alias}.{_quote_ident(node.kind + '.' + node.key)}"
    if node.op in NULL_OPS:
        return f"({column} {node.op})"
    if node.kind == "metrics":
        predicate = _metric_predicate(node.op, literals, params, column)
    else:
        predicate = _text_predicate(node.kind, node.op, literals, params, column)
    # A run without the key has NULL here: the clause must be FALSE, not NULL.
    return f"COALESCE(({predicate}), FALSE)"


def _number(literal: Literal) -> float:
    assert not isinstance(literal, bool)  # ruled out by _check_comparison
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
        params.append(_literal_text(literal))
        return f"lower({value}) {sql_op} ?"
    text = _literal_text(literal)
    number = _parse_number_text(text) if kind == "params" else None
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
    if node.key in _TIME_ATTRIBUTES:
        # make_timestamptz(micros) is a TIMESTAMPTZ; epoch_ms() would give a naive
        # TIMESTAMP that DuckDB casts through the session time zone.
        for literal in literals:
            assert not isinstance(literal, bool)
            params.append(_time_micros(literal))
        placeholder = "make_timestamptz(?::BIGINT)"
    else:
        params.extend(_literal_text(literal) for literal in literals)
        placeholder = "?"
    if node.op in LIST_OPS:
        predicate = f"{column} {node.op} ({', '.join([placeholder] * len(literals))})"
    elif node.op in LIKE_OPS:
        predicate = f"{column} {node.op} {placeholder}"
    else:
        predicate = f"{column} {_SQL_OPS[node.op]} {placeholder}"
    # A NULL name or end_time must make the clause FALSE, not NULL, or NOT would not invert.
    return f"COALESCE({predicate}, FALSE)"


# --------------------------------------------------------------------------- helpers


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
    key = node.key if _KEY.fullmatch(node.key) else "`" + node.key.replace("`", "``") + "`"
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
    if isinstance(literal, bool):
        return "true" if literal else "false"
    if isinstance(literal, Number):
        return literal.text
    return "'" + literal.replace("'", "''") + "'"
