"""Store upkeep for the CLI and users: compact, gc, doctor."""

from __future__ import annotations

from typing import Any

from nbtrack.storage import compaction
from nbtrack.tracking import settings


def compact(store_uri: str | None = None) -> dict[str, Any]:
    """Merge small segments in every partition (safe while writers are active)."""
    return compaction.compact(settings.get_store(store_uri))


def gc(store_uri: str | None = None, *, force: bool = False) -> dict[str, int]:
    """Delete compacted-away files and leftover temporary files past the grace period."""
    return compaction.gc(settings.get_store(store_uri), only_expired=not force)


def doctor(store_uri: str | None = None) -> list[dict[str, str]]:
    """Every problem in the store and the action to take (empty when healthy)."""
    return compaction.doctor(settings.get_store(store_uri))
