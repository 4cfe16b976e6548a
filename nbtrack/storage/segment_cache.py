"""A local cache of the immutable files of a store on object storage.

A visible segment file never changes (docs/format.md), so a copy on local disk stays valid
for as long as the file exists: the second read of a remote store costs no transfer, only a
listing. Copies are keyed by the file's URL and size (a name is never reused by another
writer: it holds the writer id and a sequence number), written under a temporary name and
renamed into place (several processes may share the folder), and evicted oldest-used first
once the folder outgrows ``NBTRACK_CACHE_BYTES``.

``CachingFileSystem`` is the fsspec file system DuckDB and the footer reads go through: it
serves segment files (``s-``/``c-`` Parquet files in table partitions) from the cache and
answers their size and mtime from the store's own listing (no ``HEAD`` request); everything
else goes straight to the store.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import threading
from typing import Any, BinaryIO

from fsspec import AbstractFileSystem

from nbtrack import config

_SEGMENT = re.compile(r"/[a-z_]+/experiment_id=[^/]+/[sc]-[^/]+\.parquet$")


def is_segment(path: str) -> bool:
    """True for a flushed or compacted segment file (immutable once visible)."""
    return bool(_SEGMENT.search(path))


class SegmentCache:
    """Local copies of immutable files in ``folder``, at most about ``max_bytes``."""

    def __init__(self, folder: str, max_bytes: int) -> None:
        self.folder = folder
        self.max_bytes = max_bytes
        self.hits = 0
        self.misses = 0
        self._added = 0
        self._lock = threading.Lock()
        os.makedirs(folder, exist_ok=True)

    def _key(self, path: str, size: int) -> str:
        digest = hashlib.sha256(path.encode()).hexdigest()[:40]
        return os.path.join(self.folder, f"{digest}-{size}.parquet")

    def has(self, path: str, size: int) -> bool:
        """True when a local copy of ``path`` (of ``size`` bytes) is in the cache."""
        return os.path.exists(self._key(path, size))

    def local_copy(self, fs: Any, path: str, size: int) -> str:
        """Path of a local copy of ``path`` (downloaded once from ``fs``)."""
        local = self._key(path, size)
        try:
            os.utime(local)  # the oldest-used copies are evicted first
            self.hits += 1
            return local
        except FileNotFoundError:
            pass
        self.misses += 1
        tmp = f"{local}.{secrets.token_hex(4)}.tmp"
        try:
            _download(fs, path, size, tmp)
            if os.path.getsize(tmp) != size:  # not the file the listing named: do not keep
                return tmp
            os.replace(tmp, local)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
        with self._lock:
            self._added += size
            if self._added > self.max_bytes // 10:
                self._added = 0
                self.evict()
        return local

    def evict(self) -> None:
        """Delete the least recently used copies until the folder fits its bound."""
        entries = []
        total = 0
        with os.scandir(self.folder) as it:
            for e in it:
                try:
                    st = e.stat()
                except FileNotFoundError:
                    continue
                entries.append((st.st_mtime, st.st_size, e.path))
                total += st.st_size
        if total <= self.max_bytes:
            return
        for _, size, path in sorted(entries):
            try:
                os.unlink(path)
            except FileNotFoundError:
                continue
            total -= size
            if total <= self.max_bytes * 0.8:
                break


#: Bytes per ranged GET when a file is copied into the cache (bounds the memory it takes).
DOWNLOAD_CHUNK = 8 << 20


def _download(fs: Any, path: str, size: int, local: str) -> None:
    """Copy ``path`` to ``local`` in ranged GETs (the listing gave the size: no HEAD)."""
    with open(local, "wb") as out:
        if size <= DOWNLOAD_CHUNK:
            # With the range given, s3fs does not ask for the size first (one HEAD less).
            out.write(fs.cat_file(path, start=0, end=size) if size else fs.cat_file(path))
            return
        for start in range(0, size, DOWNLOAD_CHUNK):
            out.write(fs.cat_file(path, start=start, end=min(start + DOWNLOAD_CHUNK, size)))


class CachingFileSystem(AbstractFileSystem):  # type: ignore[misc]
    """The store's fsspec file system, with segment files read through a ``SegmentCache``."""

    cachable = False  # one per store object, never shared through fsspec's instance cache

    def __init__(
        self, inner: Any, scheme: str, cache: SegmentCache | None, listed: dict[str, Any]
    ) -> None:
        super().__init__()
        self.inner = inner
        self.scheme = scheme
        self.cache = cache
        self.listed = listed  # path -> FileInfo from the store's listings
        self.protocol = inner.protocol

    def _strip(self, path: str) -> str:
        return str(self.inner._strip_protocol(path))

    def _known(self, path: str) -> Any:
        if not is_segment(path):
            return None
        return self.listed.get(path if "://" in path else f"{self.scheme}://{path}")

    def _open(self, path: str, mode: str = "rb", **kwargs: Any) -> BinaryIO:
        known = self._known(path)
        if mode == "rb" and self.cache is not None and known is not None:
            local = self.cache.local_copy(self.inner, path, known.size)
            fh = open(local, "rb")  # noqa: SIM115 - the caller closes it
            if local.endswith(".tmp"):
                os.unlink(local)  # a one-off copy (size mismatch): gone once closed
            return fh
        return self.inner.open(path, mode, **kwargs)  # type: ignore[no-any-return]

    def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        known = self._known(path)
        if known is not None:
            return {"name": self._strip(path), "size": known.size, "type": "file"}
        return dict(self.inner.info(path, **kwargs))

    def size(self, path: str) -> int:
        known = self._known(path)
        return int(known.size) if known is not None else int(self.inner.size(path))

    def modified(self, path: str) -> Any:
        import datetime as dt

        known = self._known(path)
        if known is not None:
            return dt.datetime.fromtimestamp(known.mtime, tz=dt.timezone.utc)
        return self.inner.modified(path)

    def ls(self, path: str, detail: bool = True, **kwargs: Any) -> Any:
        return self.inner.ls(path, detail=detail, **kwargs)

    def glob(self, path: str, **kwargs: Any) -> Any:
        # DuckDB globs every path it is given, also plain file names. A segment named by
        # the store's own listing exists (visible files are never changed, only deleted
        # after the gc grace): answer without a request. Anything else is listed afresh:
        # fsspec's listing cache would not show a file another process wrote since.
        if not any(c in path for c in "*?[") and self._known(path) is not None:
            return [self._strip(path)]
        self.inner.invalidate_cache()
        return self.inner.glob(path, **kwargs)

    def exists(self, path: str, **kwargs: Any) -> bool:
        return self._known(path) is not None or bool(self.inner.exists(path))

    def isdir(self, path: str) -> bool:
        return bool(self.inner.isdir(path))

    def unstrip_protocol(self, name: str) -> str:
        return str(self.inner.unstrip_protocol(name))


def open_cache() -> SegmentCache | None:
    """The cache configured by ``NBTRACK_CACHE_DIR`` / ``NBTRACK_CACHE_BYTES`` (None: off)."""
    folder = config.cache_dir()
    if folder is None:
        return None
    try:
        return SegmentCache(folder, config.cache_bytes())
    except OSError:
        return None  # an unusable cache folder only costs speed
