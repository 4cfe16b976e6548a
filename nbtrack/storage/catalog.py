"""The catalog of a store's files: which segment files a reader takes, as one snapshot.

A snapshot lists every partition folder once, drops temporary files, unreadable files
(with one warning each) and every file that an accepted compacted file replaces. Because a
compacted file becomes visible in one atomic step and the files it replaces are deleted only
after a grace period, each snapshot counts every record exactly once. It also gives each
file its place in arrival order (``arrival_position``), which breaks ties in the latest
metric (docs/format.md).
"""

from __future__ import annotations

import threading
import time
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nbtrack.errors import NbtrackWarning
from nbtrack.storage import schema, segments
from nbtrack.storage._fs import TMP_SUFFIX, FileInfo, FileSystem

if TYPE_CHECKING:
    from nbtrack.storage.reader import SegmentReader


@dataclass
class PartitionFiles:
    """Resolved files of one partition folder."""

    folder: str
    visible: list[FileInfo] = field(default_factory=list)
    # name -> mtime of the accepted compacted file that replaces it (for gc)
    replaced: dict[str, float] = field(default_factory=dict)
    # name -> the accepted compacted file that hides it now (gc checks that file first)
    hidden_by: dict[str, str] = field(default_factory=dict)
    # visible name -> its place in arrival order (see ``arrival_position``)
    positions: dict[str, str] = field(default_factory=dict)
    losers: list[FileInfo] = field(default_factory=list)
    # loser name -> since when no reader takes it: the mtime of the first accepted compacted
    # file that overlaps it, or its own mtime if that file was there first (gc's grace
    # runs from then: a reader that listed it while it was still accepted may be reading it)
    lost_since: dict[str, float] = field(default_factory=dict)
    temporary: list[FileInfo] = field(default_factory=list)
    corrupt: list[tuple[FileInfo, str]] = field(default_factory=list)
    foreign: list[FileInfo] = field(default_factory=list)
    _visible_key: tuple[str, ...] | None = None

    def visible_key(self) -> tuple[str, ...]:
        """The visible names, sorted (computed once: a resolution is never changed)."""
        if self._visible_key is None:
            self._visible_key = tuple(sorted(f.name for f in self.visible))
        return self._visible_key


@dataclass
class Snapshot:
    """Every table's partitions, resolved."""

    partitions: dict[str, list[PartitionFiles]]

    def paths(self, fs: FileSystem, table: str) -> list[str]:
        """Visible files of ``table``, each partition's in arrival order (so a scan without
        ORDER BY returns a run's points in the order they were logged, usually step order)."""
        out = []
        for part in self.partitions.get(table, []):
            pos = part.positions
            ordered = sorted(part.visible, key=lambda f: (pos.get(f.name, f.name), f.name))
            out.extend(fs.join(part.folder, f.name) for f in ordered)
        return out

    def positions(self, fs: FileSystem, table: str) -> dict[str, str]:
        """Path -> arrival position of every visible file of ``table``."""
        return {
            fs.join(part.folder, name): pos
            for part in self.partitions.get(table, [])
            for name, pos in part.positions.items()
        }

    def key(self) -> tuple[Any, ...]:
        """Equal for two snapshots that see the same files."""
        return tuple(
            (t, p.folder, p.visible_key())
            for t, parts in sorted(self.partitions.items())
            for p in parts
        )


def arrival_position(name: str, replaces: list[str]) -> str:
    """Where a file's rows stand in arrival order, as a string that sorts like it.

    Rows arrive in file order, then row order within a file: a flush keeps the order of
    the calls (the buffer groups points by key with a stable sort), and compaction
    concatenates its inputs in name order and sorts stably. A flushed (``s-``) file stands
    at its own name (its time and writer sequence); a compacted (``c-``) file at the
    largest ``s-`` name it replaces, i.e. at its newest rows.
    """
    if name.startswith(segments.COMPACTED_PREFIX):
        parts = [r for r in replaces if r.startswith(segments.SEGMENT_PREFIX)]
        if parts:
            return max(parts)
    return name


