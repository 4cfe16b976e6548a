"""The MLflow model registry as the importer reads it: from SQLite and from file stores
(a tracking server's registry is read by ``registry_rest``)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from nbtrack.interop._files import local_path, read_kv, yaml_load


@dataclass
class SourceModelVersion:
    """A registered model version: which run logged it and where its files are."""

    version: int
    run_id: str | None
    source: str
    description: str | None = None
    creation_time: int | None = None
    tags: dict[str, str] = field(default_factory=dict)
    model_dir: Path | None = None  # the local folder of the model's files (MLmodel ...)
    model_name: str = "model"  # its name in the run
    # fetches the model's files from elsewhere (a server), instead of model_dir
    fetch: Callable[[], dict[str, bytes] | None] | None = field(default=None, repr=False)

    def files(self) -> dict[str, bytes] | None:
        """The model's files by path relative to its folder (``MLmodel`` ...), or None when
        they cannot be found."""
        if self.fetch is not None:
            return self.fetch()
        if self.model_dir is not None and self.model_dir.is_dir():
            return model_files(self.model_dir)
        return None


@dataclass
class SourceRegisteredModel:
    name: str
    description: str | None = None
    creation_time: int | None = None
    tags: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, int] = field(default_factory=dict)
    versions: list[SourceModelVersion] = field(default_factory=list)


def model_files(folder: Path) -> dict[str, bytes]:
    """Every file below ``folder``, by relative POSIX path."""
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _model_location(source: str, run_dirs: dict[str, str], logged: dict[str, tuple[str, str]],
                    run_id: str | None, storage: str | None) -> tuple[Path | None, str]:
    """(local folder, name in the run) of a version's model, from its source URI."""
    if source.startswith("models:/m-"):
        name, location = logged.get(source[len("models:/"):].split("/")[0], ("model", ""))
        return local_path(storage or location), name
    if source.startswith("runs:/"):
        rid, _, path = source[len("runs:/"):].partition("/")
        base = local_path(run_dirs.get(rid, ""))
        return (base / path if base is not None and path else None), path or "model"
    local = local_path(storage or source)
    text = (storage or source).replace("\\", "/")
    name = text.split("/artifacts/", 1)[1] if "/artifacts/" in text else "model"
    return local, name.strip("/") or "model"


def sqlite_registry(
    con: sqlite3.Connection, run_dirs: dict[str, str]
) -> list[SourceRegisteredModel]:
    try:
        rows = con.execute(
            "SELECT name, description, creation_time FROM registered_models ORDER BY name"
        ).fetchall()
    except sqlite3.Error:
        return []  # a database from before the registry
    models = {n: SourceRegisteredModel(n, d, ct) for n, d, ct in rows}
    for k, v, n in con.execute("SELECT key, value, name FROM registered_model_tags"):
        if n in models:
            models[n].tags[k] = v
    try:
        for a, v, n in con.execute("SELECT alias, version, name FROM registered_model_aliases"):
            if n in models:
                models[n].aliases[a] = int(v)
    except sqlite3.Error:
        pass  # MLflow < 2.3 has no aliases
    logged: dict[str, tuple[str, str]] = {}
    try:
        for mid, name, loc in con.execute(
                "SELECT model_id, name, artifact_location FROM logged_models"):
            logged[mid] = (name, loc or "")
    except sqlite3.Error:
        pass  # MLflow < 3: models live in run artifacts
    vtags: dict[tuple[str, int], dict[str, str]] = {}
    for k, v, n, ver in con.execute("SELECT key, value, name, version FROM model_version_tags"):
        vtags.setdefault((n, int(ver)), {})[k] = v
    cols = [r[1] for r in con.execute("PRAGMA table_info(model_versions)")]
    storage = "storage_location" if "storage_location" in cols else "NULL"
    for n, ver, src, rid, desc, ct, stage, loc in con.execute(
        f"SELECT name, version, source, run_id, description, creation_time, current_stage, "
        f"{storage} FROM model_versions ORDER BY name, version"
    ):
        if n not in models or stage == "Deleted_Internal":
            continue
        folder, mname = _model_location(src or "", run_dirs, logged, rid, loc)
        models[n].versions.append(SourceModelVersion(
            int(ver), rid, src or "", desc, ct, vtags.get((n, int(ver)), {}), folder, mname))
    return list(models.values())


def file_registry(store_root: Path, run_dirs: dict[str, str]) -> list[SourceRegisteredModel]:
    """MLflow's file registry: ``models/<name>/meta.yaml``, ``version-<n>/``, aliases."""
    root = store_root / "models"
    if not root.is_dir():
        return []
    logged: dict[str, tuple[str, str]] = {}
    for meta in store_root.glob("*/models/m-*/meta.yaml"):
        m = yaml_load(meta)
        logged[meta.parent.name] = (m.get("name") or "model", str(meta.parent / "artifacts"))
    out = []
    for d in sorted(p for p in root.iterdir() if (p / "meta.yaml").is_file()):
        m = yaml_load(d / "meta.yaml")
        rm = SourceRegisteredModel(
            m.get("name", d.name), m.get("description"), m.get("creation_timestamp"),
            read_kv(d / "tags"),
            {a: int(v) for a, v in read_kv(d / "aliases").items() if v.strip().isdigit()},
        )
        for vd in sorted(d.glob("version-*")):
            if not (vd / "meta.yaml").is_file():
                continue
            v = yaml_load(vd / "meta.yaml")
            if v.get("current_stage") == "Deleted_Internal":
                continue
            src = v.get("source") or ""
            folder, mname = _model_location(
                src, run_dirs, logged, v.get("run_id"), v.get("storage_location"))
            rm.versions.append(SourceModelVersion(
                int(v.get("version", vd.name.split("-")[1])), v.get("run_id"), src,
                v.get("description"), v.get("creation_timestamp"), read_kv(vd / "tags"),
                folder, mname))
        rm.versions.sort(key=lambda x: x.version)
        out.append(rm)
    return out
