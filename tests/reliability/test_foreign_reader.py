"""docs/format.md is exact: a reader without nbtrack, following the doc, sees what nbtrack sees.

The SQL and Python code blocks are extracted from docs/format.md (so the doc itself is what
is tested) and run in a separate virtualenv that has duckdb, polars and pyarrow but no
nbtrack (``python -I``), against stores built by nbtrack: runs in several experiments, one
with no artifacts, a deleted run and a deleted tag, compaction with the replaced files still
on disk, ties in the latest metric, a writer SIGKILLed mid-run, and stores where some or all
tables have no file yet (issue 9, item 7).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from _reliability import Child

import nbtrack as nt
from nbtrack.storage import compaction

DOC = Path(__file__).resolve().parents[2] / "docs" / "format.md"
VIEWS = ("runs", "params", "tags", "artifacts", "metrics", "latest_metrics")

# Runs in the foreign interpreter: python -I driver.py STORE BLOCKS.json OUT.json
DRIVER = r"""
import importlib.util, json, sys
assert importlib.util.find_spec("nbtrack") is None, "the foreign reader must not see nbtrack"
import duckdb

store, blocks_path, out_path = sys.argv[1:4]
blocks = json.load(open(blocks_path))
out = {}

con = duckdb.connect()
for sql in blocks["sql"]:
    con.execute(sql.replace("STORE", store)).fetchall()
q = lambda sql: con.sql(sql).fetchall()
out["duckdb"] = {
    "counts": {v: q(f"SELECT count(*) FROM {v}")[0][0] for v in blocks["views"]},
    "runs": q("SELECT run_id, status, epoch_ms(start_time), epoch_ms(end_time), duration_s, "
              "experiment, name, parent_run_id, description FROM runs ORDER BY run_id"),
    "params": q("SELECT run_id, key, value FROM params ORDER BY ALL"),
    "tags": q("SELECT run_id, key, value FROM tags ORDER BY ALL"),
    "artifacts": q("SELECT run_id, path, size, sha256 FROM artifacts ORDER BY ALL"),
    "metrics": q("SELECT run_id, key, count(*), sum(step)::BIGINT, sum(value), max(epoch_ms(timestamp)) "
                 "FROM metrics GROUP BY ALL ORDER BY ALL"),
    "latest": q("SELECT run_id, key, step, epoch_ms(timestamp), value FROM latest_metrics "
                "ORDER BY ALL"),
}

import polars as pl
namespace = {"__name__": "nbtrack_format_recipe"}
exec(compile(blocks["python"], "docs/format.md (Polars recipe)", "exec"), namespace)
got = namespace["read_store"](store)
rows = lambda df, cols: sorted(tuple(r) for r in df.select(cols).rows())
ms = lambda c: pl.col(c).dt.epoch("ms")
out["polars"] = {
    "counts": {v: got[v].height for v in blocks["views"]},
    "runs": rows(got["runs"], ["run_id", "status", ms("start_time"), ms("end_time"),
                               "duration_s", "experiment", "name", "parent_run_id",
                               "description"]),
    "params": rows(got["params"], ["run_id", "key", "value"]),
    "tags": rows(got["tags"], ["run_id", "key", "value"]),
    "artifacts": rows(got["artifacts"], ["run_id", "path", "size", "sha256"]),
    "metrics": rows(got["metrics"].group_by("run_id", "key").agg(
        pl.len(), pl.col("step").sum(), pl.col("value").sum(),
        pl.col("timestamp").dt.epoch("ms").max()), ["run_id", "key", "len", "step", "value",
                                                    "timestamp"]),
    "latest": rows(got["latest_metrics"], ["run_id", "key", "step", ms("timestamp"), "value"]),
}
json.dump(out, open(out_path, "w"))
"""


def doc_blocks() -> dict[str, Any]:
    """The SQL blocks (in order) and the Python block of docs/format.md."""
    text = DOC.read_text()
    sql = re.findall(r"^```sql\n(.*?)^```", text, re.DOTALL | re.MULTILINE)
    python = re.findall(r"^```python\n(.*?)^```", text, re.DOTALL | re.MULTILINE)
    assert sql, "docs/format.md has no ```sql block"
    # The Polars module first; the Spark recipe after it (tests/remote/test_engines.py).
    assert len(python) == 2, "docs/format.md should have the Polars and the Spark blocks"
    return {"sql": sql, "python": python[0], "views": list(VIEWS)}


@pytest.fixture(scope="session")
def foreign_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with duckdb, polars and pyarrow only (made once per session)."""
    venv = tmp_path_factory.mktemp("foreign-reader") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    res = subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "-q",
            f"duckdb=={duckdb.__version__}",
            f"pyarrow=={pa.__version__}",
            "polars",
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    if res.returncode != 0:
        pytest.skip(
            "pip cannot install duckdb, polars and pyarrow into a fresh virtualenv, so the "
            f"foreign reader cannot run: {res.stderr.strip()[-400:]}"
        )
    return python


