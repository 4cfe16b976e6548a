"""Bad input gets a specific nbtrack error before anything is written; logged data survives."""

from __future__ import annotations

import os

import pytest

import nbtrack as nt
from nbtrack.tracking.settings import get_store


def fingerprint() -> tuple:
    """Everything readable about the store, to compare before and after bad input."""
    df = nt.search_runs(experiment="*").drop(columns=["duration_s", "end_time", "status"])
    pts = nt.sql("SELECT run_id, key, step, value FROM metrics ORDER BY ALL")
    return (df.to_json(date_format="iso"), pts.to_json())


@pytest.fixture
def logged(store):
    with nt.start_run(name="keep", params={"lr": "0.1"}, tags={"t": "a"}) as r:
        for i in range(3):
            nt.log_metric("loss", 1.0 / (i + 1))
    return r


BAD_KEYS = [
    pytest.param("", id="empty"),
    pytest.param("x" * 251, id="too-long"),
    pytest.param("a$b", id="dollar"),
    pytest.param("a*b", id="star"),
    pytest.param("a;b", id="semicolon"),
    pytest.param("a'b", id="quote"),
    pytest.param("a\x00b", id="nul"),
    pytest.param("../x", id="dotdot"),
    pytest.param("a/../../x", id="climb"),
    pytest.param("/abs", id="leading-slash"),
    pytest.param("a//b", id="empty-segment"),
    pytest.param("./a", id="dot-segment"),
    pytest.param(5, id="not-a-string"),
]


@pytest.mark.parametrize("key", BAD_KEYS)
@pytest.mark.parametrize("call", ["metric", "param", "tag", "metrics", "params"])
def test_bad_keys_raise_before_writing(logged, key, call):
    before = fingerprint()
    with nt.start_run() as run, pytest.raises(nt.InvalidKeyError):
        if call == "metric":
            run.log_metric(key, 1.0)
        elif call == "param":
            run.log_param(key, 1)
        elif call == "tag":
            run.set_tag(key, "v")
        elif call == "metrics":
            run.log_metrics({"ok": 1.0, key: 2.0})
        else:
            run.log_params({"ok": 1, key: 2})
    assert nt.get_run(run.id).params == {}
    assert nt.get_run(run.id).metrics == {}
    assert fingerprint()[1] == before[1]


@pytest.mark.parametrize(
    "key",
    ["val loss", "a.b-c/d:e", "ünïcödé_日本", "x" * 250],
    ids=["space", "punct", "unicode", "max-len"],
)
def test_valid_unusual_keys_are_accepted(run, key):
    run.log_metric(key, 1.0)
    assert run.metrics == {key: 1.0}


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(None, id="none"),
        pytest.param("1.0", id="numeric-string"),
        pytest.param("abc", id="string"),
        pytest.param([1, 2], id="list"),
        pytest.param(1j, id="complex"),
        pytest.param(10**400, id="overflowing-int"),
        pytest.param(object(), id="object"),
    ],
)
def test_non_numeric_metric_values_raise(logged, value):
    before = fingerprint()
    with nt.start_run() as run, pytest.raises(nt.InvalidValueError, match="metric value"):
        run.log_metric("m", value)
    assert fingerprint()[1] == before[1]


def test_array_with_many_elements_is_refused(run):
    np = pytest.importorskip("numpy")
    with pytest.raises(nt.InvalidValueError, match="scalar"):
        run.log_metric("m", np.array([1.0, 2.0]))


@pytest.mark.parametrize(
    "step", ["1", 1.5, None.__class__, 2**63], ids=["str", "float", "type", "too-big"]
)
def test_bad_steps_raise(run, step):
    with pytest.raises(nt.InvalidValueError, match="step"):
        run.log_metric("m", 1.0, step=step)


def test_param_value_too_long(logged):
    with nt.start_run() as run, pytest.raises(nt.InvalidValueError, match="6000"):
        run.log_param("p", "x" * 6001)
    assert nt.get_run(run.id).params == {}


def test_tag_value_too_long(run):
    with pytest.raises(nt.InvalidValueError, match="8000"):
        run.set_tag("t", "x" * 8001)


def test_conflicting_param_value_raises_and_keeps_first(run):
    run.log_param("lr", 0.1)
    run.log_param("lr", "0.1")  # same text: fine
    with pytest.raises(nt.ParamConflictError, match="already"):
        run.log_params({"new": 1, "lr": 0.2})
    assert run.params == {"lr": "0.1"}


