"""Integrations: autologging for ML frameworks, each one optional and imported lazily.

Edge layer: uses ``nbtrack.tracking`` only (never storage internals, views, IPython or
another edge). One thin module per framework — ``sklearn``, ``xgboost``, ``lightgbm``,
``keras``, ``lightning``, ``transformers`` — each with ``enable(config)`` / ``disable()``;
``distributed`` finds ranks; ``_guard`` is the one never-raise boundary.

``nbtrack.autolog()`` turns them on. It is **the one place where nbtrack starts a run
implicitly** (as MLflow's autolog does): a ``fit`` with no active run starts a run, tagged
``nbtrack.autolog=<framework>``, and ends it when ``fit`` returns. Inside ``%%track`` or
``with nt.start_run():`` everything goes into that run instead. docs/integrations.md lists
what each framework records.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from nbtrack.errors import InvalidValueError
from nbtrack.integrations import _patching
from nbtrack.integrations._guard import guard, set_silent

#: framework name -> (the module it hooks, the nbtrack module that hooks it)
FRAMEWORKS: dict[str, tuple[str, str]] = {
    "sklearn": ("sklearn", "nbtrack.integrations.sklearn"),
    "xgboost": ("xgboost", "nbtrack.integrations.xgboost"),
    "lightgbm": ("lightgbm", "nbtrack.integrations.lightgbm"),
    "keras": ("keras", "nbtrack.integrations.keras"),
    "lightning": ("lightning", "nbtrack.integrations.lightning"),
    "pytorch_lightning": ("pytorch_lightning", "nbtrack.integrations.lightning"),
    "transformers": ("transformers", "nbtrack.integrations.transformers"),
}

_ALIASES = {"scikit-learn": "sklearn", "pytorch-lightning": "pytorch_lightning"}


def autolog(
    frameworks: str | Sequence[str] | None = None,
    *,
    log_models: bool = True,
    log_datasets: bool = True,
    disable: bool = False,
    silent: bool = False,
) -> list[str]:
    """Log params, metrics, datasets and models of ML frameworks with no bookkeeping code.

    For each framework (all supported ones that are installed, when ``frameworks`` is
    None) the training entry points are patched: scikit-learn's ``fit`` (estimators,
    pipelines, ``GridSearchCV``/``RandomizedSearchCV`` with one child run per candidate),
    XGBoost's and LightGBM's ``train`` (native and scikit-learn APIs), Keras'
    ``Model.fit``, Lightning's ``Trainer.fit`` and transformers' ``Trainer``. A framework
    that is not imported yet is patched when it is first imported, so ``autolog()`` stays
    cheap.

    **Runs start implicitly here, and only here**: a ``fit`` called with no active run
    starts one (tag ``nbtrack.autolog=<framework>``) and ends it when ``fit`` returns —
    FAILED if it raises. With an active run (``%%track``, ``with nt.start_run():``) the
    records go into that run. In a distributed job only rank 0 logs.

    Logging never breaks training: a failure in nbtrack's code is reported once per
    framework as an ``NbtrackWarning`` and training continues unchanged.

    Args:
        frameworks: a name or names among ``sklearn``, ``xgboost``, ``lightgbm``,
            ``keras``, ``lightning``, ``pytorch_lightning``, ``transformers``; None for
            every installed one.
        log_models: store the trained model as an artifact (or through ``nt.log_model``).
        log_datasets: record a fingerprint (shape, types, digest) of the training data.
        disable: turn autologging off for these frameworks (and restore the originals).
        silent: no warnings from the integrations (failures still go to the ``nbtrack``
            logger at DEBUG level).

    Returns:
        The frameworks now enabled (or, with ``disable=True``, now disabled).

    Raises:
        InvalidValueError: an unknown framework name, or a named framework that is not
            installed.

    Example:
        >>> nt.autolog(["sklearn"])
        >>> LogisticRegression().fit(X, y)   # a run with params, metrics and the model
    """
    names = _names(frameworks)
    explicit = frameworks is not None
    if not explicit:
        names = [n for n in names if importlib.util.find_spec(FRAMEWORKS[n][0]) is not None]
    elif not disable:
        missing = [n for n in names if importlib.util.find_spec(FRAMEWORKS[n][0]) is None]
        if missing:
            raise InvalidValueError(
                f"autolog: {', '.join(missing)} is not installed (pip install "
                f"'nbtrack[{missing[0].replace('pytorch_lightning', 'lightning')}]')"
            )
    if disable:
        for name in names:
            _disable(name)
        return names
    cfg = _patching.AutologConfig(log_models=log_models, log_datasets=log_datasets, silent=silent)
    for name in names:
        _enable(name, cfg)
    return names


def _names(frameworks: str | Sequence[str] | None) -> list[str]:
    if frameworks is None:
        return list(FRAMEWORKS)
    items: Iterable[Any] = [frameworks] if isinstance(frameworks, str) else frameworks
    out: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise InvalidValueError(f"autolog: framework names are strings, got {item!r}")
        name = _ALIASES.get(item.lower(), item.lower())
        if name not in FRAMEWORKS:
            raise InvalidValueError(
                f"autolog: unknown framework {item!r}; known: {', '.join(FRAMEWORKS)}"
            )
        out.append(name)
    return list(dict.fromkeys(out))


def _enable(name: str, cfg: _patching.AutologConfig) -> None:
    _patching.set_config(name, cfg)
    set_silent(name, cfg.silent)
    target, _ = FRAMEWORKS[name]
    if target in sys.modules:
        _apply(name)
    else:
        _hook.watch(target, name)


def _apply(name: str) -> None:
    """Patch the (imported) framework, if autolog is still on for it."""
    if _patching.config(name) is None:
        return
    with guard(name):
        module = importlib.import_module(FRAMEWORKS[name][1])
        module.enable(name)


def _disable(name: str) -> None:
    _hook.unwatch(FRAMEWORKS[name][0], name)
    _patching.set_config(name, None)
    _patching.unpatch_all(name)


def enabled_frameworks() -> list[str]:
    """The frameworks autolog is on for."""
    return sorted(_patching.enabled())


@contextmanager
def autolog_scope(frameworks: str | Sequence[str] | None = None) -> Iterator[list[str]]:
    """Autolog on inside the block, back to the previous settings after (``%%track --autolog``)."""
    before = _patching.enabled()
    names = autolog(frameworks)
    try:
        yield names
    finally:
        for name in names:
            if name in before:
                _enable(name, before[name])
            else:
                _disable(name)


class _PostImportHook(importlib.abc.MetaPathFinder):
    """Patches a framework right after its first import (so ``autolog()`` imports nothing).

    It finds the framework's spec with the other finders and wraps its loader's
    ``exec_module``; once the module has executed, the waiting integrations are applied.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: dict[str, set[str]] = {}
        self._busy: set[str] = set()

    def watch(self, module: str, integration: str) -> None:
        with self._lock:
            self._waiting.setdefault(module, set()).add(integration)
            if self not in sys.meta_path:
                sys.meta_path.insert(0, self)

    def unwatch(self, module: str, integration: str) -> None:
        with self._lock:
            waiting = self._waiting.get(module)
            if waiting is not None:
                waiting.discard(integration)
                if not waiting:
                    del self._waiting[module]
            if not self._waiting and self in sys.meta_path:
                sys.meta_path.remove(self)

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname not in self._waiting or fullname in self._busy:
            return None
        self._busy.add(fullname)
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            self._busy.discard(fullname)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        spec.loader = _PatchingLoader(spec.loader, fullname, self)
        return spec

    def loaded(self, module: str) -> None:
        with self._lock:
            names = self._waiting.pop(module, set())
            if not self._waiting and self in sys.meta_path:
                sys.meta_path.remove(self)
        for name in sorted(names):
            _apply(name)


class _PatchingLoader(importlib.abc.Loader):
    def __init__(self, loader: Any, fullname: str, hook: _PostImportHook) -> None:
        self._loader = loader
        self._fullname = fullname
        self._hook = hook

    def create_module(self, spec: Any) -> Any:
        return self._loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        self._loader.exec_module(module)
        # The framework is usable now; patching failures go through the guard.
        self._hook.loaded(self._fullname)

    def __getattr__(self, name: str) -> Any:  # get_resource_reader, is_package, ...
        return getattr(self._loader, name)


_hook = _PostImportHook()

__all__ = ["FRAMEWORKS", "autolog", "autolog_scope", "enabled_frameworks"]
