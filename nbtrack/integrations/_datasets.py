"""Dataset fingerprints: the training data a run used, as a run input record.

The record is the one ``nbtrack.mlflow.log_input`` writes (name, digest, source, schema,
profile, context), so MLflow-compatible readers (``run.inputs``) see autologged datasets.
Only a fingerprint is stored, never the data: the shape, the column types and an MD5
digest (8 hex characters, as MLflow's) of the content — its first 10 MB for big arrays.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from nbtrack.tracking import records, settings
from nbtrack.tracking.run import Run

_MAX_DIGEST_BYTES = 10_000_000


def fingerprint(
    features: Any, targets: Any = None, *, name: str | None = None, context: str = "training"
) -> records.DatasetInput:
    """The input record of ``features`` (and ``targets``): digest, schema and profile."""
    h = hashlib.md5(usedforsecurity=False)
    schema: list[dict[str, str]]
    shape: tuple[int, ...]
    kind = type(features).__name__
    if _is_frame(features):
        import pandas as pd

        shape = tuple(features.shape)
        h.update(pd.util.hash_pandas_object(features, index=True).values.tobytes()[:_MAX_DIGEST_BYTES])
        schema = [{"name": str(c), "type": str(t)} for c, t in features.dtypes.items()]
    else:

        arr = _as_array(features)
        shape = tuple(arr.shape)
        h.update(_bytes(arr))
        schema = [{"name": "features", "type": f"{arr.dtype}{list(arr.shape[1:])}"}]
    h.update(str(shape).encode())
    profile: dict[str, Any] = {"num_rows": int(shape[0]) if shape else 1, "shape": list(shape)}
    if targets is not None:
        t = targets.to_numpy() if hasattr(targets, "to_numpy") else _as_array(targets)
        h.update(_bytes(t))
        schema.append({"name": "targets", "type": f"{t.dtype}{list(t.shape[1:])}"})
        profile["targets_shape"] = list(t.shape)
    digest = h.hexdigest()[:8]
    return records.DatasetInput(
        name=name or f"{kind}-{digest}",
        digest=digest,
        source_type="code",
        source="{}",
        schema=json.dumps({"mlflow_colspec": schema}),
        profile=json.dumps(profile),
        context=context,
    )


def _bytes(arr: Any) -> bytes:
    import numpy as np

    if arr.dtype == object:
        return repr(arr.tolist()).encode()[:_MAX_DIGEST_BYTES]
    flat = np.ascontiguousarray(arr).reshape(-1).view(np.uint8)
    return flat[:_MAX_DIGEST_BYTES].tobytes()


def _is_frame(obj: Any) -> bool:
    return type(obj).__module__.startswith("pandas") and hasattr(obj, "dtypes") and hasattr(obj, "columns")


def _as_array(obj: Any) -> Any:
    import numpy as np

    if hasattr(obj, "tocsr") and hasattr(obj, "nnz"):  # scipy sparse: digest the dense form
        return np.asarray(obj.toarray()) if obj.shape[0] * obj.shape[1] <= 1_000_000 else np.asarray(obj.tocsr().data)
    return np.asarray(obj)


def log_dataset(run: Run, features: Any, targets: Any = None, *, context: str = "training") -> None:
    """Record the dataset ``run`` trained on (an input record, like ``mlflow.log_input``)."""
    ds = fingerprint(features, targets, context=context)
    records.write_input(settings.get_store(), run.experiment, run.run_id, ds)
