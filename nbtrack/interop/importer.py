"""Import MLflow experiments and runs into an nbtrack store (idempotent, resumable).

A run is written in two flushes: first its params, tags, metrics, artifacts, inputs and
deleted state, then its lifecycle record alone, before the next run starts. So an import
killed at any point (SIGKILL included: each segment appears whole, by rename) resumes
exactly: runs with a lifecycle record (deleted ones included) are whole and skipped; of a
run it had begun only the points not yet on disk are written (params, tags, inputs and
artifacts are keyed, so writing them again changes nothing).
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

from nbtrack.interop.registry_sources import SourceModelVersion
from nbtrack.interop.sources import Source, SourceRun, open_source
from nbtrack.mlflow import _systags
from nbtrack.tracking import experiments as exps
from nbtrack.tracking import records, settings

if TYPE_CHECKING:
    from nbtrack.models.logged import ModelInfo
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
    registered_models: int = 0
    model_versions: int = 0
    versions_skipped: int = 0  # a version whose run or model files were not found
    input_tags_dropped: int = 0  # input tags other than mlflow.data.context (not kept)


class Progress:
    """A one-line progress bar on a terminal stream (silent when ``stream`` is None)."""

    def __init__(self, total: int, stream: TextIO | None, what: str = "runs") -> None:
        self.total, self.done, self.stream, self.what = total, 0, stream, what

    def step(self, label: str) -> None:
        self.done += 1
        if self.stream is None:
            return
        width = 30
        filled = width * self.done // max(self.total, 1)
        self.stream.write(
            f"\rimporting {self.what} [{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} {label[:40]:<40}"
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
    # Runs an interrupted import began: their points on disk are not written again.
    started = records.runs_with_points(st, [rid for _, _, rid in plan if rid not in have])
    bar = Progress(len(plan), stream)  # type: ignore[arg-type]
    run_dirs: dict[str, str] = {}
    for name, eid, rid in plan:
        if rid in have:
            stats.skipped += 1
        else:
            run = src.run(eid, rid)
            run_dirs[rid] = run.artifact_uri
            _import_run(st, src, name, run, stats, resumed=rid in started)
        bar.step(rid)
    _import_registry(st, src, run_dirs, stats, stream)  # type: ignore[arg-type]
    return stats


def _import_registry(
    st: ParquetStore, src: Source, run_dirs: dict[str, str], stats: ImportStats,
    stream: TextIO | None = None,
) -> None:
    """Registered models, versions (their models made nbtrack models), tags and aliases.

    Each version is flushed before the next, so an interrupted import resumes at the first
    version nbtrack lacks; a version already here is not fetched again.
    """
    from nbtrack.errors import ModelError
    from nbtrack.models import foreign

    found = src.registered_models(run_dirs)
    bar = Progress(sum(len(rm.versions) for rm in found), stream, "models")
    for rm in found:
        try:
            created = foreign.import_registered_model(
                st, rm.name, description=rm.description, creation_time=rm.creation_time,
                tags=rm.tags)
        except ModelError:
            stats.versions_skipped += len(rm.versions)  # a name nbtrack does not allow
            for v in rm.versions:
                bar.step(f"{rm.name}/{v.version}")
            continue
        stats.registered_models += created
        st.flush()
        have = set()
        for v in rm.versions:
            info = _version_model(st, v)
            if info is None:
                stats.versions_skipped += 1
            else:
                have.add(v.version)
                stats.model_versions += foreign.import_version(
                    st, rm.name, v.version, info=info, description=v.description,
                    creation_time=v.creation_time, tags=v.tags)
                st.flush()
            bar.step(f"{rm.name}/{v.version}")
        existing = set(st.query("SELECT alias FROM model_aliases WHERE name = ?",
                                [rm.name]).column(0).to_pylist())
        for alias, version in rm.aliases.items():
            if version in have and alias not in existing:
                foreign.import_alias(st, rm.name, alias, version)
        st.flush()


def _version_model(st: ParquetStore, v: SourceModelVersion) -> ModelInfo | None:
    """The nbtrack model of a version: already here (an earlier import, or the run logged it
    through nbtrack), or made from the MLflow model's files; None if neither is possible."""
    from nbtrack.errors import ArtifactError, ModelError, RunNotFoundError
    from nbtrack.models import foreign, logged

    if not v.run_id:
        return None
    try:
        return logged.get_model_info(v.run_id, v.model_name, store=st, include_deleted=True)
    except (ModelError, RunNotFoundError, ArtifactError):
        pass
    try:
        state = records.current_state(st, v.run_id, include_deleted=True)
    except RunNotFoundError:
        return None  # the version's run was not imported
    files = v.files()
    if files is None:
        return None
    try:
        return foreign.import_mlflow_model(st, state.experiment, v.run_id, v.model_name, files)
    except (ModelError, RunNotFoundError, ArtifactError):
        return None


def _missing_points(
    st: ParquetStore, run: SourceRun
) -> list[tuple[str, float, int, int]]:
    """The run's source points minus those already on disk, counted as a multiset (the same
    point may be logged twice) and compared bit for bit (NaN included)."""
    import struct
    from collections import Counter

    def ident(key: str, value: float, ts: int, step: int) -> tuple[str, bytes, int, int]:
        return key, struct.pack("<d", value), int(ts), int(step)

    on_disk = Counter(
        ident(k, v, ts, step) for k, step, ts, v in records.stored_points(st, run.run_id)
    )
    out = []
    for point in run.metrics:
        i = ident(*point)
        if on_disk[i]:
            on_disk[i] -= 1
        else:
            out.append(point)
    return out


def _experiment(st: ParquetStore, e: object, stats: ImportStats) -> str:
    from nbtrack.interop.sources import SourceExperiment

    assert isinstance(e, SourceExperiment)
    old = exps.get_by_name(st, e.name)
    if old is not None and old.registered:
        return old.name
    exps.create(
        st, e.name, artifact_location=e.artifact_location, tags=e.tags,
        experiment_id=e.experiment_id, lifecycle_stage=e.lifecycle_stage,
        creation_time=e.creation_time, last_update_time=e.last_update_time,
    )
    stats.experiments += 1
    return e.name


def _import_run(
    st: ParquetStore, src: Source, experiment: str, run: SourceRun, stats: ImportStats,
    *, resumed: bool = False,
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
    points = _missing_points(st, run) if resumed else run.metrics
    if points:
        keys, values, ts, steps = (list(c) for c in zip(*points, strict=True))
        records.write_metrics(st, experiment, run.run_id, keys, steps, ts, values)
        stats.points += len(keys)
    for path, data in src.artifacts(run):
        safe = _BAD_CHARS.sub("_", path)
        stats.renamed += safe != path
        records.write_artifact(st, experiment, run.run_id, safe, data)
        stats.artifacts += 1
    for ds in run.inputs:
        records.write_input(st, experiment, run.run_id, records.DatasetInput(**ds))
    stats.input_tags_dropped += run.dropped_input_tags
    if run.lifecycle_stage == "deleted":
        records.write_deleted(st, experiment, run.run_id, True)
    # Everything of the run is on disk before its lifecycle record is written, in a flush of
    # its own (one flush writes its tables in no promised order): until that record exists
    # the run is invisible and a resumed import finishes it; once it exists, the run is whole.
    st.flush()
    records.write_run_state(
        st,
        records.RunState(run.run_id, experiment, name, run.status, run.start_time,
                         run.end_time, parent, note),
    )
    st.flush()
    stats.runs += 1
