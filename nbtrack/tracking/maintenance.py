"""Store upkeep for the CLI and users: compact, gc, doctor."""

from __future__ import annotations

from typing import Any

from nbtrack.storage import compaction
from nbtrack.tracking import settings


def compact(store_uri: str | None = None, *, single_compactor: bool = False) -> dict[str, Any]:
    """Merge small segments in every partition (safe while writers are active).

    ``single_compactor``: the caller is the only compactor of the store, required on object
    storage without a conditional write (``gs://``, ``az://`` ...; see docs/format.md).
    """
    return compaction.compact(settings.get_store(store_uri), single_compactor=single_compactor)


def gc(
    store_uri: str | None = None, *, force: bool = False, single_compactor: bool = False
) -> dict[str, int]:
    """Delete compacted-away files and leftover temporary files past the grace period."""
    return compaction.gc(
        settings.get_store(store_uri), only_expired=not force, single_compactor=single_compactor
    )


def doctor(store_uri: str | None = None) -> list[dict[str, str]]:
    """Every problem in the store and the action to take (empty when healthy)."""
    return compaction.doctor(settings.get_store(store_uri))
