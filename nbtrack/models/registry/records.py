"""Registry records: the ``ModelVersion``/``RegisteredModel`` types and the rows they come from.

Every registry fact is an immutable record in the store's registry tables (docs/format.md):
the newest record of a registered model, version or tag wins; an alias's record with the
highest ``seq`` wins.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nbtrack.errors import ModelNotFoundError
from nbtrack.models.uris import check_model_name
from nbtrack.storage.schema import REGISTRY_PARTITION
from nbtrack.tracking import settings

if TYPE_CHECKING:
    from nbtrack.storage.protocol import Store

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
    """``store``, else the current store."""
    return store or settings.get_store()


def write_record(st: Store, table: str, row: tuple[Any, ...]) -> None:
    """Add one immutable record to a registry table."""
    st.add_record(table, REGISTRY_PARTITION, row)


def model_row(st: Store, name: str) -> dict[str, Any] | None:
    """The newest record of registered model ``name``, or None."""
    t = st.query("SELECT * FROM registered_models WHERE name = ?", [name])
    return t.to_pylist()[0] if t.num_rows else None


def tags_of(st: Store, name: str, version: int | None) -> dict[str, str]:
    """The tags of a registered model (``version`` None) or of one of its versions."""
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
    """Registered model ``name``'s aliases and the versions they point at."""
    t = st.query("SELECT alias, version FROM model_aliases WHERE name = ? ORDER BY alias", [name])
    return dict(zip(t.column(0).to_pylist(), t.column(1).to_pylist(), strict=True))


def require_model(st: Store, name: str) -> dict[str, Any]:
    """``model_row``, or ``ModelNotFoundError`` saying how to register one."""
    row = model_row(st, check_model_name(name))
    if row is None:
        raise ModelNotFoundError(
            f"no registered model {name!r}; register one with nbtrack.register_model("
            f"'runs:/<run_id>/<model>', {name!r})"
        )
    return row


def version_from_row(st: Store, r: dict[str, Any], aliases: dict[str, int]) -> ModelVersion:
    """A ``model_versions`` record as a ``ModelVersion``, with its tags and aliases."""
    return ModelVersion(
        name=r["name"], version=r["version"], run_id=r["run_id"], model_name=r["model_name"],
        source=r["source"], description=r["description"], creation_time=r["creation_time"],
        last_updated_time=r["last_updated_time"], tags=tags_of(st, r["name"], r["version"]),
        aliases=sorted(a for a, v in aliases.items() if v == r["version"]),
    )
