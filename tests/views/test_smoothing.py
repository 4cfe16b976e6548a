"""EMA smoothing of the inline views matches TensorBoard's debiased loop."""

from __future__ import annotations

import math

import numpy as np
import pytest

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
