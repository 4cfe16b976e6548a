"""Export an nbtrack store (or a filter of it) to an MLflow file store or SQLite database.

The result opens in real MLflow (``mlflow ui``, ``mlflow.search_runs``) with the same runs:
ids, names, statuses, times, params, full metric histories, tags (run name, parent and
description as MLflow's system tags), artifacts and deleted state, and the model registry of
those runs (``registry_export``). A file store is written
with no MLflow installed (PyYAML only); a SQLite database needs MLflow itself to create its
schema at the installed version (``pip install 'nbtrack[mlflow-compat]'``).
"""

from __future__ import annotations

import math
import os
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nbtrack.errors import NbtrackError
from nbtrack.interop import registry_export
from nbtrack.mlflow import _systags
from nbtrack.tracking import bulk, settings
from nbtrack.tracking import experiments as exps

if TYPE_CHECKING:
    from nbtrack.storage import ParquetStore

_STATUS_INT = {"RUNNING": 1, "FINISHED": 3, "FAILED": 4, "KILLED": 5}


class ExportError(NbtrackError):
    """The export target cannot be written."""


@dataclass
class _Run:
    rec: bulk.RunRecord
    experiment_id: str
    tags: dict[str, str]
    points: list[tuple[str, int, int, float]]
    artifacts: dict[str, str]


def _collect(
    st: ParquetStore, experiments: Sequence[str] | None, filter: str
) -> tuple[list[exps.Experiment], dict[str, str], list[_Run]]:
    ids = bulk.search_run_ids(st, experiments=experiments, filter=filter, view=bulk.ALL)
    recs = bulk.read_runs(st, ids)
    names = {r.experiment for r in recs}
    chosen = [
        e
        for e in exps.list_all(st)
        if e.name in names or (experiments is None and not filter and e.registered)
    ]
    # MLflow's SQL store needs integer experiment ids: implicit ids get fresh numbers.
    numeric = [int(e.experiment_id) for e in chosen if e.experiment_id.isdigit()]
    nxt = max(numeric, default=0) + 1
    id_of: dict[str, str] = {}
    for e in chosen:
        if e.experiment_id.isdigit():
            id_of[e.name] = e.experiment_id
        else:
            id_of[e.name] = str(nxt)
            nxt += 1
    runs = [
        _Run(
            r,
            id_of[r.experiment],
            _systags.to_mlflow_tags(
                r.tags, name=r.name, parent_run_id=r.parent_run_id, description=r.description
            ),
            bulk.metric_points(st, r.run_id),
            bulk.artifact_index(st, r.run_id),
        )
        for r in recs
    ]
    return chosen, id_of, runs


def export_mlflow(
    dest: str,
    *,
    store: ParquetStore | None = None,
    experiments: Sequence[str] | None = None,
    filter: str = "",
) -> int:
    """Write the store's runs (of ``experiments``, matching ``filter``) to ``dest``.

    ``dest`` is ``sqlite:///path.db`` (or a path ending in ``.db``) for a database, an
    ``http(s)://`` MLflow tracking server (``export_rest``: new run ids, runs it already has
    are skipped), else a folder for a file store (``mlruns``). Returns the number of runs
    written.

    Raises:
        ExportError: the target exists and is not empty, or cannot be written.
        SourceError: the MLflow server cannot be reached or refuses a write.
        FilterError: the filter is malformed.
    """
    st = store if store is not None else settings.get_store()
    chosen, id_of, runs = _collect(st, experiments, filter)
    if dest.startswith(("http://", "https://")):
        from nbtrack.interop import export_rest
        from nbtrack.interop.rest_source import RestSource

        return export_rest.to_server(st, RestSource(dest), chosen, runs)
    if dest.startswith("sqlite:") or dest.endswith((".db", ".sqlite")):
        path = dest[len("sqlite:///") :] if dest.startswith("sqlite:///") else dest
        _to_sqlite(st, Path(path), chosen, id_of, runs)
    else:
        root = Path(dest[len("file:") :] if dest.startswith("file:") else dest)
        if root.exists() and any(root.iterdir()):
            raise ExportError(f"{root} is not empty; export into a new folder")
        _to_files(st, root, chosen, id_of, runs)
    return len(runs)


def _yaml() -> Any:
    try:
        import yaml
    except ImportError:
        raise ExportError(
            "writing an MLflow file store needs PyYAML: pip install 'nbtrack[mlflow]'"
        ) from None
    return yaml


