"""The filter lexer: text to tokens, with identifiers resolved to ``(kind, key)``.

Prefixes, attribute names and MLflow's aliases are resolved here, so the parser sees
canonical kinds and keys only.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from nbtrack.errors import FilterError
from nbtrack.tracking.filter.checks import quote
from nbtrack.tracking.filter.tree import ATTRIBUTES, DATASET_KEYS, NUMBER, SYSTEM_TAGS, Number

__all__ = ["KEY", "PREFIXES", "Token", "tokens"]

PREFIXES = {
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
# MLflow's spellings: ``run_name``, ``attributes.`Run name` `` and ``created`` (start time).
ATTRIBUTE_ALIASES = {"run_name": "name", "run name": "name", "created": "start_time"}
# MLflow's ``attributes.user_id`` is the ``mlflow.user`` tag.
ATTRIBUTE_TAGS = {"user_id": "mlflow.user"}
_KEYWORDS = frozenset({"AND", "OR", "NOT", "IN", "IS", "NULL", "LIKE", "ILIKE", "TRUE", "FALSE"})

# Lexer patterns. Each one is matched at a position with `.match(text, pos)`; none of them
# can backtrack catastrophically, so lexing is linear in the length of the filter.
_SPACE = re.compile(r"\s+")
_WORD = re.compile(r"[^\W\d]\w*")
KEY = re.compile(r"[\w.\-/:]+")
_NUMBER_TAIL = re.compile(r"[\w.]")
_OPERATOR_CHARS = ("<=", ">=", "<>", "!=", "==", "<", ">", "=")


class Token:
    __slots__ = ("end", "kind", "pos", "value")

    # kind: "ident" (value (kind, key)), "keyword" (value upper-cased), "word" (a bare word),
    # "op", "string", "number", "(", ")", ",", "eof"
    def __init__(self, kind: str, value: object, pos: int, end: int) -> None:
        self.kind = kind
        self.value = value
        self.pos = pos
        self.end = end


def tokens(text: str) -> Iterator[Token]:
    """Yield the tokens of ``text`` lazily, so the earliest error is the one reported."""
    n = len(text)
    i = 0
    while True:
        m = _SPACE.match(text, i)
        if m:
            i = m.end()
        if i >= n:
            yield Token("eof", None, n, n)
            return
        c = text[i]
        if c in "(),":
            yield Token(c, c, i, i + 1)
            i += 1
            continue
        op = next((o for o in _OPERATOR_CHARS if text.startswith(o, i)), None)
        if op is not None:
            canonical = {"==": "=", "<>": "!="}.get(op, op)
            yield Token("op", canonical, i, i + len(op))
            i += len(op)
            continue
        if c in "'\"":
            value, end = _read_quoted(text, i, "unterminated string: add the closing " + c)
            yield Token("string", value, i, end)
            i = end
            continue
        m = NUMBER.match(text, i)
        if m:
            end = m.end()
            if end < n and _NUMBER_TAIL.match(text, end):
                raise FilterError(
                    f"invalid number {quote(text[i : end + 1])}: expected digits, '.' or an exponent",
                    text,
                    i,
                )
            yield Token("number", Number(m.group()), i, end)
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
            if not text.startswith(".", end) or inner.lower() not in PREFIXES:
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


def _read_word(text: str, m: re.Match[str]) -> Token:
    """Turn a word into a keyword, a bare word or (``prefix.key``) an identifier."""
    word, start, end = m.group(), m.start(), m.end()
    if not text.startswith(".", end):
        upper = word.upper()
        if upper in _KEYWORDS:
            return Token("keyword", upper, start, end)
        name = ATTRIBUTE_ALIASES.get(word.lower(), word.lower())
        if name in ATTRIBUTES:
            # A bare attribute name, as MLflow allows: run_name = 'x', run_id = '...'
            return Token("ident", ("attributes", name), start, end)
        if word.lower() in ATTRIBUTE_TAGS:
            return Token("ident", ("tags", ATTRIBUTE_TAGS[word.lower()]), start, end)
        return Token("word", word, start, end)
    return _read_identifier(text, word, start, end)


def _read_identifier(text: str, word: str, start: int, end: int) -> Token:
    """Read ``<word>.<key>`` where ``text[end]`` is the dot."""
    kind = PREFIXES.get(word.lower())
    if kind is None:
        raise FilterError(
            f"unknown identifier {quote(word + '.')}: identifiers are metrics.<key>, "
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
        km = KEY.match(text, k)
        if km is None:
            raise FilterError(
                f"expected a key after '{word}.' (quote keys with spaces in backticks: "
                f"{word}.`my key`)",
                text,
                k,
            )
        key, key_end = km.group(), km.end()
    if kind == "tags" and key in SYSTEM_TAGS:
        kind, key = "attributes", SYSTEM_TAGS[key]
    elif kind == "attributes" and key.lower() in ATTRIBUTE_TAGS:
        kind, key = "tags", ATTRIBUTE_TAGS[key.lower()]
    elif kind == "datasets" and key not in DATASET_KEYS:
        raise FilterError(
            f"unknown dataset key {quote(key)}; use one of {', '.join(DATASET_KEYS)}", text, k
        )
    elif kind == "attributes":
        name = key.lower()
        name = ATTRIBUTE_ALIASES.get(name, name)
        if name not in ATTRIBUTES:
            raise FilterError(
                f"unknown attribute {quote(key)}; use one of {', '.join(ATTRIBUTES)} (or run_name)",
                text,
                k,
            )
        key = name
    return Token("ident", (kind, key), start, key_end)
