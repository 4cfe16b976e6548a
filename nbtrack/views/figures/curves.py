"""Metric curves: ``get_metric_histories`` points in, one subplot per key, one trace per run.

Each trace is downsampled to a share of :data:`POINT_BUDGET`, so the JSON sent to the
browser stays a few hundred KB however many runs and keys share the figure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from nbtrack.tracking.downsample import DEFAULT_MAX_POINTS, downsample_indices
from nbtrack.views._colors import run_colors
from nbtrack.views._smoothing import smooth_ema
from nbtrack.views.figures.look import (
    LEGEND,
    base_layout,
    empty_figure,
    grid_layout,
    rows_for,
    run_labels,
)

XAxis = Literal["step", "time", "relative"]
X_AXES: tuple[str, ...] = ("step", "time", "relative")

# Total points drawn in one figure; the per-trace cap shrinks when many runs × keys
# share a figure, so the JSON sent to the browser stays a few hundred KB.
POINT_BUDGET = 120_000
MIN_POINTS_PER_TRACE = 200


def points_per_trace(traces: int, max_points: int = DEFAULT_MAX_POINTS) -> int:
    """Return the per-trace point cap for a figure with ``traces`` lines."""
    if traces <= 0:
        return max_points
    return int(max(MIN_POINTS_PER_TRACE, min(max_points, POINT_BUDGET // traces)))


def _change_points(values: pd.Series) -> np.ndarray:
    """Positions where a column's value differs from the previous row's."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if len(values) < 2:
        return np.empty(0, dtype=np.int64)
    # pyarrow compares a million strings in a few ms; pandas factorize takes ~100 ms.
    array = pa.array(values, from_pandas=True)
    differs = pc.not_equal(array.slice(1), array.slice(0, len(array) - 1))
    return np.flatnonzero(differs.to_numpy(zero_copy_only=False)) + 1


def _x_at(x: str, steps: np.ndarray, stamps: np.ndarray | None, idx: np.ndarray) -> np.ndarray:
    """The x values of the kept points (computed after downsampling: cheap)."""
    if x == "step" or stamps is None:
        return steps[idx]
    if x == "time":
        return stamps[idx]
    return (stamps[idx] - stamps.min()) / np.timedelta64(1, "s")


def series_segments(histories: pd.DataFrame) -> tuple[pd.DataFrame, dict[tuple[str, str], slice]]:
    """Find each (run, key) series as one contiguous row range.

    ``get_metric_histories`` returns rows ordered by run, key, step and time, so the
    ranges are found from where run or key change; other frames are sorted first.

    Returns:
        ``(frame, {(run_id, key): slice})`` where ``frame`` is ``histories`` or a
        sorted copy of it.
    """
    for attempt in range(2):
        n = len(histories)
        cuts = np.union1d(_change_points(histories["run_id"]), _change_points(histories["key"]))
        starts = np.concatenate([[0], cuts]).astype(np.int64) if n else np.empty(0, np.int64)
        stops = np.concatenate([cuts, [n]]).astype(np.int64) if n else np.empty(0, np.int64)
        # .iloc on the few starts: converting a whole Arrow string column costs ~100 ms.
        run_ids = histories["run_id"].iloc[starts].tolist()
        keys = histories["key"].iloc[starts].tolist()
        segments = {
            (str(r), str(k)): slice(int(a), int(b))
            for r, k, a, b in zip(run_ids, keys, starts, stops, strict=True)
        }
        if len(segments) == len(starts) or attempt:
            return histories, segments
        histories = histories.sort_values(["run_id", "key"], kind="stable").reset_index(drop=True)
    raise AssertionError("unreachable")


