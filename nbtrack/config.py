"""Every NBTRACK_* environment variable and default, in one place.

| variable | default | meaning |
|---|---|---|
| NBTRACK_STORE | ./.nbtrack | store URI used when ``set_store`` was not called |
| NBTRACK_FLUSH_INTERVAL | 1.0 | seconds between background flushes of buffered records |
| NBTRACK_FLUSH_POINTS | 100000 | buffered metric points that trigger an early flush |
| NBTRACK_HEARTBEAT | 5.0 | seconds between writer heartbeats (lease touches) |
| NBTRACK_DEAD_AFTER | 20.0 | seconds without a heartbeat after which a remote writer is dead |
| NBTRACK_COMPACT_FILES | 32 | small segments in one partition that trigger automatic compaction |
| NBTRACK_AUTO_COMPACT | 1 | 0 turns automatic compaction off |
| NBTRACK_GC_GRACE | 60.0 | seconds a replaced segment is kept for readers still scanning it |
"""

from __future__ import annotations

import os


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        from nbtrack.errors import NbtrackError

        raise NbtrackError(f"{name}={raw!r} is not a number") from None


def default_store_uri() -> str:
    """Store URI from ``$NBTRACK_STORE``, else ``./.nbtrack``."""
    return os.environ.get("NBTRACK_STORE") or os.path.join(os.getcwd(), ".nbtrack")


def flush_interval() -> float:
    return _float("NBTRACK_FLUSH_INTERVAL", 1.0)


def flush_points() -> int:
    return int(_float("NBTRACK_FLUSH_POINTS", 100_000))


def heartbeat_interval() -> float:
    return _float("NBTRACK_HEARTBEAT", 5.0)


def dead_after() -> float:
    return _float("NBTRACK_DEAD_AFTER", 20.0)


def compact_files() -> int:
    return int(_float("NBTRACK_COMPACT_FILES", 32))


def auto_compact() -> bool:
    return os.environ.get("NBTRACK_AUTO_COMPACT", "1") not in ("0", "false", "no")


def gc_grace() -> float:
    return _float("NBTRACK_GC_GRACE", 60.0)
