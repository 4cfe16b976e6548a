"""The few file operations the store needs, for local paths and fsspec URLs.

Local paths use ``os`` directly (fast, and ``os.replace`` is the atomic step). Any other
URI goes through fsspec (``_remote_fs``), where a single PUT is the atomic step.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO, Union

from nbtrack.errors import StoreError

if TYPE_CHECKING:
    from nbtrack.storage._remote_fs import RemoteFileSystem

TMP_SUFFIX = ".tmp"
#: Bytes read at a time when a file is hashed or copied.
COPY_CHUNK = 1 << 20


@dataclass(frozen=True)
class FileInfo:
    """One directory entry: its name (no folder), size in bytes and mtime in seconds."""

    name: str
    size: int
    mtime: float


#: File systems whose timestamps come from this machine's clock, at most one kernel tick
#: (1-10 ms) coarse: a folder's mtime is trusted ``LOCAL_STAMP_MARGIN_S`` after it.
LOCAL_CLOCK_FS = frozenset(
    {"ext2", "ext3", "ext4", "xfs", "btrfs", "tmpfs", "ramfs", "overlay", "zfs", "f2fs", "bcachefs"}
)
LOCAL_STAMP_MARGIN_S = 0.05
#: Any other file system (NFS, SMB, FUSE mounts, or a platform without /proc): the server's
#: clock and coarser timestamps, so a folder's mtime is trusted only a second after it.
OTHER_STAMP_MARGIN_S = 1.0


def mount_type(path: str, mountinfo: str = "/proc/self/mountinfo") -> str | None:
    """The type of the file system holding ``path`` (Linux), or None when unknown."""
    try:
        with open(mountinfo, encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    real = os.path.realpath(path)
    best, kind = "", None
    for line in lines:
        fields, _, rest = line.partition(" - ")
        parts = fields.split()
        if len(parts) < 5 or not rest:
            continue
        point = parts[4].replace("\\040", " ")
        inside = real == point or real.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, kind = point, rest.split()[0]
    return kind


def stamp_margin(path: str) -> float:
    """How long after a folder's last change its mtime can be trusted to show the next one
    (the "racy timestamp" rule; ``catalog.FileCatalog`` lists a folder until then)."""
    return LOCAL_STAMP_MARGIN_S if mount_type(path) in LOCAL_CLOCK_FS else OTHER_STAMP_MARGIN_S


def is_local(uri: str) -> bool:
    """True for plain paths and ``file://`` URLs."""
    return "://" not in uri or uri.startswith("file://")


