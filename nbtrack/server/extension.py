"""The server-extension loader: ``NbtrackApp`` mounts the REST API on Jupyter Server.

Configuration (``jupyter_server_config.py`` or the command line)::

    c.NbtrackApp.store = "/data/nbtrack"      # default: $NBTRACK_STORE, else ./.nbtrack
    c.NbtrackApp.stores = ["s3://team/nbtrack"]  # more stores the lab setting may pick
    c.NbtrackApp.workers = 2                  # threads that run store reads

The stores are fixed by the server's configuration: a request may pick one of them (the
``X-Nbtrack-Store`` header, which the JupyterLab setting "store" sets) but never name any
other path.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from jupyter_server.extension.application import ExtensionApp
from traitlets import Int, List, Unicode, default

from nbtrack import config
from nbtrack.server import handlers
from nbtrack.server._errors import StoreNotServedError

if TYPE_CHECKING:
    from nbtrack.storage import ParquetStore

API_PREFIX = "nbtrack/api"


class StoreAccess:
    """The server's stores, each opened on first use, and the threads that read them.

    DuckDB calls block, so handlers run them here, off Jupyter's event loop.
    """

    def __init__(self, uri: str, workers: int, others: list[str] | None = None) -> None:
        self.uri = uri
        self.uris = [uri, *(u for u in (others or []) if u != uri)]
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="nbtrack-api")
        self._stores: dict[str, ParquetStore] = {}
        self._lock = threading.Lock()

    def store(self, uri: str | None = None) -> ParquetStore:
        """The store ``uri`` (the default when None or empty); opened once.

        Raises:
            StoreNotServedError: ``uri`` is not one of the configured stores.
            StoreError: the store cannot be opened (each time it is asked).
        """
        uri = uri or self.uri
        if uri not in self.uris:
            raise StoreNotServedError(
                f"this server does not serve the store {uri!r}; it serves "
                f"{', '.join(repr(u) for u in self.uris)} (add it to c.NbtrackApp.stores in "
                "jupyter_server_config.py, or clear the nbtrack 'store' setting)"
            )
        with self._lock:
            if uri not in self._stores:
                from nbtrack.tracking import settings

                self._stores[uri] = settings.get_store(uri)
            return self._stores[uri]

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
    stores = List(
        Unicode(),
        help="More store URIs the JupyterLab setting 'store' may select (the default "
        "store is always served). A request can pick only these.",
    ).tag(config=True)
    workers = Int(2, help="Threads that run store reads and writes.").tag(config=True)

    @default("store")
    def _default_store(self) -> str:
        return config.default_store_uri()

    def initialize_settings(self) -> None:
        self.access = StoreAccess(self.store, max(1, self.workers), list(self.stores))
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
