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


def python_block() -> str:
    text = DOC.read_text()
    (block,) = re.findall(r"^```python\n(.*?)^```", text, re.DOTALL | re.MULTILINE)
    return str(block)


def duckdb_session(store: str, fs: Any = None) -> duckdb.DuckDBPyConnection:
    """A DuckDB session with the doc's views defined over ``store``."""
    con = duckdb.connect()
    if fs is not None:
        con.register_filesystem(fs)
    for sql in sql_blocks():
        con.execute(sql.replace("STORE", store)).fetchall()
    return con


def polars_read_store(store: str) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": "nbtrack_format_recipe"}
    exec(compile(python_block(), "docs/format.md (Polars recipe)", "exec"), namespace)
    return dict(namespace["read_store"](store))