class LocalFileSystem:
    """Local directory tree rooted at ``root``."""

    is_remote = False

    def __init__(self, root: str) -> None:
        if root.startswith("file://"):
            root = root[len("file://") :]
        self.root = os.path.abspath(os.path.expanduser(root))
        self._stamp_margin: float | None = None

    @property
    def stamp_margin_s(self) -> float:
        """Seconds after a folder's last change from which its mtime is trusted."""
        if self._stamp_margin is None:
            probe = self.root
            while not os.path.exists(probe) and os.path.dirname(probe) != probe:
                probe = os.path.dirname(probe)
            self._stamp_margin = stamp_margin(probe)
        return self._stamp_margin

    def join(self, *parts: str) -> str:
        return os.path.join(self.root, *parts)

    def ensure_root(self) -> None:
        try:
            os.makedirs(self.root, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"cannot create the store folder {self.root!r}: {exc.strerror or exc}; "
                "pass a writable path to nbtrack.set_store() or set NBTRACK_STORE"
            ) from exc
        if not os.access(self.root, os.R_OK | os.X_OK):
            raise StoreError(
                f"the store folder {self.root!r} is not readable; fix its permissions "
                "or choose another store"
            )

    def list_files(self, path: str) -> list[FileInfo]:
        try:
            with os.scandir(path) as it:
                out = []
                for entry in it:
                    if entry.is_file(follow_symlinks=False):
                        try:
                            st = entry.stat(follow_symlinks=False)
                        except FileNotFoundError:
                            continue
                        out.append(FileInfo(entry.name, st.st_size, st.st_mtime))
                return out
        except FileNotFoundError:
            return []
        except NotADirectoryError:
            return []

    def list_files_known(self, path: str, known: dict[str, FileInfo]) -> list[FileInfo]:
        """Like ``list_files``, but names in ``known`` are not stat'ed again.

        Flushed segments (``s-``) never change once visible, so their size and mtime are
        cached by the caller; only new names, compacted files (gc times its grace from their
        mtime) and temporary files (which grow) cost a ``stat``.
        """
        try:
            with os.scandir(path) as it:
                out = []
                for entry in it:
                    info = known.get(entry.name)
                    if info is not None and entry.name.startswith("s-"):
                        out.append(info)
                        continue
                    if entry.is_file(follow_symlinks=False):
                        try:
                            st = entry.stat(follow_symlinks=False)
                        except FileNotFoundError:
                            continue
                        out.append(FileInfo(entry.name, st.st_size, st.st_mtime))
                return out
        except (FileNotFoundError, NotADirectoryError):
            return []

    def folder_stamp(self, path: str) -> int | None:
        """The folder's mtime in ns (it changes when an entry is added, removed or renamed),
        or None when it does not exist."""
        try:
            return os.stat(path).st_mtime_ns
        except OSError:
            return None

    def list_dirs(self, path: str) -> list[str]:
        try:
            with os.scandir(path) as it:
                return [e.name for e in it if e.is_dir(follow_symlinks=False)]
        except (FileNotFoundError, NotADirectoryError):
            return []

    @contextlib.contextmanager
    def listing(self, tables: tuple[str, ...]) -> Iterator[None]:
        """Local folders are listed one by one (cheap): nothing to prefetch."""
        yield

    def prefetch(self, paths: list[str]) -> None:
        """Local files need no fetching."""

    def write_atomic(self, path: str, data: bytes, *, exclusive: bool = False) -> bool:
        """Write ``data`` under a temporary name, then make it visible in one rename.

        Returns False (writing nothing) when ``exclusive`` and ``path`` already exists.
        """
        folder = os.path.dirname(path)
        os.makedirs(folder, exist_ok=True)
        if exclusive and os.path.exists(path):
            return False
        tmp = os.path.join(
            folder, f".{os.path.basename(path)}.{secrets.token_hex(4)}{TMP_SUFFIX}"
        )
        try:
            with open(tmp, "wb") as fh:
                fh.write(data)
                if os.environ.get("NBTRACK_FSYNC") == "1":
                    fh.flush()
                    os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
        return True

    def create_exclusive(self, path: str, data: bytes) -> bool:
        """Make ``path`` hold ``data`` only if nothing is there; False if something is.

        Written under a temporary name, then hard-linked to ``path`` (``link`` fails when the
        name exists): atomic and exclusive.
        """
        staged = self.staging_path(path)
        try:
            with open(staged, "wb") as fh:
                fh.write(data)
            try:
                os.link(staged, path)
            except FileExistsError:
                return False
            return True
        finally:
            os.unlink(staged)

    def upload_verified(self, src: str, dest: str, sha256: str) -> None:
        """Copy the local file ``src`` to ``dest`` in chunks, if its content has ``sha256``.

        The copy is staged beside ``dest`` and made visible by one link (an existing
        ``dest`` holds the same content: nothing to do).

        Raises:
            StoreError: ``src`` changed since its hash was taken (nothing is made visible).
        """
        staged = self.staging_path(dest)
        try:
            h = hashlib.sha256()
            with open(src, "rb") as fin, open(staged, "wb") as fout:
                while chunk := fin.read(COPY_CHUNK):
                    h.update(chunk)
                    fout.write(chunk)
            if h.hexdigest() != sha256:
                raise StoreError(f"{src!r} changed while it was being stored; log it again")
            try:
                os.link(staged, dest)
            except FileExistsError:
                pass  # same name, same content: stored once
        finally:
            os.unlink(staged)

    def read_bytes(self, path: str) -> bytes:
        with open(path, "rb") as fh:
            return fh.read()

    def open_read(self, path: str) -> BinaryIO:
        """A seekable binary file object for reading ``path``."""
        return open(path, "rb")

    def exists(self, path: str) -> bool:
        return os.path.exists(path)

    def delete(self, path: str) -> None:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass

    def touch(self, path: str, data: bytes) -> None:
        """Refresh a lease file's mtime, creating it (atomically) if needed."""
        try:
            os.utime(path, None)
        except FileNotFoundError:
            self.write_atomic(path, data)

    def mtime(self, path: str) -> float | None:
        try:
            return os.stat(path).st_mtime
        except FileNotFoundError:
            return None

    def staging_path(self, path: str) -> str:
        """A local temporary path to write a file bound for ``path`` (see ``publish``).

        Next to ``path``, under a temporary name no reader considers, so that ``publish``
        is a rename.
        """
        folder = os.path.dirname(path)
        os.makedirs(folder, exist_ok=True)
        return os.path.join(
            folder, f".{os.path.basename(path)}.{secrets.token_hex(4)}{TMP_SUFFIX}"
        )

    def publish(self, staged: str, path: str) -> None:
        """Make the file at ``staged`` visible under ``path`` in one atomic step."""
        if os.environ.get("NBTRACK_FSYNC") == "1":
            with open(staged, "rb") as fh:
                os.fsync(fh.fileno())
        os.replace(staged, path)

    def sql_path(self, path: str) -> str:
        return path


#: The file system of a store: a local folder or an fsspec URL (``_remote_fs``).
FileSystem = Union[LocalFileSystem, "RemoteFileSystem"]


def open_fs(uri: str, fs: Any = None) -> FileSystem:
    """File system object for a store URI."""
    if fs is None and is_local(uri):
        return LocalFileSystem(uri)
    from nbtrack.storage._remote_fs import RemoteFileSystem

    return RemoteFileSystem(uri, fs)
