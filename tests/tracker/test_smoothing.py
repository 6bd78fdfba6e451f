import numpy as np
import pytest

from posecast.errors import InvalidInputError
from posecast.tracker.config import SmoothingConfig
from posecast.tracker.smoothing import OneEuroFilter, PoseSmoother

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


def _pose_at(range_m: float) -> np.ndarray:
    """A 1.7 m tall stick pose (5 joints) straight ahead at ``range_m``, x right, y down."""
    offsets = np.array([[0, -0.85, 0], [0, 0, 0], [0, 0.85, 0], [-0.2, -0.4, 0], [0.2, -0.4, 0]])
    return offsets + np.array([1.0, 0.0, range_m])


def _range(joints: np.ndarray) -> float:
    return float(np.linalg.norm(joints.mean(axis=0)))


def test_pose_smoother_steadies_depth_far_away() -> None:
    rng = np.random.default_rng(0)
    joints_only = PoseSmoother(SmoothingConfig(range_min_cutoff_hz=1000.0))  # range nearly passes
    default = PoseSmoother(SmoothingConfig())
    ranges: dict[str, list[float]] = {"raw": [], "joints only": [], "default": []}
    for k in range(100):
        pose = _pose_at(15.0)
        noisy = pose * (1.0 + rng.normal(0, 0.3) / 15.0)  # range error along the rays
        ranges["raw"].append(_range(noisy))
        ranges["joints only"].append(_range(joints_only(noisy, k * 0.1)))
        ranges["default"].append(_range(default(noisy, k * 0.1)))
    spread = {name: np.std(values[20:]) for name, values in ranges.items()}
    assert spread["default"] < 0.5 * spread["raw"]
    assert spread["default"] < 0.8 * spread["joints only"]


def test_pose_smoother_follows_someone_walking_towards_the_camera() -> None:
    smoother = PoseSmoother(SmoothingConfig())
    for k in range(40):  # 1.5 m/s from 20 m, 10 Hz
        true_range_m = _range(_pose_at(20.0 - 0.15 * k))
        smoothed = smoother(_pose_at(20.0 - 0.15 * k), k * 0.1)
    # stated bound: the lag of the range at walking speed stays under half a metre
    assert abs(_range(smoothed) - true_range_m) < 0.5


def test_pose_smoother_barely_lags_near_people() -> None:
    smoother = PoseSmoother(SmoothingConfig())
    for k in range(30):  # 1 m/s towards the camera from 5 m, 30 Hz
        true_range_m = _range(_pose_at(5.0 - k / 30))
        smoothed = smoother(_pose_at(5.0 - k / 30), k / 30)
    # near, depth is reliable and walking changes the inverse range fast: the filter opens up
    assert abs(_range(smoothed) - true_range_m) < 0.1


def test_pose_smoother_keeps_the_skeleton_and_moves_it_along_its_ray() -> None:
    smoother = PoseSmoother(SmoothingConfig())
    smoother(_pose_at(15.0), 0.0)
    out = smoother(_pose_at(17.0), 0.1)
    shape = out - out.mean(axis=0)
    reference = OneEuroFilter(SmoothingConfig())  # the joint filter alone, same history
    reference(_pose_at(15.0), 0.0)
    joints_only = reference(_pose_at(17.0), 0.1)
    np.testing.assert_allclose(shape, joints_only - joints_only.mean(axis=0), atol=1e-9)
    direction = out.mean(axis=0) / np.linalg.norm(out.mean(axis=0))
    joint_direction = joints_only.mean(axis=0) / np.linalg.norm(joints_only.mean(axis=0))
    np.testing.assert_allclose(direction, joint_direction, atol=1e-9)
