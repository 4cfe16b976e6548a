"""The read model (issue 10): incremental updates equal a full rebuild, a flush recomputes
only the runs it touched, the wide shape scales with keys, and nt.sql sees five views."""

from __future__ import annotations

import math
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nbtrack as nt
from nbtrack.storage.read_model import ReadModel
from nbtrack.tracking import query
from nbtrack.tracking import settings as nt_settings

_VIEWS = ("runs", "params", "tags", "latest_metrics", "artifacts", "experiments")


def _state(model: ReadModel) -> dict[str, Any]:
    """Everything the model answers, as plain sorted rows (NaN made comparable)."""

    def plain(v: Any) -> Any:
        if isinstance(v, float) and math.isnan(v):
            return "NaN"
        return v

    out: dict[str, Any] = {}
    for view in _VIEWS:
        cols = "* EXCLUDE (duration_s)" if view == "runs" else "*"
        rows = model.execute(f"SELECT {cols} FROM {view}").to_pylist()
        out[view] = sorted((tuple(plain(x) for x in r.values()) for r in rows), key=repr)
    ids = model.execute("SELECT run_id FROM runs ORDER BY run_id").column(0).combine_chunks()
    wide = model.wide(ids)
    out["wide"] = (
        sorted(wide.column_names),
        [[plain(x) for x in row.values()] for row in wide.to_pylist()],
    )
    out["keys"] = model.keys
    return out


def _fresh(store: Any) -> ReadModel:
    """A model built from nothing: a new catalog (no cached resolution) and new tables."""
    from nbtrack.storage.catalog import FileCatalog

    model = ReadModel(store.fs)
    model.install(FileCatalog(store.fs).snapshot())
    model.set_dead_writers(store._dead_writers(model.running_owners()))
    return model


def _check_unique_flags(store: Any) -> None:
    """Every metrics file flagged ``nbtrack.unique_run_key`` holds one row per (run, key),
    and the flag changes no answer (a model that ignores it agrees)."""
    import duckdb

    from nbtrack.storage import schema
    from nbtrack.storage.read_model import loading

    paths = store.catalog.snapshot().paths(store.fs, "metrics")
    if paths:
        flagged = [
            r[0]
            for r in duckdb.sql(
                "SELECT DISTINCT file_name FROM parquet_kv_metadata(?::VARCHAR[]) "
                "WHERE decode(key) = ?",
                params=[paths, schema.UNIQUE_META.decode()],
            ).fetchall()
        ]
        for path in flagged:
            rows, pairs = duckdb.sql(
                "SELECT count(*), count(DISTINCT (run_id, key)) FROM read_parquet(?)",
                params=[path],
            ).fetchall()[0]
            assert rows == pairs, path
    with_flag = _state(_fresh(store))
    loading.USE_UNIQUE_FLAG = False
    try:
        assert _state(_fresh(store)) == with_flag
    finally:
        loading.USE_UNIQUE_FLAG = True
    # Flagged files read in place (``_lazy_summary``) or copied: the same answers.
    before = loading.LAZY_SUMMARY_ROWS
    loading.LAZY_SUMMARY_ROWS = 1 if before > 1 else 10**9
    try:
        assert _state(_fresh(store)) == with_flag
    finally:
        loading.LAZY_SUMMARY_ROWS = before


def _fresh_catalog(store: Any) -> Any:
    from nbtrack.storage.catalog import FileCatalog

    return FileCatalog(store.fs)


def _files(snap: Any) -> dict[str, Any]:
    """What a snapshot resolved, per partition: visible names, positions, hidden names."""
    return {
        part.folder: (
            sorted(f.name for f in part.visible),
            part.positions,
            sorted(part.replaced),
            sorted(f.name for f in part.losers),
            sorted(f.name for f, _ in part.corrupt),
        )
        for parts in snap.partitions.values()
        for part in parts
    }


_ops = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "start",
                "param",
                "tag",
                "untag",
                "metric",
                "end",
                "delete",
                "restore",
                "flush",
                "compact",
                "gc",
            ]
        ),
        st.integers(0, 3),
        st.integers(0, 4),
        st.floats(allow_nan=True, allow_infinity=False, width=32),
    ),
    min_size=4,
    max_size=30,
)


