"""Racing compactors: the documented plain query and nbtrack count every point once.

Two compactors that listed the same partition may each publish a compacted file over the
same (or overlapping) inputs. The states they can leave are built here directly with the
real merger, in both orders, so the rule is checked without depending on timing.
"""

from __future__ import annotations

import pytest

import nbtrack as nt
from nbtrack.storage import segments
from nbtrack.storage.merging import Merger
from remote._format_doc import duckdb_session, polars_read_store


def _three_points(store_path) -> tuple[object, str, list[str]]:
    store = nt.set_store(str(store_path))
    with nt.start_run(name="r"):
        for step in range(3):
            nt.log_metric("m", float(step), step=step)
            store.flush()
    part = store.catalog.snapshot().partitions["metrics"][0]
    names = sorted(f.name for f in part.visible)
    assert len(names) == 3
    return store, part.folder, names


def _compacted(store, folder: str, parts: list[str], tag: str) -> str:
    """Publish a compacted file over ``parts`` as a compactor with writer id ``tag`` would."""
    name = segments.segment_name(segments.COMPACTED_PREFIX, tag, 1)
    with Merger(store.fs) as merger:
        sizes = {f.name: f.size for f in store.fs.list_files(store.fs.join(folder))}
        done = merger.merge(
            "metrics", [(store.fs.join(folder, p), sizes[p]) for p in parts],
            sorted(parts), store.fs.join(folder, name),
        )
    assert done.refused is None and done.merged
    return name


@pytest.mark.parametrize(
    ("first", "second"),
    [
        pytest.param([0, 1, 2], [0, 1, 2], id="same-inputs"),
        pytest.param([0, 1], [1, 2], id="overlap-older-first"),
        pytest.param([1, 2], [0, 1], id="overlap-newer-first"),
    ],
)
def test_documented_query_counts_each_point_once_after_a_race(
    store_path, first: list[int], second: list[int]
) -> None:
    store, folder, names = _three_points(store_path)
    _compacted(store, folder, [names[i] for i in first], "wracer1")
    _compacted(store, folder, [names[i] for i in second], "wracer2")
    con = duckdb_session(str(store_path))
    assert con.sql("SELECT count(*) FROM metrics").fetchall() == [(3,)]
    assert con.sql("SELECT sum(value) FROM metrics").fetchall() == [(3.0,)]
    assert con.sql("SELECT step, value FROM latest_metrics").fetchall() == [(2, 2.0)]
    assert nt.sql("SELECT count(*) AS n FROM metrics")["n"][0] == 3
    got = polars_read_store(str(store_path))
    assert got["metrics"].height == 3
    assert got["latest_metrics"]["value"].to_list() == [2.0]
    # A later compaction over the race's winner keeps it exact too.
    nt.set_store(str(store_path))
    from nbtrack.storage import compaction

    compaction.compact(store)
    con = duckdb_session(str(store_path))
    assert con.sql("SELECT count(*), sum(value) FROM metrics").fetchall() == [(3, 3.0)]
    assert nt.sql("SELECT count(*) AS n FROM metrics")["n"][0] == 3
