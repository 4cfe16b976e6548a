"""Package capture: versions of the installed distributions the process has imported.

Versions come from an index of the ``*.dist-info`` folders on ``sys.path`` (names and
versions from the folder names, ``top_level.txt``, and ``RECORD`` only for modules whose
distribution has another name), built in a few ms instead of the 0.25-1 s of
``importlib.metadata.packages_distributions()``. Later calls cost well under 1 ms: the
package list is recomputed only when ``sys.modules`` changed size.
"""

from __future__ import annotations

import dataclasses
import os
import re
import sys
import threading
from collections.abc import Mapping
from typing import Any

from nbtrack.tracking.capture._files import read_text

__all__ = ["clear_packages_cache", "collect_packages"]

_index: _PackageIndex | None = None
_index_lock = threading.Lock()  # the index is filled lazily; one filler at a time
_packages: tuple[int, dict[str, str]] | None = None


def clear_packages_cache() -> None:
    """Forget the distribution index and the last package list."""
    global _index, _packages
    _index = None
    _packages = None


@dataclasses.dataclass
class _Dist:
    path: str  # the .dist-info / .egg-info folder
    version: str
    name: str | None = None  # canonical name from METADATA, read when first reported

    def display_name(self) -> str:
        if self.name is None:
            self.name = _metadata_name(self.path) or os.path.basename(self.path).partition("-")[0]
        return self.name


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _metadata_name(folder: str) -> str | None:
    for filename in ("METADATA", "PKG-INFO"):
        try:
            with open(os.path.join(folder, filename), encoding="utf-8", errors="replace") as fh:
                for _ in range(40):
                    line = fh.readline()
                    if not line or line == "\n":
                        break
                    if line.startswith("Name:"):
                        return line[5:].strip()
        except OSError:
            continue
    return None


class _PackageIndex:
    """Installed distributions and which top-level module each provides.

    Built from folder names (``name-version.dist-info``), ``top_level.txt`` files and, only
    for a module still unresolved, a substring search of ``RECORD`` files. This costs a
    few ms where ``importlib.metadata.packages_distributions()`` parses every RECORD
    (0.25-1 s with 200 distributions).
    """

    def __init__(self) -> None:
        self.by_name: dict[str, _Dist] = {}
        self.roots: list[str] = []
        self._namespaces: Mapping[str, list[str]] | None = None
        for entry in dict.fromkeys(sys.path):
            folder = entry or os.getcwd()
            try:
                names = os.listdir(folder)
            except OSError:
                continue
            found = False
            for filename in names:
                if filename.endswith(".dist-info"):
                    stem = filename[: -len(".dist-info")]
                elif filename.endswith(".egg-info"):
                    stem = filename[: -len(".egg-info")]
                else:
                    continue
                name, _, version = stem.partition("-")
                version = version.split("-py")[0]
                found = True
                # the first folder on sys.path wins, as for imports
                self.by_name.setdefault(
                    _normalize(name), _Dist(os.path.join(folder, filename), version)
                )
            if found:
                self.roots.append(os.path.realpath(folder) + os.sep)
        self._top_level: dict[str, list[_Dist]] | None = None
        self._no_top_level: list[_Dist] = []
        self._records: dict[str, str] = {}
        self._resolved: dict[str, _Dist | None] = {}

    def _load_top_level(self) -> dict[str, list[_Dist]]:
        if self._top_level is None:
            top_level: dict[str, list[_Dist]] = {}
            for dist in self.by_name.values():
                text = read_text(os.path.join(dist.path, "top_level.txt"))
                if text is None:
                    self._no_top_level.append(dist)
                    continue
                for line in text.split():
                    top_level.setdefault(line.strip().partition("/")[0], []).append(dist)
            self._top_level = top_level
        return self._top_level

    def _search_records(self, top: str) -> _Dist | None:
        needles = (f"\n{top}/", f"\n{top}.py,", f"\n{top}.")
        for dist in self._no_top_level:
            record = self._records.get(dist.path)
            if record is None:
                record = "\n" + (read_text(os.path.join(dist.path, "RECORD")) or "")
                self._records[dist.path] = record
            if any(needle in record for needle in needles):
                return dist
        return None

    def _is_installed_module(self, module: Any) -> bool:
        file = getattr(module, "__file__", None)
        if not file:
            paths = list(getattr(module, "__path__", None) or [])
            file = paths[0] if paths else None
        if not isinstance(file, str):
            return False
        real = os.path.realpath(file)
        return any(real.startswith(root) for root in self.roots)

    def resolve(self, top: str) -> _Dist | None:
        """The distribution that provides the top-level module ``top``."""
        if top in self._resolved:
            return self._resolved[top]
        dist = self.by_name.get(_normalize(top))
        if dist is None:
            candidates = self._load_top_level().get(top)
            if candidates:
                dist = candidates[0]
        if dist is None and self._is_installed_module(sys.modules.get(top)):
            dist = self._search_records(top)
        self._resolved[top] = dist
        return dist

    def resolve_all(self, top: str) -> list[_Dist]:
        """Every distribution that provides ``top`` (several share namespaces such as
        ``google`` or ``mlflow``/``mlflow-skinny``), the main one first."""
        first = self.resolve(top)
        out = [first] if first is not None else []
        more = list(self._load_top_level().get(top, ()))
        if getattr(sys.modules.get(top), "__file__", None) is None:
            # A namespace package (no __init__): its parts come from several distributions
            # that only the full RECORD-based map names (built once, on first need).
            if self._namespaces is None:
                import importlib.metadata

                self._namespaces = importlib.metadata.packages_distributions()
            for name in self._namespaces.get(top, ()):
                dist = self.by_name.get(_normalize(name))
                if dist is not None:
                    more.append(dist)
        for dist in more:
            if all(dist is not d for d in out):
                out.append(dist)
        return out


def _package_index() -> _PackageIndex:
    global _index
    index = _index
    if index is None:
        index = _index = _PackageIndex()
    return index


_SKIP_MODULES = frozenset(sys.stdlib_module_names) | frozenset(sys.builtin_module_names)


def collect_packages() -> dict[str, str]:
    """Versions of the installed distributions whose top-level modules are imported.

    Only modules present in ``sys.modules`` count, so the result names what the notebook
    actually uses, not everything installed. The result is recomputed only when
    ``sys.modules`` changed size; the distribution index is built once per process (a few
    ms; :func:`warm_capture_cache` builds it in the background).

    Returns:
        Distribution name to version, sorted by name.
    """
    global _packages
    n_modules = len(sys.modules)
    cached = _packages
    if cached is not None and cached[0] == n_modules:
        return dict(cached[1])
    with _index_lock:
        index = _package_index()
        found: dict[str, str] = {}
        for top in {name.partition(".")[0] for name in list(sys.modules)}:
            if top in _SKIP_MODULES or top == "__main__":
                continue
            for dist in index.resolve_all(top):
                found[dist.display_name()] = dist.version
    result = dict(sorted(found.items(), key=lambda item: item[0].lower()))
    _packages = (n_modules, result)
    return dict(result)