@pytest.mark.parametrize("lazy_rows", [1, 10**9], ids=["read-in-place", "copied"])
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(ops=_ops)
def test_incremental_updates_equal_a_full_rebuild(
    store_path_factory: Any, lazy_rows: int, ops: list
) -> None:
    """Every flagged metrics file read in place (``_lazy_summary``), or every one copied
    into ``_metric_summary``: after each step the incremental model equals a fresh one."""
    from nbtrack.storage.read_model import loading

    before, loading.LAZY_SUMMARY_ROWS = loading.LAZY_SUMMARY_ROWS, lazy_rows
    try:
        _run_ops(store_path_factory, ops)
    finally:
        loading.LAZY_SUMMARY_ROWS = before


def _run_ops(store_path_factory: Any, ops: list) -> None:
    from nbtrack.storage import compaction

    store = nt.set_store(str(store_path_factory()))
    model = store.views()
    runs: list[nt.Run] = []
    for op, i, k, x in ops:
        open_runs = [r for r in runs if not r.is_finished]
        if op == "start" or not runs:
            runs.append(nt.start_run(name=f"r{len(runs)}", nested=True, experiment=f"e{i % 2}"))
            continue
        run = runs[i % len(runs)]
        target = open_runs[i % len(open_runs)] if open_runs else None
        if op == "param" and target is not None:
            target.log_params({f"p{k}": k})
        elif op == "tag" and target is not None:
            target.set_tag(f"t{k}", str(x))
        elif op == "untag" and target is not None:
            target.delete_tag(f"t{k}")
        elif op == "metric" and target is not None:
            target.log_metric(f"m{k}", x, step=k)
        elif op == "end" and target is not None:
            target.end()
        elif op == "delete":
            nt.delete_run(run.id)
        elif op == "restore":
            nt.restore_run(run.id)
        elif op == "flush":
            store.flush()
        elif op == "compact":
            compaction.compact(store, min_files=2)
        elif op == "gc":
            compaction.gc(store, only_expired=False)
        store.refresh()  # the incremental path, after every step
        assert _state(model) == _state(_fresh(store))
        assert _files(store.catalog.snapshot()) == _files(_fresh_catalog(store).snapshot())
    _check_unique_flags(store)
    for r in runs:
        r.end()
    nt_settings.SETTINGS.store_uri = None


