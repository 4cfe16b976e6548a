"""Changing the registry: register, update, alias and delete models and versions.

Each change appends records (see :mod:`nbtrack.models.registry.records`); version and alias
sequence numbers are claimed first (:mod:`nbtrack.models.registry.claims`).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from nbtrack.errors import ModelError
from nbtrack.models import logged
from nbtrack.models.registry.claims import claim_next
from nbtrack.models.registry.reads import (
    get_model_version,
    get_model_version_by_alias,
    get_registered_model,
    resolve,
)
from nbtrack.models.registry.records import (
    ModelVersion,
    RegisteredModel,
    model_row,
    require_model,
    store_or_default,
    write_record,
)
from nbtrack.models.uris import (
    RunModelURI,
    check_alias,
    check_model_name,
    parse_model_uri,
)
from nbtrack.storage.schema import experiment_id as slug_id
from nbtrack.tracking import validation

if TYPE_CHECKING:
    from nbtrack.storage.protocol import Store

def _check_text(value: str | None, what: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ModelError(f"{what} must be a string, got {type(value).__name__}")
    return validation.text(value, what)


def create_registered_model(
    name: str, *, tags: dict[str, Any] | None = None, description: str | None = None,
    store: Store | None = None,
) -> RegisteredModel:
    """Create an empty registered model.

    Raises:
        ModelError: ``name`` is malformed or already registered.
    """
    st = store_or_default(store)
    check_model_name(name)
    if model_row(st, name) is not None:
        raise ModelError(f"registered model {name!r} already exists")
    _ensure_model(st, name, description, tags)
    st.flush()
    return get_registered_model(name, store=st)


def _ensure_model(
    st: Store, name: str, description: str | None, tags: dict[str, Any] | None
) -> None:
    checked = validation.checked_texts(tags or {}, "tag", "registry tags")
    description = _check_text(description, "description")
    if model_row(st, name) is None:
        now = time.time_ns()
        write_record(st, "registered_models", (name, description, False, now // 1_000_000, now))
    elif description is not None:
        _update_model(st, name, description)
    for k, v in checked.items():
        write_record(st, "registry_tags", (name, None, k, v, time.time_ns()))


def register_model(
    model_uri: str, name: str, *, tags: dict[str, Any] | None = None,
    description: str | None = None, store: Store | None = None,
) -> ModelVersion:
    """Register the model at ``model_uri`` as a new version of ``name`` (created if new).

    Safe under concurrent writers: each call gets its own version number (module docstring).

    Args:
        store: the store; the current one when None.
        model_uri: ``runs:/<run_id>/<model>`` (or a ``models:/`` URI to copy a version).
        name: the registered model's name.
        tags: tags of the new version.
        description: description of the new version.

    Raises:
        ModelError: a malformed name or URI.
        ModelNotFoundError, RunNotFoundError: the URI names nothing.

    Example:
        >>> v = nt.register_model(info.model_uri, "churn-model")  # doctest: +SKIP
    """
    st = store_or_default(store)
    check_model_name(name)
    uri = parse_model_uri(model_uri)
    if isinstance(uri, RunModelURI):
        info = logged.get_model_info(uri.run_id, uri.name, store=st)
    else:
        src = resolve(uri, store=st)
        info = logged.get_model_info(src.run_id, src.model_name, store=st, include_deleted=True)
    checked = validation.checked_texts(tags or {}, "tag", "register_model")
    description = _check_text(description, "description")
    _ensure_model(st, name, None, None)
    version = claim_next(
        st, f"{slug_id(name)}/versions", "v",
        {"name": name, "run_id": info.run_id, "model_name": info.name},
    )
    now = time.time_ns()
    write_record(st, "model_versions", (
        name, version, info.run_id, info.name, info.model_uri, description, False,
        now // 1_000_000, now,
    ))
    for k, v in checked.items():
        write_record(st, "registry_tags", (name, version, k, v, now))
    st.flush()
    return get_model_version(name, version, store=st)


def _update_model(st: Store, name: str, description: str | None) -> None:
    row = require_model(st, name)
    write_record(st, "registered_models",
           (name, description, False, row["creation_time"], time.time_ns()))


def update_registered_model(
    name: str, description: str | None, *, store: Store | None = None
) -> RegisteredModel:
    """Set the description of a registered model."""
    st = store_or_default(store)
    _update_model(st, name, _check_text(description, "description"))
    st.flush()
    return get_registered_model(name, store=st)


def update_model_version(
    name: str, version: int | str, description: str | None, *, store: Store | None = None
) -> ModelVersion:
    """Set the description of a model version."""
    st = store_or_default(store)
    mv = get_model_version(name, version, store=st)
    write_record(st, "model_versions", (
        mv.name, mv.version, mv.run_id, mv.model_name, mv.source,
        _check_text(description, "description"), False, mv.creation_time, time.time_ns(),
    ))
    st.flush()
    return get_model_version(name, version, store=st)


def set_model_alias(name: str, alias: str, version: int | str, *, store: Store | None = None) -> None:
    """Point ``name@alias`` at ``version`` (moving it if it pointed elsewhere).

    The move is one record: a reader sees the old version or the new one, never none.
    Concurrent moves are ordered by a claimed sequence number; the highest wins.

    Raises:
        ModelError: a malformed or reserved alias.
        ModelNotFoundError: no such model or version.

    Args:
        name: the registered model's name.
        alias: the alias, such as ``champion``.
        version: the version number the alias points to.
        store: the store; the current one when None.

    Example:
        >>> nt.set_model_alias("churn-model", "champion", 2)  # doctest: +SKIP
    """
    st = store_or_default(store)
    check_alias(alias)
    mv = get_model_version(name, version, store=st)
    write_alias(st, name, alias, mv.version)


def write_alias(st: Store, name: str, alias: str, version: int | None) -> None:
    seq = claim_next(
        st, f"{slug_id(name)}/aliases/{slug_id(alias)}", "s",
        {"name": name, "alias": alias, "version": version},
    )
    write_record(st, "model_aliases", (name, alias, version, seq, st.writer_id, time.time_ns()))
    st.flush()


def delete_model_alias(name: str, alias: str, *, store: Store | None = None) -> None:
    """Remove ``name@alias``.

    Raises:
        ModelNotFoundError: no such model or alias.

    Args:
        name: the registered model's name.
        alias: the alias, such as ``champion``.
        store: the store; the current one when None.

    Example:
        >>> nt.delete_model_alias("churn-model", "champion")  # doctest: +SKIP
    """
    st = store_or_default(store)
    get_model_version_by_alias(name, alias, store=st)
    write_alias(st, name, alias, None)


def delete_model_version(name: str, version: int | str, *, store: Store | None = None) -> None:
    """Delete a version (its number is never reused; aliases to it disappear)."""
    st = store_or_default(store)
    mv = get_model_version(name, version, store=st)
    write_record(st, "model_versions", (
        mv.name, mv.version, mv.run_id, mv.model_name, mv.source, mv.description, True,
        mv.creation_time, time.time_ns(),
    ))
    st.flush()


def delete_registered_model(name: str, *, store: Store | None = None) -> None:
    """Delete a registered model and its versions (version numbers are never reused)."""
    st = store_or_default(store)
    row = require_model(st, name)
    now = time.time_ns()
    for r in st.query("SELECT * FROM model_versions WHERE name = ?", [name]).to_pylist():
        write_record(st, "model_versions", (
            name, r["version"], r["run_id"], r["model_name"], r["source"], r["description"],
            True, r["creation_time"], now,
        ))
    write_record(st, "registered_models", (name, row["description"], True, row["creation_time"], now))
    st.flush()
