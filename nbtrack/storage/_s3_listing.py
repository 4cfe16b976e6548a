"""One listing of a whole store on S3: every table's segment files in one request per page.

S3 lists keys in byte order. Every table's partition folders
(``<table>/experiment_id=...``) sort after ``artifacts/blobs/`` (the artifact content, which
may be many objects), and the writers' leases (``_writers/``) sort before it. So a listing
that starts after :data:`AFTER_BLOBS` returns every segment file of every table, skipping
the leases and the artifact content, in one ``ListObjectsV2`` per 1,000 keys: a read of a
compacted store is one request instead of one per table. It also returns ``format.json``
and the registry's claim files (one per model version or alias move), which are dropped.
"""

from __future__ import annotations

from typing import Any

#: Sorts after every key under ``artifacts/blobs/`` and before ``artifacts/experiment_id=``
#: (``0`` follows ``/``; ``b`` precedes ``e``): where a store listing starts.
AFTER_BLOBS = "artifacts/blobs0"


async def list_store(s3: Any, root: str) -> dict[str, dict[str, Any]]:
    """Segment entries of every table under ``root``, by table (one dict per table).

    Args:
        s3: An ``s3fs.S3FileSystem`` (its ``_call_s3`` sends one request, with retries).
        root: The store as ``bucket/prefix`` (no scheme).

    Returns:
        ``{table: {"bucket/key": {"type", "size", "LastModified"}}}`` for keys under
        ``<table>/experiment_id=...``, the shape of s3fs's ``find(detail=True)``.
    """
    bucket, _, key = root.partition("/")
    prefix = f"{key}/" if key else ""
    kwargs: dict[str, Any] = {
        "Bucket": bucket,
        "Prefix": prefix,
        "StartAfter": prefix + AFTER_BLOBS,
    }
    by_table: dict[str, dict[str, Any]] = {}
    while True:
        page = await s3._call_s3("list_objects_v2", **kwargs)
        for c in page.get("Contents", []):
            rel = c["Key"][len(prefix) :]
            if "/experiment_id=" in rel:
                by_table.setdefault(rel.split("/", 1)[0], {})[f"{bucket}/{c['Key']}"] = {
                    "type": "file",
                    "size": c["Size"],
                    "LastModified": c["LastModified"],
                }
        if not page.get("IsTruncated"):
            return by_table
        kwargs["ContinuationToken"] = page["NextContinuationToken"]
