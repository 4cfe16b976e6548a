"""Corruption: broken and foreign files in a store never crash a query.

Each case drops one bad file into a partition folder of a store holding good data. Every
read path keeps working and returns exactly the good data, the file is named in ONE
``NbtrackWarning`` per process, and ``nbtrack doctor`` (a fresh process) lists it with the
action to take.
"""

from __future__ import annotations

import io
import json
import warnings
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from _reliability import fingerprint, run_cli

import nbtrack as nt
from nbtrack.errors import NbtrackWarning

BAD_NAME = "s-00000000000000000001-wbadbadbad000-000001.parquet"


def _good_segment(folder: Path) -> bytes:
    return next(p for p in sorted(folder.iterdir()) if p.name.startswith("s-")).read_bytes()


def truncated(folder: Path) -> bytes:
    data = _good_segment(folder)
    return data[: len(data) // 2]


def zero_bytes(folder: Path) -> bytes:
    return b""


def not_parquet(folder: Path) -> bytes:
    return b"this is not a parquet file, someone saved notes here\n" * 20


def garbage_inside(folder: Path) -> bytes:
    # Magic bytes and footer length intact (passes the cheap check), data pages destroyed.
    data = bytearray(_good_segment(folder))
    footer = int.from_bytes(data[-8:-4], "little")
    body_end = len(data) - 8 - footer
    for i in range(4, body_end):
        data[i] = 0xA5
    return bytes(data)


def garbage_footer(folder: Path) -> bytes:
    data = bytearray(_good_segment(folder))
    footer = int.from_bytes(data[-8:-4], "little")
    for i in range(len(data) - 8 - footer, len(data) - 8):
        data[i] = 0x5A
    return bytes(data)


def other_schema(folder: Path) -> bytes:
    # A well-formed Parquet file of somebody else's table, under a segment name.
    sink = io.BytesIO()
    pq.write_table(pa.table({"a": [1, 2, 3], "b": ["x", "y", "z"]}), sink)
    return sink.getvalue()


def wrong_types(folder: Path) -> bytes:
    # Our column names with types no reader expects (step as text, value as text).
    table = pq.read_table(io.BytesIO(_good_segment(folder)))
    cols = {name: table.column(name).cast(pa.string()) for name in table.column_names}
    sink = io.BytesIO()
    pq.write_table(pa.table(cols), sink)
    return sink.getvalue()


ALL_TABLES = ("metrics", "runs", "params", "tags", "artifacts")
SOME_TABLES = ("metrics", "runs")  # the view path and the in-memory table path


def _cases() -> list[object]:
    spec = [
        (truncated, BAD_NAME, ALL_TABLES, ()),
        (zero_bytes, BAD_NAME, ALL_TABLES, ()),
        (not_parquet, BAD_NAME, SOME_TABLES, ()),
        (garbage_footer, BAD_NAME, SOME_TABLES, ()),
        (garbage_inside, BAD_NAME, SOME_TABLES, ()),
        (other_schema, BAD_NAME, SOME_TABLES, ()),
        (wrong_types, BAD_NAME, SOME_TABLES, ()),
        (not_parquet, "notes.txt", SOME_TABLES, ()),
        (zero_bytes, ".DS_Store", ("metrics",), ()),
    ]
    out: list[object] = []
    for make, name, tables, marks in spec:
        label = make.__name__.replace("_", "-") + ("" if name == BAD_NAME else f"-as-{name}")
        for table in tables:
            out.append(pytest.param(make, name, table, id=f"{label}-in-{table}", marks=marks))
    return out


def _populate(store_path: Path) -> list[str]:
    nt.set_store(str(store_path))
    ids = []
    for i in range(2):
        with nt.start_run(name=f"good-{i}", params={"lr": 0.1 * (i + 1)}, tags={"team": "a"}) as r:
            for step in range(50):
                r.log_metric("loss", 1.0 / (step + 1), step=step)
            r.log_text(f"artifact {i}", "notes.txt")
        ids.append(r.id)
    nt.search_runs()  # a read flushes the last records
    return ids


def _read_everything(ids: list[str]) -> None:
    df = nt.search_runs(experiment="*")
    assert sorted(df["run_id"]) == sorted(ids)
    assert len(nt.search_runs(filter="metrics.loss < 1 AND params.lr > 0")) == 2
    assert nt.list_experiments() == ["Default"]
    n = nt.sql("SELECT count(*) AS n FROM metrics")["n"][0]
    assert n == 100
    for rid in ids:
        assert len(nt.get_metric_history(rid, "loss")) == 50
        assert nt.get_run(rid).tags == {"team": "a"}


@pytest.mark.parametrize(("make", "name", "table"), _cases())
def test_a_bad_file_is_skipped_with_one_warning_and_reported_by_doctor(
    store_path: Path, make: Callable[[Path], bytes], name: str, table: str
) -> None:
    ids = _populate(store_path)
    before = fingerprint(ids)
    folder = next((store_path / table).glob("experiment_id=*"))
    bad = folder / name
    bad.write_bytes(make(folder))

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _read_everything(ids)
        after = fingerprint(ids)
        _read_everything(ids)
    assert after == before
    ours = [w for w in caught if issubclass(w.category, NbtrackWarning)]
    assert len(ours) == 1, [str(w.message) for w in caught]
    assert str(bad) in str(ours[0].message)

    res = run_cli(store_path, "doctor", "--json")
    assert res.returncode == 1, res.stderr  # doctor exits 1 when it finds problems
    problems = json.loads(res.stdout)
    mine = [p for p in problems if p["path"] == str(bad)]
    assert len(mine) == 1, problems
    assert mine[0]["action"]


def test_doctor_lists_every_problem_of_a_store_at_once(store_path: Path) -> None:
    ids = _populate(store_path)
    metrics = next((store_path / "metrics").glob("experiment_id=*"))
    runs = next((store_path / "runs").glob("experiment_id=*"))
    (metrics / BAD_NAME).write_bytes(truncated(metrics))
    (runs / BAD_NAME).write_bytes(b"")
    (metrics / "notes.txt").write_text("not ours")
    with pytest.warns(NbtrackWarning):
        _read_everything(ids)
    res = run_cli(store_path, "doctor", "--json")
    assert res.returncode == 1, res.stderr
    paths = {p["path"] for p in json.loads(res.stdout)}
    assert {str(metrics / BAD_NAME), str(runs / BAD_NAME), str(metrics / "notes.txt")} <= paths
    res = run_cli(store_path, "doctor")
    assert res.returncode == 1, res.stderr
    assert "3 problem(s)" in res.stderr


def test_a_healthy_store_has_no_problems(store_path: Path) -> None:
    _populate(store_path)
    res = run_cli(store_path, "doctor", "--json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout) == []


def test_a_damaged_format_file_is_a_clear_store_error(store_path: Path) -> None:
    _populate(store_path)
    (store_path / "format.json").write_text("{not json")
    res = run_cli(store_path, "runs", "list")
    assert res.returncode == 1
    assert "format" in res.stderr.lower() or "cannot open the store" in res.stderr
    assert "Traceback" not in res.stderr


def test_the_doctor_table_shows_the_file_name_and_the_action(store_path: Path) -> None:
    _populate(store_path)
    folder = next((store_path / "metrics").glob("experiment_id=*"))
    (folder / BAD_NAME).write_bytes(b"")
    res = run_cli(store_path, "doctor")
    assert res.returncode == 1, res.stderr
    assert BAD_NAME in res.stdout
    assert "restore it from a backup" in res.stdout
