"""Which store and experiment the fluent API uses (process-wide, set by the user)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from nbtrack import config
from nbtrack.storage import ParquetStore, open_store, release_store
from nbtrack.tracking import validation

DEFAULT_EXPERIMENT = "Default"


@dataclass
class Settings:
    """The user's choices; one instance per process (``SETTINGS``)."""

    store_uri: str | None = None
    experiment: str = DEFAULT_EXPERIMENT
    lock: threading.Lock = field(default_factory=threading.Lock)


SETTINGS = Settings()


def _with_hooks(store: ParquetStore) -> ParquetStore:
    if store.compact_hook is None:
        from nbtrack.storage.compaction import auto_compact

        store.compact_hook = auto_compact
    return store


def get_store(uri: str | None = None) -> ParquetStore:
    """The store for ``uri``, else the one chosen with ``set_store``, else the default."""
    return _with_hooks(open_store(uri or SETTINGS.store_uri or config.default_store_uri()))


def set_store(uri: str) -> ParquetStore:
    """Use the store at ``uri`` from now on, in this process (the fluent API and searches).

    The default store is ``$NBTRACK_STORE``, else ``./.nbtrack``. A local folder is
    created if needed.

    Args:
        uri: A local path, a ``file://`` URI, or an fsspec URL such as
            ``s3://bucket/prefix`` (needs the file system's package, e.g. ``s3fs``).

    Returns:
        The opened store.

    Raises:
        StoreError: ``uri`` is empty or not a string, the store cannot be opened, or its
            file system is not installed (the message names the package to install).

    Example:
        >>> nt.set_store("./.nbtrack")  # doctest: +SKIP
    """
    if not isinstance(uri, str) or not uri:
        from nbtrack.errors import StoreError

        raise StoreError(f"store URI must be a non-empty string, got {uri!r}")
    store = get_store(uri)
    with SETTINGS.lock:
        previous = SETTINGS.store_uri or config.default_store_uri()
        SETTINGS.store_uri = store.uri
    if previous != store.uri:
        # The store we leave keeps no thread, connection or temp folder once it has no
        # open run (it reopens them if used again).
        release_store(previous)
    return store


def set_experiment(name: str) -> str:
    """Make ``name`` the current experiment of this process.

    New runs go to it and ``search_runs()``/``show_runs()`` with no experiment read it.
    The experiment exists from its first run on; before that ``search_runs()`` is empty.

    Args:
        name: The experiment's name (default ``"Default"``).

    Returns:
        The name, as stored.

    Raises:
        InvalidValueError: ``name`` is empty, not a string, or too long.

    Example:
        >>> nt.set_experiment("mnist")
        'mnist'
    """
    name = validation.experiment_name(name)
    with SETTINGS.lock:
        SETTINGS.experiment = name
    return name


def current_experiment() -> str:
    return SETTINGS.experiment
