"""What users name, resolved the same way everywhere: run id prefixes, deleted runs, typos.

Real store in a temporary folder (the autouse fixture); the CLI side is in tests/test_cli.py
and the REST side at the end of this file's neighbours (tests/server).
"""

from __future__ import annotations

import pytest

import nbtrack as nt
from nbtrack.tracking import query


@pytest.fixture
def three(store: object) -> list[str]:
    """Three runs in experiment ``mnist``; their ids share a long time prefix."""
    nt.set_experiment("mnist")
    ids = []
    for i in range(3):
        with nt.start_run(name=f"r{i}") as run:
            nt.log_metric("loss", 1.0 / (i + 1))
            nt.log_text(f"note {i}", "notes.txt")
        ids.append(run.run_id)
    return ids


def _common(a: str, b: str) -> int:
    n = 0
    while n < len(a) and a[n] == b[n]:
        n += 1
    return n


def _unique_prefix(ids: list[str], i: int) -> str:
    length = max(6, *(_common(ids[i], o) + 1 for o in ids if o != ids[i]))
    return ids[i][:length]


# --------------------------------------------------------------------------- prefixes


def test_every_run_id_argument_takes_a_unique_prefix(three: list[str]) -> None:
    prefix = _unique_prefix(three, 1)
    assert len(prefix) < len(three[1])
    assert nt.get_run(prefix).run_id == three[1]
    assert nt.get_run(prefix).name == "r1"
    assert list(nt.get_metric_history(prefix, "loss")["value"]) == [0.5]
    assert nt.list_artifacts(prefix) == ["notes.txt"]
    assert nt.read_artifact(prefix, "notes.txt") == b"note 1"
    assert query.resolve_run_ids([prefix, three[0]]) == [three[1], three[0]]
    nt.delete_run(prefix)
    assert three[1] not in set(nt.search_runs()["run_id"])
    nt.restore_run(prefix)  # a deleted run's prefix resolves too
    assert three[1] in set(nt.search_runs()["run_id"])


def test_start_run_resumes_a_run_named_by_its_prefix(three: list[str]) -> None:
    prefix = _unique_prefix(three, 0)
    with nt.start_run(run_id=prefix) as run:
        assert run.run_id == three[0]
        nt.log_metric("loss", 0.25)  # the next step after the run's last one
    history = nt.get_metric_history(three[0], "loss")
    assert list(history["step"]) == [0, 1] and list(history["value"]) == [1.0, 0.25]


def test_an_ambiguous_prefix_lists_every_candidate(three: list[str]) -> None:
    shared = three[0][: _common(three[0], three[2])]
    assert len(shared) >= 6  # ids start with their start time in ms
    with pytest.raises(nt.AmbiguousRunIdError) as info:
        nt.get_run(shared)
    message = str(info.value)
    assert "ambiguous" in message and "type more characters" in message
    matching = [i for i in three if i.startswith(shared)]
    for run_id in matching:
        assert run_id in message
    assert f"matches {len(matching)} runs" in message
    assert isinstance(info.value, nt.RunNotFoundError)  # `except RunNotFoundError` still works


def test_a_prefix_shorter_than_six_characters_is_refused(three: list[str]) -> None:
    with pytest.raises(nt.RunNotFoundError, match="at least 6 characters"):
        nt.get_run(three[0][:5])


def test_an_unknown_id_is_a_clear_error(three: list[str]) -> None:
    with pytest.raises(nt.RunNotFoundError, match="no run with id 'ffffffffff'"):
        nt.get_run("ffffffffff")
    with pytest.raises(nt.RunNotFoundError):
        nt.get_metric_history("ffffffffff", "loss")


# --------------------------------------------------------------------------- deleted runs


def test_get_run_of_a_deleted_run_says_so_and_how_to_restore_it(three: list[str]) -> None:
    nt.delete_run(three[0])
    for call in (
        lambda: nt.get_run(three[0]),
        lambda: nt.get_metric_history(three[0], "loss"),
        lambda: nt.list_artifacts(three[0]),
    ):
        with pytest.raises(nt.RunNotFoundError) as info:
            call()
        assert f"run {three[0]} is deleted" in str(info.value)
        assert f"nbtrack.restore_run({three[0]!r})" in str(info.value)
    nt.restore_run(three[0])
    assert nt.get_run(three[0]).name == "r0"


def test_search_runs_finds_deleted_runs_on_request(three: list[str]) -> None:
    nt.delete_run(three[2])
    live = nt.search_runs()
    assert set(live["run_id"]) == {three[0], three[1]}
    assert "deleted" not in live.columns
    gone = nt.search_runs(deleted=True)
    assert list(gone["run_id"]) == [three[2]]
    assert list(gone["deleted"]) == [True]
    assert gone["metrics.loss"].tolist() == [pytest.approx(1 / 3)]
    assert str(gone["start_time"].dtype).startswith("datetime64") and gone["start_time"].dt.tz
    both = nt.search_runs(experiment="*", deleted="all", order_by=["attributes.name ASC"])
    assert list(both["name"]) == ["r0", "r1", "r2"]
    assert list(both["deleted"]) == [False, False, True]
    assert list(nt.search_runs(deleted=True, filter="attributes.name = 'r0'")["run_id"]) == []
    nt.restore_run(three[2])
    assert len(nt.search_runs(deleted=True)) == 0


