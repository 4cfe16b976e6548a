"""Cell capture: the notebook's path, and the literal params and assigned names of a cell.

``nbtrack.ipython`` hands in the cell source and the user namespace; nothing here imports
IPython.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Mapping
from typing import Any

__all__ = ["extract_literal_params", "find_notebook_path", "names_assigned"]


def find_notebook_path(user_ns: Mapping[str, Any] | None = None) -> str | None:
    """Path of the notebook the kernel runs, when the kernel can know it.

    Looks at VS Code's ``__vsc_ipynb_file__`` in the user namespace, then at
    ``JPY_SESSION_NAME``, which Jupyter Server (2.x) sets in the kernel's environment.

    Args:
        user_ns: The kernel's user namespace, if any.

    Returns:
        The path, or ``None`` when it is unknown (a plain IPython or Python process).
    """
    if user_ns is not None:
        vscode = user_ns.get("__vsc_ipynb_file__")
        if isinstance(vscode, str) and vscode:
            return vscode
    session = os.environ.get("JPY_SESSION_NAME")
    if session:
        return session
    return None


def _literal(node: ast.expr) -> tuple[bool, Any]:
    try:
        return True, ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False, None


def _is_plain_value(value: Any) -> bool:
    # literal_eval also accepts sets, bytes and complex numbers; a param is a plain value
    if value is None or isinstance(value, bool | int | float | str):
        return True
    if isinstance(value, list | tuple):
        return all(_is_plain_value(item) for item in value)
    if isinstance(value, dict):
        return all(
            _is_plain_value(k) and not isinstance(k, list | dict) and _is_plain_value(v)
            for k, v in value.items()
        )
    return False


def _bind(target: ast.expr, value: ast.expr, found: dict[str, Any]) -> None:
    if isinstance(target, ast.Name):
        ok, literal = _literal(value)
        if ok and _is_plain_value(literal):
            found[target.id] = literal
        else:
            # a later non-literal assignment hides an earlier literal one
            found.pop(target.id, None)
    elif isinstance(target, ast.Tuple | ast.List):
        elts = target.elts
        if (
            isinstance(value, ast.Tuple | ast.List)
            and len(value.elts) == len(elts)
            and not any(isinstance(e, ast.Starred) for e in elts)
        ):
            for sub_target, sub_value in zip(elts, value.elts, strict=True):
                _bind(sub_target, sub_value, found)
            return
        for name in _names_bound(target):
            found.pop(name, None)


def _names_bound(target: ast.AST) -> list[str]:
    return [
        node.id
        for node in ast.walk(target)
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)
    ]


def extract_literal_params(source: str | ast.Module) -> dict[str, Any]:
    """Names and values of a cell's top-level assignments of plain literal values.

    Captured: ``x = 3``, ``a = b = 1``, ``x: int = 3``, ``a, b = 1, 2``, negative numbers,
    strings, booleans, ``None`` and lists/tuples/dicts of those. Not captured: calls,
    names, expressions that need evaluation, imports, and any assignment inside
    ``if``/``for``/``while``/``with``/``try``/``def``/``class``. When a name is assigned
    more than once at top level the last assignment wins; a later non-literal assignment
    (``lr = 0.1`` then ``lr = schedule(lr)``) removes the name.

    Args:
        source: Python source of the cell body (already transformed from IPython syntax),
            or its parsed module.

    Returns:
        Name to value, in order of first assignment.

    Raises:
        SyntaxError: When ``source`` is a string that does not parse.
    """
    tree = ast.parse(source) if isinstance(source, str) else source
    found: dict[str, Any] = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign):
            for target in stmt.targets:
                _bind(target, stmt.value, found)
        elif isinstance(stmt, ast.AnnAssign):
            if stmt.value is not None and isinstance(stmt.target, ast.Name):
                _bind(stmt.target, stmt.value, found)
        elif isinstance(stmt, ast.AugAssign | ast.Import | ast.ImportFrom):
            # `lr *= 2` or `import x as lr` rebinds the name to something non-literal
            targets = stmt.names if not isinstance(stmt, ast.AugAssign) else []
            for alias in targets:
                found.pop((alias.asname or alias.name).partition(".")[0], None)
            if isinstance(stmt, ast.AugAssign):
                for name in _names_bound(stmt.target):
                    found.pop(name, None)
        elif isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            found.pop(stmt.name, None)
    return found


def names_assigned(source: str | ast.Module) -> set[str]:
    """Every name a cell may bind, at any depth (assignments, loops, imports, defs, ``with``).

    Used to accept ``-p VAR`` for a variable the cell itself creates.

    Args:
        source: Python source or its parsed module.

    Returns:
        The set of names.
    """
    tree = ast.parse(source) if isinstance(source, str) else source
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            for alias in node.names:
                names.add((alias.asname or alias.name).partition(".")[0])
    return names