def build_metrics_figure(
    histories: pd.DataFrame,
    runs: pd.DataFrame | None = None,
    *,
    keys: Sequence[str] | None = None,
    x: str = "step",
    smoothing: float = 0.0,
    log_y: bool = False,
    max_points: int = DEFAULT_MAX_POINTS,
    height: int | None = None,
    colors: Mapping[str, str] | None = None,
) -> go.Figure:
    """Draw metric curves: one subplot per key, one line per run, one colour per run.

    Args:
        histories: ``run_id, key, step, timestamp, value`` rows (``get_metric_histories``).
        runs: ``search_runs`` rows naming the runs (``run_id``, ``name``); runs
            missing from it are labelled by their id. Its order sets the legend order.
        keys: Metric keys to draw, in order; ``None`` draws every key in ``histories``.
        x: ``"step"``, ``"time"`` (wall clock, UTC) or ``"relative"`` (seconds since
            the run's first point).
        smoothing: TensorBoard-style debiased EMA weight in ``[0, 1)``; when above 0
            the raw series is drawn faintly behind the smoothed one.
        log_y: Logarithmic y axes.
        max_points: Most points per line; long series are downsampled keeping each
            bucket's min and max (:mod:`nbtrack.tracking.downsample`).
        height: Figure height in pixels; ``None`` picks one from the number of rows.
        colors: ``{run_id: colour}``; runs missing from it get palette colours by
            position (:func:`nbtrack.views._colors.run_colors`).

    Returns:
        A ``go.Figure``; hover shows run name, step and value.

    Raises:
        ValueError: ``x`` or ``smoothing`` is out of range.
    """
    if x not in X_AXES:
        raise ValueError(f"x must be one of {', '.join(X_AXES)}; got {x!r}")
    if not 0.0 <= smoothing < 1.0:
        raise ValueError(f"smoothing must be in [0, 1), got {smoothing}")
    if histories is None or histories.empty:
        return empty_figure("No metrics logged for these runs yet")
    histories, segments = series_segments(histories)
    present = list(dict.fromkeys(k for _, k in segments))
    key_list = [k for k in (keys if keys is not None else sorted(present)) if k in present]
    if not key_list:
        wanted = ", ".join(keys or [])
        return empty_figure(f"No points for {wanted or 'these keys'}")
    runs = runs if runs is not None else pd.DataFrame({"run_id": []})
    labels = run_labels(runs)
    order = list(labels)
    for rid in dict.fromkeys(r for r, _ in segments):
        if str(rid) not in labels:
            labels[str(rid)] = str(rid)[-8:]
            order.append(str(rid))

    palette = run_colors(order, colors)
    wanted = set(key_list)
    groups = {pair: rows for pair, rows in segments.items() if pair[1] in wanted}
    all_steps = histories["step"].to_numpy()
    all_values = histories["value"].to_numpy(dtype=np.float64)
    all_stamps = (
        pd.to_datetime(histories["timestamp"], utc=True).dt.tz_localize(None).to_numpy()
        if x != "step"
        else None
    )
    x_title = {"step": "step", "time": "time (UTC)", "relative": "seconds since first point"}[x]
    cap = points_per_trace(len(groups) * (2 if smoothing > 0 else 1), max_points)
    entries, refs, rows = grid_layout(
        key_list, 2, vspace=min(0.12, 0.36 / rows_for(len(key_list), 2))
    )
    cols = min(len(key_list), 2)
    traces: list[go.Scatter] = []
    shown_in_legend: set[str] = set()
    for k_index, key in enumerate(key_list):
        xref, yref = refs[k_index]
        for rid in order:
            rows_of = groups.get((rid, key))
            if rows_of is None or rows_of.stop <= rows_of.start:
                continue
            steps = all_steps[rows_of]
            ys = all_values[rows_of]
            stamps = all_stamps[rows_of] if all_stamps is not None else None
            if np.any(np.diff(steps) < 0):  # not from get_metric_histories: order by step, time
                order_by = (
                    np.lexsort((stamps, steps))
                    if stamps is not None
                    else np.argsort(steps, kind="stable")
                )
                steps, ys = steps[order_by], ys[order_by]
                stamps = stamps[order_by] if stamps is not None else None
            color = palette[rid]
            label = labels[rid]
            first = rid not in shown_in_legend
            shown_in_legend.add(rid)
            if smoothing > 0:
                idx = downsample_indices(ys, cap)
                traces.append(
                    go.Scatter(
                        x=_x_at(x, steps, stamps, idx),
                        y=ys[idx],
                        xaxis=xref,
                        yaxis=yref,
                        mode="lines",
                        legendgroup=rid,
                        showlegend=False,
                        name=label,
                        opacity=0.25,
                        line={"color": color, "width": 1},
                        hoverinfo="skip",
                    )
                )
                ys = smooth_ema(ys, smoothing)
            idx = downsample_indices(ys, cap)
            if x == "step":
                hover = (
                    f"<b>%{{fullData.name}}</b><br>step %{{x}}<br>{key} %{{y:.6g}}<extra></extra>"
                )
                custom = None
            else:
                hover = (
                    f"<b>%{{fullData.name}}</b><br>step %{{customdata}}<br>{key} %{{y:.6g}}"
                    f"<br>{x_title} %{{x}}<extra></extra>"
                )
                custom = steps[idx]
            traces.append(
                go.Scatter(
                    x=_x_at(x, steps, stamps, idx),
                    y=ys[idx],
                    xaxis=xref,
                    yaxis=yref,
                    customdata=custom,
                    hovertemplate=hover,
                    # A one-point line draws nothing: show a lone point as a marker.
                    mode="lines" if len(idx) > 1 else "markers",
                    name=label,
                    legendgroup=rid,
                    showlegend=first,
                    line={"color": color, "width": 1.8},
                    marker={"color": color, "size": 8},
                )
            )
    for k_index, key in enumerate(key_list):
        suffix = "" if k_index == 0 else str(k_index + 1)
        entries[f"yaxis{suffix}"]["type"] = "log" if log_y else "linear"
        if len(key_list) == 1:
            entries[f"yaxis{suffix}"]["title"] = {"text": key}
        if k_index // cols == rows - 1 or k_index + cols >= len(key_list):
            entries[f"xaxis{suffix}"]["title"] = {"text": x_title}
    layout = base_layout(
        height=height or (340 if rows == 1 else 70 + 260 * rows),
        hovermode="closest",
        # One legend group per run; plotly's default 10 px between groups made ten runs
        # overflow the legend of a 380 px figure (it scrolled).
        legend={**LEGEND, "title": {"text": "run"}, "tracegroupgap": 2},
        **entries,
    )
    return go.Figure(data=traces, layout=layout)
