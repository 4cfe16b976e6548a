"""The few file operations the store needs, for local paths and fsspec URLs.

Local paths use ``os`` directly (fast, and ``os.replace`` is the atomic step). Any other
URI goes through fsspec, where a single ``pipe_file`` (one PUT on object storage) is the
atomic step.
"""

from __future__ import annotations

import os
import secrets
import tempfile
import time
from dataclasses import dataclass
from typing import Any, BinaryIO

from nbtrack.errors import StoreError

TMP_SUFFIX = ".tmp"


@dataclass(frozen=True)
class FileInfo:
    """One directory entry: its name (no folder), size in bytes and mtime in seconds."""

    name: str
    size: int
    mtime: float


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

    def list_dirs(self, path: str) -> list[str]:
        try:
            with os.scandir(path) as it:
                return [e.name for e in it if e.is_dir(follow_symlinks=False)]
        except (FileNotFoundError, NotADirectoryError):
            return []

    def write_atomic(self, path: str, data: bytes, *, exclusive: bool = False) -> bool:
        """Write ``data`` under a temporary name, then make it visible in one rename.

        Returns False (writing nothing) when ``exclusive`` and ``path`` already exists.
        """
        folder = os.path.dirname(path)
        os.makedirs(folder, exist_ok=True)
        if exclusive and os.path.exists(path):
            return False
        tmp = os.path.join(folder, f".{os.path.basename(path)}.{secrets.token_hex(4)}{TMP_SUFFIX}")
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
        return os.path.join(folder, f".{os.path.basename(path)}.{secrets.token_hex(4)}{TMP_SUFFIX}")

    def publish(self, staged: str, path: str) -> None:
        """Make the file at ``staged`` visible under ``path`` in one atomic step."""
        if os.environ.get("NBTRACK_FSYNC") == "1":
            with open(staged, "rb") as fh:
                os.fsync(fh.fileno())
        os.replace(staged, path)

    def sql_path(self, path: str) -> str:
        return path


class RemoteFileSystem:
    """An fsspec file system (``s3://``, ``gs://``, ``memory://`` ...) rooted at a URL."""

    is_remote = True

    def __init__(self, uri: str, fs: Any = None) -> None:
        self.protocol = uri.split("://", 1)[0]
        self.fs = fs if fs is not None else _fsspec_for(uri, self.protocol)
        self.root = uri.rstrip("/")

    def join(self, *parts: str) -> str:
        return "/".join([self.root, *parts])

    def ensure_root(self) -> None:
        try:
            self.fs.makedirs(self.root, exist_ok=True)
        except Exception as exc:  # fsspec backends raise anything; re-raised as StoreError
            text = " ".join(str(exc).split()) or type(exc).__name__
            hint = ""
            if "credential" in text.lower() or type(exc).__name__ == "NoCredentialsError":
                hint = "; " + _CREDENTIALS_HINT.get(
                    self.protocol, "configure the credentials of this file system"
                )
            raise StoreError(f"cannot open the store {self.root!r}: {text}{hint}") from exc

    def _strip(self, path: str) -> str:
        return path.split("://", 1)[1] if "://" in path else path

    def list_files(self, path: str) -> list[FileInfo]:
        try:
            entries = self.fs.ls(path, detail=True, refresh=True)
        except FileNotFoundError:
            return []
        out = []
        for e in entries:
            if e.get("type") != "file":
                continue
            mtime = e.get("LastModified") or e.get("mtime") or e.get("created") or time.time()
            if hasattr(mtime, "timestamp"):
                mtime = mtime.timestamp()
            out.append(
                FileInfo(e["name"].rsplit("/", 1)[-1], int(e.get("size") or 0), float(mtime))
            )
        return out

    def list_files_known(self, path: str, known: dict[str, FileInfo]) -> list[FileInfo]:
        """One listing request returns sizes and mtimes anyway: ``known`` is not needed."""
        return self.list_files(path)

    def list_dirs(self, path: str) -> list[str]:
        try:
            entries = self.fs.ls(path, detail=True, refresh=True)
        except FileNotFoundError:
            return []
        return [
            e["name"].rstrip("/").rsplit("/", 1)[-1]
            for e in entries
            if e.get("type") == "directory"
        ]

    def write_atomic(self, path: str, data: bytes, *, exclusive: bool = False) -> bool:
        # One PUT: object stores make an object visible whole or not at all.
        if exclusive and self.fs.exists(path):
            return False
        self.fs.pipe_file(path, data)
        return True

    def read_bytes(self, path: str) -> bytes:
        return bytes(self.fs.cat_file(path))

    def open_read(self, path: str) -> BinaryIO:
        """A seekable binary file object for reading ``path``."""
        return self.fs.open(path, "rb")  # type: ignore[no-any-return]

    def exists(self, path: str) -> bool:
        return bool(self.fs.exists(path))

    def delete(self, path: str) -> None:
        try:
            self.fs.rm_file(path)
        except FileNotFoundError:
            pass

    def touch(self, path: str, data: bytes) -> None:
        self.fs.pipe_file(path, data)

    def mtime(self, path: str) -> float | None:
        try:
            info = self.fs.info(path)
        except FileNotFoundError:
            return None
        m = info.get("LastModified") or info.get("mtime") or info.get("created")
        if m is None:
            return None
        return float(m.timestamp()) if hasattr(m, "timestamp") else float(m)

    def staging_path(self, path: str) -> str:
        """A local temporary path to write a file bound for ``path`` (see ``publish``)."""
        fd, tmp = tempfile.mkstemp(prefix=".nbtrack-", suffix=TMP_SUFFIX)
        os.close(fd)
        return tmp

    def publish(self, staged: str, path: str) -> None:
        """Upload ``staged`` to ``path`` (one object: visible whole or not at all)."""
        try:
            self.fs.put_file(staged, path)
        finally:
            os.unlink(staged)

    def sql_path(self, path: str) -> str:
        return path


