"""The bridge between MLflow's entities and nbtrack's tracking layer: read runs as
``Run`` entities, resolve experiment ids, and write to a run by id (``RunWriter``)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from nbtrack.errors import InvalidValueError
from nbtrack.mlflow import _systags, entities
from nbtrack.mlflow.exceptions import RESOURCE_DOES_NOT_EXIST, MlflowException
from nbtrack.storage import ParquetStore
from nbtrack.tracking import bulk, records, settings
from nbtrack.tracking import experiments as exps
from nbtrack.tracking.run import Run as NtRun
from nbtrack.tracking.run import owned_run

VIEWS = {1: bulk.ACTIVE_ONLY, 2: bulk.DELETED_ONLY, 3: bulk.ALL}


def store() -> ParquetStore:
    return settings.get_store()


def artifact_uri(run_id: str) -> str:
    return f"runs:/{run_id}"


def default_artifact_location(experiment_id: str) -> str:
    """Where MLflow would say an experiment's artifacts live: under the store."""
    uri = store().uri
    base = Path(uri).as_uri() if "://" not in uri else uri
    return f"{base}/artifacts/{experiment_id}"


def experiment_entity(e: exps.Experiment) -> entities.Experiment:
    location = e.artifact_location or default_artifact_location(e.experiment_id)
    return entities.Experiment(
        e.experiment_id,
        e.name,
        location,
        e.lifecycle_stage,
        dict(e.tags),
        e.creation_time,
        e.last_update_time,
    )


def experiment_ids(st: ParquetStore) -> dict[str, str]:
    """Experiment name -> id."""
    return {e.name: e.experiment_id for e in exps.list_all(st)}


def experiment_name(st: ParquetStore, experiment_id: Any) -> str:
    """Raises: MlflowException (RESOURCE_DOES_NOT_EXIST)."""
    try:
        return exps.get_by_id(st, str(experiment_id)).name
    except exps.ExperimentNotFoundError:
        raise MlflowException(
            f"No Experiment with id={experiment_id} exists", RESOURCE_DOES_NOT_EXIST
        ) from None


def run_entity(rec: bulk.RunRecord, ids: Mapping[str, str]) -> entities.Run:
    tags = _systags.to_mlflow_tags(
        rec.tags, name=rec.name, parent_run_id=rec.parent_run_id, description=rec.description
    )
    info = entities.RunInfo(
        run_id=rec.run_id,
        experiment_id=ids.get(rec.experiment, exps.implicit_id(rec.experiment)),
        user_id=_systags.user_id(rec.tags),
        status=rec.status,
        start_time=rec.start_ms,
        end_time=rec.end_ms,
        lifecycle_stage="deleted" if rec.deleted else "active",
        artifact_uri=artifact_uri(rec.run_id),
        run_name=rec.name,
    )
    metrics = {k: v[0] for k, v in rec.metrics.items()}
    objs = tuple(entities.Metric(k, v, ts, step) for k, (v, ts, step) in rec.metrics.items())
    inputs = entities.RunInputs(
        [
            entities.DatasetInput(
                entities.Dataset(
                    i["name"],
                    i["digest"],
                    i["source_type"] or "",
                    i["source"] or "",
                    i["schema"],
                    i["profile"],
                ),
                [entities.InputTag("mlflow.data.context", i["context"])] if i["context"] else [],
            )
            for i in rec.inputs
        ]
    )
    return entities.Run(info, entities.RunData(metrics, dict(rec.params), tags, objs), inputs)


def get_runs(st: ParquetStore, run_ids: Sequence[str]) -> list[entities.Run]:
    recs = bulk.read_runs(st, run_ids)
    ids = experiment_ids(st) if recs else {}
    return [run_entity(r, ids) for r in recs]


def get_run(st: ParquetStore, run_id: str) -> entities.Run:
    """Raises: MlflowException (RESOURCE_DOES_NOT_EXIST)."""
    runs = get_runs(st, [run_id]) if isinstance(run_id, str) else []
    if not runs:
        raise MlflowException(f"Run '{run_id}' not found", RESOURCE_DOES_NOT_EXIST)
    return runs[0]


def search(
    st: ParquetStore,
    experiment_ids: Sequence[Any] | None,
    filter_string: str | None,
    run_view_type: int,
    max_results: int | None,
    order_by: Sequence[str] | None,
) -> list[entities.Run]:
    if run_view_type not in VIEWS:
        raise MlflowException.invalid_parameter_value(f"invalid run_view_type {run_view_type!r}")
    names = None
    if experiment_ids is not None:
        if isinstance(experiment_ids, (str, int)):
            experiment_ids = [experiment_ids]
        by_id = {e.experiment_id: e.name for e in exps.list_all(st)}
        names = [by_id[str(i)] for i in experiment_ids if str(i) in by_id]
    ids = bulk.search_run_ids(
        st,
        experiments=names,
        filter=filter_string or "",
        order_by=order_by,
        max_results=max_results,
        view=VIEWS[run_view_type],
        mlflow_values=True,
    )
    return get_runs(st, ids)


