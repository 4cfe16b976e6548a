"""The wide shape of runs: one column per param, latest metric and tag key, built by
scattering the long ``(run_id, key, value)`` rows with NumPy (a SQL pivot with one filtered
aggregate per key grew with keys x rows). ``ReadModel.wide`` caches it per snapshot."""

from __future__ import annotations

from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from nbtrack.storage.reader import sql_string

#: Up to this many runs, ``pivot`` names them in the SQL (a constant IN list, which DuckDB
#: pushes into a Parquet scan: a big metrics file read in place skips the other runs).
LITERAL_IDS = 2_000

#: The wide shape's column groups: (column prefix, long relation, value type).
WIDE_KINDS = (
    ("params", "_params_cur", pa.string()),
    ("metrics", "_latest_cur", pa.float64()),
    ("tags", "_tags_cur", pa.string()),
)


def pivot(
    con: duckdb.DuckDBPyConnection,
    run_ids: pa.Array | pa.ChunkedArray,
    only: Any,
    relations: dict[str, str] | None = None,
) -> pa.Table:
    """Scatter the long (run, key, value) rows of ``run_ids`` into one column per key.

    ``relations``: a kind's long relation to read instead of ``WIDE_KINDS``' (the read
    model's ``_latest_copied`` for runs that no metrics file read in place holds)."""
    run_ids = run_ids.combine_chunks() if isinstance(run_ids, pa.ChunkedArray) else run_ids
    n = len(run_ids)
    columns: list[pa.Array] = [run_ids]
    names = ["run_id"]
    for kind, relation, value_type in WIDE_KINDS:
        relation = (relations or {}).get(kind, relation)
        sql = f"SELECT run_id, key, value FROM {relation}"
        params = None
        if only is not None:
            ids = only.to_pylist()
            if len(ids) <= LITERAL_IDS:
                listed = ", ".join(sql_string(i) for i in ids) or "NULL"
                sql += f" WHERE run_id IN ({listed})"
            else:
                sql += " WHERE run_id IN (SELECT unnest(?::VARCHAR[]))"
                params = [ids]
        long = con.sql(sql, params=params).to_arrow_table()
        if long.num_rows == 0:
            continue
        pos = pc.index_in(long.column("run_id"), value_set=run_ids).to_numpy(zero_copy_only=False)
        # Columns in key order: sort the distinct keys, not the rows.
        encoded = long.column("key").combine_chunks().dictionary_encode()
        order = pc.sort_indices(encoded.dictionary).to_numpy(zero_copy_only=False)
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
        codes = rank[encoded.indices.to_numpy(zero_copy_only=False)]
        keys = encoded.dictionary.take(pa.array(order)).to_pylist()
        values = long.column("value").combine_chunks()
        if value_type == pa.float64():
            mat = np.full((len(keys), n), np.nan)
            present = np.zeros((len(keys), n), dtype=bool)
            mat[codes, pos] = values.to_numpy(zero_copy_only=False)
            present[codes, pos] = True
            for j, key in enumerate(keys):
                columns.append(pa.array(mat[j], mask=~present[j], type=pa.float64()))
                names.append(f"{kind}.{key}")
        else:
            index = np.full((len(keys), n), -1, dtype=np.int64)
            index[codes, pos] = np.arange(long.num_rows)
            for j, key in enumerate(keys):
                idx = index[j]
                columns.append(values.take(pa.array(idx, mask=idx < 0)))
                names.append(f"{kind}.{key}")
    return pa.Table.from_arrays(columns, names=names)
