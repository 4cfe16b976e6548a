"""Loading a snapshot into the read model file by file: new files are read, vanished ones
deleted, a compaction relabelled, and current state recomputed for the affected runs only."""

from __future__ import annotations

from typing import Any

import duckdb

from nbtrack.storage import schema
from nbtrack.storage._fs import FileSystem
from nbtrack.storage.catalog import Snapshot
from nbtrack.storage.read_model.statements import (
    _AFFECTED_LIVE,
    _AFFECTED_SCOPE,
    _ALL_LIVE,
    _CACHED,
    _CURRENT,
    _DUCK_TYPES,
    _EXPERIMENTS_CUR,
    _LATEST_COPIED_VIEW,
    _LATEST_EXCLUDED_VIEW,
    _LATEST_VIEW,
    _LOAD_UNIQUE_METRICS,
    _NOT_CURRENT,
    _SUMMARIZE_METRICS,
    _SUMMARY_VIEW,
    _VIEWS,
    _empty_select,
    lazy_summary_view,
)

#: Trust the writers' ``nbtrack.unique_run_key`` footer flag (tests turn it off to check
#: that the flag changes no result).
USE_UNIQUE_FLAG = True

#: A one-row-per-key metrics file with at least this many rows, in a local store, is read
#: in place (``_lazy_summary``) instead of copied into ``_metric_summary``.
LAZY_SUMMARY_ROWS = 50_000

#: New files are read at most this many per statement: DuckDB holds every file's reader of
#: one scan at once, so 4,000 flushed segments in one INSERT took 584 MB and 1.6 s, in
#: statements of 256 files 117 MB and 1.1 s (the first read after a quick sweep of
#: thousands of runs, before compaction merged their segments).
FILES_PER_STATEMENT = 256


def batches(paths: list[str]) -> list[list[str]]:
    """``paths`` cut into lists of at most ``FILES_PER_STATEMENT``."""
    return [paths[i : i + FILES_PER_STATEMENT] for i in range(0, len(paths), FILES_PER_STATEMENT)]


def _ids(cursor: duckdb.DuckDBPyConnection) -> list[str]:
    """The distinct first-column values of a statement's result (run ids)."""
    return list({row[0] for row in cursor.fetchall()})


# What each current-state table is computed from (besides the affected runs being current):
# a table none of whose inputs gained or lost a file is left as it is.
_INPUTS: dict[str, set[str]] = {
    "_last_record": {"runs", "params", "tags", "artifacts", "metrics"},
    "_params_cur": {"params"},
    "_tags_cur": {"tags"},
    "_multi_file_runs": {"metrics"},
    "_latest_multi": {"metrics"},
    "_artifacts_cur": {"artifacts"},
}


