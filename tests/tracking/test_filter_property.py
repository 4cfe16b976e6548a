"""Property tests: compiled filters agree with a plain-Python evaluator of the same tree.

Random runs and random filter trees are generated; each tree is rendered to text with random
spelling (prefix aliases, keyword case, quoting, optional parentheses), parsed, compiled and
run on DuckDB, and the matched runs must be exactly those the evaluator below accepts. The
evaluator is written from the semantics in the ``nbtrack.tracking.filter`` docstring, not
from its code.
"""

from __future__ import annotations

import operator
import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nbtrack.tracking.filter import (
    And,
    Comparison,
    Literal,
    Node,
    Not,
    Number,
    Or,
    build_filter_sql,
    parse_filter,
)

# --------------------------------------------------------------------------- the model


@dataclass
class FakeRun:
    """What a run holds, as the evaluator sees it."""

    run_id: str
    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    status: str = "FINISHED"
    name: str | None = None
    experiment: str = "e1"
    start_us: int = 0
    end_us: int | None = None


NUMERIC = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
ISO_TIMES_US = {  # the ISO literals the generator uses, converted by hand
    "1970-01-01T00:00:02Z": 2_000_000,
    "1970-01-01 00:00:01.5": 1_500_000,
    "1970-01-01T01:00:02+01:00": 2_000_000,
}
COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def like(value: str, pattern: str, *, ignore_case: bool) -> bool:
    regex = "".join(".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern)
    if ignore_case:
        value, regex = value.lower(), regex.lower()
    return re.fullmatch(regex, value, re.DOTALL) is not None


def as_float(literal: Literal) -> float:
    assert not isinstance(literal, bool)
    return literal.value if isinstance(literal, Number) else float(literal)


def text_of(literal: Literal) -> str:
    if isinstance(literal, bool):
        return str(literal).lower()
    return literal.text if isinstance(literal, Number) else literal


def is_numeric_literal(literal: Literal) -> bool:
    return isinstance(literal, Number) or (
        isinstance(literal, str) and NUMERIC.fullmatch(literal) is not None
    )


def stored_number(value: str) -> float | None:
    """What DuckDB's TRY_CAST(value AS DOUBLE) gives for the strings generated here."""
    return float(value) if NUMERIC.fullmatch(value) else None


def time_us(literal: Literal) -> int:
    if isinstance(literal, Number):
        return int(Decimal(literal.text) * 1000)
    assert isinstance(literal, str)
    return ISO_TIMES_US[literal]


def compare_text(kind: str, op: str, stored: str, literal: Literal) -> bool:
    if isinstance(literal, bool):
        return COMPARE[op](stored.lower(), text_of(literal))
    if kind == "params" and is_numeric_literal(literal):
        number = stored_number(stored)
        if number is not None:
            return COMPARE[op](number, as_float(literal))
    return COMPARE[op](stored, text_of(literal))


def evaluate(node: Node, run: FakeRun) -> bool:
    """The filter semantics, in plain Python."""
    if isinstance(node, And):
        return all(evaluate(child, run) for child in node.children)
    if isinstance(node, Or):
        return any(evaluate(child, run) for child in node.children)
    if isinstance(node, Not):
        return not evaluate(node.child, run)
    if node.kind == "attributes":
        return evaluate_attribute(node, run)
    values: dict[str, Any] = getattr(run, node.kind)
    if node.op == "IS NULL":
        return node.key not in values
    if node.op == "IS NOT NULL":
        return node.key in values
    if node.key not in values:  # a missing key makes every comparison false
        return False
    stored = values[node.key]
    if node.op in ("IN", "NOT IN"):
        assert isinstance(node.value, tuple)
        if node.kind == "metrics":
            found = any(stored == as_float(v) for v in node.value)
        else:
            found = any(compare_text(node.kind, "=", stored, v) for v in node.value)
        return found if node.op == "IN" else not found
    if "LIKE" in node.op:
        assert isinstance(node.value, str)
        result = like(stored, node.value, ignore_case="ILIKE" in node.op)
        return not result if node.op.startswith("NOT") else result
    assert node.value is not None
    assert not isinstance(node.value, tuple)
    if node.kind == "metrics":
        return COMPARE[node.op](stored, as_float(node.value))
    return compare_text(node.kind, node.op, stored, node.value)


def evaluate_attribute(node: Comparison, run: FakeRun) -> bool:
    column = {"start_time": run.start_us, "end_time": run.end_us}.get(node.key)
    is_time = node.key in ("start_time", "end_time")
    if not is_time:
        column = getattr(run, node.key)
    if node.op == "IS NULL":
        return column is None
    if node.op == "IS NOT NULL":
        return column is not None
    if column is None:
        return False
    convert: Callable[[Literal], Any] = time_us if is_time else text_of
    if node.op in ("IN", "NOT IN"):
        assert isinstance(node.value, tuple)
        found = any(column == convert(v) for v in node.value)
        return found if node.op == "IN" else not found
    if "LIKE" in node.op:
        assert isinstance(node.value, str)
        result = like(column, node.value, ignore_case="ILIKE" in node.op)
        return not result if node.op.startswith("NOT") else result
    assert node.value is not None
    assert not isinstance(node.value, tuple)
    return COMPARE[node.op](column, convert(node.value))


# --------------------------------------------------------------------------- generators

METRIC_KEYS = ("loss", "acc", "val loss")
PARAM_KEYS = ("lr", "opt", "n/layers")
TAG_KEYS = ("team", "flag", "my tag")
# Small shared pools make equal and near-equal values (``0.010`` vs ``0.01``, ``1E2`` vs
# ``100``) common; arbitrary floats and strings cover the rest.
NUMBER_POOL = ("0", "1", "1.0", "-1", "0.5", ".5", "2.5", "3", "3.", "10", "100", "1E2", "1e-3")
NUMBER_POOL += ("0.001", "0.010", "0.01", "-0.0")
PLAIN_POOL = ("a", "A", "ab", "b_", "a%", "ba")
PLAIN = st.one_of(st.sampled_from(PLAIN_POOL), st.text(alphabet="aAb_% ", min_size=1, max_size=4))
PATTERNS = st.one_of(
    st.sampled_from(("a%", "%b", "_", "%", "A_", "F%", "%ED")),
    st.text(alphabet="aAbF_%", max_size=4),
)
NUMBER_TEXTS = st.one_of(
    st.sampled_from(NUMBER_POOL),
    st.sampled_from(NUMBER_POOL),
    st.integers(-1000, 1000).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
)
METRIC_VALUES = st.one_of(
    NUMBER_TEXTS.map(float),
    NUMBER_TEXTS.map(float),
    st.floats(allow_nan=False, allow_infinity=False),
)
TEXT_VALUES = st.one_of(NUMBER_TEXTS, PLAIN, st.sampled_from(["True", "false", "FALSE"]))


def some_keys(
    keys: tuple[str, ...], values: st.SearchStrategy[Any]
) -> st.SearchStrategy[dict[str, Any]]:
    """A dict holding each of ``keys`` or not, about half the time each."""
    return st.tuples(*(st.one_of(st.none(), values) for _ in keys)).map(
        lambda drawn: {k: v for k, v in zip(keys, drawn, strict=True) if v is not None}
    )


STATUSES = ("RUNNING", "FINISHED", "FAILED", "KILLED")
NAMES = ("alpha", "Beta", "a_b")
ALL_OPS = ("=", "!=", "<", "<=", ">", ">=")
LIKE_OPS = ("LIKE", "ILIKE", "NOT LIKE", "NOT ILIKE")


def number_literals() -> st.SearchStrategy[Literal]:
    return st.one_of(NUMBER_TEXTS.map(Number), NUMBER_TEXTS)


@st.composite
def comparisons(
    draw: st.DrawFn,
    metric_keys: tuple[str, ...] = METRIC_KEYS,
    param_keys: tuple[str, ...] = PARAM_KEYS,
    tag_keys: tuple[str, ...] = TAG_KEYS,
    attribute_values: dict[str, st.SearchStrategy[Literal]] | None = None,
) -> Comparison:
    kind = draw(st.sampled_from(("metrics", "params", "tags", "attributes")))
    if kind == "attributes":
        values = attribute_values or {
            "status": st.sampled_from(STATUSES),
            "name": st.sampled_from(NAMES),
            "run_id": st.sampled_from(("r0", "r1", "r9")),
            "experiment": st.sampled_from(("e1", "e2")),
            "start_time": st.one_of(
                st.sampled_from(["1000", "1500", "2000", "3000", "2e3"]).map(Number),
                st.sampled_from(sorted(ISO_TIMES_US)),
            ),
            "end_time": st.sampled_from(["2000", "4000"]).map(Number),
        }
        key = draw(st.sampled_from(sorted(values)))
        literal = values[key]
        is_time = key in ("start_time", "end_time")
    else:
        key = draw(
            st.sampled_from({"metrics": metric_keys, "params": param_keys}.get(kind, tag_keys))
        )
        literal = number_literals() if kind == "metrics" else st.one_of(number_literals(), PLAIN)
        is_time = False
    ops = ["ALL", "IN", "NULL"]
    if kind != "metrics" and not is_time:
        ops.append("LIKE")
    if kind in ("params", "tags"):
        ops.append("BOOL")
    family = draw(st.sampled_from(ops))
    if family == "IN":
        op = draw(st.sampled_from(("IN", "NOT IN")))
        return Comparison(kind, key, op, tuple(draw(st.lists(literal, min_size=1, max_size=3))))
    if family == "NULL":
        return Comparison(kind, key, draw(st.sampled_from(("IS NULL", "IS NOT NULL"))))
    if family == "LIKE":
        return Comparison(kind, key, draw(st.sampled_from(LIKE_OPS)), draw(PATTERNS))
    if family == "BOOL":
        return Comparison(kind, key, draw(st.sampled_from(("=", "!="))), draw(st.booleans()))
    return Comparison(kind, key, draw(st.sampled_from(ALL_OPS)), draw(literal))


def trees(leaves: st.SearchStrategy[Comparison]) -> st.SearchStrategy[Node]:
    return st.recursive(
        leaves,
        lambda children: st.one_of(
            st.lists(children, min_size=2, max_size=3).map(lambda c: And(tuple(c))),
            st.lists(children, min_size=2, max_size=3).map(lambda c: Or(tuple(c))),
            children.map(Not),
        ),
        max_leaves=8,
    )


PREFIXES = {
    "metrics": ("metrics", "metric", "METRICS"),
    "params": ("params", "param", "parameters", "Params"),
    "tags": ("tags", "tag", "TAGS"),
    "attributes": ("attributes", "attribute", "attr", "run", "Attributes"),
}
PLAIN_KEY = re.compile(r"[\w.\-/:]+")


def spell(word: str, rng: random.Random) -> str:
    return rng.choice((word.upper(), word.lower(), word.title()))


def render_literal(literal: Literal, rng: random.Random) -> str:
    if isinstance(literal, bool):
        return spell(str(literal), rng)
    if isinstance(literal, Number):
        return literal.text
    quote = rng.choice("'\"")
    return quote + literal.replace(quote, quote * 2) + quote


def render_comparison(node: Comparison, rng: random.Random) -> str:
    key = node.key
    if node.kind == "attributes":
        if key == "name" and rng.random() < 0.5:
            key = "run_name"
        key = spell(key, rng)
    if not PLAIN_KEY.fullmatch(key) or rng.random() < 0.2:
        quote = rng.choice('`"')
        key = quote + key.replace(quote, quote * 2) + quote
    op = node.op
    if op == "=":
        op = rng.choice(("=", "=="))
    elif op == "!=":
        op = rng.choice(("!=", "<>"))
    elif op[0].isalpha():
        op = " ".join(spell(word, rng) for word in op.split())
    text = f"{rng.choice(PREFIXES[node.kind])}.{key}"
    text += rng.choice((" ", "")) if not op[0].isalpha() else " "
    text += op
    if node.op in ("IN", "NOT IN"):
        assert isinstance(node.value, tuple)
        return text + " (" + ", ".join(render_literal(v, rng) for v in node.value) + ")"
    if node.value is None:
        return text
    assert not isinstance(node.value, tuple)
    return text + rng.choice((" ", "  ", "\n")) + render_literal(node.value, rng)


def render(node: Node, rng: random.Random) -> str:
    """Filter text for ``node``, with parentheses only where precedence needs them (and at
    random elsewhere)."""
    if isinstance(node, Comparison):
        text = render_comparison(node, rng)
    elif isinstance(node, Not):
        inner = render(node.child, rng)
        if isinstance(node.child, (And, Or)):
            inner = f"({inner})"
        text = f"{spell('not', rng)} {inner}"
    else:
        joiner = f" {spell('and' if isinstance(node, And) else 'or', rng)} "
        parts = []
        for child in node.children:
            part = render(child, rng)
            if isinstance(node, And) and isinstance(child, Or):
                part = f"({part})"
            parts.append(part)
        text = joiner.join(parts)
    if rng.random() < 0.1:
        text = f"({text})"
    return text


# --------------------------------------------------------------------------- DuckDB tables


@st.composite
def fake_runs(draw: st.DrawFn) -> list[FakeRun]:
    count = draw(st.integers(2, 6))
    runs = []
    for i in range(count):
        end = draw(st.sampled_from([None, 2_000_000, 4_000_000]))
        runs.append(
            FakeRun(
                run_id=f"r{i}",
                metrics=draw(some_keys(METRIC_KEYS, METRIC_VALUES)),
                params=draw(some_keys(PARAM_KEYS, TEXT_VALUES)),
                tags=draw(some_keys(TAG_KEYS, TEXT_VALUES)),
                status=draw(st.sampled_from(STATUSES)),
                name=draw(st.sampled_from((None, None, *NAMES))),
                experiment=draw(st.sampled_from(("e1", "e2"))),
                start_us=draw(st.sampled_from([1_000_000, 1_500_000, 2_000_000, 3_000_000])),
                end_us=end,
            )
        )
    return runs


@pytest.fixture(scope="module")
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    """One connection for every example; :func:`load` replaces the tables' rows."""
    connection = duckdb.connect(":memory:")
    connection.execute("SET TimeZone = 'Asia/Kolkata'")  # filters must not depend on the zone
    connection.execute(
        "CREATE TABLE runs (run_id VARCHAR, experiment VARCHAR, name VARCHAR, status VARCHAR,"
        " start_time TIMESTAMPTZ, end_time TIMESTAMPTZ)"
    )
    connection.execute("CREATE TABLE latest_metrics (run_id VARCHAR, key VARCHAR, value DOUBLE)")
    connection.execute("CREATE TABLE params (run_id VARCHAR, key VARCHAR, value VARCHAR)")
    connection.execute("CREATE TABLE tags (run_id VARCHAR, key VARCHAR, value VARCHAR)")
    yield connection
    connection.close()


def load(con: duckdb.DuckDBPyConnection, runs: list[FakeRun]) -> None:
    for relation in ("runs", "latest_metrics", "params", "tags"):
        con.execute(f"DELETE FROM {relation}")
    con.execute(
        "INSERT INTO runs SELECT unnest(?::VARCHAR[]), unnest(?::VARCHAR[]),"
        " unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), make_timestamptz(unnest(?::BIGINT[])),"
        " make_timestamptz(unnest(?::BIGINT[]))",
        [
            [run.run_id for run in runs],
            [run.experiment for run in runs],
            [run.name for run in runs],
            [run.status for run in runs],
            [run.start_us for run in runs],
            [run.end_us for run in runs],
        ],
    )
    for relation, value_type in (
        ("latest_metrics", "DOUBLE"),
        ("params", "VARCHAR"),
        ("tags", "VARCHAR"),
    ):
        rows = [
            (run.run_id, key, value)
            for run in runs
            for key, value in getattr(run, _KIND_OF[relation]).items()
        ]
        con.execute(
            f"INSERT INTO {relation} SELECT unnest(?::VARCHAR[]), unnest(?::VARCHAR[]),"
            f" unnest(?::{value_type}[])",
            [[row[0] for row in rows], [row[1] for row in rows], [row[2] for row in rows]],
        )


_KIND_OF = {"latest_metrics": "metrics", "params": "params", "tags": "tags"}


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(runs=fake_runs(), tree=trees(comparisons()), rng=st.randoms(use_true_random=False))
def test_compiled_sql_agrees_with_python_evaluator(
    con: duckdb.DuckDBPyConnection, runs: list[FakeRun], tree: Node, rng: random.Random
) -> None:
    text = render(tree, rng)
    parsed = parse_filter(text)
    assert parsed is not None
    expected = {run.run_id for run in runs if evaluate(tree, run)}
    assert {run.run_id for run in runs if evaluate(parsed, run)} == expected, text
    sql, params = build_filter_sql(text)
    load(con, runs)
    rows = con.execute(f"SELECT r.run_id FROM runs AS r WHERE {sql}", params).fetchall()
    assert {row[0] for row in rows} == expected, text


# --------------------------------------------------------------------------- real store

API_METRIC_KEYS = ("loss", "acc", "val loss")
API_PARAM_KEYS = ("lr", "opt", "n/layers")
API_TAG_KEYS = ("team", "flag", "my tag")
API_STATUSES = ("FINISHED", "FAILED", "KILLED")


def _random_api_runs(rng: random.Random) -> list[dict[str, Any]]:
    numbers = ["0", "1", "-1", "0.5", "2.5", "1e-3", "100", "0.010", ".5", "3.", "1E2", "10"]
    plain = ["a", "A", "b_a", "a%b", "ab", "True", "false"]
    runs = []
    for i in range(12):
        runs.append(
            {
                "name": rng.choice((None, *NAMES, f"run-{i}")),
                "experiment": rng.choice(("e1", "e2")),
                "status": rng.choice(API_STATUSES),
                "metrics": {
                    k: rng.choice((0.0, 1.0, -1.0, 0.5, 2.5, 1e-3, 100.0, rng.uniform(-5, 5)))
                    for k in API_METRIC_KEYS
                    if rng.random() < 0.7
                },
                "params": {
                    k: rng.choice(numbers + plain) for k in API_PARAM_KEYS if rng.random() < 0.7
                },
                "tags": {
                    k: rng.choice(numbers + plain) for k in API_TAG_KEYS if rng.random() < 0.7
                },
            }
        )
    return runs


@pytest.fixture(scope="module")
def api_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, list[FakeRun]]:
    """A store holding 12 random runs logged through the public API, with their model."""
    import nbtrack as nt
    from nbtrack.tracking import settings as nt_settings

    saved = (nt_settings.SETTINGS.store_uri, nt_settings.SETTINGS.experiment)
    path = str(tmp_path_factory.mktemp("filter-store"))
    nt.set_store(path)
    logged = _random_api_runs(random.Random(20261124))
    ids = []
    for spec in logged:
        with nt.start_run(name=spec["name"], experiment=spec["experiment"]) as run:
            for key, value in spec["params"].items():
                nt.log_param(key, value)
            for key, value in spec["metrics"].items():
                nt.log_metric(key, value)
            for key, value in spec["tags"].items():
                nt.set_tag(key, value)
            if spec["status"] != "FINISHED":
                nt.end_run(status=spec["status"])
        ids.append(run.id)
    table = nt.search_runs(experiment="*")
    rows = {row["run_id"]: row for row in table.to_dict("records")}
    models = []
    for run_id, spec in zip(ids, logged, strict=True):
        row = rows[run_id]
        models.append(
            FakeRun(
                run_id=run_id,
                metrics=spec["metrics"],
                params=spec["params"],
                tags=spec["tags"],
                status=row["status"],
                name=row["name"],
                experiment=row["experiment"],
                start_us=_micros(row["start_time"]),
                end_us=_micros(row["end_time"]),
            )
        )
    # The store read back what was logged, so the evaluator's model is the store's content.
    assert [m.status for m in models] == [spec["status"] for spec in logged]
    assert [m.experiment for m in models] == [spec["experiment"] for spec in logged]
    nt_settings.SETTINGS.store_uri, nt_settings.SETTINGS.experiment = saved
    return path, models


