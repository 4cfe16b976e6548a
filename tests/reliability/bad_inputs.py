"""The bad-input catalogue: every case, what nbtrack must do with it, and a table printer.

``test_bad_inputs.py`` runs each case against a store holding good data and checks the
outcome and that the good data is untouched. ``python tests/reliability/bad_inputs.py``
runs the same cases and prints the Markdown table of docs/reliability.md.

A case either is *refused* (an nbtrack exception of the given class whose message matches)
or is *stored* faithfully (a check reads the value back and describes it).
"""

from __future__ import annotations

import datetime as _dt
import decimal
import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import nbtrack as nt
from nbtrack.errors import (
    ArtifactError,
    FilterError,
    InvalidKeyError,
    InvalidValueError,
    NbtrackError,
    QueryError,
)
from nbtrack.tracking import settings


@dataclass
class Ctx:
    """What a case acts on: a store with good data, an active run, a folder outside."""

    store: Path
    work: Path  # outside the store: sources of artifacts, targets of escapes
    run: nt.Run  # active; cases log to it
    good: list[str] = field(default_factory=list)  # finished runs that must stay intact


@dataclass
class Case:
    category: str
    label: str  # what the table shows as the input
    action: Callable[[Ctx], Any]
    refuses: type[NbtrackError] | None = None
    match: str = ""
    check: Callable[[Ctx, Any], str] | None = None  # for stored cases: verify, describe
    requires: str | None = None  # an optional module (torch)
    outside: Callable[[Ctx], Path] | None = None  # a path that must not appear
    xfail: str | None = None  # a known core bug

    @property
    def id(self) -> str:
        return re.sub(r"[^\w.\-]+", "_", f"{self.category}-{self.label}")[:80]


# ---- checks --------------------------------------------------------------------------


def _history(ctx: Ctx, key: str) -> list[float]:
    return [float(v) for v in nt.get_metric_history(ctx.run.id, key)["value"]]


def stored_metric(expected: float) -> Callable[[Ctx, Any], str]:
    def check(ctx: Ctx, _: Any) -> str:
        got = _history(ctx, "m")
        assert len(got) == 1, got
        if math.isnan(expected):
            assert math.isnan(got[0]), got
        else:
            assert got[0] == expected, (got, expected)
        return f"stored as float64 `{got[0]!r}`"

    return check


def stored_key(key: str) -> Callable[[Ctx, Any], str]:
    def check(ctx: Ctx, _: Any) -> str:
        assert _history(ctx, key) == [1.0]
        found = nt.search_runs(filter=f"metrics.`{key}` = 1")
        assert list(found["run_id"]) == [ctx.run.id]
        assert f"metrics.{key}" in found.columns
        return "stored; searchable with backticks"

    return check


def stored_param(key: str, value: str) -> Callable[[Ctx, Any], str]:
    def check(ctx: Ctx, _: Any) -> str:
        assert nt.get_run(ctx.run.id).params[key] == value
        return f"stored exactly ({len(value)} characters)"

    return check


def stored_tag(key: str, value: str) -> Callable[[Ctx, Any], str]:
    def check(ctx: Ctx, _: Any) -> str:
        assert nt.get_run(ctx.run.id).tags[key] == value
        return f"stored exactly ({len(value)} characters)"

    return check


def stored_artifact(path: str, content: bytes) -> Callable[[Ctx, Any], str]:
    def check(ctx: Ctx, result: Any) -> str:
        assert result == path, result
        assert nt.read_artifact(ctx.run.id, path) == content
        return f"stored as `{path}` (content in the store's blobs only)"

    return check


def returns_rows(n: int) -> Callable[[Ctx, Any], str]:
    def check(ctx: Ctx, result: Any) -> str:
        assert len(result) == n, result
        return f"a literal: {n} rows, nothing executed"

    return check


def sql_ok(ctx: Ctx, result: Any) -> str:
    assert len(result) >= 1
    return "allowed (reads inside the store only)"