class RunWriter:
    """Writes to one run by id: through its live ``Run`` when this process holds it open,
    else as records (MLflow lets a client log to an ended run)."""

    def __init__(self, st: ParquetStore, run_id: str) -> None:
        self.st = st
        self.run_id = run_id
        live = owned_run(run_id) if isinstance(run_id, str) else None
        self.live: NtRun | None = live if live is not None and not live._finished else None
        if self.live is not None:
            self.experiment = self.live.experiment
        else:
            state = records.current_state(st, run_id)
            self.experiment = state.experiment

    def log_metrics(
        self, metrics: Mapping[str, Any], step: int | None, timestamp: int | None
    ) -> None:
        # MLflow: a metric without a step is at step 0, not the next step.
        step = 0 if step is None else step
        ts = timestamp if timestamp is not None else time.time_ns() // 1_000_000
        if self.live is not None:
            self.live.log_metrics(metrics, step=step, timestamp=ts)
            return
        keys = list(metrics)
        records.write_metrics(
            self.st,
            self.experiment,
            self.run_id,
            keys,
            [step] * len(keys),
            [ts] * len(keys),
            [metrics[k] for k in keys],
        )
        self.st.flush()

    def log_points(self, points: Sequence[entities.Metric]) -> None:
        """Points with their own steps and timestamps (``log_batch``)."""
        if not points:
            return
        records.write_metrics(
            self.st,
            self.experiment,
            self.run_id,
            [m.key for m in points],
            [int(m.step or 0) for m in points],
            [int(m.timestamp) for m in points],
            [m.value for m in points],
        )
        self.st.flush()

    def log_params(self, params: Mapping[str, Any]) -> None:
        if self.live is not None:
            self.live.log_params(params)
            return
        records.write_params(self.st, self.experiment, self.run_id, params)
        self.st.flush()

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        tags = {_systags.to_nbtrack_tag(k) if isinstance(k, str) else k: v for k, v in tags.items()}
        attrs = {k: tags.pop(k) for k in list(tags) if k in _systags.ATTRIBUTE_TAGS}
        if attrs:
            self._set_attributes({_systags.ATTRIBUTE_TAGS[k]: str(v) for k, v in attrs.items()})
        if not tags:
            return
        if self.live is not None:
            self.live.set_tags(tags)
            return
        records.write_tags(self.st, self.experiment, self.run_id, tags)
        self.st.flush()

    def delete_tag(self, key: str) -> None:
        key = _systags.to_nbtrack_tag(key)
        if key in _systags.ATTRIBUTE_TAGS:
            attr = _systags.ATTRIBUTE_TAGS[key]
            if attr == "name":
                raise InvalidValueError("a run always has a name; set another one instead")
            self._set_attributes({attr: None})
            return
        from nbtrack.tracking import query

        if key not in query.run_tags(self.run_id, self.st):
            raise MlflowException(
                f"No tag with name: {key} in run with id {self.run_id}", RESOURCE_DOES_NOT_EXIST
            )
        if self.live is not None:
            self.live.delete_tag(key)
            return
        records.write_tags(self.st, self.experiment, self.run_id, {key: None})
        self.st.flush()

    def _set_attributes(self, changes: Mapping[str, str | None]) -> None:
        """Rename a run, or change its parent or description (a new lifecycle record)."""
        from dataclasses import replace

        if "name" in changes:
            from nbtrack.tracking import validation

            validation.run_name(changes["name"])
        if self.live is not None:
            for attr, value in changes.items():
                setattr(self.live, attr, value)
            live = self.live
            state = records.RunState(
                live.run_id,
                live.experiment,
                live.name,
                live.status,
                live._start_ms,
                live._end_ms,
                live.parent_run_id,
                live.description,
            )
            records.write_run_state(self.st, state, owner=self.st.writer_id)
        else:
            state = records.current_state(self.st, self.run_id)
            records.write_run_state(self.st, replace(state, **changes))
        self.st.flush()

    def set_status(self, status: str, end_time: int | None = None) -> None:
        """End (or mark) the run: FINISHED, FAILED, KILLED, or RUNNING again."""
        from dataclasses import replace

        if self.live is not None and status != "RUNNING":
            self.live.end(status)
            if end_time is None:
                return
        state = records.current_state(self.st, self.run_id)
        end = (
            None
            if status == "RUNNING"
            else (end_time if end_time is not None else state.end_ms or time.time_ns() // 1_000_000)
        )
        records.write_run_state(self.st, replace(state, status=status, end_ms=end))
        self.st.flush()
