"""Logging a model in a run, and reading a logged model's record and files back.

A logged model is (1) its files, stored as the run's artifacts under ``<name>/`` (content
addressed, like every artifact) plus ``<name>/nbtrack_model.json`` describing them, and (2)
one record in the ``models`` table (flavor, format, versions, signature, requirements, size,
sha256 of the main file, and which blob holds each file). Everything is checked and
serialized in memory before anything is written, so a refused model leaves no trace.
"""

from __future__ import annotations

import hashlib
import json
import platform
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nbtrack import config
from nbtrack.errors import (
    InvalidValueError,
    ModelError,
    ModelNotFoundError,
    NoActiveRunError,
)
from nbtrack.models import flavors
from nbtrack.models.signature import Signature, coerce_signature, infer_signature
from nbtrack.storage.schema import experiment_id as partition_of
from nbtrack.tracking import capture, fluent, records, settings, validation

if TYPE_CHECKING:
    from nbtrack.storage.protocol import Store
    from nbtrack.tracking.run import Run

METADATA_FILE = "nbtrack_model.json"


@dataclass(frozen=True)
class ModelInfo:
    """What the ``models`` table knows of one logged model.

    Attributes:
        run_id: the run that logged it.
        name: its name in the run (its artifacts live under ``<name>/``).
        flavor: ``sklearn``, ``xgboost``, ``lightgbm`` or ``python_function``.
        format: how the main file is encoded (``skops``, ``pickle``, ``xgboost-ubj`` ...).
        framework_version: the version of the framework that wrote it.
        python_version: the Python that wrote it.
        signature: the input (and output) schema, or None.
        requirements: pip requirement strings (``scikit-learn==1.5.0`` ...).
        size: bytes of all its files.
        sha256: of the main model file.
        files: file name -> sha256 of its content.
    """

    run_id: str
    name: str
    flavor: str
    format: str
    framework_version: str | None
    python_version: str
    signature: Signature | None
    requirements: list[str]
    size: int
    sha256: str
    files: dict[str, str]
    loader: dict[str, Any]

    @property
    def model_uri(self) -> str:
        return f"runs:/{self.run_id}/{self.name}"

    @classmethod
    def from_row(cls, r: dict[str, Any]) -> ModelInfo:
        return cls(
            run_id=r["run_id"], name=r["name"], flavor=r["flavor"], format=r["format"],
            framework_version=r["framework_version"], python_version=r["python_version"],
            signature=Signature.from_json(r["signature"]),
            requirements=json.loads(r["requirements"] or "[]"), size=r["size"],
            sha256=r["sha256"], files=json.loads(r["files"]),
            loader=json.loads(r["loader"] or "{}"),
        )


def _requirements(flavor: flavors.Flavor, pip_requirements: Any) -> list[str]:
    if pip_requirements is not None:
        if isinstance(pip_requirements, str) or not all(
            isinstance(r, str) and r.strip() and "\n" not in r for r in pip_requirements
        ):
            raise InvalidValueError(
                "pip_requirements must be a list of requirement strings such as "
                "['scikit-learn==1.5.0']"
            )
        return [r.strip() for r in pip_requirements]
    # From the environment capture: the framework and what its loader needs, as installed
    # here; a python_function model needs whatever the process imported.
    packages = capture.collect_packages()
    if flavor.name == "python_function":
        return [f"{k}=={v}" for k, v in packages.items()]
    by_norm = {k.lower().replace("_", "-"): (k, v) for k, v in packages.items()}
    out = []
    for dist in (flavor.package, *flavor.requirements):
        found = by_norm.get(dist)
        if found is not None:
            out.append(f"{found[0]}=={found[1]}")
    return out


