"""The read model's SQL: the raw tables' column types, the current-state statements
(recomputed per affected run), the metric summaries and the views (see the package doc)."""

from __future__ import annotations

import pyarrow as pa

from nbtrack.storage import schema
from nbtrack.storage.reader import sql_string as _sql_string

_DUCK_TYPES = {
    pa.string(): "VARCHAR",
    pa.int64(): "BIGINT",
    pa.float64(): "DOUBLE",
    pa.bool_(): "BOOLEAN",
    pa.timestamp("ms", tz="UTC"): "TIMESTAMPTZ",
}

#: Tables loaded into DuckDB memory file by file (metrics are summarised instead).
_CACHED = (
    "runs",
    "deletions",
    "params",
    "tags",
    "artifacts",
    "experiments",
    "inputs",
    *schema.MODEL_TABLES,
)


def _empty_select(table: str) -> str:
    sch = schema.SCHEMAS[table]
    cols = ", ".join(f"CAST(NULL AS {_DUCK_TYPES[f.type]}) AS {f.name}" for f in sch)
    return f"SELECT {cols} LIMIT 0"


def _metrics_source(paths: list[str]) -> str:
    if not paths:
        return _empty_select("metrics")
    listed = ", ".join(_sql_string(p) for p in paths)
    cols = ", ".join(f.name for f in schema.SCHEMAS["metrics"])
    return f"SELECT {cols} FROM read_parquet([{listed}], union_by_name = true)"


# Current-state tables in dependency order. ``{scope}`` restricts a recomputation to the
# affected runs (incremental) or is TRUE (the first install); ``{live}`` to the affected runs
# that are current (not deleted), a small table, so no statement hashes all of ``_runs_cur``. Each SELECT's columns are the
# table's columns, so ``INSERT INTO t <select>`` and ``CREATE TABLE t AS <select>`` agree.
_CURRENT: tuple[tuple[str, str], ...] = (
    (
        "_runs_cur",
        """SELECT * EXCLUDE (_file) FROM _runs_raw
  WHERE {scope} AND run_id NOT IN (
    SELECT run_id FROM (
      SELECT run_id, deleted FROM _deletions_raw WHERE {scope}
      QUALIFY row_number() OVER (PARTITION BY run_id ORDER BY record_time DESC) = 1
    ) WHERE deleted)
  QUALIFY row_number() OVER (PARTITION BY run_id ORDER BY record_time DESC) = 1""",
    ),
    (
        # When a run's last record was written (a KILLED run's end_time; docs/format.md).
        "_last_record",
        """SELECT run_id, make_timestamptz(max(ms) * 1000) AS t FROM (
    SELECT run_id, greatest(epoch_ms(start_time), record_time // 1000000) AS ms
      FROM _runs_raw WHERE {scope}
    UNION ALL SELECT run_id, record_time // 1000000 FROM _params_raw WHERE {scope}
    UNION ALL SELECT run_id, record_time // 1000000 FROM _tags_raw WHERE {scope}
    UNION ALL SELECT run_id, record_time // 1000000 FROM _artifacts_raw WHERE {scope}
    UNION ALL SELECT run_id, epoch_ms(max_timestamp) FROM _summary WHERE {scope}
  ) WHERE run_id IN (SELECT run_id FROM _runs_cur WHERE status = 'RUNNING' AND {scope})
  GROUP BY run_id""",
    ),
    (
        "_params_cur",
        """SELECT run_id, key, arg_min(value, record_time) AS value FROM _params_raw
  WHERE {live}
  GROUP BY run_id, key""",
    ),
    (
        "_tags_cur",
        """SELECT run_id, key, value FROM (
    SELECT run_id, key, value FROM _tags_raw
    WHERE {live}
    QUALIFY row_number() OVER (PARTITION BY run_id, key ORDER BY record_time DESC) = 1
  ) WHERE value IS NOT NULL""",
    ),
    (
        # Runs whose summary rows come from more than one file: only their latest points
        # need ranking. The others (the common case after compaction, and every run
        # flushed once) have one summary row per key already: ``_latest_cur`` is a view
        # that reads those straight from ``_summary``, never copied (1M rows at
        # 1,000 runs x 1,000 keys). Which runs a big summary file holds is ``_file_runs``.
        "_multi_file_runs",
        """SELECT run_id FROM (
    SELECT run_id, _file FROM _metric_summary WHERE {scope}
    UNION ALL SELECT run_id, _file FROM _file_runs WHERE {scope})
  GROUP BY run_id HAVING min(_file) <> max(_file)""",
    ),
    (
        # Latest point: highest step, then newest timestamp, then arrival (file position).
        "_latest_multi",
        """SELECT run_id, key, step, timestamp, value FROM _summary
  WHERE {live} AND run_id IN (SELECT run_id FROM _multi_file_runs WHERE {scope})
  QUALIFY row_number() OVER (
    PARTITION BY run_id, key ORDER BY step DESC, timestamp DESC, pos DESC) = 1""",
    ),
    (
        "_artifacts_cur",
        """SELECT run_id, path, size, sha256 FROM _artifacts_raw
  WHERE {live}
  QUALIFY row_number() OVER (PARTITION BY run_id, path ORDER BY record_time DESC) = 1""",
    ),
)