# ---- actions -------------------------------------------------------------------------


def metric(value: Any) -> Callable[[Ctx], Any]:
    return lambda ctx: ctx.run.log_metric("m", value, step=0)


def metric_key(key: str) -> Callable[[Ctx], Any]:
    return lambda ctx: ctx.run.log_metric(key, 1.0, step=0)


def metric_at(timestamp: Any) -> Callable[[Ctx], Any]:
    return lambda ctx: ctx.run.log_metric("m", 1.0, step=0, timestamp=timestamp)


def stored_time(expected_ms: int) -> Callable[[Ctx, Any], str]:
    def check(ctx: Ctx, _: Any) -> str:
        got = nt.sql(
            f"SELECT epoch_ms(timestamp) AS ms FROM metrics WHERE run_id = '{ctx.run.id}' "
            "AND key = 'm'"
        )
        assert list(got["ms"]) == [expected_ms], got
        history = nt.get_metric_history(ctx.run.id, "m")
        assert len(history) == 1
        return f"stored; reads back as `{history['timestamp'][0]}`"

    return check


def start_nested(**kwargs: Any) -> Callable[[Ctx], Any]:
    def act(ctx: Ctx) -> Any:
        run = nt.start_run(nested=True, **kwargs)
        run.end()
        return run

    return act


_SURROGATE = os.fsdecode(b"data/\xff.csv")  # what a non-UTF-8 file name decodes to


def same_rows_as(text: str) -> Callable[[Ctx, Any], str]:
    def check(ctx: Ctx, result: Any) -> str:
        want = nt.search_runs(experiment="*", filter=text)
        assert len(want) > 0
        assert sorted(result["run_id"]) == sorted(want["run_id"]), result
        return f"the same {len(want)} rows as `{text}`"

    return check


def search(text: str) -> Callable[[Ctx], Any]:
    return lambda ctx: nt.search_runs(experiment="*", filter=text)


def sql(text: str) -> Callable[[Ctx], Any]:
    return lambda ctx: nt.sql(text.format(store=ctx.store, work=ctx.work))


def log_text_as(name: str) -> Callable[[Ctx], Any]:
    return lambda ctx: ctx.run.log_text("payload", name)


def log_artifact_to(artifact_path: str) -> Callable[[Ctx], Any]:
    def act(ctx: Ctx) -> Any:
        src = ctx.work / "model.bin"
        src.write_bytes(b"weights")
        return ctx.run.log_artifact(src, artifact_path)

    return act


def log_folder_with_symlink(kind: str) -> Callable[[Ctx], Any]:
    def act(ctx: Ctx) -> Any:
        import warnings

        src = ctx.work / f"src-{kind}"
        src.mkdir()
        (src / "ok.txt").write_text("inside")
        secret = ctx.work / "secret.txt"
        secret.write_text("outside the logged folder")
        if kind == "file":
            os.symlink(secret, src / "leak.txt")
        else:
            os.symlink(ctx.work, src / "leakdir")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            logged = ctx.run.log_artifacts(src)
        warned = [str(w.message) for w in caught if issubclass(w.category, nt.NbtrackWarning)]
        return logged, warned

    return act


def symlink_skipped(ctx: Ctx, result: Any) -> str:
    logged, warned = result
    assert logged == ["ok.txt"], logged
    assert len(warned) == 1, warned
    assert "symlink pointing outside" in warned[0]
    assert nt.read_artifact(ctx.run.id, "ok.txt") == b"inside"
    return "link skipped with one NbtrackWarning; the rest logged"


def _outside(name: str) -> Callable[[Ctx], Path]:
    return lambda ctx: ctx.work / name


def _torch_scalar(ctx: Ctx) -> Any:
    import torch

    return ctx.run.log_metric("m", torch.tensor(2.5), step=0)


# ---- the catalogue -------------------------------------------------------------------

M, K, P, A, F, S = "metric value", "key", "param/tag value", "artifact", "filter", "nt.sql"
T = "metric timestamp"
_READ_ONLY = "read-only"
_OUTSIDE = "Permission Error|disabled by configuration"