FileSystem = LocalFileSystem | RemoteFileSystem

#: What to install for a URL scheme whose fsspec implementation is missing.
_INSTALL_HINT = {"s3": "pip install 'nbtrack[s3]'", "s3a": "pip install 'nbtrack[s3]'"}
#: How to provide credentials, by URL scheme.
_CREDENTIALS_HINT = {
    "s3": "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), "
    "and AWS_ENDPOINT_URL for an S3-compatible server",
    "gs": "set GOOGLE_APPLICATION_CREDENTIALS or run `gcloud auth application-default login`",
}
_CREDENTIALS_HINT["s3a"] = _CREDENTIALS_HINT["s3"]
_CREDENTIALS_HINT["gcs"] = _CREDENTIALS_HINT["gs"]


def _fsspec_for(uri: str, protocol: str) -> Any:
    """The fsspec file system for ``uri``; a missing package or unknown scheme is a StoreError.

    Raises:
        StoreError: fsspec does not know the scheme, or its package is not installed (the
            message names what to install).
    """
    try:
        import fsspec
    except ImportError as exc:  # pragma: no cover - fsspec is a runtime dependency
        raise StoreError(f"the store {uri!r} needs fsspec: pip install fsspec") from exc
    try:
        fs, _ = fsspec.core.url_to_fs(uri)
    except ImportError as exc:
        hint = _INSTALL_HINT.get(protocol)
        if hint is None:
            from fsspec.registry import known_implementations

            spec = known_implementations.get(protocol, {})
            package = str(spec.get("class", "")).split(".", 1)[0]
            hint = f"pip install {package}" if package else str(exc)
        raise StoreError(
            f"the store {uri!r} needs the {protocol}:// file system, which is not installed: {hint}"
        ) from exc
    except ValueError as exc:
        if protocol in fsspec.available_protocols():
            raise StoreError(f"cannot open the store {uri!r}: {exc}") from exc
        raise StoreError(
            f"unknown store URL scheme {protocol + '://'!r} in {uri!r}: use a local path, "
            "s3://bucket/folder (pip install 'nbtrack[s3]') or another fsspec URL "
            "(memory://, gs://, az:// ...)"
        ) from exc
    return fs


def open_fs(uri: str, fs: Any = None) -> FileSystem:
    """File system object for a store URI."""
    if fs is None and is_local(uri):
        return LocalFileSystem(uri)
    return RemoteFileSystem(uri, fs)
