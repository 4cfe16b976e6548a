"""Every public name has a real docstring; tab completion on ``nt.`` offers the API only.

A real docstring says what the name does (more than a signature), documents each
parameter under ``Args:`` and shows an ``Example:``. Exceptions need a description only.
"""

from __future__ import annotations

import inspect
import re
import subprocess
import sys

import pytest

import nbtrack
import nbtrack.mlflow

#: nbtrack.mlflow's main names: the fluent logging API, search and the client.
MLFLOW_MAIN = [
    "start_run", "end_run", "active_run", "get_run", "search_runs", "set_experiment",
    "log_param", "log_params", "log_metric", "log_metrics", "set_tag", "set_tags",
    "delete_tag", "log_artifact", "log_artifacts", "log_text", "log_dict", "log_figure",
    "delete_run", "restore_run", "MlflowClient",
]


def _documented_params(doc: str) -> set[str]:
    """Names listed in the ``Args:`` section of a Google-style docstring."""
    match = re.search(r"^Args:\n((?:[ \t]+.*\n?|\n)+)", doc, re.M)
    if not match:
        return set()
    return set(re.findall(r"^\s{4}(\*{0,2}\w+)(?: \(.*?\))?:", match.group(1), re.M))


def _params(obj: object) -> list[str]:
    target = obj.__init__ if inspect.isclass(obj) else obj  # type: ignore[misc]
    names = list(inspect.signature(target).parameters)
    return [n for n in names if n not in ("self", "cls")]


def _problems(name: str, obj: object) -> list[str]:
    doc = inspect.getdoc(obj) or ""
    if inspect.isclass(obj) and issubclass(obj, BaseException | Warning):
        return [] if len(doc) > 20 else [f"{name}: no description"]
    found = []
    summary = doc.split("\n", 1)[0]
    if len(summary) < 20 or summary.startswith(name + "("):
        found.append(f"{name}: no summary line (got {summary!r})")
    if "Example:" not in doc and "Example::" not in doc:
        found.append(f"{name}: no Example section")
    params = _params(obj)
    if params:
        missing = set(params) - _documented_params(doc)
        if missing:
            found.append(f"{name}: Args does not document {sorted(missing)}")
    return found


def _nbtrack_names() -> list[str]:
    return [n for n in nbtrack.__all__ if n != "__version__"]


@pytest.mark.parametrize("name", _nbtrack_names())
def test_every_public_name_has_a_real_docstring(name: str) -> None:
    assert _problems(name, getattr(nbtrack, name)) == []


@pytest.mark.parametrize("name", MLFLOW_MAIN)
def test_mlflow_main_names_have_a_real_docstring(name: str) -> None:
    assert _problems(f"mlflow.{name}", getattr(nbtrack.mlflow, name)) == []


def test_the_check_catches_a_signature_only_docstring() -> None:
    def log_thing(key: str, value: float) -> None:
        """log_thing(key, value)"""

    def documented(key: str, value: float) -> None:
        """Log a thing to the active run, with words.

        Args:
            key: The key.

        Example:
            >>> documented("a", 1.0)
        """

    assert len(_problems("log_thing", log_thing)) == 3  # summary, Example, Args
    assert _problems("documented", documented) == ["documented: Args does not document ['value']"]


def test_help_shows_more_than_a_signature() -> None:
    out = subprocess.run(
        [sys.executable, "-c", "import nbtrack as nt; help(nt.log_metric)"],
        capture_output=True, text=True, check=True, env={"PAGER": "cat", "TERM": "dumb"},
    ).stdout
    assert "Args:" in out and "NoActiveRunError" in out and "Example:" in out


def test_dir_offers_the_public_api_only() -> None:
    # A fresh interpreter: in this one, tests have imported submodules as attributes.
    code = (
        "import json, nbtrack as nt, nbtrack.tracking.query, nbtrack.views\n"
        "nt.get_run\n"  # a lazy import resolved: still listed once, nothing else added
        "print(json.dumps(dir(nt)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    names = __import__("json").loads(out)
    assert names == sorted(nbtrack.__all__)
    for private in ("Any", "annotations", "importlib", "tracking", "views", "errors"):
        assert private not in names
    assert "log_metric" in names and "show_runs" in names


def test_lazy_names_still_resolve_after_dir() -> None:
    assert "dashboard" in dir(nbtrack)
    assert callable(nbtrack.dashboard)
    assert nbtrack.search_runs.__module__ == "nbtrack.tracking.search"