CASES: list[Case] = [
    # metric values
    Case(M, "None", metric(None), InvalidValueError, "must be a number"),
    Case(M, "'0.5' (str)", metric("0.5"), InvalidValueError, "must be a number"),
    Case(M, "b'1' (bytes)", metric(b"1"), InvalidValueError, "must be a number"),
    Case(M, "NaN", metric(float("nan")), check=stored_metric(float("nan"))),
    Case(M, "+inf", metric(float("inf")), check=stored_metric(float("inf"))),
    Case(M, "-inf", metric(float("-inf")), check=stored_metric(float("-inf"))),
    Case(M, "10**400 (int too big for float64)", metric(10**400), InvalidValueError, "too large"),
    Case(M, "2**63 (int above int64)", metric(2**63), check=stored_metric(float(2**63))),
    Case(M, "True", metric(True), check=stored_metric(1.0)),
    Case(M, "1+2j (complex)", metric(1 + 2j), InvalidValueError, "real number"),
    Case(M, "Decimal('0.1')", metric(decimal.Decimal("0.1")), InvalidValueError, "real number"),
    Case(M, "numpy.float32(1.5)", metric(np.float32(1.5)), check=stored_metric(1.5)),
    Case(M, "numpy.float16(0.25)", metric(np.float16(0.25)), check=stored_metric(0.25)),
    Case(M, "numpy.int64(-7)", metric(np.int64(-7)), check=stored_metric(-7.0)),
    Case(
        M,
        "numpy.uint64(2**64-1)",
        metric(np.uint64(2**64 - 1)),
        check=stored_metric(float(2**64 - 1)),
    ),
    Case(M, "numpy.bool_(True)", metric(np.bool_(True)), check=stored_metric(1.0)),
    Case(M, "numpy.float64('nan')", metric(np.float64("nan")), check=stored_metric(float("nan"))),
    Case(M, "numpy 0-d array 2.5", metric(np.array(2.5)), check=stored_metric(2.5)),
    Case(M, "numpy array [1, 2]", metric(np.array([1, 2])), InvalidValueError, "scalar"),
    Case(M, "numpy.str_('1')", metric(np.str_("1")), InvalidValueError, "must be a number"),
    Case(M, "[1.0] (list)", metric([1.0]), InvalidValueError, "must be a number"),
    Case(M, "object()", metric(object()), InvalidValueError, "must be a number"),
    Case(M, "torch.tensor(2.5)", _torch_scalar, check=stored_metric(2.5), requires="torch"),
    # keys
    Case(K, "'' (empty)", metric_key(""), InvalidKeyError, "empty"),
    Case(K, "10,000 characters", metric_key("k" * 10_000), InvalidKeyError, "limit is 250"),
    Case(K, "250 characters", metric_key("k" * 250), check=stored_key("k" * 250)),
    Case(
        K,
        "'损失/准确率 α' (unicode)",
        metric_key("损失/准确率 α"),
        check=stored_key("损失/准确率 α"),
    ),
    Case(K, "'val/loss' (slash)", metric_key("val/loss"), check=stored_key("val/loss")),
    Case(K, "'/loss' (leading slash)", metric_key("/loss"), InvalidKeyError, "starts with '/'"),
    Case(K, "'a//b' (empty segment)", metric_key("a//b"), InvalidKeyError, "empty, '.' or '..'"),
    Case(K, "'..'", metric_key(".."), InvalidKeyError, r"'\.\.'"),
    Case(K, "'a/../../b'", metric_key("a/../../b"), InvalidKeyError, r"'\.\.'"),
    Case(K, "'a\\x00b' (NUL)", metric_key("a\x00b"), InvalidKeyError, "contains"),
    Case(K, "'a\\nb' (newline)", metric_key("a\nb"), InvalidKeyError, "contains"),
    Case(
        K,
        "'x\"; DROP TABLE runs; --'",
        metric_key('x"; DROP TABLE runs; --'),
        InvalidKeyError,
        "contains",
    ),
    Case(K, "'loss🔥' (emoji)", metric_key("loss🔥"), InvalidKeyError, "contains"),
    Case(K, "42 (not a str)", metric_key(42), InvalidKeyError, "must be a string"),  # type: ignore[arg-type]
    Case(K, "param key '..'", lambda c: c.run.log_param("..", 1), InvalidKeyError, r"'\.\.'"),
    Case(K, "tag key 'a\\x00'", lambda c: c.run.set_tag("a\x00", "v"), InvalidKeyError, "contains"),
    # param and tag values
    Case(
        P,
        "param 'a\\x00b' (NUL)",
        lambda c: c.run.log_param("p", "a\x00b"),
        check=stored_param("p", "a\x00b"),
    ),
    Case(
        P,
        "param 6,000 characters",
        lambda c: c.run.log_param("p", "v" * 6000),
        check=stored_param("p", "v" * 6000),
    ),
    Case(
        P,
        "param 6,001 characters",
        lambda c: c.run.log_param("p", "v" * 6001),
        InvalidValueError,
        "limit is 6000",
    ),
    Case(
        P,
        'param "\'; DROP TABLE params; --"',
        lambda c: c.run.log_param("p", "'; DROP TABLE params; --"),
        check=stored_param("p", "'; DROP TABLE params; --"),
    ),
    Case(
        P,
        "tag 8,000 characters",
        lambda c: c.run.set_tag("t", "v" * 8000),
        check=stored_tag("t", "v" * 8000),
    ),
    Case(
        P,
        "tag 8,001 characters",
        lambda c: c.run.set_tag("t", "v" * 8001),
        InvalidValueError,
        "limit is 8000",
    ),
    Case(
        P,
        "param holding a lone surrogate (os.fsdecode)",
        lambda c: c.run.log_param("p", _SURROGATE),
        InvalidValueError,
        "not valid Unicode",
    ),
    Case(
        P,
        "tag holding a lone surrogate",
        lambda c: c.run.set_tag("t", _SURROGATE),
        InvalidValueError,
        "not valid Unicode",
    ),
    Case(
        P,
        "run name holding a lone surrogate",
        start_nested(name=_SURROGATE),
        InvalidValueError,
        "run name .*not valid Unicode",
    ),
    Case(
        P,
        "run description holding a lone surrogate",
        start_nested(description=_SURROGATE),
        InvalidValueError,
        "description .*not valid Unicode",
    ),
    Case(
        P,
        "experiment name holding a lone surrogate",
        start_nested(experiment=_SURROGATE),
        InvalidValueError,
        "experiment name .*not valid Unicode",
    ),
    Case(
        P,
        "param 'données ✓ 損失' (unicode)",
        lambda c: c.run.log_param("p", "données ✓ 損失"),
        check=stored_param("p", "données ✓ 損失"),
    ),
    # metric timestamps: what every reader can read (years 1-9999)
    Case(T, "2**62 ms", metric_at(2**62), InvalidValueError, "outside years 1-9999"),
    Case(T, "-2**62 ms", metric_at(-(2**62)), InvalidValueError, "outside years 1-9999"),
    Case(
        T,
        "year 10000 (253402300800000 ms)",
        metric_at(253_402_300_800_000),
        InvalidValueError,
        "outside years 1-9999",
    ),
    Case(T, "1e300 (float)", metric_at(1e300), InvalidValueError, "outside years 1-9999"),
    Case(T, "NaN", metric_at(float("nan")), InvalidValueError, "not a valid time"),
    Case(
        T,
        "'2024-01-01' (str)",
        metric_at("2024-01-01"),
        InvalidValueError,
        "milliseconds since the epoch or a datetime",
    ),
    Case(
        T,
        "9999-12-31T23:59:59.999Z (last ms)",
        metric_at(253_402_300_799_999),
        check=stored_time(253_402_300_799_999),
    ),
    Case(
        T,
        "0001-01-01T00:00Z (aware datetime)",
        metric_at(_dt.datetime(1, 1, 1, tzinfo=_dt.timezone.utc)),
        check=stored_time(-62_135_596_800_000),
    ),
    Case(T, "0 (the epoch)", metric_at(0), check=stored_time(0)),
    # artifacts
    Case(
        A,
        "name '../../etc/passwd'",
        log_text_as("../../etc/passwd"),
        ArtifactError,
        "climbs out",
        outside=_outside("etc"),
    ),
    Case(A, "name '/etc/passwd' (absolute)", log_text_as("/etc/passwd"), ArtifactError, "absolute"),
    Case(
        A,
        "name '..\\\\..\\\\x' (backslashes)",
        log_text_as("..\\..\\x"),
        ArtifactError,
        "climbs out",
    ),
    Case(A, "name 'C:\\\\x' (drive)", log_text_as("C:\\x"), ArtifactError, "absolute"),
    Case(A, "name 'a\\x00b' (NUL)", log_text_as("a\x00b"), ArtifactError, "NUL"),
    Case(A, "name of 1,001 characters", log_text_as("n" * 1001), ArtifactError, "limit is 250"),
    Case(A, "name of 251 characters", log_text_as("n" * 251), ArtifactError, "limit is 250"),
    Case(
        A,
        "name 'a*b?.txt' (glob characters)",
        log_text_as("a*b?.txt"),
        ArtifactError,
        "contains '\\*'",
    ),
    Case(A, "name 'a\\nb.txt' (newline)", log_text_as("a\nb.txt"), ArtifactError, "contains"),
    Case(A, "name 'loss🔥.png' (emoji)", log_text_as("loss🔥.png"), ArtifactError, "contains"),
    Case(A, "name holding a lone surrogate", log_text_as(_SURROGATE), ArtifactError, "contains"),
    Case(A, "name 'a/./b//c'", log_text_as("a/./b//c"), check=stored_artifact("a/b/c", b"payload")),
    Case(A, "name '~/x'", log_text_as("~/x"), ArtifactError, "contains '~'"),
    Case(A, "name '$HOME/x'", log_text_as("$HOME/x"), ArtifactError, "contains"),
    Case(
        A,
        "name 'val 2/model-v1.0:final.txt'",
        log_text_as("val 2/model-v1.0:final.txt"),
        check=stored_artifact("val 2/model-v1.0:final.txt", b"payload"),
    ),
    Case(
        A,
        "log_text of a lone surrogate",
        lambda c: c.run.log_text(_SURROGATE, "x.txt"),
        InvalidValueError,
        "not valid Unicode",
    ),
    Case(A, "name '..x'", log_text_as("..x"), check=stored_artifact("..x", b"payload")),
    Case(A, "artifact_path '/tmp' (absolute)", log_artifact_to("/tmp"), ArtifactError, "absolute"),
    Case(A, "artifact_path '../..'", log_artifact_to("../.."), ArtifactError, "climbs out"),
    Case(
        A,
        "folder with a symlink to a file outside",
        log_folder_with_symlink("file"),
        check=symlink_skipped,
    ),
    Case(
        A,
        "folder with a symlink to a folder outside",
        log_folder_with_symlink("dir"),
        check=symlink_skipped,
    ),
    # filters
    Case(
        F,
        "'; DROP TABLE runs; --",
        search("'; DROP TABLE runs; --"),
        FilterError,
        "unterminated string",
    ),
    Case(
        F,
        "read_csv('/etc/passwd')",
        search("read_csv('/etc/passwd')"),
        FilterError,
        "expected a comparison",
    ),
    Case(
        F,
        "metrics.loss > 0 OR read_csv('/etc/passwd')",
        search("metrics.loss > 0 OR read_csv('/etc/passwd')"),
        FilterError,
        "position 20",
    ),
    Case(
        F,
        "metrics.loss > 0; DROP TABLE runs",
        search("metrics.loss > 0; DROP TABLE runs"),
        FilterError,
        "position",
    ),
    Case(
        F,
        "params.lr = '0.1 (unbalanced quote)",
        search("params.lr = '0.1"),
        FilterError,
        "unterminated",
    ),
    Case(
        F,
        "(metrics.loss > 0 (unbalanced paren)",
        search("(metrics.loss > 0"),
        FilterError,
        "never closed",
    ),
    Case(
        F,
        "metrics.loss > 0) (unbalanced paren)",
        search("metrics.loss > 0)"),
        FilterError,
        "no matching",
    ),
    Case(
        F,
        "100 KB of nested parentheses",
        search("(" * 50_000 + "metrics.loss > 0" + ")" * 50_000),
        FilterError,
        "nested too deeply",
    ),
    Case(
        F,
        "100 KB of NOT NOT NOT ...",
        search("NOT " * 25_000 + "metrics.loss > 0"),
        FilterError,
        "nested too deeply",
    ),
    Case(
        F,
        "100 KB of OR chains (5,000 terms)",
        search(" OR ".join(["metrics.loss > 0"] * 5_000)),
        # compiled as balanced groups (DuckDB's depth limit is 1,000): same rows as one term
        check=same_rows_as("metrics.loss > 0"),
    ),
    Case(
        F,
        "tags.t = '''; DROP TABLE runs; --' (quoted)",
        search("tags.t = '''; DROP TABLE runs; --'"),
        check=returns_rows(0),
    ),
    Case(
        F,
        'metrics.`x"; DROP TABLE runs; --` > 1',
        search('metrics.`x"; DROP TABLE runs; --` > 1'),
        check=returns_rows(0),
    ),
    Case(
        F,
        "order_by 'metrics.a; DROP TABLE runs'",
        lambda c: nt.search_runs(order_by=["metrics.a; DROP TABLE runs"]),
        FilterError,
        "order_by",
    ),
    Case(F, "filter=123 (not a str)", search(123), FilterError, "must be a string"),  # type: ignore[arg-type]
    # SQL
    Case(S, "DROP TABLE runs", sql("DROP TABLE runs"), QueryError, _READ_ONLY),
    Case(S, "DELETE FROM _runs_raw", sql("DELETE FROM _runs_raw"), QueryError, _READ_ONLY),
    Case(
        S,
        "INSERT INTO _params_raw ...",
        sql("INSERT INTO _params_raw SELECT * FROM _params_raw"),
        QueryError,
        _READ_ONLY,
    ),
    Case(
        S,
        "UPDATE _runs_raw SET name = 'x'",
        sql("UPDATE _runs_raw SET name = 'x'"),
        QueryError,
        _READ_ONLY,
    ),
    Case(
        S, "CREATE TABLE t AS SELECT 1", sql("CREATE TABLE t AS SELECT 1"), QueryError, _READ_ONLY
    ),
    Case(
        S,
        "CREATE MACRO / VIEW",
        sql("CREATE OR REPLACE VIEW runs AS SELECT 1"),
        QueryError,
        _READ_ONLY,
    ),
    Case(
        S,
        "COPY runs TO '<outside>/out.csv'",
        sql("COPY runs TO '{work}/out.csv'"),
        QueryError,
        _READ_ONLY,
        outside=_outside("out.csv"),
    ),
    Case(
        S,
        "COPY (SELECT ...) TO '<store>/x.parquet'",
        sql("COPY (SELECT 1) TO '{store}/x.parquet'"),
        QueryError,
        _READ_ONLY,
    ),
    Case(
        S,
        "EXPORT DATABASE '<outside>'",
        sql("EXPORT DATABASE '{work}/exp'"),
        QueryError,
        _READ_ONLY,
        outside=_outside("exp"),
    ),
    Case(
        S,
        "ATTACH '<outside>/x.db'",
        sql("ATTACH '{work}/x.db' AS x"),
        QueryError,
        _READ_ONLY,
        outside=_outside("x.db"),
    ),
    Case(S, "DETACH memory", sql("DETACH memory"), QueryError, _READ_ONLY),
    Case(S, "INSTALL httpfs", sql("INSTALL httpfs"), QueryError, _READ_ONLY),
    Case(S, "LOAD httpfs", sql("LOAD httpfs"), QueryError, _READ_ONLY),
    Case(
        S,
        "SET enable_external_access = true",
        sql("SET enable_external_access = true"),
        QueryError,
        _READ_ONLY,
    ),
    Case(S, "SET VARIABLE x = 1", sql("SET VARIABLE x = 1"), QueryError, _READ_ONLY),
    Case(S, "PRAGMA enable_profiling", sql("PRAGMA enable_profiling"), QueryError, _READ_ONLY),
    Case(S, "CALL pragma_version()", sql("CALL pragma_version()"), QueryError, _READ_ONLY),
    Case(S, "CHECKPOINT", sql("CHECKPOINT"), QueryError, _READ_ONLY),
    Case(S, "EXPLAIN ANALYZE SELECT 1", sql("EXPLAIN ANALYZE SELECT 1"), QueryError, _READ_ONLY),
    Case(
        S,
        "SELECT 1; DROP TABLE runs",
        sql("SELECT 1; DROP TABLE runs"),
        QueryError,
        "exactly one statement",
    ),
    Case(S, "'' (empty)", sql(""), QueryError, "one SELECT"),
    Case(S, "SELEC * FRM runs (syntax error)", sql("SELEC * FRM runs"), QueryError, "cannot parse"),
    Case(
        S,
        "SELECT * FROM query('DROP TABLE runs')",
        sql("SELECT * FROM query('DROP TABLE runs')"),
        QueryError,
        "SELECT",
    ),
    Case(
        S,
        "read_csv('/etc/passwd')",
        sql("SELECT * FROM read_csv('/etc/passwd')"),
        QueryError,
        _OUTSIDE,
    ),
    Case(
        S,
        "read_text('/etc/passwd')",
        sql("SELECT * FROM read_text('/etc/passwd')"),
        QueryError,
        _OUTSIDE,
    ),
    Case(
        S,
        "read_blob('/etc/passwd')",
        sql("SELECT * FROM read_blob('/etc/passwd')"),
        QueryError,
        _OUTSIDE,
    ),
    Case(
        S,
        "read_json_auto('/etc/os-release')",
        sql("SELECT * FROM read_json_auto('/etc/os-release')"),
        QueryError,
        _OUTSIDE,
    ),
    Case(
        S,
        "sniff_csv('/etc/passwd')",
        sql("SELECT * FROM sniff_csv('/etc/passwd')"),
        QueryError,
        _OUTSIDE,
    ),
    Case(
        S,
        "parquet_metadata('<outside>')",
        sql("SELECT * FROM parquet_metadata('{work}/x.parquet')"),
        QueryError,
        _OUTSIDE,
    ),
    Case(S, "glob('/etc/*')", sql("SELECT * FROM glob('/etc/*')"), QueryError, _OUTSIDE),
    Case(
        S,
        "read_text('<store>/../../etc/passwd')",
        sql("SELECT * FROM read_text('{store}/../../etc/passwd')"),
        QueryError,
        _OUTSIDE,
    ),
    Case(
        S, "glob('<store>/../*')", sql("SELECT * FROM glob('{store}/../*')"), QueryError, _OUTSIDE
    ),
    Case(
        S,
        "read_csv('http://example.com/x.csv')",
        sql("SELECT * FROM read_csv('http://example.com/x.csv')"),
        QueryError,
        _OUTSIDE,
    ),
    Case(S, "duckdb_extensions()", sql("SELECT * FROM duckdb_extensions()"), QueryError, _OUTSIDE),
    Case(S, "duckdb_secrets()", sql("SELECT * FROM duckdb_secrets()"), QueryError, _OUTSIDE),
    Case(S, "getenv('HOME')", sql("SELECT getenv('HOME')"), QueryError, "does not exist"),
    Case(
        S,
        "read_text('<cwd>/.tmp/secret')",
        lambda c: _read_cwd_tmp(c),
        QueryError,
        _OUTSIDE,
    ),
    Case(S, "SELECT count(*) FROM runs", sql("SELECT count(*) AS n FROM runs"), check=sql_ok),
    Case(
        S,
        "read_text('<store>/format.json')",
        sql("SELECT * FROM read_text('{store}/format.json')"),
        check=sql_ok,
    ),
]


