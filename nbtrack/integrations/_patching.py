"""Patches that autolog puts on framework classes, and the settings each one runs with.

A patch replaces ``owner.name`` with a wrapper and remembers the original, so
``autolog(disable=True)`` puts every original back exactly. Patched methods carry
``__nbtrack_original__`` so a second ``autolog()`` never wraps a wrapper.
"""

from __future__ import annotations

import dataclasses
import functools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


@dataclasses.dataclass(frozen=True)
class AutologConfig:
    """How one integration logs (``autolog``'s arguments)."""

    log_models: bool = True
    log_datasets: bool = True
    silent: bool = False


class _Registry:
    """Live patches and configs, per integration (one per process, like the patches)."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.patches: dict[str, list[tuple[Any, str, Any, bool]]] = {}
        self.configs: dict[str, AutologConfig] = {}


_registry = _Registry()


def config(integration: str) -> AutologConfig | None:
    """The integration's settings while it is enabled, else None."""
    return _registry.configs.get(integration)


def enabled() -> dict[str, AutologConfig]:
    with _registry.lock:
        return dict(_registry.configs)


def set_config(integration: str, cfg: AutologConfig | None) -> None:
    with _registry.lock:
        if cfg is None:
            _registry.configs.pop(integration, None)
        else:
            _registry.configs[integration] = cfg


def patch(
    integration: str, owner: Any, name: str, make: Callable[[Callable[..., Any]], Callable[..., Any]]
) -> None:
    """Replace ``owner.name`` by ``make(original)`` (once; undone by :func:`unpatch_all`)."""
    with _registry.lock:
        had_own = name in vars(owner) if isinstance(owner, type) else True
        current = getattr(owner, name)
        if getattr(current, "__nbtrack_original__", None) is not None and had_own:
            return  # already patched
        wrapper = make(current)
        functools.update_wrapper(wrapper, current)
        wrapper.__nbtrack_original__ = current  # type: ignore[attr-defined]
        setattr(owner, name, wrapper)
        _registry.patches.setdefault(integration, []).append((owner, name, current, had_own))


def unpatch_all(integration: str) -> None:
    """Put back every original that ``integration`` replaced, newest first."""
    with _registry.lock:
        for owner, name, original, had_own in reversed(_registry.patches.pop(integration, [])):
            if had_own:
                setattr(owner, name, original)
            else:
                delattr(owner, name)


def is_patched(integration: str) -> bool:
    return bool(_registry.patches.get(integration))


class _Depth(threading.local):
    def __init__(self) -> None:
        self.value = 0
        self.delegated: str | None = None


_depth = _Depth()
_process_depth = [0]  # fits in progress in any thread (joblib's threading backend)
_depth_lock = threading.Lock()


@contextmanager
def outermost() -> Iterator[bool]:
    """True for the outermost patched call: the fits a pipeline or a search makes inside,
    in this thread or in its worker threads, are not logged again."""
    is_outer = _depth.value == 0 and _process_depth[0] == 0
    _depth.value += 1
    with _depth_lock:
        _process_depth[0] += 1
    try:
        yield is_outer
    finally:
        _depth.value -= 1
        with _depth_lock:
            _process_depth[0] -= 1


@contextmanager
def delegating(integration: str) -> Iterator[bool]:
    """For a framework's scikit-learn-style ``fit`` that trains through its own patched
    ``train`` (XGBoost, LightGBM): when this ``fit`` is the outermost call, the next
    ``train`` of ``integration`` logs (see :func:`claims_delegation`), while the
    scikit-learn helpers it calls on the way (a ``LabelEncoder.fit``) do not."""
    with outermost() as outer:
        previous = _depth.delegated
        if outer:
            _depth.delegated = integration
        try:
            yield outer
        finally:
            _depth.delegated = previous


def claims_delegation(integration: str) -> bool:
    """True (once) when an outermost ``fit`` of ``integration`` handed logging to this call."""
    if _depth.delegated == integration:
        _depth.delegated = None
        return True
    return False


@contextmanager
def training(integration: str) -> Iterator[bool]:
    """``outermost()`` for a ``train`` function: also True when its ``fit`` delegated."""
    delegated = claims_delegation(integration)
    with outermost() as outer:
        yield outer or delegated
