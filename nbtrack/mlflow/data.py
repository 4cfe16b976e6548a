"""``mlflow.data``: datasets to record as run inputs (``mlflow.log_input``).

A dataset here is what MLflow stores about it: name, digest, source, schema and profile
(the data itself is not copied). ``from_pandas`` / ``from_numpy`` compute MLflow-style
digests (a hash of the content, 8 hex characters).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from nbtrack.errors import InvalidValueError
from nbtrack.tracking.records import DatasetInput


@dataclass(frozen=True)
class Dataset:
    """A dataset reference (``mlflow.data.dataset.Dataset``'s fields)."""

    name: str
    digest: str
    source_type: str = "code"
    source: str = "{}"
    schema: str | None = None
    profile: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _digest(parts: list[bytes]) -> str:
    h = hashlib.md5(usedforsecurity=False)
    for p in parts:
        h.update(p)
    return h.hexdigest()[:8]


def _source(source: Any) -> tuple[str, str]:
    if source is None:
        return "code", "{}"
    text = str(source)
    kind = (
        "http"
        if text.startswith(("http://", "https://"))
        else ("s3" if text.startswith("s3://") else "local")
    )
    key = "url" if kind == "http" else "uri"
    return kind, json.dumps({key: text})


def from_pandas(
    df: Any,
    source: Any = None,
    targets: str | None = None,
    name: str | None = None,
    digest: str | None = None,
    predictions: str | None = None,
) -> Dataset:
    import pandas as pd

    if not isinstance(df, pd.DataFrame):
        raise InvalidValueError(f"from_pandas takes a DataFrame, got {type(df).__name__}")
    digest = digest or _digest(
        [pd.util.hash_pandas_object(df.head(10000)).values.tobytes(), str(df.shape).encode()]
    )
    schema = json.dumps(
        {"mlflow_colspec": [{"name": str(c), "type": str(t)} for c, t in df.dtypes.items()]}
    )
    profile = json.dumps({"num_rows": len(df), "num_elements": int(df.size)})
    kind, src = _source(source)
    return Dataset(name or "dataset", digest, kind, src, schema, profile)


def from_numpy(
    features: Any,
    source: Any = None,
    targets: Any = None,
    name: str | None = None,
    digest: str | None = None,
) -> Dataset:
    import numpy as np

    arr = np.asarray(features)
    parts = [arr.tobytes()[:10_000_000], str(arr.shape).encode()]
    if targets is not None:
        parts.append(np.asarray(targets).tobytes()[:10_000_000])
    schema = json.dumps(
        {"mlflow_tensorspec": {"features": {"dtype": str(arr.dtype), "shape": list(arr.shape)}}}
    )
    profile = json.dumps({"features_shape": list(arr.shape), "features_size": int(arr.size)})
    kind, src = _source(source)
    return Dataset(name or "dataset", digest or _digest(parts), kind, src, schema, profile)


def to_record(dataset: Any, context: str | None) -> DatasetInput:
    """A run-input record from ``Dataset`` (ours or any object with MLflow's fields)."""
    try:
        return DatasetInput(
            name=dataset.name,
            digest=dataset.digest,
            source_type=getattr(dataset, "source_type", "") or "",
            source=str(getattr(dataset, "source", "") or ""),
            schema=_text(getattr(dataset, "schema", None)),
            profile=_text(getattr(dataset, "profile", None)),
            context=context,
        )
    except AttributeError:
        raise InvalidValueError(
            "log_input takes a dataset from nbtrack.mlflow.data.from_pandas/from_numpy "
            f"(name and digest), got {type(dataset).__name__}"
        ) from None


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, default=str)
