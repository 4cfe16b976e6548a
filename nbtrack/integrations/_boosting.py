"""What the gradient-boosting integrations (XGBoost, LightGBM) share.

A patched ``train`` function: open the run, log params and the dataset, call the original
with one more callback (outside the guard, so the user's errors are the user's), then log
the best iteration, the feature importance (a CSV table and a plotly bar chart) and the
model, and close the run.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from nbtrack.integrations import _patching, _runs
from nbtrack.integrations._guard import guard
from nbtrack.tracking.run import Run


def logged_train(
    integration: str,
    original: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    *,
    before: Callable[[Run, _patching.AutologConfig], Any],
    with_callback: Callable[[Run, tuple[Any, ...], dict[str, Any]], tuple[tuple[Any, ...], dict[str, Any]]],
    after: Callable[[Run, Any, _patching.AutologConfig], None],
) -> Any:
    """Run ``original(*args, **kwargs)`` as one autologged training."""
    with _patching.training(integration) as outer:
        cfg = _patching.config(integration)
        if not outer or cfg is None:
            return original(*args, **kwargs)
        session: _runs.AutologRun | None = None
        call_args, call_kwargs = args, kwargs
        with guard(integration):
            session = _runs.open_run(integration)
            if session is not None:
                before(session.run, cfg)
                call_args, call_kwargs = with_callback(session.run, args, kwargs)
        try:
            result = original(*call_args, **call_kwargs)
        except BaseException as exc:
            if session is not None:
                with guard(integration):
                    session.close("KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED")
            raise
        if session is not None:
            with guard(integration):
                after(session.run, result, cfg)
            with guard(integration):
                session.close("FINISHED")
        return result


def patch_sklearn_api(integration: str, classes: Sequence[type]) -> None:
    """Wrap the scikit-learn-style ``fit`` of these classes so that their own ``train``
    call logs and the scikit-learn helpers they call (``LabelEncoder.fit``) do not."""
    for cls in classes:
        if "fit" in vars(cls):
            _patching.patch(integration, cls, "fit", lambda original: _delegating_fit(original, integration))


def _delegating_fit(original: Callable[..., Any], integration: str) -> Callable[..., Any]:
    def fit(self: Any, *args: Any, **kwargs: Any) -> Any:
        with _patching.delegating(integration):
            return original(self, *args, **kwargs)

    return fit


def log_feature_importance(
    run: Run, features: Sequence[str], importance: Mapping[str, Sequence[float]]
) -> None:
    """``feature_importance.csv`` (one column per importance type) and a bar chart."""
    if not features or not importance:
        return
    kinds = list(importance)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["feature", *kinds])
    for i, name in enumerate(features):
        writer.writerow([name, *(repr(float(importance[k][i])) for k in kinds)])
    run.log_text(buf.getvalue(), "feature_importance.csv")
    import plotly.graph_objects as go

    kind = "gain" if "gain" in importance else kinds[0]
    order = sorted(range(len(features)), key=lambda i: float(importance[kind][i]))
    fig = go.Figure(
        go.Bar(
            x=[float(importance[kind][i]) for i in order],
            y=[str(features[i]) for i in order],
            orientation="h",
        )
    )
    fig.update_layout(title=f"feature importance ({kind})", xaxis_title=kind)
    run.log_figure(fig, "feature_importance.html")


def eval_key(data_name: str, metric: str) -> str:
    """The metric key of one eval set's metric (``validation_0-logloss``)."""
    return f"{data_name}-{metric}".replace("@", "_at_")
