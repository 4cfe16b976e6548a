"""Import MLflow experiments and runs into an nbtrack store (idempotent, resumable).

A run is written whole (params, tags, metrics, artifacts, then its lifecycle record) and
flushed before the next one starts, so an interrupted import resumes where it stopped: runs
already present (by id, deleted ones included) are skipped.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

from nbtrack.interop.sources import Source, SourceRun, open_source
from nbtrack.mlflow import _systags
from nbtrack.tracking import experiments as exps
from nbtrack.tracking import records, settings

if TYPE_CHECKING:
    from nbtrack.storage import ParquetStore


# Characters MLflow allows in artifact file names but nbtrack's key rule does not
# (MLflow's log_image names files "<key>+step+<n>+timestamp+..."): imported as "_".
_BAD_CHARS = re.compile(r"[^\w.\-/ :]")


@dataclass
class ImportStats:
    experiments: int = 0
    runs: int = 0
    skipped: int = 0
    points: int = 0
    artifacts: int = 0
    renamed: int = 0  # artifacts whose names broke nbtrack's key rule (characters -> "_")


class Progress:
    """A one-line progress bar on a terminal stream (silent when ``stream`` is None)."""

    def __init__(self, total: int, stream: TextIO | None) -> None:
        self.total, self.done, self.stream = total, 0, stream

    def step(self, label: str) -> None:
        self.done += 1
        if self.stream is None:
            return
        width = 30
        filled = width * self.done // max(self.total, 1)
        self.stream.write(
            f"\rimporting [{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} {label[:40]:<40}"
        )
        if self.done == self.total:
            self.stream.write("\n")
        self.stream.flush()


def import_mlflow(
    source: str | Source,
    *,
    store: ParquetStore | None = None,
    progress: bool | TextIO = False,
) -> ImportStats:
    """Copy every experiment and run of an MLflow store into the nbtrack store.

    Args:
        source: an ``mlruns`` folder (or ``file:`` URI), ``sqlite:///mlflow.db`` (or a
            ``.db`` path), or an ``http(s)://`` MLflow tracking server; or a ``Source``.
        store: the nbtrack store (default: the current one).
        progress: True for a progress bar on stderr, or a stream to draw it on.

    Raises:
        SourceError: the source cannot be read.
    """
    src = open_source(source) if isinstance(source, str) else source
    st = store if store is not None else settings.get_store()
    stream = sys.stderr if progress is True else (progress or None)
    stats = ImportStats()
    plan: list[tuple[str, str, str]] = []  # (experiment name, experiment id, run id)
    for e in src.experiments():
        name = _experiment(st, e, stats)
        plan.extend((name, e.experiment_id, rid) for rid in src.run_ids(e.experiment_id))
    have = records.existing_run_ids(st, [rid for _, _, rid in plan])
    bar = Progress(len(plan), stream)  # type: ignore[arg-type]
    for name, eid, rid in plan:
        if rid in have:
            stats.skipped += 1
        else:
            _import_run(st, src, name, src.run(eid, rid), stats)
        bar.step(rid)
    return stats


def _experiment(st: ParquetStore, e: object, stats: ImportStats) -> str:
    from nbtrack.interop.sources import SourceExperiment

    assert isinstance(e, SourceExperiment)
    old = exps.get_by_name(st, e.name)
    if old is not None and old.registered:
        return old.name
    exps.create(
        st,
        e.name,
        artifact_location=e.artifact_location,
        tags=e.tags,
        experiment_id=e.experiment_id,
        lifecycle_stage=e.lifecycle_stage,
        creation_time=e.creation_time,
        last_update_time=e.last_update_time,
    )
    stats.experiments += 1
    return e.name


def _import_run(
    st: ParquetStore, src: Source, experiment: str, run: SourceRun, stats: ImportStats
) -> None:
    tags = dict(run.tags)
    name = tags.pop(_systags.RUN_NAME, None) or run.name or run.run_id
    parent = tags.pop(_systags.PARENT_RUN_ID, None)
    note = tags.pop(_systags.NOTE, None)
    tags = {_systags.to_nbtrack_tag(k): v for k, v in tags.items()}
    if run.user_id and run.user_id != tags.get(_systags.USER):
        tags[_systags.USER_ID] = run.user_id
    if run.params:
        records.write_params(st, experiment, run.run_id, run.params, existing={})
    if tags:
        records.write_tags(st, experiment, run.run_id, tags)
    if run.metrics:
        keys, values, ts, steps = (list(c) for c in zip(*run.metrics, strict=True))
        records.write_metrics(st, experiment, run.run_id, keys, steps, ts, values)
        stats.points += len(keys)
    for path, data in src.artifacts(run):
        safe = _BAD_CHARS.sub("_", path)
        stats.renamed += safe != path
        records.write_artifact(st, experiment, run.run_id, safe, data)
        stats.artifacts += 1
    for ds in run.inputs:
        records.write_input(st, experiment, run.run_id, records.DatasetInput(**ds))
    # The lifecycle record last: until it is written the run is invisible, so a crash
    # before it leaves nothing a reader sees (a resumed import writes the run again).
    records.write_run_state(
        st,
        records.RunState(
            run.run_id, experiment, name, run.status, run.start_time, run.end_time, parent, note
        ),
    )
    if run.lifecycle_stage == "deleted":
        records.write_deleted(st, experiment, run.run_id, True)
    st.flush()
    stats.runs += 1
