"""nt.sql on a store on object storage reads the store and nothing else.

The registered fsspec file system could reach the whole account (other buckets, other
prefixes of the same bucket) and DuckDB's local file system the machine; neither may.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import nbtrack as nt
from nbtrack.storage._fs import open_fs


@pytest.fixture
def logged(remote_store: str) -> str:
    nt.set_store(remote_store)
    with nt.start_run(name="r"):
        nt.log_metric("m", 1.0)
    return remote_store


def _escapes(store: str, home_file: Path, sibling: str) -> list[str]:
    parent = store.rsplit("/", 1)[0]
    return [
        "SELECT * FROM read_text('/etc/passwd')",
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_text('file:///etc/passwd')",
        "SELECT * FROM glob('/etc/*')",
        f"SELECT * FROM read_text('{home_file}')",
        f"SELECT * FROM glob('{home_file.parent}/*')",
        "SELECT * FROM read_parquet('/etc/passwd')",
        f"SELECT * FROM read_text('{sibling}')",  # another prefix beside the store
        f"SELECT * FROM read_text('{store}/../{sibling.rsplit('/', 1)[1]}')",
        f"SELECT * FROM glob('{parent}/*')",
        f"SELECT * FROM read_text('{store}-suffix/secret.txt')",
    ]


def test_sql_cannot_read_outside_the_store(
    logged: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home_file = tmp_path / "home" / "secret.txt"
    home_file.parent.mkdir()
    home_file.write_text("top secret")
    monkeypatch.setenv("HOME", str(home_file.parent))
    sibling = logged.rsplit("/", 1)[0] + "/someone-else/secret.txt"
    fs = open_fs(logged)
    fs.fs.pipe_file(sibling, b"top secret")
    fs.fs.pipe_file(logged + "-suffix/secret.txt", b"top secret")
    for query in _escapes(logged, home_file, sibling):
        with pytest.raises(nt.QueryError):
            got = nt.sql(query)
            pytest.fail(f"{query} returned {got!r}")
    # The store itself stays readable through the views.
    assert nt.sql("SELECT count(*) AS n FROM metrics")["n"][0] == 1

