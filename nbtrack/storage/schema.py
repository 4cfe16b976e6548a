"""Arrow schemas of every table, the format version, and partition naming."""

from __future__ import annotations

import hashlib
import re

import pyarrow as pa

FORMAT_VERSION = 1

_TS = pa.timestamp("ms", tz="UTC")

SCHEMAS: dict[str, pa.Schema] = {
    # One record per lifecycle change of a run (start, end); the newest record_time wins.
    "runs": pa.schema(
        [
            ("run_id", pa.string()),
            ("experiment", pa.string()),
            ("name", pa.string()),
            ("status", pa.string()),
            ("start_time", _TS),
            ("end_time", _TS),
            ("parent_run_id", pa.string()),
            ("description", pa.string()),
            ("owner", pa.string()),
            ("record_time", pa.int64()),
        ]
    ),
    # Soft delete / restore events; the newest record_time wins.
    "deletions": pa.schema(
        [("run_id", pa.string()), ("deleted", pa.bool_()), ("record_time", pa.int64())]
    ),
    "params": pa.schema(
        [
            ("run_id", pa.string()),
            ("key", pa.string()),
            ("value", pa.string()),
            ("record_time", pa.int64()),
        ]
    ),
    # value NULL means the tag was deleted.
    "tags": pa.schema(
        [
            ("run_id", pa.string()),
            ("key", pa.string()),
            ("value", pa.string()),
            ("record_time", pa.int64()),
        ]
    ),
    "metrics": pa.schema(
        [
            ("run_id", pa.string()),
            ("key", pa.string()),
            ("step", pa.int64()),
            ("timestamp", _TS),
            ("value", pa.float64()),
        ]
    ),
    "artifacts": pa.schema(
        [
            ("run_id", pa.string()),
            ("path", pa.string()),
            ("size", pa.int64()),
            ("sha256", pa.string()),
            ("record_time", pa.int64()),
        ]
    ),
    # Experiment metadata (MLflow's experiment ids, tags, lifecycle); newest record per
    # id wins. Runs name their experiment; an experiment without a record is just a name.
    # ``tags`` is a JSON object of key -> value. (The id column is not called
    # ``experiment_id``: that is the Hive partition key, which readers put over it.)
    "experiments": pa.schema(
        [
            ("id", pa.string()),
            ("name", pa.string()),
            ("lifecycle_stage", pa.string()),
            ("artifact_location", pa.string()),
            ("tags", pa.string()),
            ("creation_time", pa.int64()),
            ("last_update_time", pa.int64()),
            ("record_time", pa.int64()),
        ]
    ),
    # Datasets a run used (MLflow's run inputs): one record per (run, name, digest, context).
    "inputs": pa.schema(
        [
            ("run_id", pa.string()),
            ("name", pa.string()),
            ("digest", pa.string()),
            ("source_type", pa.string()),
            ("source", pa.string()),
            ("schema", pa.string()),
            ("profile", pa.string()),
            ("context", pa.string()),
            ("record_time", pa.int64()),
        ]
    ),
}

TABLES: tuple[str, ...] = tuple(SCHEMAS)

# Sort order inside a segment: groups a run's points together so dictionary, delta and
# run-length encodings compress well, and lets DuckDB skip row groups by run_id.
SORT_KEYS: dict[str, list[tuple[str, str]]] = {
    "runs": [("run_id", "ascending"), ("record_time", "ascending")],
    "deletions": [("run_id", "ascending"), ("record_time", "ascending")],
    "params": [("run_id", "ascending"), ("key", "ascending")],
    "tags": [("run_id", "ascending"), ("key", "ascending"), ("record_time", "ascending")],
    "metrics": [("run_id", "ascending"), ("key", "ascending"), ("step", "ascending")],
    "artifacts": [("run_id", "ascending"), ("path", "ascending")],
    "experiments": [("id", "ascending"), ("record_time", "ascending")],
    "inputs": [("run_id", "ascending"), ("name", "ascending")],
}

PARTITION_KEY = "experiment_id"

# Parquet key-value metadata written into compacted files: the JSON list of file names
# (in the same partition folder) whose rows this file already contains.
REPLACES_META = b"nbtrack.replaces"
FORMAT_META = b"nbtrack.format_version"
#: Optional footer key of a metrics file: b"1" when every (run_id, key) has exactly one row
#: in the file, so the file is its own per-key latest summary (docs/format.md).
UNIQUE_META = b"nbtrack.unique_run_key"


def experiment_id(name: str) -> str:
    """Partition folder value of an experiment: a readable slug plus a hash of the name.

    The hash keeps two names that slug alike apart; the slug keeps the folder readable.
    """
    slug = re.sub(r"[^A-Za-z0-9_-]+", "_", name).strip("_")[:40] or "x"
    digest = hashlib.sha1(name.encode("utf-8")).hexdigest()[:8]
    return f"{slug}-{digest}"
