"""Hugging Face transformers: ``NbtrackCallback`` (a ``TrainerCallback``) and autolog.

``Trainer(..., callbacks=[NbtrackCallback()])`` logs into the active run, the ``run=``
given, or a run the callback starts at ``on_train_begin`` and ends at ``on_train_end``
(explicitly created, like an explicit ``start_run``). ``nbtrack.autolog("transformers")``
adds the callback to every ``Trainer.train`` and starts a run when none is active.

``TrainingArguments(report_to="nbtrack")`` works too once this module is imported (or
autolog is on for transformers): transformers looks ``report_to`` names up in its
``INTEGRATION_TO_CALLBACK`` table, and importing this module adds ``"nbtrack"`` to it.

A training records:

- params: every ``TrainingArguments`` field (``learning_rate``, ``num_train_epochs``,
  ``per_device_train_batch_size`` ...) and the model config under ``model/``
  (``model/hidden_size`` ...);
- metrics: every number in the Trainer's logs (``loss``, ``learning_rate``,
  ``grad_norm``, ``eval_loss``, ``train_runtime`` ...), step = ``state.global_step``;
- only the main process (``state.is_world_process_zero``) logs. Models are not stored
  (use ``trainer.save_model`` and ``nt.log_artifacts``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import transformers

from nbtrack.integrations import _patching, _runs
from nbtrack.integrations._guard import guard
from nbtrack.tracking import fluent
from nbtrack.tracking.run import Run

NAME = "transformers"


def _numbers(logs: Mapping[str, Any] | None) -> dict[str, float]:
    out: dict[str, float] = {}
    for k, v in (logs or {}).items():
        if isinstance(v, bool):
            continue
        try:
            out[str(k)] = float(v)
        except (TypeError, ValueError):
            continue
    return out


class NbtrackCallback(transformers.TrainerCallback):  # type: ignore[misc]
    """Log a transformers ``Trainer`` into an nbtrack run.

    Args:
        run: the run to log into; default the active run, else one this callback starts.
        log_model_config: also log the model's config as ``model/<key>`` params.
    """

    def __init__(self, run: Run | None = None, *, log_model_config: bool = True) -> None:
        self._run = run
        self._owns_run = False
        self.log_model_config = log_model_config

    def _resolve(self) -> Run:
        if self._run is None or self._run.is_finished:
            active = fluent.active_run()
            if active is not None:
                self._run, self._owns_run = active, False
            else:
                self._run, self._owns_run = fluent.start_run(), True
        return self._run

    def on_train_begin(
        self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any
    ) -> None:
        if not state.is_world_process_zero:
            return
        with guard(NAME):
            run = self._resolve()
            params = {k: v for k, v in args.to_dict().items() if not k.startswith("_")}
            config = getattr(model, "config", None)
            if self.log_model_config and config is not None:
                params.update(
                    {
                        f"model/{k}": v
                        for k, v in config.to_dict().items()
                        if isinstance(v, (int, float, str, bool))
                    }
                )
            _runs.log_params(run, params)

    def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any) -> None:
        if not state.is_world_process_zero:
            return
        with guard(NAME):
            values = _numbers(logs)
            if values:
                self._resolve().log_metrics(values, step=state.global_step)

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        with guard(NAME):
            run = self._run
            if self._owns_run and run is not None and not run.is_finished:
                if fluent.active_run() is run:
                    fluent.end_run("FINISHED")
                else:
                    run.end("FINISHED")
                self._owns_run = False


def register_report_to() -> bool:
    """Make ``report_to="nbtrack"`` name :class:`NbtrackCallback`; True when it does.

    transformers resolves ``report_to`` through the ``INTEGRATION_TO_CALLBACK`` table of
    ``transformers.integrations.integration_utils`` (no registration API); a version
    without that table keeps the callback-only route.
    """
    with guard(NAME):
        from transformers.integrations import integration_utils

        table = getattr(integration_utils, "INTEGRATION_TO_CALLBACK", None)
        if isinstance(table, dict):
            table.setdefault("nbtrack", NbtrackCallback)
            return table["nbtrack"] is NbtrackCallback
    return False


def enable(name: str = NAME) -> None:
    """Patch ``transformers.Trainer.train`` to add an ``NbtrackCallback``."""
    register_report_to()
    _patching.patch(name, transformers.Trainer, "train", _make_train)


def _make_train(original: Callable[..., Any]) -> Callable[..., Any]:
    def train(self: Any, *args: Any, **kwargs: Any) -> Any:
        with _patching.outermost() as outer:
            cfg = _patching.config(NAME)
            if not outer or cfg is None or not self.is_world_process_zero():
                return original(self, *args, **kwargs)
            session: _runs.AutologRun | None = None
            added: NbtrackCallback | None = None
            with guard(NAME):
                session = _runs.open_run(NAME)
                handler = self.callback_handler
                if session is not None and not any(
                    isinstance(c, NbtrackCallback) for c in handler.callbacks
                ):
                    added = NbtrackCallback(session.run)
                    self.add_callback(added)
            try:
                result = original(self, *args, **kwargs)
            except BaseException as exc:
                if session is not None:
                    with guard(NAME):
                        session.close("KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED")
                raise
            finally:
                if added is not None:
                    with guard(NAME):
                        self.remove_callback(added)
            if session is not None:
                with guard(NAME):
                    session.close("FINISHED")
            return result

    return train


register_report_to()