def read_as_foreigner(python: Path, store_path: Path, tmp_path: Path) -> dict[str, Any]:
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    blocks = tmp_path / "blocks.json"
    blocks.write_text(json.dumps(doc_blocks()))
    out = tmp_path / "out.json"
    res = subprocess.run(
        [str(python), "-I", str(driver), str(store_path), str(blocks), str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "NBTRACK_STORE")},
    )
    assert res.returncode == 0, res.stderr[-3000:]
    return json.loads(out.read_text())


def _ms(ts: Any) -> int | None:
    return None if ts is None or ts != ts else int(ts.value // 1_000_000)


def _rows(df: Any, cols: list[str]) -> list[list[Any]]:
    return sorted([list(r) for r in df[cols].itertuples(index=False)], key=repr)


def read_with_nbtrack() -> dict[str, Any]:
    """What nbtrack shows, in the driver's shapes (JSON round trip: tuples become lists)."""
    # The read model's own connection: it has latest_metrics besides nt.sql's five views.
    from nbtrack.tracking import settings

    def q(sql: str):  # type: ignore[no-untyped-def]
        return settings.get_store().query(sql).to_pandas()

    runs = nt.search_runs(experiment="*")
    got = {
        "counts": {v: int(q(f"SELECT count(*) AS n FROM {v}")["n"][0]) for v in VIEWS},
        "runs": sorted(
            [
                [
                    r.run_id,
                    r.status,
                    _ms(r.start_time),
                    _ms(r.end_time),
                    r.duration_s,
                    r.experiment,
                    r.name,
                    r.parent_run_id,
                    r.description,
                ]
                for r in runs.itertuples(index=False)
            ]
        ),
        "params": q("SELECT run_id, key, value FROM params ORDER BY ALL").values.tolist(),
        "tags": q("SELECT run_id, key, value FROM tags ORDER BY ALL").values.tolist(),
        "artifacts": q(
            "SELECT run_id, path, size, sha256 FROM artifacts ORDER BY ALL"
        ).values.tolist(),
        "metrics": q(
            "SELECT run_id, key, count(*), sum(step)::BIGINT, sum(value), max(epoch_ms(timestamp)) "
            "FROM metrics GROUP BY ALL ORDER BY ALL"
        ).values.tolist(),
        "latest": q(
            "SELECT run_id, key, step, epoch_ms(timestamp), value FROM latest_metrics ORDER BY ALL"
        ).values.tolist(),
    }
    return json.loads(json.dumps(got, default=_plain))


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if value is None or value != value:  # pandas' NA / NaN for a NULL
        return None
    raise TypeError(f"unexpected {type(value).__name__} in a result: {value!r}")


def _normalize(got: dict[str, Any]) -> dict[str, Any]:
    out = dict(got)
    for key in ("runs", "params", "tags", "artifacts", "metrics", "latest"):
        out[key] = sorted((list(r) for r in got[key]), key=repr)
    # None vs NaN for a missing parent/description: pandas reads NULL strings as None.
    out["runs"] = [[None if v != v else v for v in r] for r in out["runs"]]
    # duration_s is milliseconds / 1000: engines may round the last bit differently.
    for r in out["runs"]:
        r[4] = None if r[4] is None else round(r[4], 6)
    return out


def assert_all_agree(foreign: dict[str, Any]) -> dict[str, Any]:
    ours = _normalize(read_with_nbtrack())
    for engine in ("duckdb", "polars"):
        theirs = _normalize(foreign[engine])
        for key in ours:
            assert theirs[key] == ours[key], f"{engine}: {key} differs from nbtrack"
    return ours


# ---------------------------------------------------------------------------- stores
T = 1_700_000_000_000


def build_store(store_path: Path) -> tuple[str, set[str]]:
    """A store with every case the doc covers. Returns the KILLED run's id and all run ids."""
    store = nt.set_store(str(store_path))
    ids = set()
    with nt.start_run(
        name="a1",
        experiment="with artifacts",
        params={"lr": 0.1},
        tags={"team": "x", "gone": "soon"},
        description="first",
    ) as a1:
        for step in range(20):
            a1.log_metric("loss", 1.0 / (step + 1), step=step)
            if step % 5 == 4:
                store.flush()
        for value in (1.0, 2.0, 3.0):  # a tie: the last logged is the latest
            a1.log_metric("tie", value, step=9, timestamp=T)
            store.flush()
        a1.log_text("hello", "notes/hello.txt")
        a1.log_dict({"a": 1}, "cfg.json")
        a1.set_tag("team", "y")
        a1.delete_tag("gone")
        with nt.start_run(name="child", nested=True) as child:
            child.log_metric("acc", 0.5)
        ids |= {a1.id, child.id}
    with nt.start_run(name="a2", experiment="with artifacts") as a2:
        a2.log_metric("loss", 7.0)
        a2.log_text("bye", "bye.txt")
    ids.add(a2.id)
    nt.delete_run(a2.id)
    for i in range(3):
        with nt.start_run(name=f"b{i}", experiment="no artifacts", params={"i": i}) as b:
            for step in range(30):
                b.log_metrics({"x": float(step * i), "y": -float(step)}, step=step)
                if step % 10 == 9:
                    store.flush()
        ids.add(b.id)
    compaction.compact(store)  # no gc: the replaced files stay on disk (grace period)
    with nt.start_run(name="after", experiment="no artifacts") as late:
        late.log_metric("x", 1.0, step=0, timestamp=T)
        store.flush()
        late.log_metric("x", 2.0, step=0, timestamp=T)  # tie across a c- and an s- file
    ids.add(late.id)

    child = Child(store_path, "flusher")
    killed = child.expect("run ").split()[1]
    child.expect("flushed")
    child.kill()
    ids.add(killed)
    compaction.compact(store)  # the killed run's files are compacted too
    nt.restore_run(a2.id)
    nt.delete_run(a2.id)  # deleted again: the newest deletion record wins
    return killed, ids


def age_leases(store_path: Path, seconds: float = 3600.0) -> None:
    """Let time pass for the leases: the killed writer's is now stale for any reader."""
    old = time.time() - seconds
    for lease in (store_path / "_writers").glob("*.json"):
        os.utime(lease, (old, old))


def last_record_ms(store_path: Path, run_id: str) -> int:
    """The documented end time of a KILLED run, computed here straight from every file."""
    best = -1
    for path in store_path.glob("*/experiment_id=*/*.parquet"):
        table = path.parts[-3]
        t = pq.read_table(path)
        rows = t.filter(pa.compute.equal(t["run_id"], run_id)).to_pylist()
        for r in rows:
            if table == "metrics":
                best = max(best, int(r["timestamp"].timestamp() * 1000))
            elif table in ("runs", "params", "tags", "artifacts"):
                best = max(best, r["record_time"] // 1_000_000)
                if table == "runs":
                    best = max(best, round(r["start_time"].timestamp() * 1000))
    return best


# ---------------------------------------------------------------------------- tests
def test_the_documented_queries_read_exactly_what_nbtrack_reads(
    foreign_python: Path, store_path: Path, tmp_path: Path
) -> None:
    killed, ids = build_store(store_path)
    age_leases(store_path)
    foreign = read_as_foreigner(foreign_python, store_path, tmp_path)
    ours = assert_all_agree(foreign)

    # The store really holds every case.
    assert ours["counts"]["runs"] == len(ids) - 1  # a2 is deleted
    by_name = {r[6]: r for r in ours["runs"]}
    assert by_name["victim"][0] == killed
    assert {r[1] for r in ours["runs"]} == {"FINISHED", "KILLED"}
    assert by_name["victim"][1] == "KILLED"
    assert {a[1] for a in ours["artifacts"]} == {"notes/hello.txt", "cfg.json"}
    assert ("team", "y") in {(t[1], t[2]) for t in ours["tags"]}
    assert "gone" not in {t[1] for t in ours["tags"]}
    latest = {(r[0], r[1]): (r[2], r[4]) for r in ours["latest"]}
    assert latest[(by_name["a1"][0], "tie")] == (9, 3.0)
    assert latest[(by_name["after"][0], "x")] == (0, 2.0)
    assert latest[(by_name["b2"][0], "x")] == (29, 58.0)
    replaced = [
        p
        for p in store_path.glob("*/experiment_id=*/s-*.parquet")
        if any(
            p.name in json.loads(pq.read_metadata(c).metadata[b"nbtrack.replaces"])
            for c in p.parent.glob("c-*.parquet")
        )
    ]
    assert replaced, "the replaced files should still be on disk"

    # The KILLED run's end time is the time of its last record, the same for every reader.
    (row,) = [r for r in ours["runs"] if r[0] == killed]
    assert row[3] == last_record_ms(store_path, killed)


def test_a_killed_runs_end_time_is_stable_across_reads(store_path: Path) -> None:
    nt.set_store(str(store_path))
    child = Child(store_path, "flusher")
    killed = child.expect("run ").split()[1]
    child.expect("flushed")
    child.kill()
    first = nt.get_run(killed)
    assert first.status == "KILLED"
    expected = last_record_ms(store_path, killed)
    assert _ms_dt(first.end_time) == expected
    time.sleep(1.5)
    assert _ms_dt(nt.get_run(killed).end_time) == expected
    # Without the dead writer's lease file (today: the time of the read, on every read).
    for lease in (store_path / "_writers").glob("*.json"):
        lease.unlink()
    nt.set_store(str(store_path))
    again = nt.search_runs(experiment="*")
    assert again["status"].tolist() == ["KILLED"]
    assert _ms(again["end_time"][0]) == expected
    time.sleep(1.1)
    assert _ms(nt.search_runs(experiment="*")["end_time"][0]) == expected
    assert nt.sql("SELECT duration_s FROM runs")["duration_s"][0] == pytest.approx(
        (expected - _ms_dt(first.start_time)) / 1000.0
    )


def _ms_dt(dt: Any) -> int:
    return round(dt.timestamp() * 1000)


@pytest.mark.parametrize("kind", ["empty", "one-run"])
def test_the_documented_queries_work_when_tables_have_no_file(
    foreign_python: Path, store_path: Path, tmp_path: Path, kind: str
) -> None:
    store = nt.set_store(str(store_path))
    if kind == "one-run":
        with nt.start_run(name="only") as run:  # no tag, artifact or deletion: no such file
            run.log_metric("x", 1.0)
        store.flush()
        assert not (store_path / "artifacts").exists()
        assert not (store_path / "deletions").exists()
    foreign = read_as_foreigner(foreign_python, store_path, tmp_path)
    ours = assert_all_agree(foreign)
    assert ours["counts"]["runs"] == (1 if kind == "one-run" else 0)
