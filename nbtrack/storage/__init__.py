"""Storage layer: append-only Parquet segments and the DuckDB views over them.

This layer owns the on-disk format (docs/format.md): immutable segment files written whole
under a temporary name and made visible by one atomic rename (or a single PUT on object
storage), Hive-style partitions per experiment, compaction, and the DuckDB views ``runs``,
``params``, ``metrics``, ``tags`` and ``artifacts`` that are the only read path.

It imports only the standard library, pyarrow, duckdb, fsspec and nbtrack's leaf modules
(errors, config, _types) — never tracking, views, IPython, ipywidgets or plotly.
"""

from __future__ import annotations

from nbtrack.storage.store import ParquetStore
from nbtrack.storage.store_registry import open_store, release_store

__all__ = ["ParquetStore", "open_store", "release_store"]
