"""The import graph: no module inside the package imports the package root, no cycles.

import-linter's contracts (pyproject.toml) keep layers pointing downward; these checks cover
what a layers contract cannot say: ``nbtrack/__init__.py`` only re-exports, so nothing inside
may import it (that made the ``nbtrack <-> nbtrack.ipython`` cycle), and the package's
import graph has no cycle between its modules at all.
"""

from __future__ import annotations

import grimp
import pytest


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("nbtrack")


def test_no_module_inside_the_package_imports_the_package_root(graph: grimp.ImportGraph) -> None:
    importers = sorted(graph.find_modules_that_directly_import("nbtrack"))
    assert importers == []


def test_the_tracking_layer_has_no_import_cycle(graph: grimp.ImportGraph) -> None:
    modules = sorted(m for m in graph.modules if m.startswith("nbtrack.tracking."))
    cycles = []
    for a in modules:
        for b in graph.find_modules_directly_imported_by(a):
            if b.startswith("nbtrack.tracking.") and graph.chain_exists(b, a):
                cycles.append((a, b))
    assert cycles == []
