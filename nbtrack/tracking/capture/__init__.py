"""Context capture: what a run records about where and how it ran.

Collects git state (commit, branch, dirty flag, diff, remote URL without credentials),
the Python environment (interpreter, platform, host, versions of the packages that are
imported), the hardware (CPU, cores, memory, GPUs) and the notebook path, plus the
literal parameters of a cell's source. ``nbtrack.ipython`` hands in the cell source and the
user namespace; nothing here imports IPython, ipywidgets or plotly, and only the standard
library is imported at module level.

Costs and caching (measured on a 2-core VM, Python 3.11):

- environment and hardware are collected once per process and cached. Package versions
  come from an index of the ``*.dist-info`` folders on ``sys.path`` (names and versions
  from the folder names, ``top_level.txt``, and ``RECORD`` only for modules whose
  distribution has another name), built in a few ms instead of the 0.25-1 s of
  ``importlib.metadata.packages_distributions()``; :func:`warm_capture_cache` builds it in
  a background thread when the extension loads. Later calls cost well under 1 ms: the
  package list is recomputed only when ``sys.modules`` changed size.
- git is asked through one ``git status`` subprocess (about 3-7 ms) plus, when the tree is
  dirty, one ``git diff`` (capped at :data:`MAX_DIFF_BYTES`). Results are cached per
  directory for :data:`GIT_TTL_S` seconds so a "run all" of many tracked cells pays once;
  the remote URL is cached for :data:`GIT_REMOTE_TTL_S`.

Modules
    This package's ``__init__`` is its door: code outside it imports from
    ``nbtrack.tracking.capture``. Inside: :mod:`.git`, :mod:`.machine` (interpreter,
    platform, hardware), :mod:`.packages` and :mod:`.cell` (notebook path, a cell's literal
    params and assigned names) each collect one thing; :mod:`.caches` resets and warms them
    all. An import-linter contract keeps the four collectors independent of each other.
"""

from __future__ import annotations

from nbtrack.tracking.capture.caches import reset_capture_cache, warm_capture_cache
from nbtrack.tracking.capture.cell import extract_literal_params, find_notebook_path, names_assigned
from nbtrack.tracking.capture.git import (
    GIT_REMOTE_TTL_S,
    GIT_TIMEOUT_S,
    GIT_TTL_S,
    MAX_DIFF_BYTES,
    GitInfo,
    collect_git_info,
    peek_git_info,
    strip_url_credentials,
)
from nbtrack.tracking.capture.machine import collect_environment, collect_hardware
from nbtrack.tracking.capture.packages import collect_packages

__all__ = [
    "GIT_REMOTE_TTL_S",
    "GIT_TIMEOUT_S",
    "GIT_TTL_S",
    "MAX_DIFF_BYTES",
    "GitInfo",
    "collect_environment",
    "collect_git_info",
    "collect_hardware",
    "collect_packages",
    "extract_literal_params",
    "find_notebook_path",
    "names_assigned",
    "peek_git_info",
    "reset_capture_cache",
    "strip_url_credentials",
    "warm_capture_cache",
]