@pytest.mark.parametrize("bad", [pytest.param("yes", id="text"), pytest.param(1, id="int"),
                                 pytest.param(None, id="none")])
def test_search_runs_refuses_a_bad_deleted_value(three: list[str], bad: object) -> None:
    with pytest.raises(nt.QueryError, match="deleted must be False, True or 'all'"):
        nt.search_runs(deleted=bad)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- typos


def test_an_unknown_experiment_is_an_error_with_a_suggestion(three: list[str]) -> None:
    with pytest.raises(nt.ExperimentNotFoundError) as info:
        nt.search_runs(experiment="mnsit")
    assert "no experiment named 'mnsit'; did you mean 'mnist'?" in str(info.value)
    assert "'mnist'" in str(info.value).split("experiments:", 1)[1]
    with pytest.raises(nt.ExperimentNotFoundError, match="'nope'"):
        nt.search_runs(experiment=["mnist", "nope"])
    with pytest.raises(nt.ExperimentNotFoundError):
        nt.search_runs(experiment="nope", deleted=True)
    with pytest.raises(nt.ExperimentNotFoundError) as far:  # nothing close: no suggestion
        nt.search_runs(experiment="zzzzzz")
    assert "did you mean" not in str(far.value)


def test_existing_experiments_without_live_runs_are_not_typos(three: list[str]) -> None:
    nt.set_experiment("fresh")  # the current experiment exists before its first run
    assert len(nt.search_runs()) == 0
    assert len(nt.search_runs(experiment="fresh")) == 0
    assert len(nt.search_runs(experiment="Default")) == 0
    for run_id in three:  # an experiment whose runs are all deleted still exists
        nt.delete_run(run_id)
    assert len(nt.search_runs(experiment="mnist")) == 0
    assert len(nt.search_runs(experiment="mnist", deleted=True)) == 3
    assert len(nt.search_runs(experiment="*")) == 0


def test_an_unknown_metric_key_is_an_error_listing_the_keys(three: list[str]) -> None:
    with pytest.raises(nt.MetricNotFoundError) as info:
        nt.get_metric_history(three[0], "los")
    assert str(info.value) == (
        f"run {three[0]} has no metric 'los'; did you mean 'loss'? (it has: 'loss')"
    )


def test_a_running_run_gives_an_empty_history_for_a_key_it_has_not_logged_yet(
    store: object,
) -> None:
    with nt.start_run() as run:
        assert len(nt.get_metric_history(run.run_id, "loss")) == 0  # a reader may poll it
        nt.log_metric("loss", 0.5)
        assert list(nt.get_metric_history(run.run_id, "loss")["value"]) == [0.5]
    with pytest.raises(nt.MetricNotFoundError):  # ended: now it is a typo
        nt.get_metric_history(run.run_id, "acc")


def test_a_run_without_metrics_says_so(store: object) -> None:
    with nt.start_run() as run:
        nt.log_param("lr", 0.1)
    with pytest.raises(nt.MetricNotFoundError, match="no metrics yet"):
        nt.get_metric_history(run.run_id, "loss")


def test_mlflow_client_keeps_mlflows_empty_history_for_an_unknown_key(three: list[str]) -> None:
    from nbtrack.mlflow import MlflowClient

    assert MlflowClient().get_metric_history(three[0], "nope") == []
    assert [m.value for m in MlflowClient().get_metric_history(three[0], "loss")] == [1.0]


def test_errors_reach_the_rest_api_status_mapping() -> None:
    from nbtrack.server._errors import status_of

    assert status_of(nt.ExperimentNotFoundError("x")) == 404
    assert status_of(nt.MetricNotFoundError("x")) == 404
    assert status_of(nt.AmbiguousRunIdError("x")) == 400
    assert status_of(nt.RunNotFoundError("x")) == 404


def test_rest_search_with_an_unknown_experiment_gives_the_python_message(
    three: list[str],
) -> None:
    from nbtrack.server._errors import body_of
    from nbtrack.tracking import pages

    with pytest.raises(nt.ExperimentNotFoundError) as info:
        pages.search_run_page(experiment="mnsit")  # what GET runs?experiment=mnsit calls
    assert body_of(info.value) == {
        "error": "ExperimentNotFoundError",
        "message": "no experiment named 'mnsit'; did you mean 'mnist'? (experiments: 'mnist')",
    }
