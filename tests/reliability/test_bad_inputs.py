"""Every case of the bad-input catalogue (bad_inputs.py) against a store with good data.

Each input is refused with a clear nbtrack error or stored faithfully, as the catalogue
says; afterwards the good data reads back identically (fingerprint of search_runs, runs,
histories and artifacts), the run that received the input still works, and nothing was
written outside the store.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from _reliability import files_under, fingerprint
from bad_inputs import CASES, Case, make_ctx, make_good, run_case

import nbtrack as nt


def _param(case: Case) -> object:
    marks = []
    if case.xfail:
        marks.append(pytest.mark.xfail(strict=True, reason=case.xfail))
    if case.requires and importlib.util.find_spec(case.requires) is None:
        marks.append(pytest.mark.skip(reason=f"{case.requires} is not installed"))
    return pytest.param(case, id=case.id, marks=marks)


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str], str]:
    """One store of good data for every case (each case checks it is still intact)."""
    store = tmp_path_factory.mktemp("bad-inputs") / "store"
    good = make_good(store)
    before = fingerprint(good)
    return store, good, before


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_bad_input_is_refused_or_stored_faithfully_and_good_data_stays_intact(
    shared: tuple[Path, list[str], str], tmp_path: Path, case: Case
) -> None:
    store, good, before = shared
    work = tmp_path / "work"
    work.mkdir()
    ctx = make_ctx(store, work, good)
    before_target = fingerprint([ctx.run.id])
    outside_before = files_under(tmp_path) | files_under(store.parent)

    outcome = run_case(case, ctx)

    assert outcome
    assert fingerprint(ctx.good) == before
    if case.refuses is not None:
        # Nothing of the refused input was recorded on the run that received it.
        assert fingerprint([ctx.run.id]) == before_target
    if case.outside is not None:
        assert not case.outside(ctx).exists()
    # Whatever the input, nothing appeared outside the store except the case's own sources.
    outside_now = files_under(tmp_path) | files_under(store.parent)
    new_outside = {f for f in outside_now - outside_before if not f.startswith(("work/", "store/"))}
    assert new_outside == set()
    # The run still takes data afterwards.
    ctx.run.log_metric("after", 1.0, step=0)
    ctx.run.end()
    assert nt.get_run(ctx.run.id).metrics["after"] == 1.0
