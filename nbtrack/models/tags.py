"""Tags of registered models and model versions (newest record per key wins; None deletes)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from nbtrack.models.registry import get_model_version, require_model, store_or_default, write_record
from nbtrack.tracking import validation

if TYPE_CHECKING:
    from nbtrack.storage.protocol import Store


def _set_tag(st: Store, name: str, version: int | None, key: str, value: Any) -> None:
    checked = validation.checked_texts({key: value}, "tag", "set tag") if value is not None else {
        validation.check_key(key, "tag key"): None}
    for k, v in checked.items():
        write_record(st, "registry_tags", (name, version, k, v, time.time_ns()))
    st.flush()


def set_registered_model_tag(name: str, key: str, value: Any, *, store: Store | None = None) -> None:
    st = store_or_default(store)
    require_model(st, name)
    _set_tag(st, name, None, key, value)


def delete_registered_model_tag(name: str, key: str, *, store: Store | None = None) -> None:
    st = store_or_default(store)
    require_model(st, name)
    _set_tag(st, name, None, key, None)


def set_model_version_tag(
    name: str, version: int | str, key: str, value: Any, *, store: Store | None = None
) -> None:
    st = store_or_default(store)
    mv = get_model_version(name, version, store=st)
    _set_tag(st, name, mv.version, key, value)


def delete_model_version_tag(
    name: str, version: int | str, key: str, *, store: Store | None = None
) -> None:
    st = store_or_default(store)
    mv = get_model_version(name, version, store=st)
    _set_tag(st, name, mv.version, key, None)
