"""Which run an integration logs into: the active one, or one autolog starts.

``autolog`` is the one place in nbtrack where a run starts implicitly (as in MLflow): a
patched ``fit`` with no active run starts a run tagged ``nbtrack.autolog=<framework>``,
makes it active while training runs, and ends it (FINISHED, or FAILED when training
raises) when ``fit`` returns. With an active run — ``%%track``, ``with nt.start_run()`` —
everything goes into that run and nothing is started or ended.

In a distributed job only rank 0 logs (see :mod:`nbtrack.integrations.distributed`):
on other ranks :func:`open_run` returns None and the integrations log nothing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from nbtrack.errors import NbtrackError
from nbtrack.tracking import fluent, validation
from nbtrack.tracking.run import Run

AUTOLOG_TAG = "nbtrack.autolog"


@dataclasses.dataclass
class AutologRun:
    """The run a training call logs into, and whether autolog started it."""

    run: Run
    owned: bool

    def close(self, status: str = "FINISHED") -> None:
        """End the run if autolog started it (else leave the user's run open)."""
        if not self.owned or self.run.is_finished:
            return
        if fluent.active_run() is self.run:
            fluent.end_run(status)
        else:
            self.run.end(status)


def open_run(integration: str, *, name: str | None = None) -> AutologRun | None:
    """The active run, or a new one autolog starts; None on a rank that must not log."""
    from nbtrack.integrations import distributed

    if not distributed.should_log():
        return None
    active = fluent.active_run()
    if active is not None:
        return AutologRun(active, owned=False)
    tags = {AUTOLOG_TAG: integration, **distributed.rank_tags()}
    group = distributed.group_from_env()
    run = fluent.start_run(name=name, tags=tags, group=group)
    return AutologRun(run, owned=True)


def start_child(parent: Run, *, name: str, params: Mapping[str, Any], integration: str) -> Run:
    """A child run of ``parent`` (one candidate of a sweep), active until it is ended."""
    if fluent.active_run() is not parent:
        raise NbtrackError(f"the {integration} sweep's parent run is no longer the active run")
    return fluent.start_run(
        name=name, nested=True, params=param_texts(params), tags={AUTOLOG_TAG: integration}
    )


def param_texts(params: Mapping[str, Any]) -> dict[str, str]:
    """Params as storable texts: invalid keys dropped, long values cut to the limit."""
    out: dict[str, str] = {}
    for key, value in params.items():
        k = str(key)
        try:
            validation.check_key(k, "param key")
        except NbtrackError:
            continue
        text = value if isinstance(value, str) else repr(value) if _is_object(value) else str(value)
        out[k] = text[: validation.MAX_PARAM]
    return out


def _is_object(value: Any) -> bool:
    return not isinstance(value, (int, float, bool, type(None), str))


def log_params(run: Run, params: Mapping[str, Any]) -> None:
    """Log the params the run does not have yet; keep values the user already set.

    A second ``fit`` in one explicit run would otherwise fail on a changed param
    (``ParamConflictError``); the first value stays, as for the user's own params.
    """
    texts = param_texts(params)
    have = run.params
    new = {k: v for k, v in texts.items() if k not in have}
    if new:
        run.log_params(new)
