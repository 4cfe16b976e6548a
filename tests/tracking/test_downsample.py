"""Downsampling keeps the shape (first/last, each bucket's min and max)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nbtrack.errors import InvalidValueError
from nbtrack.tracking.downsample import bucket_size, downsample, downsample_indices


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
    with pytest.raises(InvalidValueError, match="at least 4"):
        bucket_size(100, 3)
    with pytest.raises(ValueError, match="x has 3 points but y has 2"):
        downsample(np.arange(3), np.arange(2))


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    points=st.lists(
        st.tuples(st.integers(0, 6), st.integers(0, 3), st.floats(-5, 5)), min_size=1, max_size=40
    )
)
def test_a_history_logged_out_of_order_is_read_in_step_order(points, tmp_path_factory) -> None:
    """downsampled_history reads without ORDER BY and sorts only when needed: whatever order
    the steps and timestamps were logged in, it returns what get_metric_history returns
    (ORDER BY step, timestamp) when nothing is dropped."""
    import nbtrack as nt
    from nbtrack.tracking.downsample import downsampled_history

    nt.set_store(str(tmp_path_factory.mktemp("ds") / "store"))
    with nt.start_run() as r:
        for step, ts, value in points:
            r.log_metric("m", value, step=step, timestamp=1_700_000_000_000 + ts)
    want = nt.get_metric_history(r.id, "m")
    got = downsampled_history(r.id, "m", 100).points.to_pandas()
    assert got["step"].tolist() == want["step"].tolist()
    assert got["timestamp"].tolist() == want["timestamp"].tolist()
    # equal (step, timestamp) points may come in either order from ORDER BY: compare as sets
    cols = ("step", "timestamp", "value")
    assert sorted(zip(*(got[c] for c in cols), strict=True)) == sorted(
        zip(*(want[c] for c in cols), strict=True)
    )


def test_downsampled_points_keep_their_own_timestamps_across_files(tmp_path) -> None:
    """Timestamps are read only for the kept points (after the cheap step/value read):
    each kept point must carry its own timestamp, whatever file order the steps come in."""
    import numpy as np

    import nbtrack as nt
    from nbtrack.tracking.downsample import downsampled_history

    nt.set_store(str(tmp_path / "store"))
    rng = np.random.default_rng(3)
    chunks = np.array_split(rng.permutation(600), 7)  # seven files, steps out of order
    with nt.start_run() as r:
        for chunk in chunks:
            for step in sorted(chunk.tolist()):
                r.log_metric("m", float(np.sin(step / 9)), step=step, timestamp=10**12 + 7 * step)
            nt.search_runs(experiment="*")  # flushes: the next chunk is another file
    got = downsampled_history(r.id, "m", 40)
    points = got.points.to_pandas()
    assert got.total == 600 and 20 < len(points) <= 40
    assert points["step"].is_monotonic_increasing
    stamps = points["timestamp"].map(lambda t: int(t.timestamp() * 1000))
    assert (stamps == 10**12 + 7 * points["step"]).all()
    assert np.allclose(points["value"], np.sin(points["step"] / 9))


@pytest.mark.parametrize(
    ("chunks", "expected"),
    [
        pytest.param([[0, 1, 2], [3, 4], [], [5]], True, id="increasing-across-chunks"),
        pytest.param([[0, 1, 2], [2, 3]], False, id="equal-at-a-boundary"),
        pytest.param([[0, 1, 5], [4, 6]], False, id="down-at-a-boundary"),
        pytest.param([[0, 2, 1], [3]], False, id="down-inside-a-chunk"),
        pytest.param([[7]], True, id="one-point"),
    ],
)
def test_step_order_is_checked_chunk_by_chunk(chunks, expected) -> None:
    import pyarrow as pa

    from nbtrack.tracking.series import column_numpy, strictly_increasing

    column = pa.chunked_array([pa.array(c, pa.int64()) for c in chunks], pa.int64())
    assert strictly_increasing(column) is expected
    assert column_numpy(column).tolist() == [s for c in chunks for s in c]
