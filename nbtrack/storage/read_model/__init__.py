"""The read model: DuckDB tables and views over a snapshot of the store, kept up to date
incrementally, and the one-row-per-run ("wide") shape that searches return.

How it stays cheap as a store grows and writers flush every second:

- **Raw tables load file by file.** Files are immutable, so when the snapshot changes only
  the files that appeared are read, and the rows of files that went away (replaced by a
  compacted file holding the same rows) are deleted. Metric files contribute one summary
  row per run and key (the file's latest point), never their points.
- **Current state is recomputed only for the runs that changed.** The run ids in new or
  vanished rows form ``_affected``; each current-state table (newest record wins, deleted
  runs removed) deletes and recomputes just those runs. A flush from one writer therefore
  costs in proportion to what it wrote, not to the store.
- **Latest points need no join with every current run.** Runs whose summary rows are not
  a current run's (deleted, or no run record yet) are listed in a small ``_not_current``
  table, kept in step from the affected runs; ``latest_metrics`` anti-joins it. A search
  over 20,000 runs no longer hashes 20,000 ids to read one key's latest values.
- **The wide shape is built on demand, with NumPy, not SQL.** ``wide(run_ids)`` pivots the
  long ``(run_id, key, value)`` rows of params, latest metrics and tags into one column per
  key by scattering into arrays. (A SQL pivot with one filtered aggregate per key grew with
  keys × rows: 20 runs × 600 keys took 11 s and 600 MB.) It is cached per snapshot.
- **``nt.sql`` gets its own connection** holding only the five public views
  (``sql_connection``), so internal tables (deleted runs among them) are out of reach.

Views (on a DuckDB connection that may read nothing but the store):

    runs(run_id, experiment, name, status, start_time, end_time, duration_s,
         parent_run_id, description)      a dead writer's RUNNING run reads KILLED, its
                                          end_time the time of its last record
                                          (docs/format.md, Liveness)
    params(run_id, key, value)          tags(run_id, key, value)
    metrics(run_id, key, step, timestamp, value)
    artifacts(run_id, path, size, sha256)
    latest_metrics(run_id, key, step, timestamp, value)   one row per run and key: highest
        step, then newest timestamp, then arrival order (``arrival_position``, row number)

Relations the tracking layer may query through ``ParquetStore.query`` (the internal
connection): ``runs``, ``params``, ``tags``, ``metrics``, ``latest_metrics``, ``artifacts``,
``experiments``, ``inputs``, and for deleted runs the raw tables ``_runs_raw``,
``_deletions_raw``, ``_params_raw``, ``_tags_raw``, ``_artifacts_raw``, ``_inputs_raw``.
Models and the registry (``nbtrack.models``): ``models`` (of current runs), ``models_all``
(deleted runs' too), ``registered_models``, ``model_versions``, ``model_aliases``,
``registry_tags`` (current state) and their ``_<table>_raw`` tables.
"""

from __future__ import annotations

from nbtrack.storage.read_model.model import MEMORY_LIMIT, WIDE_CACHE_CELLS, DuckViews, ReadModel
from nbtrack.storage.read_model.statements import PUBLIC_VIEWS

__all__ = ["MEMORY_LIMIT", "PUBLIC_VIEWS", "WIDE_CACHE_CELLS", "DuckViews", "ReadModel"]
