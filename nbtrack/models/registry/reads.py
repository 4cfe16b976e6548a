"""Reading the registry: a registered model, a version by number or alias, the latest one."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nbtrack.errors import ModelNotFoundError
from nbtrack.models.registry.records import (
    ModelVersion,
    RegisteredModel,
    aliases_of,
    require_model,
    store_or_default,
    tags_of,
    version_from_row,
)
from nbtrack.models.uris import RegistryURI, check_alias, check_version

if TYPE_CHECKING:
    from nbtrack.storage.protocol import Store

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
        last_updated_time=with_reads["last_updated_time"], tags=tags_of(st, name, None),
        aliases=aliases_of(st, name), latest_version=t.column(0)[0].as_py(),
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