@pytest.fixture
def store_path_factory(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return lambda: tmp_path_factory.mktemp("rm") / "store"


def test_a_flush_recomputes_only_the_runs_it_touched(
    store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NBTRACK_AUTO_COMPACT", "0")  # a compaction touches every run it merges
    for i in range(200):
        with nt.start_run(params={"i": i}) as r:
            r.log_metric("loss", 1.0 / (i + 1))
    assert len(nt.search_runs()) == 200
    model = store.views()
    with nt.start_run(name="new") as r:
        r.log_metric("loss", 0.5)
    store.refresh()
    assert model.last_install["affected_runs"] == 1
    assert model.last_install["gone_files"] == 0
    assert len(nt.search_runs()) == 201
    # Nothing changed: nothing is recomputed.
    before = dict(model.last_install)
    store.refresh()
    assert model.last_install == before
    # A flush of metrics only, of a run that stays current: the params, tags, artifacts
    # and last-record tables are left as they are, and every answer equals a fresh model.
    r2 = nt.start_run(name="long")
    r2.log_params({"a": 1})
    r2.set_tag("t", "x")
    store.refresh()
    r2.log_metric("loss", 0.25, step=3)
    store.refresh()
    assert model.last_install["affected_runs"] == 1
    assert model.last_install["skipped_tables"] >= 3
    assert _state(model) == _state(_fresh(store))
    r2.end()
    store.refresh()
    assert _state(model) == _state(_fresh(store))


def test_a_compaction_is_picked_up_and_changes_no_result(store) -> None:
    from nbtrack.storage import compaction

    for i in range(20):
        with nt.start_run(params={"i": i}, tags={"g": str(i % 3)}) as r:
            for s in range(5):
                r.log_metric("loss", 1.0 / (i + s + 1), step=s)
    before = nt.search_runs()
    compaction.compact(store, min_files=2)
    after = nt.search_runs()
    install = store.views().last_install
    # The same rows under new names: relabelled, nothing recomputed (issue 10).
    assert install["relabelled_files"] > 0
    assert install["affected_runs"] == 0
    assert before.equals(after)
    assert _state(store.views()) == _state(_fresh(store))


def test_a_compacted_file_holding_rows_never_loaded_is_read_in_full(
    store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A compaction that also merged a segment this reader never saw cannot be relabelled:
    its rows are loaded and the runs recomputed."""
    from nbtrack.storage import compaction

    monkeypatch.setenv("NBTRACK_AUTO_COMPACT", "0")
    for i in range(5):
        with nt.start_run(params={"i": i}) as r:
            r.log_metric("loss", float(i), step=1)
    assert len(nt.search_runs()) == 5
    with nt.start_run(name="unseen") as r:
        r.log_metric("loss", 9.0, step=3)
        r.log_metric("loss", 8.0, step=3)  # a tie on step: the later point wins
    store.flush()
    compaction.compact(store, min_files=2)  # merges the unseen run's files too
    store.refresh()
    install = store.views().last_install
    assert install["affected_runs"] >= 1
    df = nt.search_runs(filter="attributes.run_name = 'unseen'")
    assert df["metrics.loss"].tolist() == [8.0]
    assert _state(store.views()) == _state(_fresh(store))


def test_the_wide_shape_handles_thousands_of_keys(store) -> None:
    keys = [f"layer{j}/grad_norm" for j in range(3000)]
    for i in range(3):
        with nt.start_run() as r:
            r.log_metrics({k: float(j + i) for j, k in enumerate(keys)}, step=0)
            r.log_params({f"p{j}": j for j in range(300)})
    df = nt.search_runs(
        filter="metrics.`layer10/grad_norm` > 11.5", order_by=["metrics.`layer5/grad_norm` DESC"]
    )
    assert len(df) == 1
    assert df["metrics.layer2999/grad_norm"].tolist() == [3001.0]
    assert df["params.p299"].tolist() == ["299"]
    assert len([c for c in df.columns if c.startswith("metrics.")]) == 3000


def test_the_wide_cache_built_in_slices_equals_one_pivot(store, monkeypatch) -> None:
    """The cache of every run's wide row is pivoted a few runs at a time (memory): runs with
    different keys, slices of two runs, give the same table as one pivot."""
    from nbtrack.storage.read_model import model as model_module

    for i in range(7):
        with nt.start_run(params={f"p{i % 3}": i}, tags={f"t{i % 2}": "x"}) as r:
            r.log_metrics({f"m{j}": float(i * j) for j in range(i % 4 + 1)}, step=i)
    store.refresh()
    ids = store.views().execute("SELECT run_id FROM runs ORDER BY run_id DESC").column(0)
    ids = ids.combine_chunks()
    whole = _fresh(store)
    whole.wide(ids)
    expected = whole.wide(ids)  # the second call builds the cache, in one pivot
    monkeypatch.setattr(model_module, "PIVOT_SLICE_CELLS", 2 * 9)  # 2 runs of 9 keys
    sliced = _fresh(store)
    sliced.wide(ids)
    assert sliced.wide(ids).equals(expected)
    assert sliced._wide_cache is not None and sliced._wide_cache.num_rows == 7
    assert expected.column_names[:2] == ["params.p0", "params.p1"]


def test_search_columns_only_for_keys_the_matching_runs_have(store) -> None:
    with nt.start_run(params={"a": 1}) as r1:
        r1.log_metric("x", 1.0)
    with nt.start_run(params={"b": 2}, tags={"t": "v"}) as r2:
        r2.log_metric("y", float("nan"))
    df = nt.search_runs(filter="params.b = '2'")
    assert list(df["run_id"]) == [r2.id]
    assert "params.a" not in df.columns and "metrics.x" not in df.columns
    assert math.isnan(df["metrics.y"][0])  # NaN stays NaN (a value), not missing
    every = nt.search_runs().set_index("run_id")
    assert every.loc[r1.id, "params.a"] == "1"
    assert every.loc[r1.id, "params.b"] is None or math.isnan(every.loc[r1.id, "params.b"])


def test_nt_sql_sees_only_the_five_public_views(store) -> None:
    with nt.start_run() as kept:
        kept.log_metric("x", 1.0)
    with nt.start_run() as gone:
        gone.log_metric("x", 2.0)
    nt.delete_run(gone.id)
    names = nt.sql("SELECT table_name FROM information_schema.tables ORDER BY table_name")[
        "table_name"
    ].tolist()
    assert sorted(names) == ["artifacts", "metrics", "params", "runs", "tags"]
    for internal in ("_runs_raw", "_metrics_raw", "_runs_cur", "_deletions_raw", "latest_metrics"):
        with pytest.raises(nt.QueryError, match="does not exist"):
            nt.sql(f"SELECT * FROM {internal}")
    assert nt.sql("SELECT run_id FROM runs")["run_id"].tolist() == [kept.id]
    assert nt.sql("SELECT run_id, value FROM metrics")["value"].tolist() == [1.0]
    # The sandbox holds on this connection too.
    with pytest.raises(nt.QueryError):
        nt.sql("SELECT * FROM read_text('/etc/passwd')")


def test_get_run_and_search_agree_with_the_wide_shape(store) -> None:
    with nt.start_run(params={"lr": 0.1}, tags={"team": "a"}) as r:
        r.log_metrics({"acc": 0.5, "loss": 0.25}, step=3)
    got = query.get_run(r.id)
    row = nt.search_runs().iloc[0]
    assert got.params == {"lr": "0.1"} and row["params.lr"] == "0.1"
    assert got.metrics == {"acc": 0.5, "loss": 0.25}
    assert row["metrics.acc"] == 0.5 and row["tags.team"] == "a"
    wide = store.views().wide(pa.array([r.id]))
    assert wide.column_names == ["params.lr", "metrics.acc", "metrics.loss", "tags.team"]


def test_a_folder_that_only_gained_segments_is_resolved_from_the_last_resolution(
    store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Flushes and gc between reads cost in proportion to them, not to the folder (issue 10):
    the catalog resolves the delta, and the result equals a resolution from scratch."""
    from nbtrack.storage import compaction
    from nbtrack.storage.catalog import FileCatalog

    monkeypatch.setenv("NBTRACK_AUTO_COMPACT", "0")
    for i in range(30):
        with nt.start_run(params={"i": i}) as r:
            r.log_metric("loss", float(i))
    compaction.compact(store, min_files=2)
    store.refresh()
    full = []
    original = FileCatalog._resolve
    monkeypatch.setattr(
        FileCatalog,
        "_resolve",
        lambda self, *a: (self is store.catalog and full.append(a[0])) or original(self, *a),
    )
    with nt.start_run(params={"i": 99}) as r:
        r.log_metric("loss", 0.5)
    store.refresh()
    assert full == []  # every folder took the delta path
    assert _files(store.catalog.snapshot()) == _files(FileCatalog(store.fs).snapshot())
    compaction.gc(store, only_expired=False)  # hidden files go: still the delta path
    store.refresh()
    assert full == []
    assert _files(store.catalog.snapshot()) == _files(FileCatalog(store.fs).snapshot())
    assert len(nt.search_runs()) == 31


def test_a_read_of_an_unchanged_local_store_lists_no_folder(
    store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Folders whose mtime shows no change are not listed again (issue 10), and a change
    made afterwards (here a new run) is seen by the next read."""
    import time

    monkeypatch.setenv("NBTRACK_AUTO_COMPACT", "0")
    for i in range(3):
        with nt.start_run(params={"i": i}) as r:
            r.log_metric("loss", float(i))
    store.flush()
    # A folder's mtime is trusted only once read stamp_margin_s after its last change.
    time.sleep(store.fs.stamp_margin_s + 0.2)
    assert len(nt.search_runs()) == 3  # lists every folder and records its stamp
    listed: list[str] = []
    for name in ("list_files_known", "list_dirs"):
        original = getattr(store.fs, name)
        monkeypatch.setattr(
            store.fs, name, lambda path, *a, _o=original: listed.append(path) or _o(path, *a)
        )
    assert len(nt.search_runs()) == 3
    assert listed == []
    with nt.start_run(params={"i": 3}) as r:
        r.log_metric("loss", 3.0)
    assert len(nt.search_runs()) == 4  # the folders changed: listed again
    assert listed


def test_writers_flag_files_with_one_point_per_key(
    store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A flush of one point per key, and a compaction of such flushes of distinct runs,
    carry ``nbtrack.unique_run_key``; a flush with two points of a key does not."""
    import duckdb

    from nbtrack.storage import compaction, schema

    monkeypatch.setenv("NBTRACK_AUTO_COMPACT", "0")

    def flags() -> dict[str, bool]:
        paths = store.catalog.snapshot().paths(store.fs, "metrics")
        got = {
            r[0]
            for r in duckdb.sql(
                "SELECT file_name FROM parquet_kv_metadata(?::VARCHAR[]) "
                "WHERE decode(key) = ? AND decode(value) = '1'",
                params=[paths, schema.UNIQUE_META.decode()],
            ).fetchall()
        }
        return {p.rsplit("/", 1)[1][:2] + str(i): p in got for i, p in enumerate(sorted(paths))}

    for _ in range(3):
        with nt.start_run() as r:
            r.log_metrics({"a": 1.0, "b": 2.0}, step=0)
    assert all(flags().values()) and len(flags()) == 3
    compaction.compact(store, min_files=2)
    assert list(flags().values()) == [True]  # distinct runs: still one row per (run, key)
    with nt.start_run() as r:
        r.log_metric("a", 1.0, step=0)
        r.log_metric("a", 2.0, step=1)
    assert sorted(flags().values()) == [False, True]
    compaction.compact(store, min_files=2)
    assert list(flags().values()) == [False]
    _check_unique_flags(store)


def test_a_big_one_point_per_key_file_is_read_in_place(store, monkeypatch) -> None:
    """A flagged metrics file at or past ``LAZY_SUMMARY_ROWS`` is never copied into the
    model: its rows are read from the file, and every answer is the same as copied."""
    from nbtrack.storage import compaction
    from nbtrack.storage.read_model import loading

    for i in range(3):
        with nt.start_run(name=f"r{i}") as r:
            r.log_metrics({f"k{j}": float(i + j) for j in range(30)}, step=0)
    compaction.compact(store, min_files=2)
    copied = _state(_fresh(store))
    monkeypatch.setattr(loading, "LAZY_SUMMARY_ROWS", 50)
    model = _fresh(store)
    assert model._lazy, "the compacted file (90 rows) is read in place"
    assert model.execute("SELECT count(*) FROM _metric_summary").column(0)[0].as_py() == 0
    assert _state(model) == copied
    df = nt.search_runs(filter="metrics.k3 > 4")
    assert sorted(df["name"]) == ["r2"]


def test_stamp_margin_follows_the_file_system_type(tmp_path: Any) -> None:
    """A folder's mtime is trusted 50 ms after it on a local disk (timestamps from this
    machine's clock, one tick coarse), 1 s on anything else (NFS, FUSE) or when unknown."""
    from nbtrack.storage import _fs

    info = tmp_path / "mountinfo"
    info.write_text(
        "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
        "40 22 0:40 / /mnt/team\\040share rw shared:9 - nfs4 srv:/x rw,vers=4.2\n"
        "41 22 0:41 / /mnt/teamfuse rw shared:10 - fuse.sshfs host:/y rw\n"
        "garbage line\n"
    )
    assert _fs.mount_type("/home/me/store", str(info)) == "ext4"
    assert _fs.mount_type("/mnt/team share/store", str(info)) == "nfs4"
    assert _fs.mount_type("/mnt/teamfuse/store", str(info)) == "fuse.sshfs"
    assert _fs.mount_type("/mnt/team", str(info)) == "ext4"  # a sibling, not inside
    assert _fs.mount_type("/x", str(tmp_path / "absent")) is None
    assert "nfs4" not in _fs.LOCAL_CLOCK_FS and "ext4" in _fs.LOCAL_CLOCK_FS
    here = _fs.LocalFileSystem(str(tmp_path / "not" / "yet"))
    expected = (
        _fs.LOCAL_STAMP_MARGIN_S
        if _fs.mount_type(str(tmp_path)) in _fs.LOCAL_CLOCK_FS
        else _fs.OTHER_STAMP_MARGIN_S
    )
    assert here.stamp_margin_s == expected


def test_a_running_run_reads_killed_only_while_its_writer_is_dead(store) -> None:
    """``runs`` drops its joins with the dead writers while there are none, and takes them
    back when one is found (and a deleted stale row of the latest points stays hidden)."""
    import time

    run = nt.start_run(name="live")
    run.log_metric("m", 1.0)
    gone = nt.start_run(name="gone", nested=True)
    gone.log_metric("m", 2.0)
    gone.end()
    nt.delete_run(gone.id)
    model = store.refresh()
    [owner] = model.running_owners()

    def row() -> dict[str, Any]:
        return model.execute(
            "SELECT status, end_time, duration_s FROM runs WHERE run_id = ?", [run.id]
        ).to_pylist()[0]

    assert row()["status"] == "RUNNING" and row()["end_time"] is None
    model.set_dead_writers({owner: time.time()})
    killed = row()
    assert killed["status"] == "KILLED" and killed["end_time"] is not None
    assert killed["duration_s"] >= 0
    model.set_dead_writers({})
    assert row()["status"] == "RUNNING" and row()["end_time"] is None
    latest = model.execute("SELECT run_id FROM latest_metrics").column(0).to_pylist()
    assert latest == [run.id]  # the deleted run's latest point is not a current one
    run.end()
