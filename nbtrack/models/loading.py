"""Loading a model back: by ``runs:/`` or ``models:/`` URI, natively or as a python_function.

A registered version keeps its model loadable after the run that logged it is soft-deleted:
``models:/`` reads the model record from all runs, deleted ones included, and nbtrack never
deletes artifact content (``nbtrack gc`` removes only replaced segment files). A
``runs:/`` URI of a deleted run is refused, as every read of a deleted run is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nbtrack.errors import ModelError
from nbtrack.models import flavors, logged, registry
from nbtrack.models.signature import Signature, check_input
from nbtrack.models.uris import RunModelURI, parse_model_uri
from nbtrack.tracking import settings

if TYPE_CHECKING:
    from nbtrack.models.logged import ModelInfo
    from nbtrack.storage.protocol import Store


class PyFuncModel:
    """A loaded model behind one ``predict(data)`` that checks input against the signature.

    Attributes:
        info: the model's record (flavor, signature, requirements ...).
        native: the framework's object.
    """

    def __init__(self, native: Any, info: ModelInfo) -> None:
        self.native = native
        self.info = info

    @property
    def signature(self) -> Signature | None:
        return self.info.signature

    def predict(self, data: Any) -> Any:
        """Predictions for ``data`` (a DataFrame, or an array for tensor signatures).

        Raises:
            SignatureError: ``data`` does not match the signature (missing or unexpected
                columns, wrong dtypes, wrong shape).
        """
        if self.info.signature is not None:
            data = check_input(self.info.signature, data)
        return flavors.predict(self.info.flavor, self.native, data)

    def __repr__(self) -> str:
        sig = self.info.signature.describe() if self.info.signature else "no signature"
        return f"<PyFuncModel {self.info.flavor} {self.info.model_uri} ({sig})>"


def model_info(uri: str, *, store: Store | None = None) -> ModelInfo:
    """The record of the model a URI names.

    Raises:
        ModelError: a malformed URI.
        ModelNotFoundError, RunNotFoundError: it names nothing.
    """
    st = store or settings.get_store()
    parsed = parse_model_uri(uri)
    if isinstance(parsed, RunModelURI):
        return logged.get_model_info(parsed.run_id, parsed.name, store=st)
    mv = registry.resolve(parsed, store=st)
    return logged.get_model_info(mv.run_id, mv.model_name, store=st, include_deleted=True)


def load_model(uri: str, *, as_pyfunc: bool = False, store: Store | None = None) -> Any:
    """Load the model at ``uri`` (``runs:/<run_id>/<name>``, ``models:/<name>/<version>``,
    ``models:/<name>@<alias>`` or ``models:/<name>/latest``).

    Args:
        store: the store; the current one when None.
        uri: the model URI.
        as_pyfunc: return a ``PyFuncModel`` whose ``predict`` checks the signature,
            instead of the framework's object.

    Raises:
        ModelError: a malformed URI, or the model cannot be read.
        ModelNotFoundError, RunNotFoundError: the URI names nothing.

    Example:
        >>> model = nt.load_model("models:/churn-model@champion")  # doctest: +SKIP
    """
    st = store or settings.get_store()
    info = model_info(uri, store=st)
    fl = flavors.FLAVORS.get(info.flavor)
    if fl is None:
        raise ModelError(
            f"model {uri} has flavor {info.flavor!r}, which this nbtrack cannot load (an "
            f"imported MLflow model: its files are the run's artifacts {info.name}/...)"
        )
    native = fl.load(logged.read_files(info, st), info.format, info.loader)
    return PyFuncModel(native, info) if as_pyfunc else native
