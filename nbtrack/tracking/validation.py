"""Checks every key and value before anything is buffered or written (DESIGN.md §3 Keys)."""

from __future__ import annotations

import datetime as _dt
import math
import numbers
import re
from collections.abc import Mapping
from typing import Any

from nbtrack.errors import ArtifactError, InvalidKeyError, InvalidValueError

MAX_KEY = 250
MAX_PARAM = 6_000
MAX_TAG = 8_000
_KEY_RE = re.compile(r"[\w.\-/ :]+")
_INT64 = (-(2**63), 2**63 - 1)
# What every reader can read: DuckDB, pandas and Python's datetime all hold years 1-9999.
MIN_TIMESTAMP_MS = -62_135_596_800_000  # 0001-01-01T00:00:00Z
MAX_TIMESTAMP_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z
STATUSES = ("RUNNING", "FINISHED", "FAILED", "KILLED")

# Keys already checked: a training loop logs the same few keys millions of times.
_valid_keys: set[str] = set()


def check_key(key: object, what: str = "key") -> str:
    """Return ``key`` if it obeys the key rule, else raise InvalidKeyError naming the fault."""
    if type(key) is str and key in _valid_keys:
        return key
    if not isinstance(key, str):
        raise InvalidKeyError(f"{what} must be a string, got {type(key).__name__}: {key!r}")
    shown = key if len(key) <= 60 else key[:57] + "..."
    if not key:
        raise InvalidKeyError(f"{what} is empty; use a name such as 'loss' or 'val/acc'")
    if len(key) > MAX_KEY:
        raise InvalidKeyError(f"{what} {shown!r} has {len(key)} characters; the limit is {MAX_KEY}")
    if not _KEY_RE.fullmatch(key):
        bad = next(c for c in key if not _KEY_RE.fullmatch(c))
        raise InvalidKeyError(
            f"{what} {shown!r} contains {bad!r}; keys may hold letters, digits, "
            "'_', '-', '.', '/', ':' and spaces"
        )
    if key.startswith("/"):
        raise InvalidKeyError(f"{what} {shown!r} starts with '/'; remove the leading slash")
    for segment in key.split("/"):
        if segment.strip() in ("", ".", ".."):
            raise InvalidKeyError(
                f"{what} {shown!r} has an empty, '.' or '..' path segment; "
                "use plain names between slashes"
            )
    if len(_valid_keys) < 100_000:
        _valid_keys.add(key)
    return key


def metric_value(value: Any) -> float:
    """A metric value as float: Python/numpy numbers, bools, 0-d arrays and 1-element tensors."""
    if isinstance(value, (str, bytes)) or value is None:
        raise InvalidValueError(
            f"metric value must be a number, got {type(value).__name__}: {value!r:.60}"
        )
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, numbers.Number) and not isinstance(value, numbers.Real):
        raise InvalidValueError(f"metric value must be a real number, got {value!r:.60}")
    item = getattr(value, "item", None)
    if item is not None and not isinstance(value, numbers.Real):
        size = getattr(value, "size", None)
        numel = getattr(value, "numel", None)
        n = numel() if callable(numel) else size
        if n is not None and n != 1:
            raise InvalidValueError(
                f"metric value must be a scalar; got an array with {n} elements "
                "(log one value per key, or use log_metrics with a dict)"
            )
        value = item()
        if isinstance(value, bool):
            return 1.0 if value else 0.0
    try:
        return float(value)
    except OverflowError:
        raise InvalidValueError(
            f"metric value {value!r:.60} is too large for a 64-bit float"
        ) from None
    except (TypeError, ValueError):
        raise InvalidValueError(
            f"metric value must be a number, got {type(value).__name__}: {value!r:.60}"
        ) from None


def step_value(step: Any) -> int:
    if isinstance(step, bool) or not isinstance(step, numbers.Integral):
        if hasattr(step, "item") and not isinstance(step, (str, bytes)):
            step = step.item()
        if isinstance(step, bool) or not isinstance(step, numbers.Integral):
            raise InvalidValueError(f"step must be an integer, got {step!r:.60}")
    step = int(step)
    if not _INT64[0] <= step <= _INT64[1]:
        raise InvalidValueError(f"step {step} is outside the 64-bit integer range")
    return step


def timestamp_ms(ts: Any) -> int:
    """Milliseconds since the epoch from ms (int/float) or a datetime.

    A naive datetime is local time, as ``datetime.timestamp()`` takes it. The result must
    lie in years 1-9999 (what DuckDB, pandas and ``datetime`` read back).
    """
    if isinstance(ts, _dt.datetime):
        try:
            ms = int(ts.timestamp() * 1000)
        except (OverflowError, OSError, ValueError):
            raise InvalidValueError(f"timestamp {ts!r} cannot be converted to a time") from None
        return _timestamp_in_range(ms, ts)
    if isinstance(ts, bool) or not isinstance(ts, numbers.Real):
        raise InvalidValueError(
            f"timestamp must be milliseconds since the epoch or a datetime, got {ts!r:.60}"
        )
    f = float(ts)
    if math.isnan(f) or math.isinf(f):
        raise InvalidValueError(f"timestamp {ts!r} is not a valid time in milliseconds")
    return _timestamp_in_range(int(ts) if isinstance(ts, numbers.Integral) else int(f), ts)


