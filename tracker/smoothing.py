"""One Euro filter (Casiez, Roussel, Vogel, CHI 2012) over arrays of points, with real time."""

from __future__ import annotations

import math

import numpy as np

from posecast.errors import InvalidInputError
from posecast.tracker.config import SmoothingConfig


def _smoothing_factor(elapsed_s: float, cutoff_hz: np.ndarray | float) -> np.ndarray | float:
    """Weight of the new sample of a first-order low-pass filter with this cutoff."""
    time_constant_s = 1.0 / (2.0 * math.pi * np.asarray(cutoff_hz))
    return 1.0 / (1.0 + time_constant_s / elapsed_s)


class OneEuroFilter:
    """Adaptive low-pass filter of points (e.g. the (J, 3) joints of one track).

    Each point gets its own cutoff from its own speed (norm over the last axis), so a still
    wrist is smoothed hard while a swinging one follows closely.
    """

    def __init__(self, config: SmoothingConfig) -> None:
        self._config = config
        self._value: np.ndarray | None = None
        self._velocity: np.ndarray | None = None
        self._timestamp_s = 0.0

    def reset(self) -> None:
        """Forget the past: the next sample passes unchanged."""
        self._value = None
        self._velocity = None

    def __call__(self, values: np.ndarray, timestamp_s: float) -> np.ndarray:
        """Filter one sample.

        Args:
            values: (..., D) points, e.g. (J, 3) joints in metres.
            timestamp_s: time of the sample, after the previous one.

        Returns:
            (..., D) filtered points (a new array).

        Raises:
            InvalidInputError: the timestamp does not increase.
        """
        values = np.asarray(values, np.float64)
        if self._value is None or self._velocity is None:
            self._value, self._velocity = values.copy(), np.zeros_like(values)
            self._timestamp_s = timestamp_s
            return values.copy()
        elapsed_s = timestamp_s - self._timestamp_s
        if not elapsed_s > 0:
            raise InvalidInputError(
                f"One Euro filter: expected a timestamp after {self._timestamp_s}, "
                f"got {timestamp_s}"
            )
        config = self._config
        raw_velocity = (values - self._value) / elapsed_s
        alpha_d = _smoothing_factor(elapsed_s, config.d_cutoff_hz)
        self._velocity = self._velocity + alpha_d * (raw_velocity - self._velocity)
        speed = np.linalg.norm(self._velocity, axis=-1, keepdims=True)
        alpha = _smoothing_factor(elapsed_s, config.min_cutoff_hz + config.beta_per_m * speed)
        self._value = self._value + alpha * (values - self._value)
        self._timestamp_s = timestamp_s
        return self._value.copy()


class PoseSmoother:
    """One Euro filtering of a track's pose, with its distance from the camera smoothed apart.

    Monocular depth is far noisier than the position across the image, and the noise grows
    with the square of the range (the same pixel error on a smaller person), so the inverse
    of the pose's range (its centroid's distance from the camera), whose noise does not
    depend on the range, gets its own filter: far away, where walking barely changes the
    inverse range, it smooths hard; near, where walking changes it fast, the One Euro speed
    term opens it up. The joint-filtered pose is then moved along its centroid's viewing ray
    to the filtered range, keeping its shape, size and the centroid's image position.
    """

    def __init__(self, config: SmoothingConfig) -> None:
        self._joints = OneEuroFilter(config)
        self._inverse_range = OneEuroFilter(
            SmoothingConfig(
                min_cutoff_hz=config.range_min_cutoff_hz,
                beta_per_m=config.inverse_range_beta,
                d_cutoff_hz=config.d_cutoff_hz,
            )
        )

    def reset(self) -> None:
        """Forget the past (re-acquisition): the next pose passes unchanged."""
        self._joints.reset()
        self._inverse_range.reset()

    def __call__(self, joints_cam_m: np.ndarray, timestamp_s: float) -> np.ndarray:
        """Filter one (J, 3) pose in metres; returns a new array."""
        smoothed = self._joints(joints_cam_m, timestamp_s)
        centroid = smoothed.mean(axis=0)
        centroid_range_m = float(np.linalg.norm(centroid))
        raw_range_m = float(np.linalg.norm(np.mean(joints_cam_m, axis=0)))
        if centroid_range_m == 0.0 or raw_range_m == 0.0:
            return smoothed
        inverse = self._inverse_range(np.array([[1.0 / raw_range_m]]), timestamp_s)[0, 0]
        range_m = 1.0 / float(inverse)
        return smoothed + (range_m - centroid_range_m) * centroid / centroid_range_m
