"""Look-at rotations and rotations about the optical axis."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from posecast.engines.geometry.rotations import (
    look_at_rotations,
    normalize_radians,
    rotations_about_z,
)


def test_look_at_rotation_turns_the_axis_without_roll(rng: np.random.Generator) -> None:
    directions = np.concatenate([rng.uniform(-1, 1, (50, 2)), rng.uniform(0.5, 2, (50, 1))], 1)
    rotations = look_at_rotations(directions)
    unit = directions / np.linalg.norm(directions, axis=1, keepdims=True)
    np.testing.assert_allclose(
        np.einsum("nij,nj->ni", rotations, unit), [[0, 0, 1]] * 50, atol=1e-12
    )
    np.testing.assert_allclose(
        rotations @ np.swapaxes(rotations, 1, 2), np.broadcast_to(np.eye(3), (50, 3, 3)), atol=1e-12
    )
    np.testing.assert_allclose(np.linalg.det(rotations), 1.0)
    for rotation in rotations:  # rotation axis perpendicular to the optical axis: no roll
        axis_angle, _ = cv2.Rodrigues(rotation)
        assert abs(axis_angle[2, 0]) < 1e-9


@pytest.mark.parametrize(
    ("angle_rad", "wrapped_rad"),
    [
        (0.0, 0.0),  # unchanged
        (3.0, 3.0),  # inside [-pi, pi)
        (np.pi, -np.pi),  # the upper end wraps to the lower one
        (-np.pi, -np.pi),  # the lower end stays
        (2.5 * np.pi, 0.5 * np.pi),  # more than a full turn
        (-4.0, 2 * np.pi - 4.0),  # below -pi
    ],
)
def test_normalize_radians(angle_rad: float, wrapped_rad: float) -> None:
    np.testing.assert_allclose(normalize_radians(np.array([angle_rad])), [wrapped_rad], atol=1e-12)


def test_rotation_about_z_turns_x_towards_image_y() -> None:
    rotation = rotations_about_z(np.array([np.pi / 2]))[0]
    np.testing.assert_allclose(rotation @ [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(rotation @ [0.0, 0.0, 1.0], [0.0, 0.0, 1.0])
    assert rotations_about_z(np.zeros(0)).shape == (0, 3, 3)