class FileLoading:
    """The loading half of ``ReadModel``: raw tables per file, current state per run."""

    fs: FileSystem
    con: duckdb.DuckDBPyConnection
    _key: tuple[Any, ...] | None
    _wide_cache: Any
    _wide_stale: set[str]
    _affected_ids: list[str]
    _visible_metrics: list[str]
    _metrics_view_stale: bool
    _lazy: dict[str, str]  # big metrics files read in place -> their arrival position
    _not_current: set[str]  # the rows of ``_not_current``: runs with rows, not current
    owners: list[str]
    last_install: dict[str, int]

    def _setup_tables(self) -> None:
        for table in _CACHED:
            cols = ", ".join(f"{f.name} {_DUCK_TYPES[f.type]}" for f in schema.SCHEMAS[table])
            self.con.execute(f"CREATE TABLE _{table}_raw ({cols}, _file VARCHAR)")
        # Per metric file and run and key: the latest point in that file, the file's arrival
        # position (ties between files) and its newest timestamp (a KILLED run's end_time).
        self.con.execute(
            "CREATE TABLE _metric_summary (run_id VARCHAR, key VARCHAR, step BIGINT, "
            "timestamp TIMESTAMPTZ, value DOUBLE, max_timestamp TIMESTAMPTZ, pos VARCHAR, "
            "_file VARCHAR, n BIGINT)"
        )
        # The runs each file of ``_lazy_summary`` holds (one row per run and file).
        self.con.execute("CREATE TABLE _file_runs (run_id VARCHAR, _file VARCHAR)")
        self._lazy = {}
        self.con.execute(lazy_summary_view(self._lazy))
        self.con.execute(_SUMMARY_VIEW)
        self.con.execute("CREATE TABLE _affected (run_id VARCHAR)")
        self.con.execute("CREATE TABLE _affected_live (run_id VARCHAR)")
        self.con.execute("CREATE TABLE _not_current (run_id VARCHAR)")
        self._not_current = set()
        self.con.execute(f"CREATE OR REPLACE VIEW _metrics_raw AS {_empty_select('metrics')}")
        for name, select in _CURRENT:
            self.con.execute(
                f"CREATE TABLE {name} AS {select.format(scope='TRUE', live=_ALL_LIVE)}"
            )
        self.con.execute(_LATEST_EXCLUDED_VIEW)
        self.con.execute(_LATEST_VIEW)
        self.con.execute(_LATEST_COPIED_VIEW)
        self.con.execute(_EXPERIMENTS_CUR)
        self.con.execute(_VIEWS)
        self._loaded: dict[str, set[str]] = {t: set() for t in (*_CACHED, "metrics")}

    def _load(self, snap: Snapshot) -> None:
        con = self.con
        stats = {"new_files": 0, "gone_files": 0, "affected_runs": 0}
        # The first load (or one after a reset) affects every run: current state is computed
        # over everything, with no run list to build and join against.
        first = not any(self._loaded.values())
        # Later loads: the runs whose rows came or went (their ids returned by the INSERTs
        # themselves, not found again by scanning the tables), and the tables that changed.
        affected: set[str] = set()
        changed: set[str] = set()
        returning = "" if first else " RETURNING run_id"
        experiments_changed = False
        for table in (*_CACHED, "metrics"):
            visible = snap.paths(self.fs, table)
            vis_set = set(visible)
            loaded = self._loaded[table]
            gone = sorted(loaded - vis_set)
            new = [p for p in visible if p not in loaded]
            if not gone and not new:
                continue
            target = "_metric_summary" if table == "metrics" else f"_{table}_raw"
            if gone and new:
                swapped_gone, swapped_new = self._relabel_compacted(snap, table, target, gone, new)
                gone = [p for p in gone if p not in swapped_gone]
                new = [p for p in new if p not in swapped_new]
                stats["relabelled_files"] = stats.get("relabelled_files", 0) + len(swapped_new)
            stats["new_files"] += len(new)
            stats["gone_files"] += len(gone)
            if new or gone:
                changed.add(table)
            # Tables whose rows belong to a run (the registry's do not) mark it affected.
            has_run = table not in ("experiments", *schema.REGISTRY_TABLES)
            if table == "experiments":
                experiments_changed = True
            if gone:
                targets = [target]
                if table == "metrics" and any(p in self._lazy for p in gone):
                    targets.append("_file_runs")
                    for p in gone:
                        self._lazy.pop(p, None)
                for t in targets:
                    if has_run:
                        affected.update(
                            _ids(
                                con.execute(
                                    f"SELECT DISTINCT run_id FROM {t} "
                                    "WHERE _file IN (SELECT unnest(?::VARCHAR[]))",
                                    [gone],
                                )
                            )
                        )
                    con.execute(
                        f"DELETE FROM {t} WHERE _file IN (SELECT unnest(?::VARCHAR[]))", [gone]
                    )
            if new:
                if table == "metrics":
                    pos = snap.positions(self.fs, "metrics")
                    flagged = self._unique_files(new) if USE_UNIQUE_FLAG else {}
                    # (Object storage is not read in place: every query would fetch it.)
                    lazy = [
                        p
                        for p in new
                        if flagged.get(p, 0) >= LAZY_SUMMARY_ROWS and not self.fs.is_remote
                    ]
                    for sql, paths in (
                        (_LOAD_UNIQUE_METRICS, [p for p in new if p in flagged and p not in lazy]),
                        (_SUMMARIZE_METRICS, [p for p in new if p not in flagged]),
                    ):
                        for some in batches(paths):
                            affected.update(
                                _ids(
                                    con.execute(
                                        sql + returning, [some, some, [pos[p] for p in some]]
                                    )
                                )
                            )
                    if lazy:
                        affected.update(
                            _ids(
                                con.execute(
                                    "INSERT INTO _file_runs SELECT DISTINCT run_id, filename "
                                    f"FROM read_parquet(?::VARCHAR[], filename = true){returning}",
                                    [lazy],
                                )
                            )
                        )
                        self._lazy.update((p, pos[p]) for p in lazy)
                else:
                    cols = ", ".join(f.name for f in schema.SCHEMAS[table])
                    for some in batches(new):
                        cur = con.execute(
                            f"INSERT INTO _{table}_raw SELECT {cols}, filename FROM "
                            "read_parquet(?::VARCHAR[], filename = true, union_by_name = true)"
                            + (returning if has_run else ""),
                            [some],
                        )
                        if has_run:
                            affected.update(_ids(cur))
            if table == "metrics":
                # ``_metrics_raw`` (binding it opens every visible metrics file) is made when
                # a query first reads metric points (``ReadModel.execute``), not per load.
                self._visible_metrics = visible
                self._metrics_view_stale = True
                if gone or any(p in self._lazy for p in new):
                    con.execute(lazy_summary_view(self._lazy))
            self._loaded[table] = vis_set
        affected.discard(None)  # type: ignore[arg-type]
        if first:
            for name, select in _CURRENT:
                con.execute(f"DELETE FROM {name}")
                con.execute(f"INSERT INTO {name} {select.format(scope='TRUE', live=_ALL_LIVE)}")
            con.execute("DELETE FROM _not_current")
            con.execute(_NOT_CURRENT)
            self._not_current = set(_ids(con.execute("SELECT run_id FROM _not_current")))
            self._affected_ids = []
            self._wide_cache = None  # (built over an empty store, if at all)
            self._wide_stale = set()
            n = con.execute("SELECT count(*) FROM _runs_cur").fetchall()[0][0]
            stats["affected_runs"] = n
        else:
            self._affected_ids = sorted(affected)
            n = len(self._affected_ids)
            stats["affected_runs"] = n
        if n and not first:
            self._recompute_affected(changed, stats)
        if experiments_changed:
            con.execute(_EXPERIMENTS_CUR)
        if first or "runs" in changed or "deletions" in changed:
            self.owners = [
                r[0]
                for r in con.execute(
                    "SELECT DISTINCT owner FROM _runs_cur WHERE status = 'RUNNING' "
                    "AND owner IS NOT NULL"
                ).fetchall()
            ]
        self.last_install = stats

    def _recompute_affected(self, changed: set[str], stats: dict[str, int]) -> None:
        """Current state of the affected runs, skipping what cannot have changed.

        A table none of whose inputs (``_INPUTS``) gained or lost a file keeps its rows when
        every affected run stayed as current (or not) as it was. ``_last_record`` only holds
        RUNNING runs and ``_latest_multi`` only runs whose latest points span several files:
        when no affected run is one, their rows of the affected runs are just deleted.
        """
        con = self.con
        con.execute(
            "CREATE OR REPLACE TABLE _affected AS SELECT unnest(?::VARCHAR[]) AS run_id",
            [self._affected_ids],
        )
        live_before: set[str] = set()
        live_changed = running = multi = True
        skipped = 0
        for name, select in _CURRENT:
            sql = select.format(scope=_AFFECTED_SCOPE, live=_AFFECTED_LIVE)
            if name == "_runs_cur":
                # The affected runs that were current, then those that are (and RUNNING).
                live_before = set(
                    _ids(
                        con.execute(f"DELETE FROM {name} WHERE {_AFFECTED_SCOPE} RETURNING run_id")
                    )
                )
                rows = con.execute(
                    f"INSERT INTO {name} {sql} RETURNING run_id, status = 'RUNNING'"
                ).fetchall()
                live_now = {r[0] for r in rows}
                con.execute(
                    "CREATE OR REPLACE TABLE _affected_live AS "
                    "SELECT unnest(?::VARCHAR[]) AS run_id",
                    [sorted(live_now)],
                )
                live_changed = live_now != live_before
                running = any(r[1] for r in rows)
                self._track_not_current(live_now)
                continue
            if (name == "_last_record" and not running) or (name == "_latest_multi" and not multi):
                if live_before:
                    con.execute(f"DELETE FROM {name} WHERE {_AFFECTED_SCOPE}")
                skipped += 1
                continue
            if not live_changed and not (changed & _INPUTS[name]):
                skipped += 1
                continue
            if live_before or name == "_multi_file_runs":
                # (the other tables hold rows of current runs only: none of runs that were
                # not current, as every affected run of a new run's first flush)
                con.execute(f"DELETE FROM {name} WHERE {_AFFECTED_SCOPE}")
            if name == "_multi_file_runs":
                multi = bool(con.execute(f"INSERT INTO {name} {sql} RETURNING run_id").fetchall())
            else:
                con.execute(f"INSERT INTO {name} {sql}")
        stats["skipped_tables"] = skipped

    def _track_not_current(self, live_now: set[str]) -> None:
        """Keep ``_not_current`` (affected runs that are not current) in step, touching the
        table only when its rows change (a new or ended run changes nothing there)."""
        affected = set(self._affected_ids)
        leaving = sorted(self._not_current & live_now)
        joining = sorted(affected - live_now - self._not_current)
        if leaving:
            self.con.execute(
                "DELETE FROM _not_current WHERE run_id IN (SELECT unnest(?::VARCHAR[]))",
                [leaving],
            )
        if joining:
            self.con.execute("INSERT INTO _not_current SELECT unnest(?::VARCHAR[])", [joining])
        self._not_current = (self._not_current - live_now) | set(joining)

    def _unique_files(self, paths: list[str]) -> dict[str, int]:
        """The metrics files among ``paths`` whose footer says one row per (run_id, key),
        with their row counts."""
        found: dict[str, int] = {}
        for some in batches(paths):
            rows = self.con.execute(
                "SELECT file_name, num_rows FROM parquet_file_metadata(?::VARCHAR[]) "
                "WHERE file_name IN (SELECT file_name FROM parquet_kv_metadata(?::VARCHAR[]) "
                "WHERE decode(key) = ? AND decode(value) = '1')",
                [some, some, schema.UNIQUE_META.decode()],
            ).fetchall()
            found.update((r[0], int(r[1])) for r in rows)
        return found

    def _relabel_compacted(
        self, snap: Snapshot, table: str, target: str, gone: list[str], new: list[str]
    ) -> tuple[set[str], set[str]]:
        """Take a compaction as what it is: the same rows under a new file name.

        A new compacted file whose rows are exactly those of loaded files it replaces (its
        row count equals theirs, and it holds at least their rows by construction) changes
        no current state: the loaded rows are relabelled to it and no run is recomputed.
        Metric summaries are merged: per run and key the latest of the replaced files'
        latest points (highest step, newest timestamp, then the later input, which is also
        the later row in the merged file), at the compacted file's arrival position.
        Returns the gone and new paths handled this way.
        """
        hiding: dict[str, list[str]] = {}
        new_set = set(new)
        for part in snap.partitions.get(table, []):
            for name, by in part.hidden_by.items():
                path, c_path = self.fs.join(part.folder, name), self.fs.join(part.folder, by)
                if c_path in new_set:
                    hiding.setdefault(c_path, []).append(path)
        gone_set = set(gone)
        done_gone: set[str] = set()
        done_new: set[str] = set()
        count_col = "sum(n)" if table == "metrics" else "count(*)"
        positions = snap.positions(self.fs, table) if table == "metrics" and hiding else {}
        for c_path, hidden in hiding.items():
            mine = [p for p in hidden if p in gone_set]
            if not mine or any(p in self._lazy for p in mine):
                continue  # (a file read in place is never copied: it is loaded normally)
            have = self.con.execute(
                f"SELECT coalesce({count_col}, 0) FROM {target} "
                "WHERE _file IN (SELECT unnest(?::VARCHAR[]))",
                [mine],
            ).fetchall()[0][0]
            rows = self.con.execute("SELECT count(*) FROM read_parquet(?)", [c_path]).fetchall()[0][
                0
            ]
            if int(have) != int(rows):
                continue  # it holds rows this model never loaded: load it normally
            if table == "metrics":
                self.con.execute(
                    """INSERT INTO _metric_summary
  SELECT run_id, key, max(step),
    arg_max(timestamp, {'s': step, 't': epoch_ms(timestamp), 'p': pos}),
    arg_max(value, {'s': step, 't': epoch_ms(timestamp), 'p': pos}),
    max(max_timestamp), ?, ?, sum(n)
  FROM _metric_summary WHERE _file IN (SELECT unnest(?::VARCHAR[]))
  GROUP BY run_id, key""",
                    [positions[c_path], c_path, mine],
                )
                self.con.execute(
                    "DELETE FROM _metric_summary WHERE _file IN (SELECT unnest(?::VARCHAR[]))",
                    [mine],
                )
            else:
                self.con.execute(
                    f"UPDATE {target} SET _file = ? WHERE _file IN (SELECT unnest(?::VARCHAR[]))",
                    [c_path, mine],
                )
            done_gone.update(mine)
            done_new.add(c_path)
        return done_gone, done_new

    def _reset_tables(self) -> None:
        """After a failed update start over: drop every cached row."""
        for table in _CACHED:
            self.con.execute(f"DELETE FROM _{table}_raw")
        self.con.execute("DELETE FROM _metric_summary")
        self.con.execute("DELETE FROM _file_runs")
        self.con.execute("DELETE FROM _not_current")
        self._not_current = set()
        self._lazy = {}
        self.con.execute(lazy_summary_view(self._lazy))
        for name, _ in _CURRENT:
            self.con.execute(f"DELETE FROM {name}")
        self._loaded = {t: set() for t in (*_CACHED, "metrics")}
        self._visible_metrics = []
        self._metrics_view_stale = True
        self._key = ("reset",)
        self._wide_cache = None
        self._wide_stale = set()