def _read_cwd_tmp(ctx: Ctx) -> Any:
    folder = Path.cwd() / ".tmp"
    made = not folder.exists()
    folder.mkdir(exist_ok=True)
    secret = folder / f"nbtrack-reliability-{os.getpid()}.txt"
    secret.write_text("outside the store")
    try:
        return nt.sql(f"SELECT content FROM read_text('{secret}')")
    finally:
        secret.unlink()
        if made:
            folder.rmdir()


def make_good(store: Path) -> list[str]:
    """Two finished runs of good data (params, metrics, tags, an artifact)."""
    nt.set_store(str(store))
    good = []
    for i in range(2):
        with nt.start_run(name=f"good-{i}", params={"lr": 0.1 * (i + 1)}, tags={"team": "a"}) as r:
            for step in range(20):
                r.log_metric("loss", 1.0 / (step + 1), step=step)
            r.log_text("good artifact", "notes.txt")
        good.append(r.id)
    return good


def make_ctx(store: Path, work: Path, good: list[str]) -> Ctx:
    """An active run to throw inputs at, in a store that holds ``good``."""
    nt.set_store(str(store))
    run = nt.start_run(name="target", params={"seed": 1})
    run.log_metric("loss", 0.5, step=0)
    settings.get_store().flush()
    return Ctx(store=store, work=work, run=run, good=good)