def _write(path: Path, text: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")


def _to_files(
    st: ParquetStore,
    root: Path,
    chosen: list[exps.Experiment],
    id_of: dict[str, str],
    runs: list[_Run],
) -> None:
    yaml = _yaml()
    root = root.resolve()
    folder: dict[str, Path] = {}
    for e in chosen:
        eid = id_of[e.name]
        d = (root / ".trash" / eid) if e.lifecycle_stage == "deleted" else (root / eid)
        folder[eid] = d
        meta = {
            "artifact_location": (root / eid).as_uri(),
            "creation_time": e.creation_time,
            "experiment_id": eid,
            "last_update_time": e.last_update_time,
            "lifecycle_stage": e.lifecycle_stage,
            "name": e.name,
        }
        _write(d / "meta.yaml", yaml.safe_dump(meta, allow_unicode=True))
        for k, v in e.tags.items():
            _write(d / "tags" / k, v)
    (root / ".trash").mkdir(parents=True, exist_ok=True)
    for run in runs:
        r = run.rec
        d = folder[run.experiment_id] / r.run_id
        meta = {
            "artifact_uri": (d / "artifacts").as_uri(),
            "end_time": r.end_ms,
            "entry_point_name": "",
            "experiment_id": run.experiment_id,
            "lifecycle_stage": "deleted" if r.deleted else "active",
            "run_id": r.run_id,
            "run_name": r.name,
            "source_name": "",
            "source_type": 4,
            "source_version": "",
            "start_time": r.start_ms,
            "status": _STATUS_INT[r.status],
            "tags": [],
            "user_id": _systags.user_id(run.rec.tags),
        }
        _write(d / "meta.yaml", yaml.safe_dump(meta, allow_unicode=True))
        for sub in ("metrics", "params", "tags", "artifacts"):  # MLflow requires all four
            (d / sub).mkdir(parents=True, exist_ok=True)
        for k, v in r.params.items():
            _write(d / "params" / k, v)
        for k, v in run.tags.items():
            _write(d / "tags" / k, v)
        lines: dict[str, list[str]] = {}
        for key, step, ts, value in run.points:
            lines.setdefault(key, []).append(f"{ts} {_float(value)} {step}")
        for key, text in lines.items():
            _write(d / "metrics" / key, "\n".join(text) + "\n")
        (d / "artifacts").mkdir(parents=True, exist_ok=True)
        for path, sha in run.artifacts.items():
            _write(d / "artifacts" / path, st.read_blob(sha))
        for ds in r.inputs:
            # MLflow's file store: the dataset once per experiment, one input per run.
            ds_id = _file_dataset_id(ds)
            ds_meta = {k: ds.get(k) for k in ("name", "digest", "source_type", "source",
                                                "schema", "profile")}
            _write(folder[run.experiment_id] / "datasets" / ds_id / "meta.yaml",
                   yaml.safe_dump(ds_meta, allow_unicode=True))
            # destination_id repeats the dataset id: MLflow's file store writes it so
            in_meta = {
                "destination_id": ds_id, "destination_type": "RUN", "source_id": ds_id,
                "source_type": "DATASET", "tags": _input_tags(ds),
            }
            _write(d / "inputs" / _file_input_id(r.run_id, ds_id) / "meta.yaml",
                   yaml.safe_dump(in_meta, allow_unicode=True))
    artifacts_of = {
        run.rec.run_id: folder[run.experiment_id] / run.rec.run_id / "artifacts" for run in runs
    }
    registry = registry_export.collect(st, set(artifacts_of))
    registry_export.write_mlmodels(registry, artifacts_of)
    registry_export.to_files(root, registry, artifacts_of)


def _float(v: float) -> str:
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return repr(float(v))


def _to_sqlite(
    st: ParquetStore,
    path: Path,
    chosen: list[exps.Experiment],
    id_of: dict[str, str],
    runs: list[_Run],
) -> None:
    if path.exists():
        raise ExportError(f"{path} exists; export into a new database file")
    try:
        from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore
    except ImportError:
        raise ExportError(
            "exporting to an MLflow database needs MLflow to create its schema: "
            "pip install 'nbtrack[mlflow-compat]', or export to a folder (file store)"
        ) from None
    path.parent.mkdir(parents=True, exist_ok=True)
    art_root = path.parent / (path.stem + "-artifacts")
    sa_store = SqlAlchemyStore(f"sqlite:///{path}", art_root.as_uri())
    sa_store.engine.dispose()
    con = sqlite3.connect(path)
    try:
        with con:
            con.execute("DELETE FROM experiments WHERE experiment_id = 0 AND name = 'Default'")
            for e in chosen:
                eid = int(id_of[e.name])
                con.execute(
                    "INSERT INTO experiments (experiment_id, name, artifact_location, "
                    "lifecycle_stage, creation_time, last_update_time) VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        eid,
                        e.name,
                        (art_root / str(eid)).as_uri(),
                        e.lifecycle_stage,
                        e.creation_time,
                        e.last_update_time,
                    ),
                )
                con.executemany(
                    "INSERT INTO experiment_tags (key, value, experiment_id) VALUES (?, ?, ?)",
                    [(k, v, eid) for k, v in e.tags.items()],
                )
            if "Default" not in id_of:
                con.execute(
                    "INSERT OR IGNORE INTO experiments (experiment_id, name, artifact_location, "
                    "lifecycle_stage) VALUES (0, 'Default', ?, 'active')",
                    ((art_root / "0").as_uri(),),
                )
            for run in runs:
                r = run.rec
                art = art_root / run.experiment_id / r.run_id / "artifacts"
                con.execute(
                    "INSERT INTO runs (run_uuid, name, source_type, source_name, "
                    "entry_point_name, user_id, status, start_time, end_time, source_version, "
                    "lifecycle_stage, artifact_uri, experiment_id) "
                    "VALUES (?, ?, 'UNKNOWN', '', '', ?, ?, ?, ?, '', ?, ?, ?)",
                    (
                        r.run_id,
                        r.name,
                        _systags.user_id(r.tags),
                        r.status,
                        r.start_ms,
                        r.end_ms,
                        "deleted" if r.deleted else "active",
                        art.as_uri(),
                        int(run.experiment_id),
                    ),
                )
                con.executemany(
                    "INSERT INTO params (key, value, run_uuid) VALUES (?, ?, ?)",
                    [(k, v, r.run_id) for k, v in r.params.items()],
                )
                con.executemany(
                    "INSERT INTO tags (key, value, run_uuid) VALUES (?, ?, ?)",
                    [(k, v, r.run_id) for k, v in run.tags.items()],
                )
                rows = [(k, *_sql_value(v), ts, r.run_id, step) for k, step, ts, v in run.points]
                con.executemany(
                    "INSERT OR IGNORE INTO metrics (key, value, is_nan, timestamp, run_uuid, step) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    rows,
                )
                latest: dict[str, tuple[Any, ...]] = {}
                for k, step, ts, v in run.points:  # sorted by key, step, timestamp
                    latest[k] = (k, *_sql_value(v), ts, step, r.run_id)
                con.executemany(
                    "INSERT INTO latest_metrics (key, value, is_nan, timestamp, step, run_uuid) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    list(latest.values()),
                )
                for p, sha in run.artifacts.items():
                    _write(art / p, st.read_blob(sha))
                for ds in r.inputs:
                    ds_id = _dataset_uuid(run.experiment_id, ds)
                    con.execute(
                        "INSERT OR IGNORE INTO datasets (dataset_uuid, experiment_id, name, "
                        "digest, dataset_source_type, dataset_source, dataset_schema, "
                        "dataset_profile) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (ds_id, int(run.experiment_id), ds["name"], ds["digest"],
                         ds.get("source_type") or "", ds.get("source") or "",
                         ds.get("schema"), ds.get("profile")),
                    )
                    # The dataset row kept for (experiment, name, digest) may be an earlier
                    # one: link the input to that row's id.
                    (kept,) = con.execute(
                        "SELECT dataset_uuid FROM datasets WHERE experiment_id = ? AND "
                        "name = ? AND digest = ?",
                        (int(run.experiment_id), ds["name"], ds["digest"]),
                    ).fetchone()
                    in_id = _input_uuid(r.run_id, kept)
                    con.execute(
                        "INSERT OR IGNORE INTO inputs (input_uuid, source_type, source_id, "
                        "destination_type, destination_id) VALUES (?, 'DATASET', ?, 'RUN', ?)",
                        (in_id, kept, r.run_id),
                    )
                    con.executemany(
                        "INSERT OR IGNORE INTO input_tags (input_uuid, name, value) "
                        "VALUES (?, ?, ?)",
                        [(in_id, k, v) for k, v in _input_tags(ds).items()],
                    )
            artifacts_of = {
                run.rec.run_id: art_root / run.experiment_id / run.rec.run_id / "artifacts"
                for run in runs
            }
            registry = registry_export.collect(st, set(artifacts_of))
            registry_export.write_mlmodels(registry, artifacts_of)
            registry_export.to_sqlite(con, registry, artifacts_of)
    finally:
        con.close()
    os.sync() if hasattr(os, "sync") else None


