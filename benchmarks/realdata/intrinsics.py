"""Cached estimator output re-placed for other intrinsics, without running the models again.

The estimator's 2D landmarks do not depend on K; its camera-space skeletons do, twice: the
perspective correction turns each pose by the look-at rotation of its ROI centre's ray, and
the absolute reconstruction solves the translation with K. Both are redone here for a new K:
X_cam_new = X_cam_old R_old^T R_new (row vectors, R the look-at rotation of the ray through
the pose's hip midpoint, which stands in for the ROI centre: a few pixels off it turn the
pose by a few hundredths of a degree), then ``reconstruct_absolute`` with the new K and the
same weights as the estimator (landmark visibility).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from posecast.engines.frames import FramePoses
from posecast.engines.geometry.camera import pixels_to_normalized
from posecast.engines.geometry.reconstruction import reconstruct_absolute
from posecast.engines.geometry.rotations import look_at_rotations

HIPS = (23, 24)


def _rays(points_px: np.ndarray, K: np.ndarray) -> np.ndarray:
    normalized = pixels_to_normalized(points_px, K)
    return np.concatenate([normalized, np.ones((len(normalized), 1))], axis=1)


def poses_with_intrinsics(
    poses: FramePoses, K_old: np.ndarray, K_new: np.ndarray, image_size_wh: tuple[int, int]
) -> FramePoses:
    """``poses`` (native BlazePose skeleton, estimated with ``K_old``) as the estimator would
    have placed them with ``K_new``; persons the reconstruction rejects keep NaN joints."""
    if not len(poses):
        return poses
    joints = poses.joints_cam_m.astype(np.float64)
    centres = poses.joints2d_px[:, list(HIPS)].mean(axis=1).astype(np.float64)
    old = look_at_rotations(_rays(centres, K_old))  # (N, 3, 3)
    new = look_at_rotations(_rays(centres, K_new))
    relative = joints - joints[:, list(HIPS)].mean(axis=1, keepdims=True)
    turned = relative @ np.swapaxes(old, 1, 2) @ new
    absolute = reconstruct_absolute(
        turned, poses.joints2d_px.astype(np.float64), K_new, poses.joint_scores, image_size_wh
    )
    return replace(poses, joints_cam_m=absolute.joints_cam_m.astype(np.float32))
