"""The model registry: named models, numbered versions, aliases, tags and descriptions.

Everything is an immutable record in the store's registry tables (docs/format.md): the
newest record of a registered model, version or tag wins; an alias's record with the highest
``seq`` wins. Two numbers must never be given twice, even by processes on different machines
sharing an object store, so they are *claimed* before use (``_claim_next``): claim files
``registry/<model id>/versions/v<N>.json`` and ``.../aliases/<alias id>/s<N>.json`` are
created with exclusive-create semantics (a hard link locally, a conditional PUT on object
storage). The process whose create succeeds owns the number; a loser tries the next one. So
racing registrations of one name get distinct, dense versions 1, 2, ... (a process that dies
between its claim and its record leaves a gap, as a database sequence would).
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nbtrack.errors import ModelError, ModelNotFoundError, StoreError
from nbtrack.models import logged
from nbtrack.models.uris import (
    RegistryURI,
    RunModelURI,
    check_alias,
    check_model_name,
    check_version,
    parse_model_uri,
)
from nbtrack.storage.schema import REGISTRY_PARTITION
from nbtrack.storage.schema import experiment_id as slug_id
from nbtrack.tracking import settings, validation

if TYPE_CHECKING:
    from nbtrack.storage.protocol import Store

#: How many numbers a writer tries before giving up (only reached if claims keep failing).
_MAX_CLAIM_TRIES = 10_000


@dataclass(frozen=True)
class ModelVersion:
    """One version of a registered model: which run's model it is, and its metadata."""

    name: str
    version: int
    run_id: str
    model_name: str
    source: str
    description: str | None
    creation_time: int  # ms since the epoch
    last_updated_time: int
    tags: dict[str, str] = field(default_factory=dict)
    aliases: list[str] = field(default_factory=list)

    @property
    def model_uri(self) -> str:
        return f"models:/{self.name}/{self.version}"


@dataclass(frozen=True)
class RegisteredModel:
    """A registered model: its name, description, tags, aliases and newest version."""

    name: str
    description: str | None
    creation_time: int
    last_updated_time: int
    tags: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, int] = field(default_factory=dict)
    latest_version: int | None = None


def store_or_default(store: Store | None) -> Store:
    return store or settings.get_store()


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _claim_next(st: Store, folder: str, prefix: str, payload: dict[str, Any]) -> int:
    """Claim the next free number in ``registry/<folder>`` (see the module docstring)."""
    taken = [int(n[len(prefix):].split(".")[0]) for n in st.claims(folder)
             if n.startswith(prefix) and n[len(prefix):].split(".")[0].isdigit()]
    n = max(taken, default=0) + 1
    body = json.dumps({**payload, "writer": st.writer_id, "host": socket.gethostname(),
                       "pid": os.getpid(), "time_ms": _now_ms()}).encode()
    for _ in range(_MAX_CLAIM_TRIES):
        if st.claim(f"{folder}/{prefix}{n:09d}.json", body):
            return n
        n += 1
    raise StoreError(f"could not claim a number in registry/{folder} after many tries")


def write_record(st: Store, table: str, row: tuple[Any, ...]) -> None:
    st.add_record(table, REGISTRY_PARTITION, row)


# --------------------------------------------------------------------------- reads
def model_row(st: Store, name: str) -> dict[str, Any] | None:
    t = st.query("SELECT * FROM registered_models WHERE name = ?", [name])
    return t.to_pylist()[0] if t.num_rows else None


def _tags(st: Store, name: str, version: int | None) -> dict[str, str]:
    if version is None:
        t = st.query(
            "SELECT key, value FROM registry_tags WHERE name = ? AND version IS NULL "
            "ORDER BY key", [name])
    else:
        t = st.query(
            "SELECT key, value FROM registry_tags WHERE name = ? AND version = ? ORDER BY key",
            [name, version])
    return dict(zip(t.column(0).to_pylist(), t.column(1).to_pylist(), strict=True))


