"""The process-wide stores: one ``ParquetStore`` per URI (one writer per process and
store), their final flush at exit, and the fork hooks that keep them consistent."""

from __future__ import annotations

import atexit
import os
import threading
from typing import Any

from nbtrack.storage.store import ParquetStore

_stores: dict[str, ParquetStore] = {}
_stores_lock = threading.Lock()


def _normalize(uri: str) -> str:
    if "://" not in uri:
        return os.path.abspath(os.path.expanduser(uri))
    return uri.rstrip("/")


def open_store(uri: str, fs: Any = None) -> ParquetStore:
    """The process-wide ParquetStore for ``uri`` (one writer per process and store)."""
    key = _normalize(uri)
    with _stores_lock:
        store = _stores.get(key)
        if store is None:
            store = _stores[key] = ParquetStore(key, fs)
            # multiprocessing clears finalizers in a child, then runs after-fork hooks: this
            # one registers the child's final flush (fork children exit with os._exit).
            import multiprocessing.util as mp_util

            mp_util.register_after_fork(store, _register_exit_flush)
        return store


def release_store(uri: str) -> None:
    """Close the store at ``uri`` if this process opened it and has no open run there.

    Its thread, DuckDB connection and temp folder go away; the object stays usable and
    reopens what it needs on the next use (Run handles may still point at it).
    """
    with _stores_lock:
        store = _stores.get(_normalize(uri))
    if store is not None and not store._open_runs:
        store.close()


def _before_fork() -> None:
    _stores_lock.acquire()
    for store in list(_stores.values()):
        store._before_fork()


def _after_fork_in_parent() -> None:
    for store in list(_stores.values()):
        store._after_fork_in_parent()
    _stores_lock.release()


def _after_fork_in_child() -> None:
    global _stores_lock
    _stores_lock = threading.Lock()
    for store in list(_stores.values()):
        store.after_fork()


def _register_exit_flush(_store: ParquetStore) -> None:
    """In a multiprocessing child: flush before it leaves by os._exit (atexit never runs)."""
    import multiprocessing.util as mp_util

    mp_util.Finalize(None, _close_all, exitpriority=100)


os.register_at_fork(
    before=_before_fork,
    after_in_parent=_after_fork_in_parent,
    after_in_child=_after_fork_in_child,
)


def _close_all() -> None:
    for store in list(_stores.values()):
        try:
            store.close()
        # At interpreter exit there is nobody left to raise to: report and go on.
        except Exception as exc:  # noqa: BLE001
            import sys

            print(f"nbtrack: final flush failed for {store.uri}: {exc}", file=sys.stderr)


atexit.register(_close_all)
