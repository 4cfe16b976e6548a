"""Models and registry records that another tool recorded (an MLflow import).

The importer keeps MLflow's names, version numbers, aliases, tags, descriptions and times.
Version numbers are claimed exactly as MLflow gave them (``registry/<model id>/versions``),
so later registrations continue after them; a number nbtrack already has is left alone (an
import run twice adds nothing). An MLflow model directory becomes an nbtrack model of the
run that logged it: scikit-learn models stored with skops or (cloud)pickle load natively;
other flavors are kept (their files as artifacts, the flavor as ``mlflow.<flavor>``) and
refuse to load with a message saying so.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from nbtrack.models.logged import ModelInfo, write_model
from nbtrack.models.registry import model_row, write_alias, write_record
from nbtrack.models.uris import check_alias, check_model_name
from nbtrack.storage.schema import experiment_id as slug_id
from nbtrack.tracking import validation

if TYPE_CHECKING:
    from nbtrack.storage.protocol import Store


def _mlmodel(files: dict[str, bytes]) -> dict[str, Any]:
    import yaml

    return yaml.safe_load(files["MLmodel"].decode("utf-8")) or {}


def import_mlflow_model(
    st: Store, experiment: str, run_id: str, name: str, files: dict[str, bytes]
) -> ModelInfo | None:
    """Record an MLflow model directory (``files`` by relative path) as model ``name`` of
    the run; None when it has no readable ``MLmodel``."""
    if "MLmodel" not in files:
        return None
    try:
        meta = _mlmodel(files)
    except (ValueError, UnicodeDecodeError):
        return None
    flavors = meta.get("flavors") or {}
    python_version = str((flavors.get("python_function") or {}).get("python_version") or "")
    name = validation.artifact_path(name, "model name")
    sk = flavors.get("sklearn")
    requirements = [
        line.strip() for line in files.get("requirements.txt", b"").decode("utf-8", "replace")
        .splitlines() if line.strip() and not line.startswith(("#", "-"))
    ]
    if sk and sk.get("pickled_model") in files:
        data = files[sk["pickled_model"]]
        extra = {k: v for k, v in files.items() if k != sk["pickled_model"]}
        if sk.get("serialization_format") == "skops":
            import skops.io as sio

            trusted = sorted(sio.get_untrusted_types(data=data))
            main, fmt, loader = "model.skops", "skops", {"trusted": trusted}
        else:
            main, fmt, loader = "model.pkl", "pickle", {}
        return write_model(
            st, experiment, run_id, name, flavor="sklearn", fmt=fmt, files={main: data},
            main=main, loader=loader, framework_version=sk.get("sklearn_version"),
            python_version=python_version, requirements=requirements, signature=None,
            extra_files=extra,
        )
    kind = next((f for f in flavors if f != "python_function"), "python_function")
    return write_model(
        st, experiment, run_id, name, flavor=f"mlflow.{kind}", fmt="mlflow", files=files,
        main="MLmodel", loader={}, framework_version=None, python_version=python_version,
        requirements=requirements, signature=None,
    )


def import_registered_model(
    st: Store, name: str, *, description: str | None, creation_time: int | None,
    tags: dict[str, str],
) -> bool:
    """Create the registered model unless nbtrack has it; True if created."""
    check_model_name(name)
    if model_row(st, name) is not None:
        return False
    now = time.time_ns()
    created = creation_time if creation_time is not None else now // 1_000_000
    write_record(st, "registered_models", (name, description, False, int(created), now))
    for k, v in validation.checked_texts(tags, "tag", "import").items():
        write_record(st, "registry_tags", (name, None, k, v, now))
    return True


def import_version(
    st: Store, name: str, version: int, *, info: ModelInfo, description: str | None,
    creation_time: int | None, tags: dict[str, str],
) -> bool:
    """Version ``version`` of ``name`` for ``info``, unless that number is taken; True if
    written."""
    body = json.dumps({"name": name, "run_id": info.run_id, "model_name": info.name,
                       "imported": True}).encode()
    if not st.claim(f"{slug_id(name)}/versions/v{version:09d}.json", body):
        return False
    now = time.time_ns()
    created = creation_time if creation_time is not None else now // 1_000_000
    write_record(st, "model_versions", (name, version, info.run_id, info.name, info.model_uri,
                                  description, False, int(created), now))
    for k, v in validation.checked_texts(tags, "tag", "import").items():
        write_record(st, "registry_tags", (name, version, k, v, now))
    return True


def import_alias(st: Store, name: str, alias: str, version: int) -> None:
    """Point ``name@alias`` at ``version`` (a claimed move, as ``set_model_alias``)."""
    check_alias(alias)
    write_alias(st, name, alias, version)
