"""PyTorch Lightning (``lightning`` and ``pytorch_lightning``): ``NbtrackLogger`` and autolog.

``Trainer(logger=NbtrackLogger())`` logs into the active run, the ``run=`` given, or — when
neither exists as training starts — a run the logger starts itself and ends in
``finalize`` (an explicitly created logger, like an explicit ``start_run``).
``nbtrack.autolog("lightning")`` adds the logger to every ``Trainer.fit`` and starts a run
when none is active. A training records:

- params: the module's hyperparameters (``self.save_hyperparameters()``; nested dicts
  flattened with ``/``), and with autolog the trainer's ``max_epochs``, ``max_steps``,
  ``accumulate_grad_batches``, ``precision`` and the optimizer's class and learning rate;
- metrics: every ``self.log`` value, step = Lightning's global step (as Lightning hands it
  to loggers, every ``log_every_n_steps``);
- with ``log_checkpoints=True``: each checkpoint the ``ModelCheckpoint`` callback saves,
  under ``checkpoints/``; with autolog: the model's ``state_dict`` (``model/state_dict.pt``).

Only global rank 0 logs (Lightning's ``rank_zero_only``; autolog checks
``trainer.global_rank``).

``NbtrackLogger`` subclasses ``lightning.pytorch.loggers.Logger`` when ``lightning`` is
installed, else ``pytorch_lightning``'s; :func:`logger_class` gives either explicitly.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Mapping
from typing import Any

from nbtrack.integrations import _models, _patching, _runs
from nbtrack.integrations._guard import guard
from nbtrack.tracking import fluent, settings
from nbtrack.tracking.run import Run

_PACKAGES = {"lightning": "lightning.pytorch", "pytorch_lightning": "pytorch_lightning"}
_classes: dict[str, type] = {}


def _numbers(metrics: Mapping[str, Any]) -> dict[str, float]:
    out: dict[str, float] = {}
    for k, v in metrics.items():
        try:
            out[str(k)] = float(v.item() if hasattr(v, "item") else v)
        except (TypeError, ValueError, RuntimeError):
            continue
    return out


def _log_file(run: Run, path: str, folder: str) -> None:
    """Log ``path`` under ``folder``, its name made a valid artifact name (``epoch=0`` ...)."""
    name = re.sub(r"[^\w.\- ]", "_", os.path.basename(path))
    with tempfile.TemporaryDirectory(prefix="nbtrack-ckpt-") as tmp:
        copy = os.path.join(tmp, name)
        shutil.copyfile(path, copy)
        run.log_artifact(copy, folder)


def _attach(run_id: str, store_uri: str) -> Run:
    """The run ``run_id`` of the process that pickled the logger, writable here."""
    if settings.get_store().uri != store_uri:
        settings.set_store(store_uri)
    return fluent.attach_run(run_id)


def logger_class(package: str = "lightning") -> type:
    """``NbtrackLogger`` for ``lightning`` (``lightning.pytorch``) or ``pytorch_lightning``."""
    pkg = _PACKAGES.get(package, package)
    cls = _classes.get(pkg)
    if cls is None:
        cls = _classes[pkg] = _build(pkg)
    return cls


def _build(pkg: str) -> type:
    Logger = importlib.import_module(f"{pkg}.loggers").Logger
    rank_zero_only = importlib.import_module(f"{pkg}.utilities").rank_zero_only
    fabric = importlib.import_module(
        "lightning.fabric.utilities.logger"
        if pkg == "lightning.pytorch"
        else "lightning_fabric.utilities.logger"
    )
    _convert_params = fabric._convert_params
    _flatten_dict = fabric._flatten_dict
    _sanitize_callable_params = fabric._sanitize_callable_params
    integration = "lightning" if pkg == "lightning.pytorch" else "pytorch_lightning"

    class NbtrackLogger(Logger):  # type: ignore[misc, valid-type]
        """A Lightning logger writing to an nbtrack run.

        Args:
            run: the run to log into; default the active run, else one this logger starts.
            experiment: experiment of the run the logger starts (default the current one).
            run_name: name of the run the logger starts.
            log_checkpoints: store every saved checkpoint under ``checkpoints/``.
        """

        def __init__(
            self,
            run: Run | None = None,
            *,
            experiment: str | None = None,
            run_name: str | None = None,
            log_checkpoints: bool = False,
        ) -> None:
            super().__init__()
            self._run = run
            self._owns_run = False
            self._experiment_name = experiment
            self._run_name = run_name
            self.log_checkpoints = log_checkpoints
            self._logged_checkpoints: set[str] = set()
            # set when this logger was pickled into a spawned worker (ddp_spawn)
            self._attach: tuple[str, str] | None = None

        def __getstate__(self) -> dict[str, Any]:
            """Pickle without the live run (ddp_spawn sends the trainer to new processes):
            the worker attaches to the same run by id (``nt.attach_run``) instead."""
            state = self.__dict__.copy()
            run = state["_run"]
            if run is not None and not run.is_finished:
                state["_attach"] = (run.run_id, run.store.uri)
            state["_run"], state["_owns_run"] = None, False
            return state

        @property
        def name(self) -> str:
            return "nbtrack"

        @property
        def version(self) -> str:
            if self._run is not None:
                return self._run.run_id
            return self._attach[0] if self._attach is not None else ""

        @property
        def experiment(self) -> Run:
            """The nbtrack run (started on first use when none is active)."""
            if self._run is None:
                active = fluent.active_run()
                if self._attach is not None:
                    self._run = _attach(*self._attach)
                elif active is not None:
                    self._run = active
                else:
                    self._run = fluent.start_run(
                        name=self._run_name, experiment=self._experiment_name
                    )
                    self._owns_run = True
            return self._run

        @rank_zero_only  # type: ignore[misc]
        def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
            with guard(integration):
                flat = _flatten_dict(_sanitize_callable_params(_convert_params(params)))
                _runs.log_params(self.experiment, flat)

        @rank_zero_only  # type: ignore[misc]
        def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
            with guard(integration):
                values = _numbers(metrics)
                if values:
                    self.experiment.log_metrics(values, step=step)

        @rank_zero_only  # type: ignore[misc]
        def after_save_checkpoint(self, checkpoint_callback: Any) -> None:
            if not self.log_checkpoints:
                return
            with guard(integration):
                for path in (
                    getattr(checkpoint_callback, "last_model_path", ""),
                    getattr(checkpoint_callback, "best_model_path", ""),
                ):
                    if path and os.path.isfile(path) and path not in self._logged_checkpoints:
                        _log_file(self.experiment, path, "checkpoints")
                        self._logged_checkpoints.add(path)

        @rank_zero_only  # type: ignore[misc]
        def finalize(self, status: str) -> None:
            with guard(integration):
                run = self._run
                if self._attach is not None and run is not None:
                    run.end()  # a worker's handle: makes its points durable, run stays open
                elif self._owns_run and run is not None and not run.is_finished:
                    ok = status in ("success", "finished")
                    if fluent.active_run() is run:
                        fluent.end_run("FINISHED" if ok else "FAILED")
                    else:
                        run.end("FINISHED" if ok else "FAILED")

    NbtrackLogger.__module__ = __name__
    NbtrackLogger.__qualname__ = "NbtrackLogger"
    return NbtrackLogger


def __getattr__(name: str) -> Any:
    if name == "NbtrackLogger":
        has_lightning = importlib.util.find_spec("lightning") is not None
        return logger_class("lightning" if has_lightning else "pytorch_lightning")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def enable(name: str = "lightning") -> None:
    """Patch ``Trainer.fit`` of ``lightning`` or ``pytorch_lightning`` (``name``)."""
    pkg = _PACKAGES[name]
    trainer_cls = importlib.import_module(pkg).Trainer
    _patching.patch(name, trainer_cls, "fit", lambda original: _make_fit(original, name))


def _make_fit(original: Callable[..., Any], integration: str) -> Callable[..., Any]:
    def fit(self: Any, *args: Any, **kwargs: Any) -> Any:
        with _patching.outermost() as outer:
            cfg = _patching.config(integration)
            if not outer or cfg is None or getattr(self, "global_rank", 0) != 0:
                return original(self, *args, **kwargs)
            return _logged_fit(original, self, args, kwargs, cfg, integration)

    return fit


def _logged_fit(
    original: Callable[..., Any],
    trainer: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    cfg: _patching.AutologConfig,
    integration: str,
) -> Any:
    cls = logger_class(integration)
    session: _runs.AutologRun | None = None
    added: Any = None
    with guard(integration):
        session = _runs.open_run(integration)
        if session is not None:
            _runs.log_params(
                session.run,
                {
                    "max_epochs": trainer.max_epochs,
                    "max_steps": trainer.max_steps,
                    "accumulate_grad_batches": trainer.accumulate_grad_batches,
                    "precision": getattr(trainer, "precision", None),
                },
            )
            if not any(isinstance(lg, cls) for lg in trainer.loggers):
                added = cls(session.run)
                trainer.loggers = [*trainer.loggers, added]
    try:
        result = original(trainer, *args, **kwargs)
    except BaseException as exc:
        if session is not None:
            with guard(integration):
                session.close("KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED")
        raise
    finally:
        if added is not None:
            with guard(integration):
                trainer.loggers = [lg for lg in trainer.loggers if lg is not added]
    if session is not None:
        model = args[0] if args else kwargs.get("model")
        with guard(integration):
            optimizers = getattr(trainer, "optimizers", None) or []
            if optimizers:
                opt = optimizers[0]
                params = {"optimizer": type(opt).__name__}
                if opt.param_groups and "lr" in opt.param_groups[0]:
                    params["optimizer_lr"] = opt.param_groups[0]["lr"]
                _runs.log_params(session.run, params)
        if cfg.log_models and model is not None:
            with guard(integration):
                _models.log_model(session.run, model, "model", flavor="pytorch")
        with guard(integration):
            session.close("FINISHED")
    return result
