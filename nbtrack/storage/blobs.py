"""Content-addressed blobs (artifact contents) and claim files (registry version numbers):
the parts of a store that are plain files, not Parquet records. ``ParquetStore`` has them
through ``Blobs``."""

from __future__ import annotations

import hashlib
import re

from nbtrack.errors import StoreError
from nbtrack.storage._fs import TMP_SUFFIX, FileSystem
from nbtrack.storage._remote_fs import warn_if_claims_not_exclusive


class Blobs:
    """Blobs and claims of a store at ``uri`` on ``fs`` (a base of ``ParquetStore``)."""

    fs: FileSystem
    uri: str

    def blob_path(self, sha: str) -> str:
        return self.fs.join("artifacts", "blobs", sha[:2], sha)

    def put_blob(self, data: bytes) -> str:
        """Store bytes content-addressed; identical content is stored once."""
        sha = hashlib.sha256(data).hexdigest()
        path = self.blob_path(sha)
        try:
            self.fs.write_atomic(path, data, exclusive=True)
        except OSError as exc:
            raise StoreError(f"could not write an artifact to the store: {exc}") from exc
        return sha

    def put_blob_file(self, path: str) -> tuple[str, int]:
        """Store a local file content-addressed, streamed; returns (sha256, size).

        The file is hashed first (in chunks), so content already in the store is not
        uploaded again; otherwise it is copied in chunks (a multipart upload on object
        storage), never read into memory whole.

        Raises:
            StoreError: the file could not be read or stored, or changed meanwhile.
        """
        try:
            h = hashlib.sha256()
            size = 0
            with open(path, "rb") as fh:
                while chunk := fh.read(1 << 20):
                    h.update(chunk)
                    size += len(chunk)
            sha = h.hexdigest()
            dest = self.blob_path(sha)
            if not self.fs.exists(dest):
                self.fs.upload_verified(path, dest, sha)
        except OSError as exc:
            raise StoreError(f"could not store {path!r} as an artifact: {exc}") from exc
        return sha, size

    def read_blob(self, sha: str) -> bytes:
        try:
            return self.fs.read_bytes(self.blob_path(sha))
        except OSError as exc:
            raise StoreError(f"artifact content {sha} is missing from the store: {exc}") from exc

    # ---- claims (allocation of registry version numbers) ---------------------------------
    def claim(self, key: str, data: bytes) -> bool:
        """Create the claim file ``registry/<key>`` unless it exists; True if this call did.

        A claim is created in one atomic, exclusive step (a hard link locally, a conditional
        PUT on object storage), so of several processes claiming the same key exactly one
        gets True. Claims are never deleted. ``key`` is made of names nbtrack chose
        (``[A-Za-z0-9_.-]`` segments separated by ``/``).

        Raises:
            StoreError: the claim could not be written (not because it exists).
        """
        path = self.fs.join("registry", *_claim_parts(key))
        warn_if_claims_not_exclusive(self.fs)  # gs://, az:// ...: not exclusive across hosts
        try:
            return self.fs.create_exclusive(path, data)
        except OSError as exc:
            raise StoreError(f"could not write to the store at {self.uri!r}: {exc}") from exc

    def claims(self, folder: str) -> list[str]:
        """Names of the claim files in ``registry/<folder>`` (temporary files excluded)."""
        path = self.fs.join("registry", *_claim_parts(folder))
        return sorted(
            f.name
            for f in self.fs.list_files(path)
            if not f.name.startswith(".") and not f.name.endswith(TMP_SUFFIX)
        )


_CLAIM_PART = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


def _claim_parts(key: str) -> list[str]:
    parts = key.split("/")
    if not all(_CLAIM_PART.fullmatch(p) and p not in (".", "..") for p in parts):
        raise StoreError(f"bad claim key {key!r}")  # nbtrack builds keys; never user text
    return parts
