"""``MlflowClient``: the common subset of MLflow's low-level client, on an nbtrack store.

Runs are addressed by id and are not made active. ``create_run`` starts a run owned by this
process (``set_terminated`` ends it); logging to a run that has ended is allowed, as in MLflow.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from nbtrack.errors import MetricNotFoundError
from nbtrack.mlflow import _runs, _systags, artifacts, entities
from nbtrack.mlflow import experiments as _exps
from nbtrack.mlflow.exceptions import translated
from nbtrack.mlflow.registry import RegistryClient
from nbtrack.mlflow.tracking_uri import _store_uri
from nbtrack.storage import ParquetStore
from nbtrack.tracking import experiments as exps
from nbtrack.tracking import query, records, settings


class MlflowClient(RegistryClient):
    """MLflow's client API over the nbtrack store at ``tracking_uri`` (default: current).

    Methods take explicit run and experiment ids (``create_run``, ``log_metric``,
    ``log_batch``, ``get_metric_history``, ``search_runs``, ``set_terminated`` ...) and
    return MLflow's entities; see docs/mlflow.md for what differs.

    Args:
        tracking_uri: A store path, ``file:`` URI or fsspec URL; the current store when None.
        registry_uri: Accepted for MLflow compatibility; unused.

    Raises:
        MlflowException: from its methods, with MLflow's error codes.

    Example:
        >>> client = MlflowClient()  # doctest: +SKIP
        >>> run = client.create_run("0")  # doctest: +SKIP
        >>> client.log_metric(run.info.run_id, "rmse", 0.71)  # doctest: +SKIP
    """

    def __init__(self, tracking_uri: str | None = None, registry_uri: str | None = None) -> None:
        self._uri = _store_uri(tracking_uri) if tracking_uri is not None else None

    @property
    def _st(self) -> ParquetStore:
        return settings.get_store(self._uri)

    def _in_store(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Run a module-level helper against this client's store."""
        if self._uri is None:
            return fn(*args, **kwargs)
        old = settings.SETTINGS.store_uri
        settings.SETTINGS.store_uri = self._st.uri
        try:
            return fn(*args, **kwargs)
        finally:
            settings.SETTINGS.store_uri = old

    # ---- runs -----------------------------------------------------------------------------
    @translated
    def get_run(self, run_id: str) -> entities.Run:
        return _runs.get_run(self._st, run_id)

    @translated
    def create_run(
        self,
        experiment_id: str,
        start_time: int | None = None,
        tags: Mapping[str, Any] | None = None,
        run_name: str | None = None,
    ) -> entities.Run:
        st = self._st
        user_tags = dict(tags or {})
        name = run_name or user_tags.pop(_systags.RUN_NAME, None)
        user_tags.pop(_systags.RUN_NAME, None)
        parent = user_tags.pop(_systags.PARENT_RUN_ID, None)
        note = user_tags.pop(_systags.NOTE, None)
        user_tags = {_systags.to_nbtrack_tag(k): v for k, v in user_tags.items()}
        from nbtrack.tracking import validation
        from nbtrack.tracking._names import new_run_id, new_run_name

        experiment = _runs.experiment_name(st, experiment_id)
        checked = validation.checked_texts(user_tags, "tag", "create_run(tags=)")
        run_id = new_run_id()
        # As in MLflow, a client-created run belongs to no process: it stays RUNNING until
        # set_terminated (no owner, so it is never read as KILLED and never ended at exit).
        records.write_run_state(
            st,
            records.RunState(
                run_id,
                experiment,
                validation.run_name(name) or new_run_name(),
                "RUNNING",
                int(start_time) if start_time is not None else time.time_ns() // 1_000_000,
                None,
                parent,
                note,
            ),
        )
        if checked:
            records.write_tags(st, experiment, run_id, checked)
        st.flush()
        return _runs.get_run(st, run_id)

    @translated
    def set_terminated(
        self, run_id: str, status: str | None = None, end_time: int | None = None
    ) -> None:
        _runs.RunWriter(self._st, run_id).set_status(status or "FINISHED", end_time)

    @translated
    def update_run(self, run_id: str, status: str | None = None, name: str | None = None) -> None:
        w = _runs.RunWriter(self._st, run_id)
        if name is not None:
            w._set_attributes({"name": name})
        if status is not None:
            w.set_status(status)

    @translated
    def delete_run(self, run_id: str) -> None:
        query.delete_run(run_id, store=self._st)

    @translated
    def restore_run(self, run_id: str) -> None:
        query.restore_run(run_id, store=self._st)

    @translated
    def log_metric(
        self,
        run_id: str,
        key: str,
        value: float,
        timestamp: int | None = None,
        step: int | None = None,
        synchronous: bool | None = None,
        dataset_name: str | None = None,
        dataset_digest: str | None = None,
        model_id: str | None = None,
    ) -> None:
        _runs.RunWriter(self._st, run_id).log_metrics({key: value}, step, timestamp)

    @translated
    def log_param(self, run_id: str, key: str, value: Any, synchronous: bool | None = None) -> Any:
        _runs.RunWriter(self._st, run_id).log_params({key: value})
        return value

    @translated
    def set_tag(self, run_id: str, key: str, value: Any, synchronous: bool | None = None) -> None:
        _runs.RunWriter(self._st, run_id).set_tags({key: value})

    @translated
    def delete_tag(self, run_id: str, key: str) -> None:
        _runs.RunWriter(self._st, run_id).delete_tag(key)

    @translated
    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[entities.Metric] = (),
        params: Sequence[entities.Param] = (),
        tags: Sequence[entities.RunTag] = (),
        synchronous: bool | None = None,
    ) -> None:
        w = _runs.RunWriter(self._st, run_id)
        if params:
            w.log_params({p.key: p.value for p in params})
        if tags:
            w.set_tags({t.key: t.value for t in tags})
        now = time.time_ns() // 1_000_000
        w.log_points(
            [
                entities.Metric(
                    m.key, m.value, m.timestamp if m.timestamp is not None else now, m.step or 0
                )
                for m in metrics
            ]
        )

    @translated
    def get_metric_history(self, run_id: str, key: str) -> list[entities.Metric]:
        try:
            df = query.get_metric_history(run_id, key, store=self._st)
        except MetricNotFoundError:
            return []  # MLflow returns an empty history for a key the run never logged
        import pandas as pd

        epoch = pd.Timestamp(0, tz="UTC")
        ts = ((df["timestamp"] - epoch) // pd.Timedelta(milliseconds=1)).tolist() if len(df) else []
        return [
            entities.Metric(key, float(v), int(t), int(s))
            for s, v, t in zip(df["step"], df["value"], ts, strict=True)
        ]

    @translated
    def search_runs(
        self,
        experiment_ids: Sequence[str] | str,
        filter_string: str | None = "",
        run_view_type: int = entities.ViewType.ACTIVE_ONLY,
        max_results: int = 1000,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> entities.PagedList:
        offset = int(page_token) if page_token else 0
        runs = _runs.search(
            self._st,
            experiment_ids,
            filter_string,
            run_view_type,
            offset + max_results + 1,
            order_by,
        )
        page = runs[offset : offset + max_results]
        more = len(runs) > offset + max_results
        return entities.PagedList(page, str(offset + max_results) if more else None)

    # ---- artifacts --------------------------------------------------------------------------
    def log_artifact(self, run_id: str, local_path: str, artifact_path: str | None = None) -> None:
        self._in_store(translated(artifacts.put_file), run_id, local_path, artifact_path)

    def log_artifacts(self, run_id: str, local_dir: str, artifact_path: str | None = None) -> None:
        self._in_store(translated(artifacts.put_dir), run_id, local_dir, artifact_path)

    def log_text(self, run_id: str, text: str, artifact_file: str) -> None:
        self._in_store(translated(artifacts.put), run_id, artifact_file, text.encode())

    def log_dict(self, run_id: str, dictionary: Any, artifact_file: str) -> None:
        data = artifacts.dict_bytes(dictionary, artifact_file)
        self._in_store(translated(artifacts.put), run_id, artifact_file, data)

    def log_table(self, run_id: str, data: Any, artifact_file: str) -> None:
        self._in_store(
            translated(artifacts.put), run_id, artifact_file, artifacts.table_bytes(data)
        )

    def log_figure(
        self,
        run_id: str,
        figure: Any,
        artifact_file: str,
        *,
        save_kwargs: dict[str, Any] | None = None,
    ) -> None:
        data = artifacts.figure_bytes(figure, artifact_file, save_kwargs)
        self._in_store(translated(artifacts.put), run_id, artifact_file, data)

    def log_image(
        self,
        run_id: str,
        image: Any,
        artifact_file: str | None = None,
        key: str | None = None,
        step: int | None = None,
        timestamp: int | None = None,
        synchronous: bool | None = None,
    ) -> None:
        artifact_file = artifacts.image_file(artifact_file, key, step, timestamp)
        data = artifacts.image_bytes(image, artifact_file)
        self._in_store(translated(artifacts.put), run_id, artifact_file, data)

    def list_artifacts(self, run_id: str, path: str | None = None) -> list[entities.FileInfo]:
        return self._in_store(artifacts.list_artifacts, run_id, path)

    def download_artifacts(self, run_id: str, path: str, dst_path: str | None = None) -> str:
        return self._in_store(
            artifacts.download_artifacts, run_id=run_id, artifact_path=path, dst_path=dst_path
        )

    # ---- experiments ------------------------------------------------------------------------
    @translated
    def create_experiment(
        self, name: str, artifact_location: str | None = None, tags: Mapping[str, Any] | None = None
    ) -> str:
        return exps.create(
            self._st, name, artifact_location=artifact_location, tags=tags
        ).experiment_id

    def get_experiment(self, experiment_id: str) -> entities.Experiment:
        return self._in_store(_exps.get_experiment, experiment_id)

    def get_experiment_by_name(self, name: str) -> entities.Experiment | None:
        return self._in_store(_exps.get_experiment_by_name, name)

    def search_experiments(
        self,
        view_type: int = entities.ViewType.ACTIVE_ONLY,
        max_results: int | None = 1000,
        filter_string: str | None = None,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> entities.PagedList:
        from nbtrack.mlflow.experiment_search import check_max_results

        check_max_results(max_results)
        found = self._in_store(_exps.search_experiments, view_type, None, filter_string, order_by)
        offset = int(page_token) if page_token else 0
        end = len(found) if max_results is None else offset + max_results
        return entities.PagedList(found[offset:end], str(end) if end < len(found) else None)

    def delete_experiment(self, experiment_id: str) -> None:
        self._in_store(_exps.delete_experiment, experiment_id)

    def restore_experiment(self, experiment_id: str) -> None:
        self._in_store(_exps.restore_experiment, experiment_id)

    @translated
    def set_experiment_tag(self, experiment_id: str, key: str, value: Any) -> None:
        st = self._st
        exps.set_tag(st, exps.get_by_id(st, str(experiment_id)), key, value)

    @translated
    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        st = self._st
        exps.delete_tag(st, exps.get_by_id(st, str(experiment_id)), key)

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        raise NotImplementedError(
            "nbtrack names runs' experiments by name, so an experiment cannot be renamed in "
            "place; copy its runs with `nbtrack export`/`nbtrack import` under a new name"
        )

    @translated
    def log_inputs(
        self, run_id: str, datasets: Sequence[Any] | None = None, models: Any = None
    ) -> None:
        from nbtrack.mlflow import data as _data

        st = self._st
        w = _runs.RunWriter(st, run_id)
        for ds_input in datasets or []:
            ds = getattr(ds_input, "dataset", ds_input)
            tags = {t.key: t.value for t in getattr(ds_input, "tags", [])}
            records.write_input(
                st, w.experiment, run_id, _data.to_record(ds, tags.get("mlflow.data.context"))
            )
        st.flush()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        from nbtrack.mlflow._unsupported import unsupported

        return unsupported(f"MlflowClient.{name}")
