"""Logging metrics to a run: single points, dicts of points, and live listeners."""

from __future__ import annotations

import time
import warnings
from array import array
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from nbtrack.errors import InvalidValueError, NbtrackWarning
from nbtrack.tracking import validation
from nbtrack.tracking.run.state import MetricListener, RunState
from nbtrack.tracking.validation import _valid_keys, check_key, metric_value

if TYPE_CHECKING:
    pass

__all__ = ["MetricLogging"]


class MetricLogging(RunState):
    """``log_metric``, ``log_metrics`` and metric listeners (the hot path of a training loop)."""

    def add_metric_listener(self, fn: MetricListener) -> Callable[[], None]:
        """Call ``fn(key, value, step, timestamp_ms)`` for every point logged to this run."""
        return self._subscribe("_listeners", fn)

    def _notify(self, key: str, value: float, step: int, ts: int) -> None:
        for fn in self._listeners:
            try:
                fn(key, value, step, ts)
            # A broken listener (a live plot) must never stop the training loop.
            except Exception as exc:  # noqa: BLE001
                if not self._listener_warned:
                    self._listener_warned = True
                    warnings.warn(
                        f"nbtrack: a metric listener failed and is ignored: {exc}",
                        NbtrackWarning,
                        stacklevel=3,
                    )

    def log_metric(
        self, key: str, value: Any, step: int | None = None, timestamp: Any = None
    ) -> None:
        """Log one point. ``step=None`` is one past the highest step logged for ``key``."""
        if self._finished:
            self._check_open()
        if key.__class__ is not str or key not in _valid_keys:
            check_key(key, "metric key")
        v = value if value.__class__ is float else metric_value(value)
        ts = (
            time.time_ns() // 1_000_000 if timestamp is None else validation.timestamp_ms(timestamp)
        )
        if step is not None and (
            step.__class__ is not int or not -9223372036854775808 <= step <= 9223372036854775807
        ):
            step = validation.step_value(step)
        mb = self._mb
        with mb.lock:
            ns = self._next_step
            if step is None:
                step = ns.get(key, 0)
                ns[key] = step + 1
            elif step >= ns.get(key, 0):
                ns[key] = step + 1
            code = mb.code_of.get(key)
            mb.codes.append(mb.code(key) if code is None else code)
            mb.steps.append(step)
            mb.timestamps.append(ts)
            mb.values.append(v)
            n = len(mb.codes)
        if n >= self._flush_at:
            self._store.wake_flusher()
        if self._listeners:
            self._notify(key, v, step, ts)

    def log_metrics(
        self, metrics: Mapping[str, Any], step: int | None = None, timestamp: Any = None
    ) -> None:
        """Log several metrics at one step (each key's own next step when ``step`` is None)."""
        self._check_open()
        if not isinstance(metrics, Mapping):
            raise InvalidValueError(
                f"log_metrics takes a dict of key -> number, got {type(metrics).__name__}"
            )
        keys = list(metrics)
        mb = self._mb
        if keys != mb.last_keys:  # the same dict as last step: its keys were checked then
            for k in keys:
                if k.__class__ is not str or k not in _valid_keys:
                    check_key(k, "metric key")
        vals = [v if v.__class__ is float else metric_value(v) for v in metrics.values()]
        ts = (
            time.time_ns() // 1_000_000 if timestamp is None else validation.timestamp_ms(timestamp)
        )
        if step is not None:
            step = validation.step_value(step)
        n_keys = len(keys)
        with mb.lock:
            ns = self._next_step
            if step is None:
                steps = [ns.get(k, 0) for k in keys]
                for k, s in zip(keys, steps, strict=True):
                    ns[k] = s + 1
                mb.steps.extend(steps)
            else:
                for k in keys:
                    if step >= ns.get(k, 0):
                        ns[k] = step + 1
                mb.steps.extend([step] * n_keys)
            if keys == mb.last_keys:  # a training loop logs the same dict every step
                mb.codes.extend(mb.last_codes)
            else:
                code_of = mb.code_of
                codes = [code_of[k] if k in code_of else mb.code(k) for k in keys]
                mb.last_keys, mb.last_codes = keys, array("i", codes)
                mb.codes.extend(mb.last_codes)
            mb.timestamps.extend([ts] * n_keys)
            mb.values.extend(vals)
            n = len(mb.codes)
        if n >= self._flush_at:
            self._store.wake_flusher()
        if self._listeners:
            for i, k in enumerate(keys):
                s = step if step is not None else steps[i]
                self._notify(k, vals[i], s, ts)
