"""Model URIs: ``runs:/<run_id>/<name>``, ``models:/<name>/<version>``, ``models:/<name>@<alias>``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from nbtrack.errors import ModelError

#: Registered model names: letters, digits, ``_ . -`` and spaces; no ``/`` or ``@``.
_NAME = re.compile(r"[\w][\w.\- ]{0,249}")
#: Aliases: MLflow's rule (a letter or ``_`` first), minus its reserved ``latest``/``v<N>``.
_ALIAS = re.compile(r"[A-Za-z_][\w\-]{0,254}")


@dataclass(frozen=True)
class RunModelURI:
    """``runs:/<run_id>/<name>``: the model ``name`` logged by run ``run_id``."""

    run_id: str
    name: str


@dataclass(frozen=True)
class RegistryURI:
    """``models:/<name>/<version>`` (or ``latest``) or ``models:/<name>@<alias>``."""

    name: str
    version: int | None = None
    alias: str | None = None


def check_model_name(name: object) -> str:
    """A registered model name, checked.

    Raises:
        ModelError: not a string of letters, digits, ``_ . -`` and spaces (at most 250),
            or ``.``/``..``.
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name) or name.strip(".") == "":
        raise ModelError(
            f"registered model name {name!r} is not allowed: use letters, digits, '_', '.', "
            "'-' and spaces (at most 250 characters, no '/' or '@')"
        )
    return name


def check_alias(alias: object) -> str:
    """An alias name, checked (``latest`` and ``v<digits>`` are reserved, as in MLflow).

    Raises:
        ModelError: a malformed or reserved alias.
    """
    if not isinstance(alias, str) or not _ALIAS.fullmatch(alias):
        raise ModelError(
            f"alias {alias!r} is not allowed: start with a letter or '_', then letters, "
            "digits, '_' or '-' (at most 255 characters)"
        )
    if alias.lower() == "latest" or re.fullmatch(r"[vV]\d+", alias):
        raise ModelError(f"alias {alias!r} is reserved (latest, v<number>); choose another")
    return alias


def check_version(version: object) -> int:
    """A version number (int >= 1, or its decimal text).

    Raises:
        ModelError: anything else.
    """
    if isinstance(version, str) and version.isdigit():
        version = int(version)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ModelError(f"model version must be a whole number >= 1, got {version!r}")
    return version


def parse_model_uri(uri: object) -> RunModelURI | RegistryURI:
    """Parse a model URI.

    Raises:
        ModelError: not one of the three forms (the message shows them).
    """
    forms = "runs:/<run_id>/<name>, models:/<name>/<version> or models:/<name>@<alias>"
    if not isinstance(uri, str):
        raise ModelError(f"a model URI is a string ({forms}), got {type(uri).__name__}")
    if uri.startswith("runs:/"):
        rest = uri[len("runs:/"):].lstrip("/")
        run_id, _, name = rest.partition("/")
        if not run_id or not name:
            raise ModelError(f"bad model URI {uri!r}: use {forms}")
        return RunModelURI(run_id, name.rstrip("/"))
    if uri.startswith("models:/"):
        rest = uri[len("models:/"):].lstrip("/")
        if "@" in rest:
            name, _, alias = rest.rpartition("@")
            return RegistryURI(check_model_name(name), alias=check_alias(alias))
        name, _, version = rest.rpartition("/")
        if not name:
            raise ModelError(f"bad model URI {uri!r}: use {forms}")
        if version == "latest":
            return RegistryURI(check_model_name(name))
        return RegistryURI(check_model_name(name), version=check_version(version))
    raise ModelError(f"bad model URI {uri!r}: use {forms}")