def run_case(case: Case, ctx: Ctx) -> str:
    """Run one case; return the outcome for the table. Raises AssertionError on a mismatch."""
    error: NbtrackError | None = None
    try:
        result = case.action(ctx)
    except NbtrackError as exc:
        error = exc
    if error is not None:
        if case.refuses is None:
            raise AssertionError(f"{case.label}: expected it stored, got {error!r}") from error
        first = str(error).splitlines()[0]
        assert isinstance(error, case.refuses), (case.label, error)
        assert re.search(case.match, str(error)), (case.label, case.match, first)
        return f"refused: `{type(error).__name__}`: {first[:110]}"
    if case.refuses is not None:
        raise AssertionError(f"{case.label}: expected {case.refuses.__name__}, got {result!r:.200}")
    assert case.check is not None
    return case.check(ctx, result)


def main() -> None:
    import importlib.util
    import shutil
    import tempfile
    import warnings

    warnings.simplefilter("ignore")
    print("| what | input | outcome |")
    print("|---|---|---|")
    for case in CASES:
        label = case.label.replace("|", "\\|")
        if case.requires and importlib.util.find_spec(case.requires) is None:
            print(f"| {case.category} | {label} | not run here ({case.requires} not installed) |")
            continue
        root = Path(tempfile.mkdtemp())
        (root / "work").mkdir()
        ctx = make_ctx(root / "store", root / "work", make_good(root / "store"))
        try:
            outcome = run_case(case, ctx)
        except AssertionError as exc:
            outcome = f"**KNOWN BUG**: {case.xfail}" if case.xfail else f"**FAILED**: {exc}"
        finally:
            ctx.run.end()
            shutil.rmtree(root, ignore_errors=True)
        outcome = outcome.replace(str(ctx.store), "<store>").replace(str(ctx.work), "<outside>")
        outcome = outcome.replace("|", "\\|").replace("\n", " ")
        print(f"| {case.category} | {label} | {outcome} |")


if __name__ == "__main__":
    main()