def _dataset_uuid(experiment_id: str, ds: dict[str, Any]) -> str:
    """A stable 32-hex id of a dataset in an experiment (MLflow's ids are uuid4 hex)."""
    import hashlib

    key = "\0".join([experiment_id, ds["name"], ds["digest"]])
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


def _file_dataset_id(ds: dict[str, Any]) -> str:
    """The folder name MLflow's file store gives a dataset: md5 of its name and digest (so
    MLflow logging the same dataset into the exported store finds it)."""
    import hashlib

    md5 = hashlib.md5(ds["name"].encode("utf-8"), usedforsecurity=False)
    md5.update(ds["digest"].encode("utf-8"))
    return md5.hexdigest()


def _file_input_id(run_id: str, dataset_id: str) -> str:
    """MLflow's file store id of a run's input: md5 of the dataset id and the run id."""
    import hashlib

    md5 = hashlib.md5(dataset_id.encode("utf-8"), usedforsecurity=False)
    md5.update(run_id.encode("utf-8"))
    return md5.hexdigest()


def _input_uuid(run_id: str, dataset_id: str) -> str:
    import hashlib

    return hashlib.sha256(f"{run_id}\0{dataset_id}".encode()).hexdigest()[:32]


def _input_tags(ds: dict[str, Any]) -> dict[str, str]:
    return {"mlflow.data.context": ds["context"]} if ds.get("context") else {}


def _sql_value(v: float) -> tuple[float, bool]:
    """MLflow's SQL store keeps NaN as 0 with is_nan, and clamps infinities."""
    if math.isnan(v):
        return 0.0, True
    if math.isinf(v):
        return (1.7976931348623157e308 if v > 0 else -1.7976931348623157e308), False
    return float(v), False
