"""Readers of MLflow data: a file store (``mlruns/``), a SQLite database, a tracking server.

Each yields the same plain records (``SourceExperiment``, ``SourceRun``), so the importer has
one path. Artifacts are read lazily, run by run.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nbtrack.interop import registry_sources
from nbtrack.interop._files import SourceError, local_path, read_kv, yaml_load
from nbtrack.interop.registry_sources import SourceRegisteredModel

STATUS = {1: "RUNNING", 2: "RUNNING", 3: "FINISHED", 4: "FAILED", 5: "KILLED"}  # 2: SCHEDULED


@dataclass
class SourceExperiment:
    experiment_id: str
    name: str
    lifecycle_stage: str = "active"
    artifact_location: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    creation_time: int | None = None
    last_update_time: int | None = None


@dataclass
class SourceRun:
    run_id: str
    experiment_id: str
    name: str | None
    status: str
    start_time: int
    end_time: int | None
    lifecycle_stage: str
    user_id: str = ""
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    # (key, value, timestamp_ms, step)
    metrics: list[tuple[str, float, int, int]] = field(default_factory=list)
    artifact_uri: str = ""
    # datasets the run used: name, digest, source_type, source, schema, profile, context
    inputs: list[dict[str, Any]] = field(default_factory=list)
    # input tags other than mlflow.data.context: nbtrack keeps a dataset's context only
    dropped_input_tags: int = 0


class Source:
    """What the importer needs from an MLflow store."""

    def registered_models(self, run_dirs: dict[str, str]) -> list[SourceRegisteredModel]:
        """The model registry (``run_dirs``: run id -> artifact URI of the imported runs)."""
        return []

    def experiments(self) -> list[SourceExperiment]:
        raise NotImplementedError

    def run_ids(self, experiment_id: str) -> list[str]:
        raise NotImplementedError

    def run(self, experiment_id: str, run_id: str) -> SourceRun:
        raise NotImplementedError

    def artifacts(self, run: SourceRun) -> Iterator[tuple[str, bytes]]:
        """(path inside the run, content) of every artifact file."""
        root = local_path(run.artifact_uri)
        if root is None or not root.is_dir():
            return
        for p in sorted(root.rglob("*")):
            if p.is_file():
                yield p.relative_to(root).as_posix(), p.read_bytes()


def _status(value: Any) -> str:
    if isinstance(value, int):
        return STATUS.get(value, "FINISHED")
    text = str(value).upper()
    return "RUNNING" if text == "SCHEDULED" else text


# ---- SQLite ------------------------------------------------------------------------------
class SqliteSource(Source):
    """An MLflow SQLAlchemy store in SQLite (``sqlite:///mlflow.db`` or a path)."""

    def __init__(self, path: str) -> None:
        if path.startswith("sqlite:///"):
            path = path[len("sqlite:///") :]
        if not os.path.isfile(path):
            raise SourceError(f"no MLflow database at {path!r}")
        self.con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            self.con.execute("SELECT 1 FROM runs LIMIT 1")
        except sqlite3.Error as exc:
            raise SourceError(f"{path!r} is not an MLflow database: {exc}") from exc

    def experiments(self) -> list[SourceExperiment]:
        tags: dict[str, dict[str, str]] = {}
        for k, v, eid in self.con.execute("SELECT key, value, experiment_id FROM experiment_tags"):
            tags.setdefault(str(eid), {})[k] = v
        return [
            SourceExperiment(str(eid), name, stage, loc or "", tags.get(str(eid), {}), ct, ut)
            for eid, name, loc, stage, ct, ut in self.con.execute(
                "SELECT experiment_id, name, artifact_location, lifecycle_stage, creation_time, "
                "last_update_time FROM experiments ORDER BY experiment_id"
            )
        ]

    def registered_models(self, run_dirs: dict[str, str]) -> list[SourceRegisteredModel]:
        return registry_sources.sqlite_registry(self.con, run_dirs)

    def run_ids(self, experiment_id: str) -> list[str]:
        return [r[0] for r in self.con.execute(
            "SELECT run_uuid FROM runs WHERE experiment_id = ? ORDER BY start_time, run_uuid",
            (int(experiment_id) if experiment_id.isdigit() else experiment_id,),
        )]

    def run(self, experiment_id: str, run_id: str) -> SourceRun:
        row = self.con.execute(
            "SELECT name, status, start_time, end_time, lifecycle_stage, user_id, artifact_uri "
            "FROM runs WHERE run_uuid = ?", (run_id,)
        ).fetchone()
        name, status, start, end, stage, user, uri = row
        run = SourceRun(run_id, experiment_id, name, _status(status), start or 0, end,
                        stage or "active", user or "", artifact_uri=uri or "")
        run.params = dict(self.con.execute("SELECT key, value FROM params WHERE run_uuid = ?", (run_id,)))
        run.tags = dict(self.con.execute("SELECT key, value FROM tags WHERE run_uuid = ?", (run_id,)))
        run.metrics = [
            (k, float("nan") if is_nan else float(v), int(ts), int(step))
            for k, v, ts, step, is_nan in self.con.execute(
                "SELECT key, value, timestamp, step, is_nan FROM metrics WHERE run_uuid = ? "
                "ORDER BY key, step, timestamp", (run_id,)
            )
        ]
        try:
            rows = self.con.execute(
                "SELECT d.name, d.digest, d.dataset_source_type, d.dataset_source, "
                "d.dataset_schema, d.dataset_profile, t.value FROM inputs i "
                "JOIN datasets d ON d.dataset_uuid = i.source_id "
                "LEFT JOIN input_tags t ON t.input_uuid = i.input_uuid "
                "AND t.name = 'mlflow.data.context' "
                "WHERE i.source_type = 'DATASET' AND i.destination_type = 'RUN' "
                "AND i.destination_id = ?", (run_id,)
            ).fetchall()
        except sqlite3.Error:
            rows = []  # an MLflow version from before run inputs
        keys = ("name", "digest", "source_type", "source", "schema", "profile", "context")
        run.inputs = [dict(zip(keys, r, strict=True)) for r in rows]
        if rows:
            (run.dropped_input_tags,) = self.con.execute(
                "SELECT count(*) FROM inputs i JOIN input_tags t ON t.input_uuid = i.input_uuid "
                "WHERE i.destination_type = 'RUN' AND i.destination_id = ? "
                "AND t.name != 'mlflow.data.context'", (run_id,)
            ).fetchone()
        return run


# ---- file store --------------------------------------------------------------------------
class FileSource(Source):
    """An MLflow file store folder (``mlruns/``)."""

    def __init__(self, path: str) -> None:
        if path.startswith("file:"):
            path = str(local_path(path))
        self.root = Path(path)
        if not self.root.is_dir():
            raise SourceError(f"no MLflow file store at {path!r}")
        self._dirs: dict[str, Path] = {}

    def experiments(self) -> list[SourceExperiment]:
        out = []
        for base in (self.root, self.root / ".trash"):
            if not base.is_dir():
                continue
            for d in sorted(base.iterdir()):
                meta = d / "meta.yaml"
                if not d.is_dir() or not meta.is_file():
                    continue
                m = yaml_load(meta)
                eid = str(m.get("experiment_id", d.name))
                self._dirs[eid] = d
                tags = {}
                if (d / "tags").is_dir():
                    tags = {p.name: p.read_text(encoding="utf-8") for p in (d / "tags").iterdir()}
                out.append(SourceExperiment(
                    eid, m["name"], m.get("lifecycle_stage", "active"),
                    m.get("artifact_location") or "", tags, m.get("creation_time"),
                    m.get("last_update_time"),
                ))
        return out

    def registered_models(self, run_dirs: dict[str, str]) -> list[SourceRegisteredModel]:
        return registry_sources.file_registry(self.root, run_dirs)

    def run_ids(self, experiment_id: str) -> list[str]:
        d = self._dirs[experiment_id]
        return sorted(p.name for p in d.iterdir() if (p / "meta.yaml").is_file())

    def run(self, experiment_id: str, run_id: str) -> SourceRun:
        d = self._dirs[experiment_id] / run_id
        m = yaml_load(d / "meta.yaml")
        run = SourceRun(
            run_id, experiment_id, m.get("run_name"), _status(m.get("status", 3)),
            m.get("start_time") or 0, m.get("end_time"), m.get("lifecycle_stage", "active"),
            m.get("user_id") or "", artifact_uri=m.get("artifact_uri") or "",
        )
        run.params = read_kv(d / "params")
        run.tags = read_kv(d / "tags")
        mdir = d / "metrics"
        if mdir.is_dir():
            for p in sorted(mdir.rglob("*")):
                if not p.is_file():
                    continue
                key = p.relative_to(mdir).as_posix()
                for line in p.read_text(encoding="utf-8").splitlines():
                    parts = line.split()
                    if len(parts) >= 2:
                        step = int(parts[2]) if len(parts) > 2 else 0
                        run.metrics.append((key, float(parts[1]), int(parts[0]), step))
        if not (local_path(run.artifact_uri) or Path("/nonexistent")).is_dir():
            run.artifact_uri = str(d / "artifacts")  # a store that was moved: use its own folder
        run.inputs, run.dropped_input_tags = self._inputs(experiment_id, d)
        return run

    def _inputs(self, experiment_id: str, run_dir: Path) -> tuple[list[dict[str, Any]], int]:
        """The run's datasets: ``<run>/inputs/<id>/meta.yaml`` names a dataset kept once per
        experiment in ``<experiment>/datasets/<id>/meta.yaml`` (MLflow's file store)."""
        out: list[dict[str, Any]] = []
        dropped = 0
        folder = run_dir / "inputs"
        if not folder.is_dir():
            return out, dropped
        for meta_path in sorted(folder.glob("*/meta.yaml")):
            link = yaml_load(meta_path)
            if link.get("source_type") != "DATASET":
                continue
            ds_path = self._dirs[experiment_id] / "datasets" / str(link.get("source_id")) / "meta.yaml"
            if not ds_path.is_file():
                continue
            ds = yaml_load(ds_path)
            dropped += sum(k != "mlflow.data.context" for k in (link.get("tags") or {}))
            out.append({
                "name": ds.get("name"), "digest": ds.get("digest"),
                "source_type": ds.get("source_type"), "source": ds.get("source"),
                "schema": ds.get("schema"), "profile": ds.get("profile"),
                "context": (link.get("tags") or {}).get("mlflow.data.context"),
            })
        return out, dropped


def _int(v: Any) -> int | None:
    return None if v is None else int(v)


def open_source(uri: str) -> Source:
    """A reader for ``uri``: http(s) server, sqlite:/// or *.db file, or an mlruns folder."""
    if uri.startswith(("http://", "https://")):
        from nbtrack.interop.rest_source import RestSource

        return RestSource(uri)
    if uri.startswith("sqlite:") or (os.path.isfile(uri) and uri.endswith((".db", ".sqlite"))):
        return SqliteSource(uri)
    return FileSource(uri)
