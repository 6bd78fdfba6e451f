"""3D pose errors: MPJPE, PA-MPJPE, root error, scale ratio."""

from __future__ import annotations

import numpy as np
import pytest
from realdata.pose3d import (
    bone_lengths_m,
    mpjpe_m,
    pa_mpjpe_m,
    procrustes_aligned,
    root_error_m,
    scale_ratio,
)
from scipy.spatial.transform import Rotation

RNG = np.random.default_rng(1)
TRUTH = RNG.normal(0, 0.3, (2, 17, 3)) + np.array([0, 0, 4.0])  # (N=2, J=17, 3) metres


def test_a_translated_pose_has_zero_mpjpe_but_a_root_error() -> None:
    shifted = TRUTH + np.array([0.1, 0.0, 0.5])
    np.testing.assert_allclose(mpjpe_m(shifted, TRUTH, root_index=0), 0, atol=1e-12)
    np.testing.assert_allclose(root_error_m(shifted, TRUTH, 0), np.hypot(0.1, 0.5))


def test_mpjpe_of_one_displaced_joint() -> None:
    moved = TRUTH.copy()
    moved[:, 3] += [0.17, 0, 0]
    np.testing.assert_allclose(mpjpe_m(moved, TRUTH, root_index=0), 0.01)


def test_procrustes_undoes_scale_rotation_translation() -> None:
    rotation = Rotation.from_euler("xyz", [20, -40, 70], degrees=True).as_matrix()
    transformed = 1.3 * TRUTH @ rotation.T + [1, 2, 3]
    np.testing.assert_allclose(procrustes_aligned(transformed, TRUTH), TRUTH, atol=1e-9)
    np.testing.assert_allclose(pa_mpjpe_m(transformed, TRUTH), 0, atol=1e-9)
    assert (mpjpe_m(transformed, TRUTH, 0) > 0.05).all()


def test_procrustes_does_not_reflect() -> None:
    mirrored = TRUTH * [-1, 1, 1]  # a reflection: no rotation can undo it
    assert (pa_mpjpe_m(mirrored, TRUTH) > 0.01).all()


def test_scale_ratio() -> None:
    bones = np.array([[0, 1], [1, 2], [3, 4]])
    assert bone_lengths_m(TRUTH, bones).shape == (2, 3)
    np.testing.assert_allclose(scale_ratio(0.9 * TRUTH, TRUTH, bones), 0.9)
    np.testing.assert_allclose(scale_ratio(TRUTH + 5, TRUTH, bones), 1.0)


@pytest.mark.parametrize("function", [mpjpe_m, root_error_m])
def test_empty_batches(function) -> None:
    assert function(np.zeros((0, 17, 3)), np.zeros((0, 17, 3)), 0).shape == (0,)