def _micros(moment: Any) -> int | None:
    import pandas as pd

    if moment is None or pd.isna(moment):
        return None
    return int(pd.Timestamp(moment).value // 1000)


@st.composite
def api_trees(draw: st.DrawFn, models: list[FakeRun]) -> Node:
    # Time literals near the real start times, so comparisons split the runs.
    starts = sorted(m.start_us // 1000 for m in models)
    attribute_values: dict[str, st.SearchStrategy[Literal]] = {
        "status": st.sampled_from((*API_STATUSES, "RUNNING")),
        "name": st.sampled_from(sorted({m.name for m in models if m.name} | set(NAMES))),
        "run_id": st.sampled_from([m.run_id for m in models] + ["nope"]),
        "experiment": st.sampled_from(("e1", "e2", "e3")),
        "start_time": st.sampled_from(starts).flatmap(
            lambda ms: st.integers(ms - 2, ms + 2).map(lambda v: Number(str(v)))
        ),
        "end_time": st.sampled_from(starts).map(lambda ms: Number(str(ms + 1))),
    }
    leaves = comparisons(API_METRIC_KEYS, API_PARAM_KEYS, API_TAG_KEYS, attribute_values)
    return draw(trees(leaves))


@pytest.fixture
def api_models(api_store: tuple[str, list[FakeRun]]) -> list[FakeRun]:
    import nbtrack as nt

    path, models = api_store
    nt.set_store(path)  # the root conftest resets the store before every test
    return models


def test_search_runs_agrees_with_python_evaluator(api_models: list[FakeRun]) -> None:
    import nbtrack as nt

    @settings(
        max_examples=30,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(data=st.data(), rng=st.randoms(use_true_random=False))
    def check(data: st.DataObject, rng: random.Random) -> None:
        tree = data.draw(api_trees(api_models))
        text = render(tree, rng)
        expected = {m.run_id for m in api_models if evaluate(tree, m)}
        found = set(nt.search_runs(experiment="*", filter=text)["run_id"])
        assert found == expected, text

    check()
