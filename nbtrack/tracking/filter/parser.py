"""The filter parser: tokens to a tree, depth-limited, with the position of every error."""

from __future__ import annotations

from typing import cast

from nbtrack.errors import FilterError
from nbtrack.tracking.filter.checks import literal_problem, op_problem, quote
from nbtrack.tracking.filter.lexer import PREFIXES, Token, tokens
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

__all__ = ["parse_filter"]


class _Parser:
    """Recursive descent parser, depth-limited by :data:`MAX_DEPTH`.

    Grammar: ``or := and (OR and)*``, ``and := unary (AND unary)*``,
    ``unary := NOT* (comparison | '(' or ')')``.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokens(text)
        self.tok = next(self.tokens)

    def fail(self, message: str, position: int | None = None) -> FilterError:
        return FilterError(message, self.text, self.tok.pos if position is None else position)

    def advance(self) -> Token:
        tok = self.tok
        self.tok = next(self.tokens)
        return tok

    def is_keyword(self, *words: str) -> bool:
        return self.tok.kind == "keyword" and self.tok.value in words

    def describe(self, tok: Token | None = None) -> str:
        tok = tok or self.tok
        if tok.kind == "eof":
            return "the end of the filter"
        return quote(self.text[tok.pos : tok.end])

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
        if tok.kind == "word" and str(tok.value).lower() in PREFIXES:
            return f"expected '.<key>' after {quote(str(tok.value))}, as in {tok.value}.loss"
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
                f"after {quote(name)}, got {self.describe()}"
            )
        problem = op_problem(kind, key, op)
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
        problem = literal_problem(kind, key, op, literal)
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