def _signature(
    flavor: str, model: Any, input_example: Any, signature: Any
) -> Signature | None:
    sig = coerce_signature(signature)
    if sig is not None or input_example is None:
        return sig
    output = None
    try:
        output = flavors.predict(flavor, model, input_example)
    # The output schema is a nicety: a model whose predict fails on the example (or
    # returns something without a schema) is still logged with its input schema.
    except Exception:  # noqa: BLE001
        output = None
    try:
        return infer_signature(input_example, output)
    except InvalidValueError:
        if output is None:
            raise
        return infer_signature(input_example)


def _active(run: Run | None) -> Run:
    if run is None:
        run = fluent.active_run()
        if run is None:
            raise NoActiveRunError("log_model")
    run.check_open()
    return run


def log_model(
    model: Any,
    name: str,
    input_example: Any = None,
    signature: Any = None,
    pip_requirements: list[str] | None = None,
    *,
    flavor: str | None = None,
    run: Run | None = None,
) -> ModelInfo:
    """Log ``model`` in the active run (or ``run``) as ``name``.

    The flavor is detected from the object (see ``nbtrack.models.flavors``); scikit-learn
    models are stored with skops, and as a pickle (with a warning) only when skops cannot.

    Args:
        model: a scikit-learn, XGBoost or LightGBM model, or any object with ``predict``.
        name: the model's name in the run (an artifact folder name: ``model``, ``clf/v2``).
        input_example: a small input (DataFrame, dict of columns, records, array); the
            signature is inferred from it (and the output schema from ``predict`` on it).
        signature: a ``Signature`` to use instead of inferring one.
        pip_requirements: requirement strings; by default the installed versions of the
            framework and what loading needs (from the environment capture).
        flavor: force a flavor (``python_function`` for any object with ``predict``).
        run: log into this run instead of the active one.

    Returns:
        The model's record; ``info.model_uri`` is ``runs:/<run_id>/<name>``.

    Raises:
        NoActiveRunError: no run is active and none is given.
        ModelError: no flavor fits, or the model is bigger than ``NBTRACK_MODEL_MAX_BYTES``.
        ArtifactError: ``name`` is absolute, climbs out with ``..`` or breaks the key rule.

    Example:
        >>> with nt.start_run():  # doctest: +SKIP
        ...     info = nt.log_model(clf, "model", input_example=X[:5])
    """
    path = validation.artifact_path(name, "model name")
    if not path:
        raise ModelError("a model needs a name, such as 'model'")
    target = _active(run)
    fl = flavors.detect(model, flavor)
    sig = _signature(fl.name, model, input_example, signature)
    saved = fl.save(model)
    requirements = _requirements(fl, pip_requirements)  # after save: skops is imported now
    size = sum(len(b) for b in saved.files.values())
    limit = config.model_max_bytes()
    if size > limit:
        raise ModelError(
            f"model {path!r} is {size:,} bytes, more than NBTRACK_MODEL_MAX_BYTES "
            f"({limit:,}); nothing was written. Raise the limit or log a smaller model"
        )
    return write_model(
        target.store, target.experiment, target.run_id, path, flavor=fl.name,
        fmt=saved.format, files=saved.files, main=saved.main, loader=saved.loader,
        framework_version=fl.version(), python_version=platform.python_version(),
        requirements=requirements, signature=sig,
    )


def write_model(
    store: Store, experiment: str, run_id: str, name: str, *, flavor: str, fmt: str,
    files: dict[str, bytes], main: str, loader: dict[str, Any],
    framework_version: str | None, python_version: str, requirements: list[str],
    signature: Signature | None, extra_files: dict[str, bytes] | None = None,
) -> ModelInfo:
    """Write a model's files as the run's artifacts ``<name>/...`` and its ``models`` record.

    ``files`` are what the flavor's loader reads (recorded with their sha256);
    ``extra_files`` are kept as artifacts only (an imported MLflow model's MLmodel ...).
    """
    shas = {f: hashlib.sha256(b).hexdigest() for f, b in files.items()}
    info = ModelInfo(
        run_id=run_id, name=name, flavor=flavor, format=fmt,
        framework_version=framework_version, python_version=python_version,
        signature=signature, requirements=requirements,
        size=sum(len(b) for b in files.values()), sha256=shas[main], files=shas,
        loader=loader,
    )
    for fname, data in {**(extra_files or {}), **files}.items():
        records.write_artifact(store, experiment, run_id, f"{name}/{fname}", data)  # type: ignore[arg-type]
    records.write_artifact(store, experiment, run_id, f"{name}/{METADATA_FILE}", _metadata(info))  # type: ignore[arg-type]
    store.add_record("models", partition_of(experiment), _row(info))
    return info


