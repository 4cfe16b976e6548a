"""Export the model registry with the runs: to an MLflow SQLite database or file store.

Registered models, their versions (numbers kept), aliases, tags and descriptions go where
MLflow keeps them; only versions whose run is exported are written. Each exported model of
the scikit-learn flavor gets an ``MLmodel`` file beside its files in the run's artifacts, so
``mlflow.sklearn.load_model("models:/<name>@<alias>")`` loads it (skops or pickle, as
logged); versions of other flavors are registered with their files but no ``MLmodel``.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nbtrack import models
from nbtrack.models import logged

if TYPE_CHECKING:
    from nbtrack.storage import ParquetStore


@dataclass
class _Version:
    mv: models.ModelVersion
    info: logged.ModelInfo


def collect(
    st: ParquetStore, run_ids: set[str]
) -> list[tuple[models.RegisteredModel, list[_Version]]]:
    """Registered models with the versions whose runs are exported."""
    out = []
    for rm in models.search_registered_models(store=st):
        versions = []
        for mv in models.search_model_versions(f"name = '{rm.name}'", store=st):
            if mv.run_id in run_ids:
                info = logged.get_model_info(mv.run_id, mv.model_name, store=st,
                                             include_deleted=True)
                versions.append(_Version(mv, info))
        if versions:
            versions.sort(key=lambda v: v.mv.version)
            out.append((rm, versions))
    return out


def mlmodel(info: logged.ModelInfo) -> dict[str, Any] | None:
    """The ``MLmodel`` document that lets MLflow load this model, or None (no mapping)."""
    if info.flavor != "sklearn":
        return None
    main = "model.skops" if info.format == "skops" else "model.pkl"
    return {
        "artifact_path": info.name,
        "flavors": {
            "python_function": {"loader_module": "mlflow.sklearn", "model_path": main,
                                "predict_fn": "predict", "python_version": info.python_version},
            "sklearn": {"code": None, "pickled_model": main,
                        "serialization_format": "skops" if info.format == "skops" else "pickle",
                        "sklearn_version": info.framework_version,
                        "skops_trusted_types": info.loader.get("trusted") or None},
        },
        "run_id": info.run_id,
    }


def write_mlmodels(
    registry: list[tuple[models.RegisteredModel, list[_Version]]], artifacts_of: dict[str, Path],
) -> None:
    """Write ``<run artifacts>/<model name>/MLmodel`` for each exported sklearn version."""
    import yaml

    for _, versions in registry:
        for v in versions:
            doc = mlmodel(v.info)
            folder = artifacts_of.get(v.info.run_id)
            if doc is not None and folder is not None:
                target = folder / v.info.name / "MLmodel"
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(yaml.safe_dump(doc), encoding="utf-8")


def to_sqlite(
    con: sqlite3.Connection, registry: list[tuple[models.RegisteredModel, list[_Version]]],
    artifacts_of: dict[str, Path],
) -> None:
    """Insert the registry into an MLflow database (inside the caller's transaction)."""
    for rm, versions in registry:
        con.execute(
            "INSERT INTO registered_models (name, creation_time, last_updated_time, "
            "description) VALUES (?, ?, ?, ?)",
            (rm.name, rm.creation_time, rm.last_updated_time, rm.description),
        )
        con.executemany(
            "INSERT INTO registered_model_tags (key, value, name) VALUES (?, ?, ?)",
            [(k, val, rm.name) for k, val in rm.tags.items()],
        )
        for v in versions:
            mv = v.mv
            folder = artifacts_of[mv.run_id] / v.info.name
            con.execute(
                "INSERT INTO model_versions (name, version, creation_time, last_updated_time, "
                "description, current_stage, source, run_id, status, storage_location) "
                "VALUES (?, ?, ?, ?, ?, 'None', ?, ?, 'READY', ?)",
                (rm.name, mv.version, mv.creation_time, mv.last_updated_time, mv.description,
                 f"runs:/{mv.run_id}/{v.info.name}", mv.run_id, folder.as_uri()),
            )
            con.executemany(
                "INSERT INTO model_version_tags (key, value, name, version) VALUES (?, ?, ?, ?)",
                [(k, val, rm.name, mv.version) for k, val in mv.tags.items()],
            )
        exported = {v.mv.version for v in versions}
        con.executemany(
            "INSERT INTO registered_model_aliases (alias, version, name) VALUES (?, ?, ?)",
            [(a, ver, rm.name) for a, ver in rm.aliases.items() if ver in exported],
        )


def to_files(
    root: Path, registry: list[tuple[models.RegisteredModel, list[_Version]]],
    artifacts_of: dict[str, Path],
) -> None:
    """Write the registry as MLflow's file store does: ``<root>/models/<name>/...``."""
    import yaml

    def write(path: Path, text: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")

    for rm, versions in registry:
        d = root / "models" / rm.name
        write(d / "meta.yaml", yaml.safe_dump({
            "name": rm.name, "creation_timestamp": rm.creation_time,
            "last_updated_timestamp": rm.last_updated_time, "description": rm.description,
        }, allow_unicode=True))
        for k, val in rm.tags.items():
            write(d / "tags" / k, val)
        exported = {v.mv.version for v in versions}
        for alias, ver in rm.aliases.items():
            if ver in exported:
                write(d / "aliases" / alias, str(ver))
        for v in versions:
            mv = v.mv
            folder = artifacts_of[mv.run_id] / v.info.name
            write(d / f"version-{mv.version}" / "meta.yaml", yaml.safe_dump({
                "name": rm.name, "version": mv.version,
                "creation_timestamp": mv.creation_time,
                "last_updated_timestamp": mv.last_updated_time,
                "description": mv.description, "user_id": None, "current_stage": "None",
                "source": f"runs:/{mv.run_id}/{v.info.name}", "run_id": mv.run_id,
                "run_link": None, "status": "READY", "status_message": None,
                "storage_location": folder.as_uri(),
            }, allow_unicode=True))
            for k, val in mv.tags.items():
                write(d / f"version-{mv.version}" / "tags" / k, val)