def aliases_of(st: Store, name: str) -> dict[str, int]:
    t = st.query("SELECT alias, version FROM model_aliases WHERE name = ? ORDER BY alias", [name])
    return dict(zip(t.column(0).to_pylist(), t.column(1).to_pylist(), strict=True))


def require_model(st: Store, name: str) -> dict[str, Any]:
    row = model_row(st, check_model_name(name))
    if row is None:
        raise ModelNotFoundError(
            f"no registered model {name!r}; register one with nbtrack.register_model("
            f"'runs:/<run_id>/<model>', {name!r})"
        )
    return row


def get_registered_model(name: str, *, store: Store | None = None) -> RegisteredModel:
    """The registered model ``name`` with its tags, aliases and latest version.

    Raises:
        ModelNotFoundError: no such registered model.
    """
    st = store_or_default(store)
    with_reads = require_model(st, name)
    t = st.query("SELECT max(version) FROM model_versions WHERE name = ?", [name])
    return RegisteredModel(
        name=name, description=with_reads["description"],
        creation_time=with_reads["creation_time"],
        last_updated_time=with_reads["last_updated_time"], tags=_tags(st, name, None),
        aliases=aliases_of(st, name), latest_version=t.column(0)[0].as_py(),
    )


def version_from_row(st: Store, r: dict[str, Any], aliases: dict[str, int]) -> ModelVersion:
    return ModelVersion(
        name=r["name"], version=r["version"], run_id=r["run_id"], model_name=r["model_name"],
        source=r["source"], description=r["description"], creation_time=r["creation_time"],
        last_updated_time=r["last_updated_time"], tags=_tags(st, r["name"], r["version"]),
        aliases=sorted(a for a, v in aliases.items() if v == r["version"]),
    )


def get_model_version(name: str, version: int | str, *, store: Store | None = None) -> ModelVersion:
    """Version ``version`` of registered model ``name``.

    Raises:
        ModelNotFoundError: no such model or version.
    """
    st = store_or_default(store)
    require_model(st, name)
    v = check_version(version)
    t = st.query("SELECT * FROM model_versions WHERE name = ? AND version = ?", [name, v])
    if t.num_rows == 0:
        raise ModelNotFoundError(f"registered model {name!r} has no version {v}")
    return version_from_row(st, t.to_pylist()[0], aliases_of(st, name))


def get_model_version_by_alias(name: str, alias: str, *, store: Store | None = None) -> ModelVersion:
    """The version that ``name@alias`` points to now.

    Raises:
        ModelNotFoundError: no such model or alias.

    Args:
        name: the registered model's name.
        alias: the alias, such as ``champion``.
        store: the store; the current one when None.

    Example:
        >>> nt.get_model_version_by_alias("churn-model", "champion").version  # doctest: +SKIP
    """
    st = store_or_default(store)
    require_model(st, name)
    aliases = aliases_of(st, name)
    if check_alias(alias) not in aliases:
        known = ", ".join(aliases) or "none"
        raise ModelNotFoundError(
            f"registered model {name!r} has no alias {alias!r} (aliases: {known})")
    return get_model_version(name, aliases[alias], store=st)


def latest_version(name: str, *, store: Store | None = None) -> ModelVersion:
    """The highest version of ``name``.

    Raises:
        ModelNotFoundError: no such model, or it has no version.
    """
    model = get_registered_model(name, store=store)
    if model.latest_version is None:
        raise ModelNotFoundError(f"registered model {name!r} has no version")
    return get_model_version(name, model.latest_version, store=store)


def resolve(uri: RegistryURI, *, store: Store | None = None) -> ModelVersion:
    """The version a ``models:/`` URI names."""
    if uri.alias is not None:
        return get_model_version_by_alias(uri.name, uri.alias, store=store)
    if uri.version is None:
        return latest_version(uri.name, store=store)
    return get_model_version(uri.name, uri.version, store=store)


# --------------------------------------------------------------------------- writes
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
    version = _claim_next(
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
    seq = _claim_next(
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