# Summary rows that are not a current run's latest point as they stand: those of runs that
# are not current (deleted, or no run record yet: ``_not_current``, small) and of runs whose
# rows span several files (ranked in ``_latest_multi``). An anti-join with this small table
# replaces a semi-join with every current run (a hash table of 20,000 ids per read).
_LATEST_EXCLUDED_VIEW = """
CREATE OR REPLACE VIEW _latest_excluded AS
  SELECT run_id FROM _not_current UNION ALL SELECT run_id FROM _multi_file_runs
"""

_LATEST_TEMPLATE = """
CREATE OR REPLACE VIEW {name} AS
  SELECT run_id, key, step, timestamp, value FROM {summary}
  WHERE run_id NOT IN (SELECT run_id FROM _latest_excluded)
  UNION ALL
  SELECT run_id, key, step, timestamp, value FROM _latest_multi
"""

# Every run with summary rows that is not current (the first install; later ones keep the
# table up to date from the affected runs).
_NOT_CURRENT = """
INSERT INTO _not_current
  SELECT DISTINCT run_id FROM (
    SELECT run_id FROM _metric_summary UNION ALL SELECT run_id FROM _file_runs)
  WHERE run_id IS NOT NULL AND run_id NOT IN (SELECT run_id FROM _runs_cur)
"""

# The latest point of each current run and key (see ``_multi_file_runs``).
_LATEST_VIEW = _LATEST_TEMPLATE.format(name="_latest_cur", summary="_summary")

# The same for runs no file of ``_lazy_summary`` holds (``_file_runs``): the copied summary
# rows only, so re-pivoting a few changed runs does not scan the big files read in place.
_LATEST_COPIED_VIEW = _LATEST_TEMPLATE.format(name="_latest_copied", summary="_metric_summary")

_EXPERIMENTS_CUR = """
CREATE OR REPLACE TABLE _experiments_cur AS
  SELECT * EXCLUDE (_file, record_time) FROM _experiments_raw
  QUALIFY row_number() OVER (PARTITION BY id ORDER BY record_time DESC) = 1
"""

_AFFECTED_SCOPE = "run_id IN (SELECT run_id FROM _affected)"
_AFFECTED_LIVE = "run_id IN (SELECT run_id FROM _affected_live)"
_ALL_LIVE = "run_id IN (SELECT run_id FROM _runs_cur)"

# The latest point of each run and key within each new metric file: highest step, then
# newest timestamp, then the last row (arrival order within a file); docs/format.md.
_SUMMARIZE_METRICS = """
INSERT INTO _metric_summary
  SELECT run_id, key, max(step),
    arg_max(timestamp, [step, epoch_ms(timestamp), file_row_number]),
    arg_max(value, [step, epoch_ms(timestamp), file_row_number]),
    max(timestamp), p.pos, filename, count(*)
  FROM read_parquet(?::VARCHAR[], filename = true, file_row_number = true,
                    union_by_name = true)
  JOIN (SELECT unnest(?::VARCHAR[]) AS file, unnest(?::VARCHAR[]) AS pos) p
    ON p.file = filename
  GROUP BY run_id, key, filename, p.pos
"""

