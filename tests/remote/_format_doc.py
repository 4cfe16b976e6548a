"""Run docs/format.md's reading recipes (the SQL blocks, the Polars module) in this process.

The foreign-reader test (tests/reliability/test_foreign_reader.py) runs them in a separate
virtualenv without nbtrack; here they run against stores in states that are hard to reach
by timing (racing compactors), so the doc's rules themselves are what is checked.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import duckdb

DOC = Path(__file__).resolve().parents[2] / "docs" / "format.md"


def sql_blocks() -> list[str]:
    text = DOC.read_text()
    return re.findall(r"^```sql\n(.*?)^```", text, re.DOTALL | re.MULTILINE)[:-1]


def python_block(which: int = 0) -> str:
    """The Polars module (0) or the Spark recipe (1)."""
    text = DOC.read_text()
    polars, spark = re.findall(r"^```python\n(.*?)^```", text, re.DOTALL | re.MULTILINE)
    return str((polars, spark)[which])


def duckdb_session(store: str, fs: Any = None) -> duckdb.DuckDBPyConnection:
    """A DuckDB session with the doc's views defined over ``store``."""
    con = duckdb.connect()
    if fs is not None:
        con.register_filesystem(fs)
    for sql in sql_blocks():
        con.execute(sql.replace("STORE", store)).fetchall()
    return con


def spark_tables(spark: Any, store: str) -> dict[str, Any]:
    """docs/format.md's Spark recipe (with the Polars module's ``live_files``)."""
    namespace: dict[str, Any] = {"__name__": "nbtrack_format_recipe"}
    exec(compile(python_block(0), "docs/format.md (Polars recipe)", "exec"), namespace)
    exec(compile(python_block(1), "docs/format.md (Spark recipe)", "exec"), namespace)
    return dict(namespace["spark_tables"](spark, store))


def polars_read_store(store: str) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": "nbtrack_format_recipe"}
    exec(compile(python_block(), "docs/format.md (Polars recipe)", "exec"), namespace)
    return dict(namespace["read_store"](store))
