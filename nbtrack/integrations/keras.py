"""Keras 3 (any backend): ``NbtrackCallback`` and autolog of ``Model.fit``.

``model.fit(..., callbacks=[NbtrackCallback()])`` logs into the ``run=`` given, the active
run, or — when neither exists as training starts — a run the callback starts and ends with
training; ``nbtrack.autolog("keras")`` adds that callback to every ``fit`` and starts a run when none
is active. A training records:

- params: ``fit``'s ``epochs``, ``batch_size``, ``validation_split``, ``steps`` (per
  epoch), the optimizer's class and its config (``optimizer_learning_rate`` ...), the loss;
- metrics: every value of Keras' ``logs`` at each epoch end (``loss``, ``accuracy``,
  ``val_loss`` ...), step = the epoch (``initial_epoch`` respected); with
  ``log_every_n_batches=N`` (autolog: every batch) also ``batch/<name>`` every N batches,
  step = the global batch index ``epoch * steps_per_epoch + batch`` (so a resumed
  ``fit(initial_epoch=k)`` continues the steps instead of writing over them);
- with autolog: the training data's fingerprint (NumPy/pandas ``x``) and the model
  (``model/model.keras``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import keras

from nbtrack.integrations import _datasets, _models, _patching, _runs
from nbtrack.integrations._guard import guard
from nbtrack.tracking import fluent
from nbtrack.tracking.run import Run

NAME = "keras"
#: autolog logs the batch metrics of every batch (``batch/<name>``)
AUTOLOG_BATCH_EVERY = 1


def _numbers(logs: Mapping[str, Any] | None, prefix: str = "") -> dict[str, float]:
    out: dict[str, float] = {}
    for k, v in (logs or {}).items():
        try:
            out[prefix + str(k)] = float(v)
        except (TypeError, ValueError):
            continue
    return out


class NbtrackCallback(keras.callbacks.Callback):  # type: ignore[misc]
    """Log a Keras training into an nbtrack run.

    Args:
        run: the run to log into; default the active run when training starts, else a run
            this callback starts then and ends when training ends (you created the
            callback explicitly, as you would call ``start_run``).
        log_every_n_batches: also log batch metrics every N batches (0: epochs only).
        log_params: log the fit and optimizer params when training starts.
    """

    def __init__(
        self, run: Run | None = None, *, log_every_n_batches: int = 0, log_params: bool = True
    ) -> None:
        super().__init__()
        self._run = run
        self.log_every_n_batches = int(log_every_n_batches)
        self.log_fit_params = log_params
        self._batches = 0
        self._epoch = 0
        self._owns_run = False

    @property
    def run(self) -> Run:
        """The run this callback logs into (resolved when training starts)."""
        if self._run is None or (self._owns_run and self._run.is_finished):
            active = fluent.active_run()
            if active is not None:
                self._run, self._owns_run = active, False
            else:
                self._run, self._owns_run = fluent.start_run(), True
        return self._run

    def on_train_begin(self, logs: Mapping[str, Any] | None = None) -> None:
        with guard(NAME):
            run = self.run
            if self.log_fit_params:
                _runs.log_params(run, self._params())

    def on_train_end(self, logs: Mapping[str, Any] | None = None) -> None:
        with guard(NAME):
            run = self._run
            if self._owns_run and run is not None and not run.is_finished:
                if fluent.active_run() is run:
                    fluent.end_run("FINISHED")
                else:
                    run.end("FINISHED")

    def _params(self) -> dict[str, Any]:
        params: dict[str, Any] = {
            k: v for k, v in (self.params or {}).items() if k in ("epochs", "steps")
        }
        model = self.model
        optimizer = getattr(model, "optimizer", None)
        if optimizer is not None:
            params["optimizer"] = type(optimizer).__name__
            with guard(NAME):
                for k, v in optimizer.get_config().items():
                    if isinstance(v, (int, float, str, bool)) or v is None:
                        params[f"optimizer_{k}"] = v
        loss = getattr(model, "loss", None)
        if loss is not None:
            params["loss"] = loss if isinstance(loss, str) else getattr(loss, "name", repr(loss))
        return params

    def on_epoch_begin(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        self._epoch = epoch

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        with guard(NAME):
            values = _numbers(logs)
            if values:
                self.run.log_metrics(values, step=epoch)

    def on_train_batch_end(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        self._batches += 1
        n = self.log_every_n_batches
        if n > 0 and self._batches % n == 0:
            with guard(NAME):
                values = _numbers(logs, "batch/")
                if values:
                    self.run.log_metrics(values, step=self._global_batch(batch))

    def _global_batch(self, batch: int) -> int:
        steps = (self.params or {}).get("steps")
        if isinstance(steps, int) and steps > 0:
            return self._epoch * steps + int(batch)
        return self._batches - 1  # unknown epoch length (a generator): count batches


def enable(name: str = NAME) -> None:
    """Patch ``keras.Model.fit`` to add an ``NbtrackCallback``."""
    _patching.patch(name, keras.Model, "fit", _make_fit)


def _make_fit(original: Callable[..., Any]) -> Callable[..., Any]:
    def fit(self: Any, *args: Any, **kwargs: Any) -> Any:
        with _patching.outermost() as outer:
            cfg = _patching.config(NAME)
            if not outer or cfg is None:
                return original(self, *args, **kwargs)
            return _logged_fit(original, self, args, kwargs, cfg)

    return fit


_FIT_ARGS = ("x", "y", "batch_size", "epochs")


def _logged_fit(
    original: Callable[..., Any],
    model: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    cfg: _patching.AutologConfig,
) -> Any:
    session: _runs.AutologRun | None = None
    call_kwargs = kwargs
    bound = dict(zip(_FIT_ARGS, args, strict=False))
    bound.update(kwargs)
    with guard(NAME):
        session = _runs.open_run(NAME)
        if session is not None:
            run = session.run
            fit_params = {
                "epochs": bound.get("epochs", 1),
                "batch_size": bound.get("batch_size"),
                "validation_split": bound.get("validation_split", 0.0),
            }
            _runs.log_params(run, fit_params)
            callbacks = list(kwargs.get("callbacks") or [])
            if not any(isinstance(c, NbtrackCallback) for c in callbacks):
                callbacks.append(NbtrackCallback(run, log_every_n_batches=AUTOLOG_BATCH_EVERY))
            call_kwargs = {**kwargs, "callbacks": callbacks}
            if cfg.log_datasets and _is_array_like(bound.get("x")):
                with guard(NAME):
                    _datasets.log_dataset(run, bound["x"], bound.get("y"), context="training")
    try:
        result = original(model, *args, **call_kwargs)
    except BaseException as exc:
        if session is not None:
            with guard(NAME):
                session.close("KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED")
        raise
    if session is not None:
        if cfg.log_models:
            with guard(NAME):
                _models.log_model(session.run, model, "model", flavor="keras")
        with guard(NAME):
            session.close("FINISHED")
    return result


def _is_array_like(x: Any) -> bool:
    return (x is not None and hasattr(x, "shape") and hasattr(x, "dtype")) or (
        type(x).__module__.startswith("pandas")
    )
