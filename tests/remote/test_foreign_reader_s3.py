"""A machine without nbtrack reads a store on S3 with DuckDB, following docs/format.md alone.

The foreign interpreter is a fresh virtualenv with duckdb, pyarrow and s3fs only, run with
``python -I``; it registers s3fs with DuckDB (no extension download) and runs the doc's SQL
blocks with ``STORE`` replaced by the store's URL.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

import nbtrack as nt
from nbtrack.storage import compaction
from remote._format_doc import sql_blocks

DRIVER = r'''
import importlib.util, json, sys
assert importlib.util.find_spec("nbtrack") is None, "the foreign reader must not see nbtrack"
import duckdb, s3fs
store, blocks_path, out_path = sys.argv[1:4]
con = duckdb.connect()
con.register_filesystem(s3fs.S3FileSystem())  # credentials and endpoint from AWS_* variables
for sql in json.load(open(blocks_path)):
    con.execute(sql.replace("STORE", store)).fetchall()
q = lambda sql: [list(r) for r in con.sql(sql).fetchall()]
json.dump({
    "runs": q("SELECT run_id, name, experiment, status FROM runs ORDER BY run_id"),
    "params": q("SELECT run_id, key, value FROM params ORDER BY ALL"),
    "tags": q("SELECT run_id, key, value FROM tags ORDER BY ALL"),
    "latest": q("SELECT run_id, key, step, value FROM latest_metrics ORDER BY ALL"),
    "points": q("SELECT count(*), sum(value) FROM metrics"),
}, open(out_path, "w"))
'''


@pytest.fixture(scope="session")
def foreign_s3_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with duckdb, pyarrow and s3fs only (made once per session)."""
    import s3fs

    venv = tmp_path_factory.mktemp("foreign-s3") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    res = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", f"duckdb=={duckdb.__version__}",
         f"pyarrow=={pa.__version__}", f"s3fs=={s3fs.__version__}"],
        capture_output=True, text=True, timeout=900,
    )
    if res.returncode != 0:
        pytest.skip(f"cannot install the foreign reader's packages: {res.stderr[-400:]}")
    return python


def test_duckdb_without_nbtrack_reads_an_s3_store_exactly(
    foreign_s3_python: Path, s3_store: str, tmp_path: Path
) -> None:
    store = nt.set_store(s3_store)
    for exp in ("a", "b"):
        for i in range(3):
            with nt.start_run(name=f"{exp}{i}", experiment=exp, params={"i": i},
                              tags={"exp": exp}):
                for step in range(4):
                    nt.log_metric("loss", float(10 * i + step), step=step)
                    store.flush()
    gone = nt.search_runs(experiment="a")["run_id"][0]
    nt.delete_run(gone)
    compaction.compact(store)  # replaced files stay for the grace period
    with nt.start_run(name="late", experiment="b"):
        nt.log_metric("loss", 1.0)

    blocks = tmp_path / "blocks.json"
    blocks.write_text(json.dumps(sql_blocks()))
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    out = tmp_path / "out.json"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "NBTRACK_STORE")}
    done = subprocess.run(
        [str(foreign_s3_python), "-I", str(driver), s3_store, str(blocks), str(out)],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    theirs = json.loads(out.read_text())

    ours_runs = nt.search_runs(experiment="*").sort_values("run_id")
    assert [r[0] for r in theirs["runs"]] == list(ours_runs["run_id"])
    assert [r[3] for r in theirs["runs"]] == list(ours_runs["status"])
    assert len(theirs["runs"]) == 6  # one of seven deleted
    ours = nt.sql("SELECT count(*) AS n, sum(value) AS s FROM metrics")
    assert theirs["points"] == [[int(ours["n"][0]), float(ours["s"][0])]]
    latest = {(r[0], r[1]): r[3] for r in theirs["latest"]}
    for _, row in ours_runs.iterrows():
        assert latest[(row["run_id"], "loss")] == row["metrics.loss"]
    params = nt.sql("SELECT run_id, key, value FROM params ORDER BY ALL")
    assert theirs["params"] == [list(r) for r in params.itertuples(index=False)]
