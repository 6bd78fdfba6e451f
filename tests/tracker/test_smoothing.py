import numpy as np
import pytest

from engines.errors import InvalidInputError
from tracker.config import SmoothingConfig
from tracker.smoothing import OneEuroFilter

RATE_HZ = 30.0


def _filtered(values: np.ndarray, times_s: np.ndarray, config: SmoothingConfig) -> np.ndarray:
    smoother = OneEuroFilter(config)
    return np.array([smoother(value, t) for value, t in zip(values, times_s, strict=True)])


def _times(num: int, seed: int = 0) -> np.ndarray:
    jitter = np.random.default_rng(seed).uniform(-0.005, 0.005, num)
    return np.arange(num) / RATE_HZ + jitter


def test_smoothing_reduces_jitter_of_a_still_pose() -> None:
    times_s = _times(150)
    raw = np.random.default_rng(1).normal(0.0, 0.02, (150, 17, 3)) + np.array([0.1, 0.2, 4.0])
    smoothed = _filtered(raw, times_s, SmoothingConfig())
    settled = slice(15, None)
    ratio = smoothed[settled].std(axis=0).mean() / raw[settled].std(axis=0).mean()
    assert ratio < 0.5


def test_step_is_followed_within_a_tenth_of_a_second() -> None:
    times_s = _times(60)
    raw = np.zeros((60, 17, 3))
    raw[30:, :, 0] = 0.5
    smoothed = _filtered(raw, times_s, SmoothingConfig())
    late = times_s >= times_s[30] + 0.1
    assert (smoothed[late, :, 0] >= 0.45).all()  # within 10 % of the step after 0.1 s
    assert (smoothed[:30] == 0).all()


def test_lag_at_walking_speed_stays_small() -> None:
    times_s = _times(90)
    raw = np.zeros((90, 17, 3))
    raw[:, :, 2] = 1.4 * times_s[:, None]  # walking away at 1.4 m/s
    smoothed = _filtered(raw, times_s, SmoothingConfig())
    lag_m = (raw - smoothed)[30:, :, 2]
    assert lag_m.max() < 0.05


def test_reset_passes_the_next_sample_unchanged() -> None:
    smoother = OneEuroFilter(SmoothingConfig())
    smoother(np.zeros((2, 3)), 0.0)
    smoother(np.zeros((2, 3)), 0.033)
    smoother.reset()
    assert smoother(np.ones((2, 3)), 0.066) == pytest.approx(np.ones((2, 3)))


def test_time_must_increase() -> None:
    smoother = OneEuroFilter(SmoothingConfig())
    smoother(np.zeros(3), 1.0)
    with pytest.raises(InvalidInputError, match=r"expected a timestamp after 1\.0, got 1\.0"):
        smoother(np.zeros(3), 1.0)
