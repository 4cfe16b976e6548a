"""Registry claims on a file system without a conditional create: documented, warned once.

``nbtmem://`` here is fsspec's memory file system under another scheme, so nbtrack knows
no exclusive create for it, as for ``gs://`` or ``az://`` (docs/models.md).
"""

from __future__ import annotations

import uuid
import warnings

import fsspec
import pytest
from fsspec.implementations.memory import MemoryFileSystem

import nbtrack as nt
from nbtrack.storage import release_store


class NoConditionalCreateFS(MemoryFileSystem):
    """An in-memory file system nbtrack has no conditional create for."""

    protocol = "nbtmem"
    store: dict = {}  # noqa: RUF012 - fsspec's memory file systems share a class-level dict
    pseudo_dirs = [""]  # noqa: RUF012

    @classmethod
    def _strip_protocol(cls, path: str) -> str:
        if path.startswith("nbtmem://"):
            path = path[len("nbtmem://") :]
        return MemoryFileSystem._strip_protocol(path)


class Const:
    def predict(self, df):
        return [1.0] * len(df)


@pytest.fixture
def plain_store():
    fsspec.register_implementation("nbtmem", NoConditionalCreateFS, clobber=True)
    from nbtrack.storage import _remote_fs

    _remote_fs._claims_warned.discard("nbtmem")
    uri = f"nbtmem://store-{uuid.uuid4().hex[:8]}"
    yield nt.set_store(uri)
    release_store(uri)


def test_registering_without_exclusive_create_warns_once(plain_store) -> None:
    assert plain_store.fs.exclusive_is_atomic is False
    with nt.start_run(), warnings.catch_warnings():
        warnings.simplefilter("ignore", nt.NbtrackWarning)
        info = nt.log_model(Const(), "m")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        versions = [nt.register_model(info.model_uri, "clf").version for _ in range(3)]
        nt.set_model_alias("clf", "champion", 3)
    assert versions == [1, 2, 3]  # one process: still distinct and dense
    said = [str(w.message) for w in caught if issubclass(w.category, nt.NbtrackWarning)]
    assert len(said) == 1, said
    assert "nbtmem:// has no conditional create" in said[0]
    assert "same version number" in said[0]


def test_stores_with_exclusive_create_do_not_warn(tmp_path, memory_store) -> None:
    for uri in (str(tmp_path / "local"), memory_store):
        nt.set_store(uri)
        with nt.start_run(), warnings.catch_warnings():
            warnings.simplefilter("ignore", nt.NbtrackWarning)
            info = nt.log_model(Const(), "m")
        with warnings.catch_warnings():
            warnings.simplefilter("error", nt.NbtrackWarning)
            assert nt.register_model(info.model_uri, "clf").version == 1
