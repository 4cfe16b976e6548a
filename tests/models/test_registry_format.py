"""docs/format.md's registry SQL, run in plain DuckDB, reads what nbtrack reads."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest

import nbtrack as nt
from nbtrack import models

DOC = Path(__file__).resolve().parents[2] / "docs" / "format.md"
VIEWS = {
    "models": "run_id, name, flavor, format, size, sha256, signature",
    "registered_models": "name, description, creation_time",
    "model_versions": "name, version, run_id, model_name, source, description",
    "model_aliases": "name, alias, version",
    "registry_tags": "name, version, key, value",
}


class Const:
    def __init__(self, v: float) -> None:
        self.v = v

    def predict(self, df):
        return [self.v] * len(df)


def test_plain_duckdb_following_the_doc_sees_the_registry_nbtrack_sees(store, store_path):
    uris = []
    for v in (1.0, 2.0, 3.0):
        with nt.start_run(), pytest.warns(nt.NbtrackWarning):
            uris.append(nt.log_model(Const(v), "m").model_uri)
    for uri in uris:
        nt.register_model(uri, "a", tags={"from": uri[-6:]})
    nt.register_model(uris[0], "b", description="b1")
    models.update_registered_model("a", "model a")
    models.set_registered_model_tag("a", "team", "x")
    models.delete_registered_model_tag("a", "team")
    nt.set_model_alias("a", "champion", 1)
    nt.set_model_alias("a", "champion", 3)
    nt.set_model_alias("a", "old", 2)
    models.delete_model_version("a", 2)  # its alias no longer counts
    nt.set_model_alias("b", "gone", 1)
    nt.delete_model_alias("b", "gone")
    nt.delete_run(uris[2].split("/")[1])  # its model leaves `models`, its version stays

    con = duckdb.connect()
    blocks = re.findall(r"^```sql\n(.*?)^```", DOC.read_text(), re.DOTALL | re.MULTILINE)
    for sql in blocks:
        con.execute(sql.replace("STORE", str(store_path))).fetchall()
    for view, cols in VIEWS.items():
        order = f"ORDER BY {cols}"
        doc = con.sql(f"SELECT {cols} FROM {view} {order}").fetchall()
        ours = [tuple(r.values()) for r in
                store.query(f"SELECT {cols} FROM {view} {order}").to_pylist()]
        assert doc == ours, view
        assert ours or view == "registry_tags"
    assert con.sql("SELECT alias, version FROM model_aliases ORDER BY alias").fetchall() == [
        ("champion", 3)]
    assert con.sql("SELECT count(*) FROM models").fetchall() == [(2,)]


def _registry_state(store) -> dict[str, list]:
    return {view: sorted(tuple(r.values()) for r in store.query(
        f"SELECT {cols} FROM {view}").to_pylist()) for view, cols in VIEWS.items()}


def test_compaction_and_gc_keep_the_registry_as_it_was(store, store_path, monkeypatch):
    from nbtrack.tracking import maintenance

    with nt.start_run(), pytest.warns(nt.NbtrackWarning):
        uri = nt.log_model(Const(1.0), "m").model_uri
    for i in range(12):
        nt.register_model(uri, "many", tags={"i": str(i)})
        nt.set_model_alias("many", "champion", i + 1)
    models.delete_model_version("many", 5)
    before = _registry_state(store)
    files = list((store_path / "model_versions").rglob("s-*.parquet"))
    assert len(files) >= 12  # one segment per registration: worth compacting
    maintenance.compact()
    monkeypatch.setenv("NBTRACK_GC_GRACE", "0")
    maintenance.gc(force=True)
    assert list((store_path / "model_versions").rglob("s-*.parquet")) == []
    assert _registry_state(store) == before
    assert nt.get_model_version_by_alias("many", "champion").version == 12
    assert nt.register_model(uri, "many").version == 13  # claims, not files, allocate
