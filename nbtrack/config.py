"""Every NBTRACK_* environment variable and default, in one place.

| variable | default | meaning |
|---|---|---|
| NBTRACK_STORE | ./.nbtrack | store URI used when ``set_store`` was not called |
| NBTRACK_FLUSH_INTERVAL | 1.0 | seconds between background flushes of buffered records |
| NBTRACK_FLUSH_POINTS | 100000 | buffered metric points that trigger an early flush |
| NBTRACK_HEARTBEAT | 5.0 | seconds between writer heartbeats (lease touches) |
| NBTRACK_DEAD_AFTER | 20.0 | seconds without a heartbeat after which a remote writer is dead |
| NBTRACK_COMPACT_FILES | 32 | flush segments (size tier 0) in one partition that trigger automatic compaction (see nbtrack.storage.tiers) |
| NBTRACK_AUTO_COMPACT | 1 locally, 0 on object storage | 0 turns automatic compaction off, 1 on (on object storage, compactors then take turns through the compaction lease) |
| NBTRACK_COMPACT_LEASE | 600.0 | seconds after which an object-storage compaction lease not renewed is expired (must exceed the clock skew between hosts) |
| NBTRACK_UPLOAD_PART | 16777216 | bytes per part of an artifact's multipart upload to object storage (at least 5 MiB, S3's minimum); bounds the memory an upload takes |
| NBTRACK_CACHE_DIR | ~/.cache/nbtrack/segments | local copies of a remote store's segment files (immutable, so always valid); ``off`` disables |
| NBTRACK_CACHE_BYTES | 2147483648 | size bound of that folder (least recently used copies go first) |
| NBTRACK_HOST_ID | the hostname | this machine's identity in writer leases (set it where hostnames repeat: containers, job arrays) |
| NBTRACK_MODEL_MAX_BYTES | 2147483648 | largest model (all its files) ``log_model`` stores; bigger ones are refused |
| NBTRACK_GC_GRACE | 60.0 | seconds a replaced segment is kept for readers still scanning it |
| NBTRACK_SYSTEM_METRICS | 0 | 1 makes every ``start_run`` sample system metrics (``system/...``) |
| NBTRACK_SYSTEM_METRICS_INTERVAL | 10.0 | seconds between two system metrics samples |
| NBTRACK_GROUP | (none) | group id (tag ``nbtrack.group``) of the runs autolog starts in a job |
"""

from __future__ import annotations

import math
import os


def _float(name: str, default: float, *, minimum: float | None = None) -> float:
    """The number in ``$name`` (``default`` when unset), checked to be finite and sane."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not _usable(value, minimum):
        from nbtrack.errors import ConfigError

        bound = "greater than 0" if minimum is None else f"at least {minimum:g}"
        raise ConfigError(
            f"{name}={raw!r} is not a usable number: give a number {bound} "
            f"(default {default:g}), or unset it"
        )
    return value


def _usable(value: float, minimum: float | None) -> bool:
    """Finite, and greater than 0 (no ``minimum``) or at least ``minimum``."""
    return math.isfinite(value) and (value > 0.0 if minimum is None else value >= minimum)


def check() -> None:
    """Raise ConfigError now for any malformed NBTRACK_* number (used when a store opens).

    Checking up front means a typo fails at ``start_run`` with a clear message instead of
    silently stopping the background flusher later.
    """
    flush_interval()
    flush_points()
    heartbeat_interval()
    dead_after()
    compact_files()
    gc_grace()
    compact_lease()
    upload_part()
    system_metrics_interval()
    cache_bytes()


def default_store_uri() -> str:
    """Store URI from ``$NBTRACK_STORE``, else ``./.nbtrack``."""
    return os.environ.get("NBTRACK_STORE") or os.path.join(os.getcwd(), ".nbtrack")


def flush_interval() -> float:
    return _float("NBTRACK_FLUSH_INTERVAL", 1.0)


def flush_points() -> int:
    return int(_float("NBTRACK_FLUSH_POINTS", 100_000, minimum=1))


def heartbeat_interval() -> float:
    return _float("NBTRACK_HEARTBEAT", 5.0)


def dead_after() -> float:
    return _float("NBTRACK_DEAD_AFTER", 20.0)


def compact_files() -> int:
    return int(_float("NBTRACK_COMPACT_FILES", 32, minimum=2))


def auto_compact(*, remote: bool = False) -> bool:
    """Whether writers compact in the background (default: on locally, off remotely).

    On object storage, compaction is left to ``nbtrack compact`` unless asked for: many
    writers on many hosts would otherwise all try, taking turns through the lease.
    """
    raw = os.environ.get("NBTRACK_AUTO_COMPACT")
    if raw is None or raw.strip() == "":
        return not remote
    return raw.strip().lower() not in ("0", "false", "no", "off")


def compact_lease() -> float:
    return _float("NBTRACK_COMPACT_LEASE", 600.0)


def upload_part() -> int:
    return int(_float("NBTRACK_UPLOAD_PART", 16 * 2**20, minimum=5 * 2**20))


def cache_dir() -> str | None:
    raw = os.environ.get("NBTRACK_CACHE_DIR")
    if raw is not None and raw.strip().lower() in ("off", "none", "0", "false", "no"):
        return None
    if raw:
        return os.path.abspath(os.path.expanduser(raw))
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "nbtrack", "segments")


def cache_bytes() -> int:
    return int(_float("NBTRACK_CACHE_BYTES", 2 * 2**30, minimum=1))


def host_id() -> str | None:
    return os.environ.get("NBTRACK_HOST_ID") or None


def model_max_bytes() -> int:
    return int(_float("NBTRACK_MODEL_MAX_BYTES", 2**31, minimum=1))


def gc_grace() -> float:
    return _float("NBTRACK_GC_GRACE", 60.0, minimum=0.0)


# Set in this process (``mlflow.enable_system_metrics_logging``...); None: the variables.
_system_metrics: bool | None = None
_system_metrics_interval: float | None = None


def system_metrics() -> bool:
    """True when every run should sample system metrics: as set in this process
    (``set_system_metrics``), else as ``$NBTRACK_SYSTEM_METRICS`` says."""
    if _system_metrics is not None:
        return _system_metrics
    return os.environ.get("NBTRACK_SYSTEM_METRICS", "0").strip().lower() in ("1", "true", "yes")


def set_system_metrics(enabled: bool | None) -> None:
    """Sample system metrics in every run from now on (True), in none unless asked per run
    (False), or as ``$NBTRACK_SYSTEM_METRICS`` says (None)."""
    global _system_metrics
    _system_metrics = enabled


def system_metrics_interval() -> float:
    if _system_metrics_interval is not None:
        return _system_metrics_interval
    return _float("NBTRACK_SYSTEM_METRICS_INTERVAL", 10.0)


def set_system_metrics_interval(seconds: float | None) -> None:
    """Seconds between system metrics samples for runs started from now on; None: as
    ``$NBTRACK_SYSTEM_METRICS_INTERVAL`` says (default 10).

    Raises:
        ConfigError: ``seconds`` is not a finite number greater than 0.
    """
    global _system_metrics_interval
    if seconds is not None:
        number = isinstance(seconds, int | float) and not isinstance(seconds, bool)
        if not number or not _usable(seconds, None):
            from nbtrack.errors import ConfigError

            raise ConfigError(
                f"the system metrics interval must be a number of seconds greater than 0, "
                f"got {seconds!r}"
            )
        seconds = float(seconds)
    _system_metrics_interval = seconds
