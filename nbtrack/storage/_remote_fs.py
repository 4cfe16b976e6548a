"""Stores on object storage and other fsspec URLs (``s3://``, ``gs://``, ``memory://`` ...).

A single ``PUT`` (``pipe_file``, or the completion of a multipart upload) is the atomic step
that makes a file visible; S3's conditional write (``If-None-Match: *``) makes exclusive
creation one request. Reads of segment files go through the local segment cache
(``segment_cache``), and a snapshot lists every table with one recursive request on S3
(``_s3_listing``), or one per table elsewhere.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from typing import Any, BinaryIO

from nbtrack import config
from nbtrack.errors import StoreError
from nbtrack.storage._fs import COPY_CHUNK, TMP_SUFFIX, FileInfo
from nbtrack.storage._s3_listing import AFTER_BLOBS, list_store


class RemoteFileSystem:
    """An fsspec file system (``s3://``, ``gs://``, ``memory://`` ...) rooted at a URL."""

    is_remote = True
    stamp_margin_s = 1.0  # (unused: object stores have no folder mtime to trust)

    def __init__(self, uri: str, fs: Any = None) -> None:
        self.protocol = uri.split("://", 1)[0]
        self.fs = fs if fs is not None else _fsspec_for(uri, self.protocol)
        # Paths in the file system's own spelling (memory://x is memory:///x to fsspec), the
        # one DuckDB's ``filename`` column reports for the files we hand it: the read model
        # matches files by that name.
        stripped = str(self.fs._strip_protocol(uri)).rstrip("/")
        self.root = f"{self.protocol}://{stripped}" if stripped else uri.rstrip("/")
        # Size and mtime of every file listed so far (URL -> FileInfo): segment reads take
        # them from here instead of a HEAD request, and key the local cache with them.
        self.listed: dict[str, FileInfo] = {}
        from nbtrack.storage.segment_cache import CachingFileSystem, open_cache

        self.cache = open_cache() if self.protocol != "memory" else None
        self._prefetched: tuple[dict[str, list[str]], dict[str, list[FileInfo]]] | None = None
        #: What DuckDB reads through (segments from the local cache).
        self.duck_fs = CachingFileSystem(self.fs, self.protocol, self.cache, self.listed)

    def join(self, *parts: str) -> str:
        return "/".join([self.root, *parts])

    def ensure_root(self) -> None:
        try:
            if self.protocol in _CONDITIONAL_PUT:
                # Object storage has no folders to make; the bucket must exist (never
                # create one: a typo in its name must not make a new bucket).
                self._check_bucket()
            else:
                self.fs.makedirs(self.root, exist_ok=True)
        except StoreError:
            raise
        except Exception as exc:  # fsspec backends raise anything; re-raised as StoreError
            text = " ".join(str(exc).split()) or type(exc).__name__
            hint = ""
            if "credential" in text.lower() or type(exc).__name__ == "NoCredentialsError":
                hint = "; " + _CREDENTIALS_HINT.get(
                    self.protocol, "configure the credentials of this file system"
                )
            raise StoreError(f"cannot open the store {self.root!r}: {text}{hint}") from exc

    def _check_bucket(self) -> None:
        """Raise StoreError when the store's bucket does not exist (one HEAD request)."""
        bucket = self.root.split("://", 1)[1].split("/", 1)[0]
        try:
            self.fs.call_s3("head_bucket", Bucket=bucket)
        except FileNotFoundError as exc:
            raise StoreError(
                f"cannot open the store {self.root!r}: the bucket {bucket!r} does not exist; "
                f"create it (aws s3 mb s3://{bucket}) or fix the store URL"
            ) from exc
        except PermissionError:
            # A policy may allow the store's prefix but not HeadBucket: go on, and let the
            # first read or write report what is really denied.
            pass

    def _strip(self, path: str) -> str:
        return path.split("://", 1)[1] if "://" in path else path

    def _ls(self, path: str) -> list[dict[str, Any]]:
        """One folder's entries, fresh (no listing cache); [] when it has none.

        On S3 this is one LIST request: s3fs's ``ls`` lists the parent folder too when the
        folder is empty (to tell "empty" from "missing"), a second round trip on every
        read of a store with no live writer (``_writers/`` is then empty).
        """
        if self.protocol in _CONDITIONAL_PUT and hasattr(self.fs, "_lsdir"):
            from fsspec.asyn import sync

            return list(sync(self.fs.loop, self.fs._lsdir, self._strip(path), refresh=True))
        try:
            return list(self.fs.ls(path, detail=True, refresh=True))
        except FileNotFoundError:
            return []

    def list_files(self, path: str) -> list[FileInfo]:
        entries = self._ls(path)
        out = [
            _file_info(e["name"].rsplit("/", 1)[-1], e) for e in entries if e.get("type") == "file"
        ]
        if len(self.listed) > 500_000:  # names gc deleted long ago
            self.listed.clear()
        folder = path.rstrip("/")
        for info in out:
            self.listed[f"{folder}/{info.name}"] = info
        return out

    def list_files_known(self, path: str, known: dict[str, FileInfo]) -> list[FileInfo]:
        """One listing request returns sizes and mtimes anyway: ``known`` is not needed."""
        pre = self._prefetched
        if pre is not None and path.rstrip("/") in pre[1]:
            return list(pre[1][path.rstrip("/")])
        return self.list_files(path)

    def folder_stamp(self, path: str) -> int | None:
        """None: object stores have no folder mtime, so every read lists."""
        return None

    def list_dirs(self, path: str) -> list[str]:
        pre = self._prefetched
        if pre is not None and path.rstrip("/") in pre[0]:
            return list(pre[0][path.rstrip("/")])
        entries = self._ls(path)
        return [e["name"].rstrip("/").rsplit("/", 1)[-1] for e in entries if e.get("type") == "directory"]

    @contextlib.contextmanager
    def listing(self, tables: tuple[str, ...]) -> Iterator[None]:
        """List each table's partitions in one recursive request, all tables at once.

        Inside the block, ``list_dirs(<table>)`` and ``list_files_known(<partition>)`` are
        answered from that listing: a snapshot of a store on object storage costs one round
        trip, not one request per folder.
        """
        found = dict(zip(tables, self._find_tables(tables), strict=True))
        dirs: dict[str, list[str]] = {}
        files: dict[str, list[FileInfo]] = {}
        scheme = f"{self.protocol}://"
        for table, entries in found.items():
            base = self.join(table)
            parts: set[str] = set()
            for name, e in entries.items():
                url = name if "://" in name else scheme + name
                rel = url[len(base) + 1 :].split("/")
                if len(rel) != 2 or e.get("type") != "file" or not rel[0].startswith("experiment_id="):
                    continue
                parts.add(rel[0])
                info = _file_info(rel[1], e)
                files.setdefault(f"{base}/{rel[0]}", []).append(info)
                self.listed[url] = info
            dirs[base] = sorted(parts)
        self._prefetched = (dirs, files)
        try:
            yield
        finally:
            self._prefetched = None

    def _find_tables(self, tables: tuple[str, ...]) -> list[dict[str, Any]]:
        """Every segment entry under each of ``tables`` (name -> entry, one dict per table).

        On S3 this is one listing of the whole store (``_s3_listing``); other file systems
        list each table from a thread pool, all at once.
        """
        if (
            self.protocol in _CONDITIONAL_PUT
            and len(tables) > 2
            and all(f"{t}/experiment_id=" > AFTER_BLOBS for t in tables)
            and hasattr(self.fs, "_call_s3")
            and not getattr(self.fs, "version_aware", False)
        ):
            from fsspec.asyn import sync

            entries = sync(self.fs.loop, list_store, self.fs, self._strip(self.root))
            return [entries.get(t, {}) for t in tables]
        from concurrent.futures import ThreadPoolExecutor

        def one(table: str) -> dict[str, Any]:
            base = self.join(table)
            try:
                return dict(self.fs.find(base, detail=True, prefix="experiment_id="))
            except FileNotFoundError:
                return {}
            except TypeError:  # a file system whose find takes no prefix
                return dict(self.fs.find(base, detail=True))

        with ThreadPoolExecutor(max_workers=min(len(tables), 16) or 1) as pool:
            return list(pool.map(one, tables))

    def prefetch(self, paths: list[str]) -> None:
        """Copy the segment files ``paths`` into the local cache, concurrently.

        A cold read needs every live file (footers first, then the rows): fetched one by one
        that is one round trip each; here they overlap. Files not listed yet, or already
        cached, cost nothing; a file that fails is left for the read that needs it.
        """
        cache = self.cache
        if cache is None:
            return
        # A warm read has every file cached: no thread pool for nothing.
        todo = [
            (p, self.listed[p].size)
            for p in paths
            if p in self.listed and not cache.has(p, self.listed[p].size)
        ]
        if len(todo) < 2:
            return
        from concurrent.futures import ThreadPoolExecutor

        def one(item: tuple[str, int]) -> None:
            try:
                cache.local_copy(self.fs, *item)
            except OSError:
                pass  # the read that needs the file reports it

        with ThreadPoolExecutor(max_workers=min(len(todo), 16)) as pool:
            list(pool.map(one, todo))

    @property
    def exclusive_is_atomic(self) -> bool:
        """True when of two ``create_exclusive`` calls on one path exactly one can win.

        S3: one conditional request (If-None-Match). ``memory://``: the file system lives in
        this process only, and ``create_exclusive`` checks and writes under a lock.
        """
        return self.protocol in _CONDITIONAL_PUT or self.protocol in _PROCESS_LOCAL

    def write_atomic(self, path: str, data: bytes, *, exclusive: bool = False) -> bool:
        # One PUT: object stores make an object visible whole or not at all.
        if exclusive:
            return self.create_exclusive(path, data)
        self.fs.pipe_file(path, data)
        return True

    def create_exclusive(self, path: str, data: bytes) -> bool:
        """Create ``path`` holding ``data`` only if no object is there; False if one is.

        On S3 this is one ``PUT`` with ``If-None-Match: *``: of two writers, exactly one
        wins. Other file systems check first and then write, which is exclusive only within
        this process (``memory://`` is process-local anyway).
        """
        if self.protocol in _CONDITIONAL_PUT:
            try:
                self.fs.pipe_file(path, data, mode="create")
            except FileExistsError:
                return False
            return True
        with _create_lock:
            if self.fs.exists(path):
                return False
            self.fs.pipe_file(path, data)
            return True

    def upload_verified(self, src: str, dest: str, sha256: str) -> None:
        """Stream the local file ``src`` to ``dest`` if its content has ``sha256``.

        Never holds more than one part in memory: fsspec's buffered writer uploads each
        ``NBTRACK_UPLOAD_PART`` bytes as a part of a multipart upload, and the object
        appears whole when the upload completes (conditionally on S3: an object already
        there holds the same content). A file that changed since its hash was taken is not
        made visible (the upload is aborted).

        Raises:
            StoreError: ``src`` changed meanwhile.
        """
        part = config.upload_part()
        mode = "xb" if self.protocol in _CONDITIONAL_PUT else "wb"
        h = hashlib.sha256()
        out = self.fs.open(dest, mode, block_size=part)
        try:
            with open(src, "rb") as fin:
                while chunk := fin.read(min(part, COPY_CHUNK)):
                    h.update(chunk)
                    out.write(chunk)
            if h.hexdigest() != sha256:
                raise StoreError(f"{src!r} changed while it was being stored; log it again")
        except BaseException:
            out.discard()
            out.closed = True  # discarded: closing must not complete the upload
            raise
        try:
            out.close()
        except FileExistsError:
            pass  # another writer stored the same content first

    def read_bytes(self, path: str) -> bytes:
        # s3fs asks for the size first (a HEAD) to split big reads; ours are small files.
        extra = {"max_concurrency": 1} if self.protocol in _CONDITIONAL_PUT else {}
        return bytes(self.fs.cat_file(path, **extra))

    def open_read(self, path: str) -> BinaryIO:
        """A seekable binary file object for reading ``path`` (segments: from the cache)."""
        return self.duck_fs.open(path, "rb")  # type: ignore[no-any-return]

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


def _file_info(name: str, entry: dict[str, Any]) -> FileInfo:
    """A FileInfo from an fsspec listing entry (the keys differ between backends)."""
    mtime = entry.get("LastModified") or entry.get("mtime") or entry.get("created") or time.time()
    if hasattr(mtime, "timestamp"):
        mtime = mtime.timestamp()
    return FileInfo(name, int(entry.get("size") or 0), float(mtime))

#: URL schemes whose fsspec file system creates objects conditionally (s3fs ``mode="create"``).
_CONDITIONAL_PUT = frozenset({"s3", "s3a"})
#: URL schemes whose file system only this process sees (exclusive under ``_create_lock``).
_PROCESS_LOCAL = frozenset({"memory"})
_create_lock = threading.Lock()

_claims_warned: set[str] = set()


def warn_if_claims_not_exclusive(fs: Any) -> None:
    """Warn once per URL scheme when ``fs`` cannot create a registry claim exclusively.

    Registry version and alias numbers are claimed by an exclusive create (a hard link
    locally, a conditional PUT on ``s3://``; ``memory://`` is private to the process). On
    other fsspec file systems (``gs://``, ``az://`` ...) nbtrack checks, then writes: two
    processes registering the same model at the same moment may both get version N (both
    records are kept; the newest one wins). Documented in docs/models.md.
    """
    if not fs.is_remote or fs.exclusive_is_atomic or fs.protocol in _claims_warned:
        return
    _claims_warned.add(fs.protocol)
    import warnings

    from nbtrack.errors import NbtrackWarning

    warnings.warn(
        f"nbtrack: {fs.protocol}:// has no conditional create, so model registry version "
        "and alias numbers are claimed by check-then-write: two processes registering the "
        "same model at the same moment may get the same version number. Register models "
        "from one process at a time (or use an s3:// store).",
        NbtrackWarning,
        stacklevel=4,
    )


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
            f"the store {uri!r} needs the {protocol}:// file system, which is not "
            f"installed: {hint}"
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
