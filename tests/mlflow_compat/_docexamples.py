"""Extract the Python examples from the docstrings of the installed (real) MLflow, and run one
with real MLflow or with ``nbtrack.mlflow`` (only the import lines differ)."""

from __future__ import annotations

import re
import textwrap

_IMPORTS = [
    (re.compile(r"^(\s*)import mlflow\.(\w+)\s*$", re.M), r"\1import nbtrack.mlflow as mlflow"),
    (re.compile(r"^(\s*)import mlflow\s*$", re.M), r"\1import nbtrack.mlflow as mlflow"),
    (re.compile(r"^(\s*)from mlflow\.tracking import ", re.M), r"\1from nbtrack.mlflow import "),
    (
        re.compile(r"^(\s*)from mlflow\.entities import ", re.M),
        r"\1from nbtrack.mlflow.entities import ",
    ),
    (re.compile(r"^(\s*)from mlflow import ", re.M), r"\1from nbtrack.mlflow import "),
]


def examples(obj: object) -> list[str]:
    """The dedented ``.. code-block:: python`` blocks of ``obj``'s docstring."""
    lines = (getattr(obj, "__doc__", None) or "").splitlines()
    out = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.strip() != ".. code-block:: python":
            i += 1
            continue
        indent = len(line) - len(line.lstrip())
        i += 1
        while i < len(lines) and lines[i].strip().startswith(":"):
            i += 1  # directive options (:caption: ...)
        body = []
        while i < len(lines) and (
            not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > indent
        ):
            body.append(lines[i])
            i += 1
        out.append(textwrap.dedent("\n".join(body)).strip() + "\n")
    return out


def to_nbtrack(code: str) -> str:
    """The same code with its MLflow imports pointing at nbtrack.mlflow."""
    for pattern, repl in _IMPORTS:
        code = pattern.sub(repl, code)
    return code