class FileCatalog:
    """Lists and resolves segment files; caches facts about immutable files."""

    def __init__(self, fs: FileSystem) -> None:
        self.fs = fs
        self._replaces: dict[str, list[str]] = {}
        self._bad: dict[tuple[str, int], str | None] = {}
        self._warned: set[str] = set()
        self._lock = threading.Lock()
        # (path, size) -> None when DuckDB read the whole file, else why not
        self._duck_checked: dict[tuple[str, int], str | None] = {}
        # Per folder: the FileInfo of every name seen (immutable files: stat'ed once), and
        # the last resolution with the listing it came from. A snapshot of an unchanged
        # folder reuses it, so files kept for the gc grace cost nothing on every read.
        self._infos: dict[str, dict[str, FileInfo]] = {}
        self._resolved: dict[str, tuple[tuple[Any, ...], PartitionFiles]] = {}
        self._bad_version = 0
        # Per folder: (mtime in ns, when it was read) at its last listing (``quick`` reads).
        self._stamps: dict[str, tuple[int | None, float]] = {}
        self._dirs: dict[str, list[str]] = {}

    def _problem(self, path: str, info: FileInfo) -> str | None:
        # Footers are checked once per (path, size): files never change once visible.
        key = (path, info.size)
        if key not in self._bad:
            problem = segments.check_readable(self.fs, path, info.size)
            if problem is None:
                # Once per new file: a footer read, so a Parquet file of another shape
                # under a segment name is skipped instead of breaking every query.
                table = path[len(self.fs.root) :].strip("/").split("/", 1)[0]
                if table in schema.SCHEMAS:
                    problem = segments.check_schema(self.fs, path, table)
            self._bad[key] = problem
        return self._bad[key]

    def mark_path_bad(self, path: str, why: str) -> None:
        """Skip ``path`` from now on (DuckDB could not read it)."""
        self._bad_version += 1
        self._stamps.clear()
        for key in [k for k in self._bad if k[0] == path]:
            self._bad[key] = why
        folder, name = path.rsplit("/", 1) if "/" in path else ("", path)
        for info in self.fs.list_files(folder):
            if info.name == name:
                self._bad[(path, info.size)] = why

    def duckdb_problem(self, reader: SegmentReader, path: str, table: str) -> str | None:
        """None when DuckDB reads every row of ``path`` (checked once per file), else why not."""
        folder, name = path.rsplit("/", 1) if "/" in path else ("", path)
        size = next((f.size for f in self.fs.list_files(folder) if f.name == name), -1)
        key = (path, size)
        if key not in self._duck_checked:
            self._duck_checked[key] = reader.problem(path, table)
        return self._duck_checked[key]

    def mark_bad(self, snap: Snapshot) -> int:
        """Check every visible file's footer in full; mark failures. Returns how many."""
        found = 0
        for parts in snap.partitions.values():
            for part in parts:
                for info in part.visible:
                    path = self.fs.join(part.folder, info.name)
                    problem = segments.check_footer(self.fs, path)
                    if problem is not None:
                        self._bad[(path, info.size)] = problem
                        found += 1
        if found:
            self._bad_version += 1
            self._stamps.clear()
        return found

    def _replaced_by(self, path: str) -> list[str]:
        if path not in self._replaces:
            self._replaces[path] = segments.read_replaces(self.fs, path)
        return self._replaces[path]

    def _unchanged(self, folder: str) -> tuple[bool, int | None, float]:
        """Whether ``folder`` is unchanged since it was last listed, judged by its mtime.

        Returns (unchanged, the stamp now, when it was taken). A stamp is trusted only when
        it was taken more than the file system's ``stamp_margin_s`` (50 ms on a local disk,
        1 s elsewhere) after the folder's last change, so a
        change in the same clock tick as the one before it cannot go unseen (the "racy
        timestamp" rule); until then the folder is listed on every read.
        """
        taken = time.time()
        stamp = self.fs.folder_stamp(folder)
        seen = self._stamps.get(folder)
        unchanged = (
            stamp is not None
            and seen is not None
            and seen[0] == stamp
            and seen[1] > stamp / 1e9 + self.fs.stamp_margin_s
        )
        return unchanged, stamp, taken

    def resolve_partition(self, folder_rel: str, *, quick: bool = False) -> PartitionFiles:
        """The partition's files, resolved (reused while the folder's listing is unchanged).

        ``quick``: skip listing a local folder whose mtime says nothing was added or
        removed (reads; gc and doctor list every time, they time files by their mtimes).
        """
        folder = self.fs.join(folder_rel)
        cached = self._resolved.get(folder_rel)
        unchanged, stamp, taken = self._unchanged(folder)
        if quick and unchanged and cached is not None:
            return cached[1]
        known = self._infos.setdefault(folder_rel, {})
        listing = self.fs.list_files_known(folder, known)
        for info in listing:
            known[info.name] = info
        if len(known) > 2 * len(listing) + 64:  # forget files gc removed long ago
            names = {i.name for i in listing}
            for name in [n for n in known if n not in names]:
                del known[name]
        key = (
            frozenset((i.name, i.size) for i in listing),
            self._bad_version,
            # gc and doctor time compacted and temporary files by their mtimes
            tuple(sorted((i.name, i.mtime) for i in listing if not i.name.startswith("s-"))),
        )
        if cached is not None and cached[0] == key:
            self._stamps[folder] = (stamp, taken)
            return cached[1]
        part = None
        if cached is not None:
            part = self._resolve_delta(folder_rel, cached[0], cached[1], key, listing)
        if part is None:
            part = self._resolve(folder_rel, listing)
        self._resolved[folder_rel] = (key, part)
        self._stamps[folder] = (stamp, taken)
        return part

    def _resolve_delta(
        self,
        folder_rel: str,
        old_key: tuple[Any, ...],
        old: PartitionFiles,
        key: tuple[Any, ...],
        listing: list[FileInfo],
    ) -> PartitionFiles | None:
        """The common change, resolved from the last resolution in proportion to it.

        Between two reads a folder usually gains a few flushed segments and loses some that
        gc removed after a compaction had hidden them. Neither changes what compacted files
        say, so the previous resolution stays right for every other name. Anything else (a
        new or vanished compacted file, a visible file gone, a file marked bad) returns
        None and the folder is resolved from scratch.
        """
        if old_key[1] != key[1]:
            return None
        before, after = old_key[0], key[0]
        added = after - before
        removed = before - after
        if not added and not removed:
            return None  # only compacted or temporary mtimes changed: gc/doctor facts
        # Compacted files: none new, none changed; only hidden ones (replaced by a newer
        # compacted file) may have gone.
        old_mtimes = dict(old_key[2])
        for name, mtime in key[2]:
            if not name.startswith(".") and old_mtimes.get(name) != mtime:
                return None
        visible = {f.name for f in old.visible}
        for name, _size in removed:
            if name in visible:
                return None
        by_name = {info.name: info for info in listing}
        part = PartitionFiles(
            folder_rel,
            visible=list(old.visible),
            replaced=old.replaced,
            hidden_by=old.hidden_by,
            positions=dict(old.positions),
            losers=[f for f in old.losers if f.name in by_name],
            lost_since=old.lost_since,
            temporary=[
                i for i in listing if i.name.startswith(".") and i.name.endswith(TMP_SUFFIX)
            ],
            corrupt=[(f, why) for f, why in old.corrupt if f.name in by_name],
            foreign=[f for f in old.foreign if f.name in by_name],
        )
        for name, _size in sorted(added):
            info = by_name[name]
            if name.startswith(".") and name.endswith(TMP_SUFFIX):
                continue
            if not (segments.is_data_file(name) and name.startswith(segments.SEGMENT_PREFIX)):
                return None  # a compacted or foreign file: resolve from scratch
            if name in old.replaced:
                continue  # an accepted compacted file already holds its rows
            problem = self._problem(self.fs.join(folder_rel, name), info)
            if problem is None:
                part.visible.append(info)
                part.positions[name] = name
            else:
                part.corrupt.append((info, problem))
        return part

    def _resolve(self, folder_rel: str, listing: list[FileInfo]) -> PartitionFiles:
        part = PartitionFiles(folder_rel)
        data: list[FileInfo] = []
        for info in listing:
            if info.name.endswith(TMP_SUFFIX) and info.name.startswith("."):
                part.temporary.append(info)
            elif not segments.is_data_file(info.name) or not (
                info.name.startswith(segments.SEGMENT_PREFIX)
                or info.name.startswith(segments.COMPACTED_PREFIX)
            ):
                part.foreign.append(info)
            else:
                data.append(info)
        # Compacted files are checked first: a flushed segment that an accepted compacted
        # file replaces is hidden whatever its state, so it costs no footer read (a store
        # keeps many of them for the gc grace; a cold reader would read each one).
        good: list[FileInfo] = []
        for info in data:
            if info.name.startswith(segments.COMPACTED_PREFIX):
                problem = self._problem(self.fs.join(folder_rel, info.name), info)
                if problem is None:
                    good.append(info)
                else:
                    part.corrupt.append((info, problem))
        covered: set[str] = set()
        for f in good:
            covered.update(self._replaced_by(self.fs.join(folder_rel, f.name)))
        for info in data:
            if info.name.startswith(segments.COMPACTED_PREFIX):
                continue
            if info.name in covered:
                good.append(info)
                continue
            problem = self._problem(self.fs.join(folder_rel, info.name), info)
            if problem is None:
                good.append(info)
            else:
                part.corrupt.append((info, problem))
        # Accept compacted files newest name first. A newer compacted file that merged an
        # older one names it (and its parts) in its footer, so the older one is dropped.
        # A compacted file whose inputs overlap an accepted one without being replaced by it
        # lost a race with another compactor and is ignored entirely.
        dropped: set[str] = set()
        by_name = {f.name: f for f in good}
        compacted = sorted(
            (f for f in good if f.name.startswith(segments.COMPACTED_PREFIX)),
            key=lambda f: f.name,
            reverse=True,
        )
        loser_names: set[str] = set()
        for f in compacted:
            if f.name in dropped:
                continue
            replaces = set(self._replaced_by(self.fs.join(folder_rel, f.name)))
            if replaces & dropped:
                loser_names.add(f.name)
                continue
            for name in replaces:
                dropped.add(name)
                part.replaced[name] = f.mtime
                part.hidden_by.setdefault(name, f.name)
        # A file's grace period runs from the first compaction that replaced it, not from
        # the newest one that lists it again (transitively): older compacted files that are
        # themselves replaced now still tell when that was.
        for f in compacted:
            if f.name in loser_names:
                continue
            for name in self._replaced_by(self.fs.join(folder_rel, f.name)):
                if name in part.replaced and f.mtime < part.replaced[name]:
                    part.replaced[name] = f.mtime
        # A loser may have been accepted until the file that beat it appeared (a compactor
        # that stalled past its lease publishes late): readers that listed it then may still
        # be reading it, so its grace runs from when it lost, not from when it was written.
        winners = [f for f in compacted if f.name not in loser_names and f.name not in dropped]
        for name in loser_names:
            mine = set(self._replaced_by(self.fs.join(folder_rel, name)))
            beaten = [
                w.mtime for w in winners
                if mine & set(self._replaced_by(self.fs.join(folder_rel, w.name)))
            ]
            part.lost_since[name] = max(by_name[name].mtime, min(beaten, default=0.0))
        for name, info in by_name.items():
            if name in loser_names:
                part.losers.append(info)
            elif name not in dropped:
                part.visible.append(info)
                part.positions[name] = arrival_position(
                    name,
                    self._replaced_by(self.fs.join(folder_rel, name))
                    if name.startswith(segments.COMPACTED_PREFIX)
                    else [],
                )
        return part

    def snapshot(self, tables: tuple[str, ...] = schema.TABLES, *, quick: bool = False) -> Snapshot:
        """Every table's partitions, resolved now.

        ``quick`` (the read path): folders whose mtime shows no change since they were last
        listed are not listed again, so a read of an unchanged local store costs one
        ``stat`` per folder. Maintenance (gc, compaction, doctor) lists everything.
        """
        with self._lock, self.fs.listing(tables):
            folders = {table: self._partition_folders(table, quick) for table in tables}
            if self.fs.is_remote:
                self._prefetch([f"{t}/{d}" for t, ds in folders.items() for d in ds])
            parts: dict[str, list[PartitionFiles]] = {}
            for table in tables:
                parts[table] = [
                    self.resolve_partition(f"{table}/{d}", quick=quick) for d in folders[table]
                ]
            return Snapshot(parts)

    def _prefetch(self, folders: list[str]) -> None:
        """Fetch the files a resolution reads, all partitions together (object storage).

        Resolving reads compacted files' footers, then the flushed segments they do not
        replace; one by one that is a round trip per file on a cold read. Here the first
        kind is fetched concurrently, then the second (into the segment cache; the listing
        ``snapshot`` just took answers without a request).
        """
        listed = {rel: self.fs.list_files_known(self.fs.join(rel), {}) for rel in folders}
        compacted = [
            (self.fs.join(rel, i.name), i)
            for rel, infos in listed.items()
            for i in infos
            if i.name.startswith(segments.COMPACTED_PREFIX) and segments.is_data_file(i.name)
        ]
        self.fs.prefetch([path for path, _ in compacted])
        flushed = [
            (rel, i.name)
            for rel, infos in listed.items()
            for i in infos
            if i.name.startswith(segments.SEGMENT_PREFIX) and segments.is_data_file(i.name)
        ]
        if not flushed:
            return  # a compacted, gc'ed store: no need to gather what compaction replaced
        covered: set[str] = set()
        for path, info in compacted:
            if self._problem(path, info) is None:
                folder = path.rsplit("/", 1)[0]
                covered.update(f"{folder}/{n}" for n in self._replaced_by(path))
        self.fs.prefetch(
            [path for rel, name in flushed if (path := self.fs.join(rel, name)) not in covered]
        )

    def _partition_folders(self, table: str, quick: bool) -> list[str]:
        folder = self.fs.join(table)
        unchanged, stamp, taken = self._unchanged(folder)
        if quick and unchanged and folder in self._dirs:
            return self._dirs[folder]
        if quick and stamp is None and not self.fs.is_remote:
            return []  # no such folder (yet): nothing to list
        names = sorted(
            d for d in self.fs.list_dirs(folder) if d.startswith(schema.PARTITION_KEY + "=")
        )
        self._dirs[folder] = names
        self._stamps[folder] = (stamp, taken)
        return names

    def warn_problems(self, snap: Snapshot) -> None:
        for parts in snap.partitions.values():
            for part in parts:
                for info, problem in [
                    *part.corrupt,
                    *((f, "not an nbtrack segment") for f in part.foreign),
                ]:
                    path = self.fs.join(part.folder, info.name)
                    if path not in self._warned:
                        self._warned.add(path)
                        warnings.warn(
                            f"nbtrack: skipping {path} ({problem}); "
                            "run `nbtrack doctor` for what to do",
                            NbtrackWarning,
                            stacklevel=4,
                        )