# A file whose footer says it holds one row per (run_id, key) is its own summary: a small
# one is copied into ``_metric_summary``; a big one (a compacted file: 1M rows at 1,000 runs
# x 1,000 keys) is read where it lies through ``_lazy_summary`` (``lazy_summary_view``), so
# a query naming a few keys or runs reads only those (Parquet filter pushdown), and only
# the runs it holds are copied (``_file_runs``, for ``_multi_file_runs`` and ``_affected``).
_LOAD_UNIQUE_METRICS = """
INSERT INTO _metric_summary
  SELECT run_id, key, step, timestamp, value, timestamp, p.pos, filename, 1
  FROM read_parquet(?::VARCHAR[], filename = true, union_by_name = true)
  JOIN (SELECT unnest(?::VARCHAR[]) AS file, unnest(?::VARCHAR[]) AS pos) p
    ON p.file = filename
"""


# (duration_s from epoch milliseconds: ``date_diff`` on TIMESTAMPTZ works through the
# calendar and took two thirds of a search over 20,000 runs; stored times are whole ms.)
_RUNS_VIEW = """
  SELECT r.run_id, r.experiment, r.name,
    CASE WHEN r.status = 'RUNNING' AND d.owner IS NOT NULL THEN 'KILLED' ELSE r.status END
      AS status,
    r.start_time,
    CASE WHEN r.status = 'RUNNING' AND d.owner IS NOT NULL THEN l.t ELSE r.end_time END
      AS end_time,
    (epoch_ms(CASE WHEN r.status = 'RUNNING' AND d.owner IS NOT NULL THEN l.t
                   ELSE coalesce(r.end_time, now()) END) - epoch_ms(r.start_time)) / 1000.0
      AS duration_s,
    r.parent_run_id, r.description
  FROM _runs_cur r
  LEFT JOIN _dead_writers d ON r.owner = d.owner
  LEFT JOIN _last_record l ON r.run_id = l.run_id"""

# ``runs`` while no writer is dead (the usual case): nothing to join, the same rows.
_RUNS_VIEW_NONE_DEAD = """
  SELECT r.run_id, r.experiment, r.name, r.status, r.start_time, r.end_time,
    (epoch_ms(coalesce(r.end_time, now())) - epoch_ms(r.start_time)) / 1000.0 AS duration_s,
    r.parent_run_id, r.description
  FROM _runs_cur r"""


def runs_view(any_dead: bool) -> str:
    """``CREATE`` the ``runs`` view: joined with the dead writers and the runs' last records
    when a writer is dead, plainly over ``_runs_cur`` when none is."""
    return f"CREATE OR REPLACE VIEW runs AS {_RUNS_VIEW if any_dead else _RUNS_VIEW_NONE_DEAD}"

# Models and the registry (small tables: plain views, no incremental current state).
# ``models_all`` keeps the models of deleted runs: a registered version still loads them.
_MODEL_VIEWS = """
CREATE OR REPLACE VIEW models_all AS
  SELECT * EXCLUDE (_file) FROM _models_raw
  QUALIFY row_number() OVER (PARTITION BY run_id, name ORDER BY record_time DESC, _file DESC) = 1;
CREATE OR REPLACE VIEW models AS
  SELECT * EXCLUDE (record_time) FROM models_all WHERE run_id IN (SELECT run_id FROM _runs_cur);
CREATE OR REPLACE VIEW registered_models AS
  WITH newest AS (
    SELECT * EXCLUDE (_file) FROM _registered_models_raw
    QUALIFY row_number() OVER (PARTITION BY name ORDER BY record_time DESC, _file DESC) = 1),
  created AS (
    SELECT name, min(creation_time) AS creation_time, max(record_time) AS last_updated
    FROM _registered_models_raw GROUP BY name)
  SELECT n.name, n.description, c.creation_time, c.last_updated // 1000000 AS last_updated_time
  FROM newest n JOIN created c USING (name) WHERE NOT n.deleted;
CREATE OR REPLACE VIEW model_versions AS
  WITH newest AS (
    SELECT * EXCLUDE (_file) FROM _model_versions_raw
    QUALIFY row_number() OVER (
      PARTITION BY name, version ORDER BY record_time DESC, _file DESC) = 1),
  created AS (
    SELECT name, version, min(creation_time) AS creation_time, max(record_time) AS last_updated
    FROM _model_versions_raw GROUP BY name, version)
  SELECT n.name, n.version, n.run_id, n.model_name, n.source, n.description,
         c.creation_time, c.last_updated // 1000000 AS last_updated_time
  FROM newest n JOIN created c USING (name, version)
  WHERE NOT n.deleted AND n.name IN (SELECT name FROM registered_models);
CREATE OR REPLACE VIEW model_aliases AS
  SELECT a.name, a.alias, a.version FROM (
    SELECT * FROM _model_aliases_raw
    QUALIFY row_number() OVER (
      PARTITION BY name, alias ORDER BY seq DESC, record_time DESC, writer DESC) = 1) a
  WHERE a.version IS NOT NULL AND EXISTS (
    SELECT 1 FROM model_versions v WHERE v.name = a.name AND v.version = a.version);
CREATE OR REPLACE VIEW registry_tags AS
  SELECT name, version, key, value FROM (
    SELECT * FROM _registry_tags_raw
    QUALIFY row_number() OVER (
      PARTITION BY name, version, key ORDER BY record_time DESC, _file DESC) = 1)
  WHERE value IS NOT NULL AND name IN (SELECT name FROM registered_models);
"""