def _timestamp_in_range(ms: int, given: Any) -> int:
    if not MIN_TIMESTAMP_MS <= ms <= MAX_TIMESTAMP_MS:
        raise InvalidValueError(
            f"timestamp {given!r:.60} is outside years 1-9999; give milliseconds since "
            "the epoch (e.g. time.time() * 1000) or a datetime"
        )
    return ms


def text(value: str, what: str) -> str:
    """``value`` if it can be stored as UTF-8, else InvalidValueError naming the fault.

    A lone surrogate (``os.fsdecode`` of a non-UTF-8 file name gives one) cannot be
    encoded; refusing it here keeps it from poisoning a whole flush later.
    """
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        bad = value[exc.start : exc.end]
        raise InvalidValueError(
            f"{what} holds {bad!r} at position {exc.start}, which is not valid Unicode text "
            "(a lone surrogate, e.g. from os.fsdecode of a non-UTF-8 file name); "
            "clean it first, e.g. value.encode('utf-8', 'replace').decode()"
        ) from None
    return value


def param_value(key: str, value: Any) -> str:
    out = value if isinstance(value, str) else str(value)
    if len(out) > MAX_PARAM:
        raise InvalidValueError(
            f"param {key!r} has a value of {len(out)} characters; the limit is {MAX_PARAM} "
            "(log long text with log_text instead)"
        )
    return text(out, f"param {key!r}")


def tag_value(key: str, value: Any) -> str:
    out = value if isinstance(value, str) else str(value)
    if len(out) > MAX_TAG:
        raise InvalidValueError(
            f"tag {key!r} has a value of {len(out)} characters; the limit is {MAX_TAG}"
        )
    return text(out, f"tag {key!r}")


def run_name(name: Any) -> str | None:
    """A run name: None (generated later) or a string of at most 250 characters."""
    if name is None:
        return None
    if not isinstance(name, str) or len(name) > MAX_KEY:
        raise InvalidValueError(
            f"run name must be a string of at most 250 characters: {name!r:.80}"
        )
    return text(name, "run name")


def description(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidValueError("run description must be a string")
    return text(value, "run description")


def status_value(status: Any) -> str:
    s = str(status).upper()
    if s not in STATUSES[1:]:
        raise InvalidValueError(
            f"run status must be one of FINISHED, FAILED, KILLED; got {status!r}"
        )
    return s


def experiment_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidValueError(f"experiment name must be a non-empty string, got {name!r}")
    if len(name) > MAX_KEY or any(ord(c) < 32 for c in name):
        raise InvalidValueError(
            f"experiment name {name[:60]!r} is too long or holds control characters"
        )
    return text(name, "experiment name")


def artifact_path(path: str | None, what: str = "artifact_path") -> str:
    """Normalise a relative artifact folder/name under the key rule; refuse the rest.

    ``a/./b//c`` becomes ``a/b/c``; absolute paths, ``..`` and characters outside the key
    rule (DESIGN.md §3 Keys: letters, digits, ``_ - . / :`` and spaces) are refused.
    """
    if path is None or path == "":
        return ""
    if not isinstance(path, str):
        raise ArtifactError(f"{what} must be a string, got {type(path).__name__}")
    p = path.replace("\\", "/")
    if p.startswith("/") or re.match(r"^[A-Za-z]:", p):
        raise ArtifactError(f"{what} {path!r} is absolute; give a path relative to the run")
    parts = [s for s in p.split("/") if s not in ("", ".")]
    if any(s == ".." for s in parts):
        raise ArtifactError(f"{what} {path!r} climbs out with '..'; keep it inside the run")
    out = "/".join(parts)
    if "\x00" in out:
        raise ArtifactError(f"{what} {path!r} contains a NUL byte")
    try:
        check_key(out, what)
    except InvalidKeyError as exc:
        raise ArtifactError(
            f"{exc}; rename the file (artifact names follow the key rule)"
        ) from None
    return out


def checked_texts(items: Any, kind: str, caller: str) -> dict[str, str]:
    """``{key: text}`` of a params (``kind="param"``) or tags dict, every entry checked.

    All or nothing: the first bad key or value raises before anything is recorded.
    """
    if not isinstance(items, Mapping):
        raise InvalidValueError(f"{caller} takes a dict, got {type(items).__name__}")
    value_of = param_value if kind == "param" else tag_value
    out = {}
    for key, value in items.items():
        check_key(key, f"{kind} key")
        out[key] = value_of(key, value)
    return out
