"""The server-extension loader: ``NbtrackApp`` mounts the REST API on Jupyter Server.

Configuration (``jupyter_server_config.py`` or the command line)::

    c.NbtrackApp.store = "/data/nbtrack"      # default: $NBTRACK_STORE, else ./.nbtrack
    c.NbtrackApp.workers = 2                  # threads that run store reads

The store is fixed by the server's configuration: no request can name a path.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from jupyter_server.extension.application import ExtensionApp
from traitlets import Int, Unicode, default

from nbtrack import config
from nbtrack.server import handlers

if TYPE_CHECKING:
    from nbtrack.storage import ParquetStore

API_PREFIX = "nbtrack/api"


class StoreAccess:
    """The server's one store, opened on first use, and the threads that read it.

    DuckDB calls block, so handlers run them here, off Jupyter's event loop.
    """

    def __init__(self, uri: str, workers: int) -> None:
        self.uri = uri
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="nbtrack-api")
        self._store: ParquetStore | None = None
        self._lock = threading.Lock()

    def store(self) -> ParquetStore:
        """The store (opened once; a failure raises StoreError each time it is asked)."""
        with self._lock:
            if self._store is None:
                from nbtrack.tracking import settings

                self._store = settings.get_store(self.uri)
            return self._store

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)


class NbtrackApp(ExtensionApp):
    """nbtrack's Jupyter Server extension (REST API for the JupyterLab sidebar)."""

    name = "nbtrack"
    description = "nbtrack experiment tracking: REST API under <base_url>/nbtrack/api/"
    load_other_extensions = True

    store = Unicode(
        help="Store URI (local folder or fsspec URL) that the API reads and edits. "
        "Default: $NBTRACK_STORE, else ./.nbtrack in the server's working directory."
    ).tag(config=True)
    workers = Int(2, help="Threads that run store reads and writes.").tag(config=True)

    @default("store")
    def _default_store(self) -> str:
        return config.default_store_uri()

    def initialize_settings(self) -> None:
        self.access = StoreAccess(self.store, max(1, self.workers))
        self.log.info("nbtrack: REST API at %s serving the store %s", API_PREFIX, self.store)

    def initialize_handlers(self) -> None:
        args: dict[str, Any] = {"access": self.access}
        self.handlers.extend(
            (f"/{API_PREFIX}/{pattern}", handler, args) for pattern, handler in handlers.ROUTES
        )

    async def stop_extension(self) -> None:
        access = getattr(self, "access", None)
        if access is not None:
            access.close()