def test_logging_to_a_finished_run_raises(logged):
    before = fingerprint()
    with pytest.raises(nt.RunFinishedError, match="has ended"):
        logged.log_metric("loss", 0.0)
    with pytest.raises(nt.RunFinishedError):
        logged.set_tag("t", "b")
    with pytest.raises(nt.RunFinishedError):
        logged.log_param("new", 1)
    assert fingerprint() == before


def test_unknown_run_id(store):
    for call in (
        lambda: nt.get_run("nope"),
        lambda: nt.get_metric_history("nope", "x"),
        lambda: nt.list_artifacts("nope"),
        lambda: nt.delete_run("nope"),
    ):
        with pytest.raises(nt.RunNotFoundError, match="no run"):
            call()


def test_fluent_calls_without_active_run(store):
    for call in (
        lambda: nt.log_metric("a", 1),
        lambda: nt.log_param("a", 1),
        lambda: nt.set_tag("a", 1),
        lambda: nt.log_text("x", "a.txt"),
    ):
        with pytest.raises(nt.NoActiveRunError, match="start_run"):
            call()


@pytest.mark.parametrize(
    "text",
    [
        "metrics.loss <",
        "metrics.loss < 'abc",
        "(metrics.a = 1",
        "nope.x = 1",
        "'; DROP TABLE runs; --",
    ],
)
def test_malformed_filter_raises_filter_error(logged, text):
    before = fingerprint()
    with pytest.raises(nt.FilterError) as err:
        nt.search_runs(filter=text)
    assert isinstance(err.value.position, int)
    assert fingerprint() == before


@pytest.mark.parametrize(
    "path",
    ["../../etc/passwd", "/etc/passwd", "a/../../b"],
    ids=["climb", "absolute", "inner-climb"],
)
def test_artifact_paths_that_escape_are_refused(run, tmp_path, path):
    f = tmp_path / "f.txt"
    f.write_text("x")
    with pytest.raises(nt.ArtifactError):
        run.log_artifact(f, artifact_path=path)
    with pytest.raises(nt.ArtifactError):
        run.log_text("x", path)
    assert nt.list_artifacts(run.id) == []


def test_symlink_out_of_logged_folder_is_skipped_with_warning(run, tmp_path):
    outside = tmp_path / "secret.txt"
    outside.write_text("secret")
    folder = tmp_path / "dir"
    folder.mkdir()
    (folder / "ok.txt").write_text("ok")
    os.symlink(outside, folder / "link.txt")
    with pytest.warns(nt.NbtrackWarning, match="symlink"):
        run.log_artifacts(folder)
    assert nt.list_artifacts(run.id) == ["ok.txt"]


def test_missing_artifact_source(run, tmp_path):
    with pytest.raises(nt.ArtifactError, match="no such file"):
        run.log_artifact(tmp_path / "missing.txt")


def test_unreadable_store_path_raises_store_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(nt.StoreError, match="store"):
        nt.set_store(str(blocker / "store"))


def test_store_with_unknown_format_version_is_refused(tmp_path):
    (tmp_path / "format.json").write_text('{"format_version": 99}')
    with pytest.raises(nt.StoreError, match="format version 99"):
        nt.set_store(str(tmp_path))


@pytest.mark.parametrize(
    "query",
    [
        "CREATE TABLE x AS SELECT 1",
        "INSERT INTO runs VALUES (1)",
        "DROP VIEW runs",
        "COPY (SELECT 1) TO '/tmp/nbtrack-out.csv'",
        "ATTACH '/tmp/x.db'",
        "INSTALL httpfs",
        "LOAD httpfs",
        "SET enable_external_access = true",
        "PRAGMA version",
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_text('/etc/passwd')",
        "SELECT * FROM glob('/etc/*')",
        "SELECT 1; SELECT 2",
        "SELEC 1",
    ],
)
def test_sql_refuses_anything_but_reading_the_store(logged, query):
    before = fingerprint()
    with pytest.raises(nt.QueryError):
        nt.sql(query)
    assert fingerprint() == before
    assert not os.path.exists("/tmp/nbtrack-out.csv")


def test_bad_status_and_experiment(store):
    with pytest.raises(nt.InvalidValueError):
        nt.set_experiment("")
    run = nt.start_run()
    with pytest.raises(nt.InvalidValueError, match="status"):
        run.end("DONE")
    run.end()
    assert get_store() is not None
