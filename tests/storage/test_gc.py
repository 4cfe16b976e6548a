"""gc deletes what no reader takes, only once no reader can still need it."""

from __future__ import annotations

import os
import time

import nbtrack as nt
from nbtrack.storage import compaction, segments
from nbtrack.storage.merging import Merger


def _points(store, n: int) -> tuple[str, list[str]]:
    with nt.start_run(name="r"):
        for step in range(n):
            nt.log_metric("m", float(step), step=step)
            store.flush()
    part = store.catalog.snapshot().partitions["metrics"][0]
    return part.folder, sorted(f.name for f in part.visible)


def _publish(store, folder: str, parts: list[str], name: str) -> str:
    sizes = {f.name: f.size for f in store.fs.list_files(store.fs.join(folder))}
    with Merger(store.fs) as merger:
        done = merger.merge(
            "metrics", [(store.fs.join(folder, p), sizes[p]) for p in parts], sorted(parts),
            store.fs.join(folder, name),
        )
    assert done.refused is None and done.merged
    return name


def test_a_file_that_loses_a_race_late_keeps_its_grace_from_when_it_lost(store) -> None:
    folder, names = _points(store, 3)
    # Named in planning order (a merge is named when planned).
    older = segments.segment_name(segments.COMPACTED_PREFIX, "wfirst", 1)
    newer = segments.segment_name(segments.COMPACTED_PREFIX, "wlate", 1)
    # The older-named merge is published and accepted; it is an hour old by now...
    _publish(store, folder, names[1:], older)
    hour_ago = time.time() - 3600
    os.utime(store.fs.join(folder, older), (hour_ago, hour_ago))
    part = store.catalog.resolve_partition(folder)
    assert older in {f.name for f in part.visible}  # readers take it
    # ...when a late, overlapping merge with a newer name appears and beats it.
    _publish(store, folder, names[:2], newer)
    part = store.catalog.resolve_partition(folder)
    assert [f.name for f in part.losers] == [older]
    assert part.lost_since[older] >= time.time() - 60
    removed = compaction.gc(store, only_expired=True)
    # A reader that listed the old file a moment ago may still read it: kept for the grace.
    assert removed["losers"] == 0
    assert os.path.exists(store.fs.join(folder, older))
    assert nt.sql("SELECT count(*) AS n, sum(value) AS s FROM metrics").values.tolist() == [
        [3, 3.0]
    ]
    # Forced (nobody reads), it goes, and the counts stay exact.
    assert compaction.gc(store, only_expired=False)["losers"] == 1
    assert not os.path.exists(store.fs.join(folder, older))
    assert nt.sql("SELECT count(*) AS n, sum(value) AS s FROM metrics").values.tolist() == [
        [3, 3.0]
    ]


def test_a_loser_beaten_from_the_start_keeps_the_grace_from_its_own_mtime(store) -> None:
    folder, names = _points(store, 3)
    older = segments.segment_name(segments.COMPACTED_PREFIX, "wstalled", 1)
    newer = segments.segment_name(segments.COMPACTED_PREFIX, "wholder", 1)
    _publish(store, folder, names[:2], newer)
    _publish(store, folder, names[1:], older)  # published after the winner: never taken
    part = store.catalog.resolve_partition(folder)
    assert [f.name for f in part.losers] == [older]
    mtime = os.path.getmtime(store.fs.join(folder, older))
    assert part.lost_since[older] == max(mtime, os.path.getmtime(store.fs.join(folder, newer)))
