"""Test-time augmentation with the real model: predictions mapped back agree with the plain ones.

A wrong un-flip (left/right not swapped back) or un-rotation (augmentation rotation applied
the wrong way) moves joints by tens of centimetres; a correct mapping only averages noise.
"""

from __future__ import annotations

import numpy as np
import pytest

from posecast.engines.estimator import EstimatorConfig, PoseEstimator
from testdata import read_rgb


@pytest.mark.parametrize("num_aug", [2, 5])
def test_augmented_poses_agree_with_plain_ones(estimator, num_aug) -> None:
    image = read_rgb("basketball1_left.jpg")
    plain = estimator.estimate(image).poses
    config = EstimatorConfig(num_augmentations=num_aug)
    augmented = (
        PoseEstimator(estimator.detector, estimator.pose_model, config, estimator.aligner)
        .estimate(image)
        .poses
    )
    assert len(plain) == len(augmented) == 1
    height_px = np.ptp(plain.joints2d_px[0, :, 1])
    error_2d = np.linalg.norm(augmented.joints2d_px - plain.joints2d_px, axis=-1)
    assert np.median(error_2d) / height_px < 0.02
    relative = [p.joints_cam_m[0] - p.joints_cam_m[0].mean(axis=0) for p in (plain, augmented)]
    assert np.median(np.linalg.norm(relative[0] - relative[1], axis=-1)) < 0.03
    # left and right stay apart: the wrists did not swap sides
    left, right = 15, 16
    assert np.sign(augmented.joints2d_px[0, left, 0] - augmented.joints2d_px[0, right, 0]) == (
        np.sign(plain.joints2d_px[0, left, 0] - plain.joints2d_px[0, right, 0])
    )