def _metadata(info: ModelInfo) -> bytes:
    return json.dumps(
        {
            "flavor": info.flavor, "format": info.format,
            "framework_version": info.framework_version,
            "python_version": info.python_version,
            "signature": None if info.signature is None else json.loads(info.signature.to_json()),
            "requirements": info.requirements, "files": info.files, "loader": info.loader,
        },
        indent=2, sort_keys=True,
    ).encode()


def _row(info: ModelInfo) -> tuple[Any, ...]:
    return (
        info.run_id, info.name, info.flavor, info.framework_version, info.python_version,
        info.format, json.dumps(info.files, sort_keys=True),
        json.dumps(info.loader, sort_keys=True),
        None if info.signature is None else info.signature.to_json(),
        json.dumps(info.requirements), info.size, info.sha256, time.time_ns(),
    )


_COLUMNS = (
    "run_id, name, flavor, framework_version, python_version, format, files, loader, "
    "signature, requirements, size, sha256"
)


def get_model_info(
    run_id: str, name: str, *, store: Store | None = None, include_deleted: bool = False
) -> ModelInfo:
    """The record of model ``name`` logged by run ``run_id``.

    ``include_deleted`` reads models of soft-deleted runs too (registered versions do).

    Raises:
        RunNotFoundError: no such run (or it is deleted and ``include_deleted`` is False).
        ModelNotFoundError: the run logged no model of that name.
    """
    st = store or settings.get_store()
    name = validation.artifact_path(name, "model name")
    rel = "models_all" if include_deleted else "models"
    t = st.query(f"SELECT {_COLUMNS} FROM {rel} WHERE run_id = ? AND name = ?", [run_id, name])
    if t.num_rows:
        return ModelInfo.from_row(t.to_pylist()[0])
    records.current_state(st, run_id, include_deleted=include_deleted)  # type: ignore[arg-type]
    t = st.query("SELECT name FROM models_all WHERE run_id = ? ORDER BY name", [run_id])
    names = t.column(0).to_pylist()
    hint = f"; it logged {', '.join(map(repr, names))}" if names else "; it logged no model"
    raise ModelNotFoundError(f"run {run_id} has no model {name!r}{hint}")


def list_models(run_id: str, *, store: Store | None = None) -> list[ModelInfo]:
    """The models a run logged, by name.

    Raises:
        RunNotFoundError: no such run (or it is deleted).
    """
    st = store or settings.get_store()
    records.current_state(st, run_id)  # type: ignore[arg-type]
    t = st.query(f"SELECT {_COLUMNS} FROM models WHERE run_id = ? ORDER BY name", [run_id])
    return [ModelInfo.from_row(r) for r in t.to_pylist()]


def read_files(info: ModelInfo, store: Store) -> dict[str, bytes]:
    """The model's files, each checked against its recorded sha256.

    Raises:
        ModelError: a file's content does not match its hash (a damaged store).
    """
    out = {}
    for fname, sha in info.files.items():
        data = store.read_blob(sha)
        if hashlib.sha256(data).hexdigest() != sha:
            raise ModelError(
                f"file {fname!r} of model {info.model_uri} is damaged in the store "
                f"(sha256 differs from {sha})"
            )
        out[fname] = data
    return out


__all__ = ["ModelInfo", "get_model_info", "list_models", "log_model"]
