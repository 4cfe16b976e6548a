"""The model registry: named models, numbered versions, aliases, tags and descriptions.

Everything is an immutable record in the store's registry tables (docs/format.md): the
newest record of a registered model, version or tag wins; an alias's record with the highest
``seq`` wins. Two numbers must never be given twice, even by processes on different machines
sharing an object store, so they are *claimed* before use (``claims.claim_next``): claim files
``registry/<model id>/versions/v<N>.json`` and ``.../aliases/<alias id>/s<N>.json`` are
created with exclusive-create semantics (a hard link locally, a conditional PUT on object
storage). The process whose create succeeds owns the number; a loser tries the next one. So
racing registrations of one name get distinct, dense versions 1, 2, ... (a process that dies
between its claim and its record leaves a gap, as a database sequence would).

Split by noun: ``records`` (the record types and rows), ``claims`` (numbers never given
twice), ``reads`` (look models and versions up) and ``writes`` (register, update, alias,
delete). This ``__init__`` is the door: other modules import from ``nbtrack.models.registry``.
"""

from __future__ import annotations

from nbtrack.models.registry.reads import (
    get_model_version,
    get_model_version_by_alias,
    get_registered_model,
    latest_version,
    resolve,
)
from nbtrack.models.registry.records import (
    ModelVersion,
    RegisteredModel,
    aliases_of,
    model_row,
    require_model,
    store_or_default,
    version_from_row,
    write_record,
)
from nbtrack.models.registry.writes import (
    create_registered_model,
    delete_model_alias,
    delete_model_version,
    delete_registered_model,
    register_model,
    set_model_alias,
    update_model_version,
    update_registered_model,
    write_alias,
)

__all__ = [
    "ModelVersion", "RegisteredModel", "aliases_of", "create_registered_model",
    "delete_model_alias", "delete_model_version", "delete_registered_model", "get_model_version",
    "get_model_version_by_alias", "get_registered_model", "latest_version", "model_row",
    "register_model", "require_model", "resolve", "set_model_alias", "store_or_default",
    "update_model_version", "update_registered_model", "version_from_row", "write_alias",
    "write_record",
]
