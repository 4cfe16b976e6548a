"""Model signatures: what input a model takes, inferred from an example and checked on use.

A signature is either *columns* (a table: each column's name and dtype, from a pandas
DataFrame, a dict of columns or a list of records) or a *tensor* (a NumPy array: dtype and
shape, ``-1`` for the batch dimension). It is stored as JSON in the ``signature`` column of
the ``models`` table::

    {"inputs": {"kind": "columns", "columns": [{"name": "age", "dtype": "int64"}, ...]},
     "outputs": {"kind": "tensor", "dtype": "float64", "shape": [-1]}}

Checking (``check_input``) is strict about names and kinds: a missing or unexpected column,
or a column whose dtype kind differs, raises ``SignatureError`` naming each problem. One
widening is allowed, as MLflow does: integers where floats are expected (converted).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from nbtrack.errors import InvalidValueError, SignatureError

#: dtype kinds (NumPy's ``dtype.kind``) and what each may be given instead.
_KIND_NAMES = {"b": "bool", "i": "integer", "u": "integer", "f": "float", "c": "complex",
               "M": "datetime", "m": "timedelta", "O": "object", "U": "string",
               "S": "bytes", "T": "string"}


@dataclass(frozen=True)
class Signature:
    """The input (and, when known, output) schema of a model.

    Attributes:
        inputs: ``{"kind": "columns", "columns": [{"name", "dtype"}]}`` or
            ``{"kind": "tensor", "dtype", "shape"}``.
        outputs: the same shape of dict for the predictions, or None.
    """

    inputs: dict[str, Any]
    outputs: dict[str, Any] | None = None

    def to_json(self) -> str:
        return json.dumps({"inputs": self.inputs, "outputs": self.outputs}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str | None) -> Signature | None:
        if not text:
            return None
        data = json.loads(text)
        return cls(data["inputs"], data.get("outputs"))

    def describe(self) -> str:
        """One line, e.g. ``age: int64, income: float64`` or ``float32[-1, 4]``."""
        return _describe(self.inputs)


def _describe(schema: dict[str, Any]) -> str:
    if schema["kind"] == "columns":
        return ", ".join(f"{c['name']}: {c['dtype']}" for c in schema["columns"])
    return f"{schema['dtype']}{list(schema['shape'])}"


def _as_frame(data: Any) -> Any | None:
    """A pandas DataFrame for table-like ``data`` (DataFrame, dict, list of dicts), else None."""
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, pd.Series):
        return data.to_frame()
    if isinstance(data, dict) and data:
        return pd.DataFrame(data)
    if isinstance(data, list) and data and all(isinstance(r, dict) for r in data):
        return pd.DataFrame(data)
    return None


def schema_of(data: Any) -> dict[str, Any]:
    """The schema (columns or tensor) of an example input or output.

    Raises:
        InvalidValueError: ``data`` is neither table-like nor array-like.
    """
    import numpy as np

    frame = _as_frame(data)
    if frame is not None:
        columns = []
        for name, dtype in frame.dtypes.items():
            if not isinstance(name, str):
                raise InvalidValueError(
                    f"input_example column names must be strings, got {name!r}"
                )
            columns.append({"name": name, "dtype": str(dtype)})
        return {"kind": "columns", "columns": columns}
    try:
        arr = np.asarray(data)
    except (TypeError, ValueError) as exc:
        raise InvalidValueError(
            "input_example must be a pandas DataFrame, a dict of columns, a list of records "
            f"or an array; got {type(data).__name__}"
        ) from exc
    if arr.dtype.kind == "O" and arr.ndim == 0:
        raise InvalidValueError(
            "input_example must be a pandas DataFrame, a dict of columns, a list of records "
            f"or an array; got {type(data).__name__}"
        )
    shape = [-1, *arr.shape[1:]] if arr.ndim else []
    return {"kind": "tensor", "dtype": str(arr.dtype), "shape": shape}


def infer_signature(model_input: Any, model_output: Any = None) -> Signature:
    """The signature of a model that takes ``model_input`` (and returns ``model_output``)."""
    outputs = None if model_output is None else schema_of(model_output)
    return Signature(schema_of(model_input), outputs)


def _kind_ok(expected: str, given: Any) -> bool:
    """Whether a column/array of dtype ``given`` may stand for dtype ``expected``."""
    import numpy as np
    import pandas as pd

    try:
        want = pd.api.types.pandas_dtype(expected)
    except TypeError:
        return str(given) == expected
    got = given
    if str(got) == str(want):
        return True
    wk, gk = np.dtype(want).kind if _is_numpy(want) else None, (
        np.dtype(got).kind if _is_numpy(got) else None
    )
    if wk is None or gk is None:
        # Extension dtypes (category, string, nullable ints): same name family required.
        return _family(str(want)) == _family(str(got))
    if wk == gk or {wk, gk} <= {"i", "u"}:
        return True
    if wk == "f" and gk in "iu":
        return True  # integers where floats are expected: converted (as MLflow does)
    return {wk, gk} <= {"O", "U", "T"}  # strings held as objects


def _is_numpy(dtype: Any) -> bool:
    import numpy as np

    return isinstance(dtype, np.dtype)


def _family(name: str) -> str:
    name = name.lower()
    if name == "object":
        return "str"  # text held as Python objects (pandas < 3) or as the str dtype
    for family in ("int", "float", "bool", "str", "category", "datetime"):
        if family in name:
            return family
    return name


def check_input(signature: Signature, data: Any) -> Any:
    """Check ``data`` against the signature's inputs; return it ready for ``predict``.

    Columns: a DataFrame (or dict / records) with exactly the signature's columns, in any
    order (returned in the signature's order); integers are converted where floats are
    expected. Tensor: an array of the dtype kind and shape (``-1`` matches any size).

    Raises:
        SignatureError: names every missing, unexpected or mistyped column, or the
            dtype/shape mismatch.
    """
    import numpy as np

    spec = signature.inputs
    if spec["kind"] == "columns":
        frame = _as_frame(data)
        if frame is None:
            raise SignatureError(
                f"the model takes a table with columns ({signature.describe()}); got "
                f"{type(data).__name__}: pass a pandas DataFrame"
            )
        wanted = [c["name"] for c in spec["columns"]]
        problems = []
        missing = [n for n in wanted if n not in frame.columns]
        extra = [str(n) for n in frame.columns if n not in wanted]
        if missing:
            problems.append(f"missing column(s) {', '.join(map(repr, missing))}")
        if extra:
            problems.append(f"unexpected column(s) {', '.join(map(repr, extra))}")
        converted = {}
        for col in spec["columns"]:
            name = col["name"]
            if name not in frame.columns:
                continue
            got = frame[name].dtype
            if not _kind_ok(col["dtype"], got):
                problems.append(f"column {name!r} is {got}, expected {col['dtype']}")
            elif str(got) != col["dtype"] and np.dtype(got).kind in "iu" and (
                col["dtype"].startswith("float")
            ):
                converted[name] = frame[name].astype(col["dtype"])
        if problems:
            raise SignatureError(
                "input does not match the model signature: " + "; ".join(problems)
                + f" (signature: {signature.describe()})"
            )
        out = frame[wanted]
        if converted:
            out = out.assign(**converted)
        return out
    arr = np.asarray(data)
    want_shape = spec["shape"]
    problems = []
    if not _kind_ok(spec["dtype"], arr.dtype):
        problems.append(f"dtype is {arr.dtype}, expected {spec['dtype']}")
    if len(want_shape) != arr.ndim or any(
        w not in (-1, g) for w, g in zip(want_shape, arr.shape, strict=False)
    ):
        problems.append(f"shape is {list(arr.shape)}, expected {want_shape} (-1: any size)")
    if problems:
        raise SignatureError(
            "input does not match the model signature: " + "; ".join(problems)
            + f" (signature: {signature.describe()})"
        )
    if arr.dtype != np.dtype(spec["dtype"]) and np.dtype(spec["dtype"]).kind == "f":
        arr = arr.astype(spec["dtype"])
    return arr


def coerce_signature(value: Any) -> Signature | None:
    """A ``Signature`` from what users pass as ``signature=`` (a Signature, a dict, None).

    Raises:
        InvalidValueError: anything else.
    """
    if value is None or isinstance(value, Signature):
        return value
    if isinstance(value, dict) and isinstance(value.get("inputs"), dict):
        inputs = value["inputs"]
        if inputs.get("kind") in ("columns", "tensor"):
            return Signature(inputs, value.get("outputs"))
    raise InvalidValueError(
        "signature must be an nbtrack.models.Signature (see infer_signature) or a dict "
        "{'inputs': {'kind': 'columns'|'tensor', ...}}"
    )