_VIEWS = f"""
CREATE OR REPLACE VIEW runs AS {_RUNS_VIEW_NONE_DEAD};
CREATE OR REPLACE VIEW params AS SELECT run_id, key, value FROM _params_cur;
CREATE OR REPLACE VIEW tags AS SELECT run_id, key, value FROM _tags_cur;
CREATE OR REPLACE VIEW latest_metrics AS
  SELECT run_id, key, step, timestamp, value FROM _latest_cur;
CREATE OR REPLACE VIEW metrics AS
  SELECT run_id, key, step, timestamp, value FROM _metrics_raw
  WHERE run_id IN (SELECT run_id FROM _runs_cur);
-- One series of a current run, in the files' order (each file is in step order): the
-- ``metrics`` view's join with the current runs loses that order, and sorting 10M points
-- costs more than reading them. A run that is not current gives no rows.
CREATE OR REPLACE MACRO metric_points(rid, k) AS TABLE
  SELECT step, value, timestamp FROM _metrics_raw
  WHERE run_id = rid AND key = k AND EXISTS (SELECT 1 FROM _runs_cur WHERE run_id = rid);
CREATE OR REPLACE VIEW artifacts AS SELECT run_id, path, size, sha256 FROM _artifacts_cur;
CREATE OR REPLACE VIEW experiments AS
  SELECT id AS experiment_id, * EXCLUDE (id) FROM _experiments_cur;
CREATE OR REPLACE VIEW inputs AS
  SELECT DISTINCT run_id, name, digest, source_type, source, schema, profile, context
  FROM _inputs_raw WHERE run_id IN (SELECT run_id FROM _runs_cur);
{_MODEL_VIEWS}"""


#: Columns of a metric summary row (``_metric_summary``, ``_lazy_summary``, ``_summary``).
SUMMARY_COLUMNS = "run_id, key, step, timestamp, value, max_timestamp, pos, _file, n"

# Every metric summary row: the copied ones and those of the big files read in place.
_SUMMARY_VIEW = f"""
CREATE OR REPLACE VIEW _summary AS
  SELECT {SUMMARY_COLUMNS} FROM _metric_summary
  UNION ALL SELECT {SUMMARY_COLUMNS} FROM _lazy_summary
"""


def lazy_summary_view(positions: dict[str, str]) -> str:
    """``_lazy_summary`` over the big one-row-per-key metric files ``positions`` names
    (file -> arrival position): each row is that file's latest point of a run and key."""
    if not positions:
        return "CREATE OR REPLACE VIEW _lazy_summary AS SELECT * FROM _metric_summary LIMIT 0"
    listed = ", ".join(_sql_string(p) for p in positions)
    cases = " ".join(
        f"WHEN {_sql_string(p)} THEN {_sql_string(pos)}" for p, pos in positions.items()
    )
    return f"""CREATE OR REPLACE VIEW _lazy_summary AS
  SELECT run_id, key, step, timestamp, value, timestamp AS max_timestamp,
    CASE filename {cases} END AS pos, filename AS _file, 1::BIGINT AS n
  FROM read_parquet([{listed}], filename = true, union_by_name = true)"""


#: What ``nt.sql`` sees: exactly these five views (DESIGN.md §3).
PUBLIC_VIEWS = ("runs", "params", "metrics", "tags", "artifacts")
