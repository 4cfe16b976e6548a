"""Downsampling keeps the shape (first/last, each bucket's min and max); EMA smoothing."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nbtrack.views._downsample import bucket_size, downsample, downsample_indices
from nbtrack.views._smoothing import smooth_ema


def _reference_ema(values: np.ndarray, weight: float) -> np.ndarray:
    out, last, count = [], 0.0, 0
    for v in values:
        if not math.isfinite(v):
            out.append(v)
            continue
        last = last * weight + (1 - weight) * v
        count += 1
        out.append(last / (1 - weight**count))
    return np.array(out)


@pytest.mark.parametrize("n", [0, 1, 5, 2000])
def test_short_series_are_kept_whole(n: int) -> None:
    y = np.random.default_rng(0).normal(size=n)
    assert downsample_indices(y, 2000).tolist() == list(range(n))


@pytest.mark.parametrize(
    ("n", "max_points"),
    [
        pytest.param(2001, 2000, id="just-over"),
        pytest.param(10_007, 2000, id="prime-length"),
        pytest.param(1_000_000, 2000, id="million"),
        pytest.param(5000, 10, id="tiny-budget"),
    ],
)
def test_keeps_first_last_and_each_bucket_min_max(n: int, max_points: int) -> None:
    y = np.random.default_rng(n).normal(size=n).cumsum()
    kept = downsample_indices(y, max_points)
    assert len(kept) <= max_points
    assert kept[0] == 0
    assert kept[-1] == n - 1
    assert np.all(np.diff(kept) > 0)
    size = bucket_size(n, max_points)
    kept_set = set(kept.tolist())
    for start in range(0, n, size):
        bucket = y[start : start + size]
        assert start + int(np.argmin(bucket)) in kept_set
        assert start + int(np.argmax(bucket)) in kept_set


def test_a_single_spike_survives() -> None:
    y = np.zeros(1_000_000)
    y[654_321] = 100.0
    y[123_456] = -50.0
    x, ys = downsample(np.arange(y.size), y, 2000)
    assert 654_321 in x
    assert 123_456 in x
    assert ys.max() == 100.0
    assert ys.min() == -50.0


def test_nan_never_wins_a_bucket_with_numbers() -> None:
    y = np.arange(10_000, dtype=float)
    y[::3] = np.nan
    kept = downsample_indices(y, 100)
    # Every bucket holds numbers, so only the always-kept first/last points may be NaN.
    assert not np.isnan(y[kept[1:-1]]).any()


def test_all_nan_buckets_do_not_crash() -> None:
    y = np.full(10_000, np.nan)
    assert len(downsample_indices(y, 100)) <= 100


def test_bad_arguments_raise() -> None:
    with pytest.raises(ValueError, match="at least 4"):
        bucket_size(100, 3)
    with pytest.raises(ValueError, match="x has 3 points but y has 2"):
        downsample(np.arange(3), np.arange(2))


@pytest.mark.parametrize("weight", [0.3, 0.6, 0.9, 0.99, 0.999])
def test_ema_matches_tensorboard_loop(weight: float) -> None:
    y = np.random.default_rng(1).normal(size=3001).cumsum()
    np.testing.assert_allclose(
        smooth_ema(y, weight), _reference_ema(y, weight), rtol=1e-9, atol=1e-9
    )


def test_ema_is_debiased_and_passes_non_finite_values_through() -> None:
    y = np.array([5.0, np.nan, 7.0, np.inf, 9.0])
    out = smooth_ema(y, 0.9)
    assert out[0] == 5.0  # debiasing: the first point is not pulled towards 0
    assert np.isnan(out[1])
    assert out[3] == np.inf
    np.testing.assert_allclose(out, _reference_ema(y, 0.9))


def test_ema_weight_zero_is_identity_and_bad_weights_raise() -> None:
    y = np.array([1.0, 2.0, 3.0])
    assert smooth_ema(y, 0.0).tolist() == [1.0, 2.0, 3.0]
    for weight in (-0.1, 1.0, 2.0):
        with pytest.raises(ValueError, match="smoothing"):
            smooth_ema(y, weight)
