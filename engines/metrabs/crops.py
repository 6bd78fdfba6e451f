"""MeTRAbs crops of person boxes: perspective crops (upright, test-time augmented) and their
pixels, cut in linear light as MeTRAbs' multi-person model cuts them.

Light on imports (numpy, OpenCV, the geometry package) so that the conversion tool cuts its
check crops with the same code as the engine.
"""

from __future__ import annotations

import cv2
import numpy as np

from posecast.engines.geometry.camera import Camera
from posecast.engines.geometry.perspective_crops import (
    PerspectiveCrops,
    perspective_crops,
    warp_perspective_crops,
)
from posecast.engines.geometry.warps import apply_homographies
from posecast.engines.metrabs.decoding import GAMMA_DECODE, MetrabsAugmentations

_LINEAR_LIGHT = ((np.arange(256) / 255.0) ** GAMMA_DECODE).astype(np.float32)
CAMERA_UP = np.array([0.0, -1.0, 0.0])
"""Up when the camera's place in the world is unknown: the image's up (MeTRAbs' default)."""


def metrabs_crops(
    boxes_xyxy: np.ndarray,
    camera: Camera,
    size_px: int,
    augmentations: MetrabsAugmentations,
    *,
    box_margin: float = 1.0,
    is_upright: bool = True,
) -> PerspectiveCrops:
    """The N x A perspective crops (person-major) of N boxes in observed image pixels.

    Args:
        boxes_xyxy: (N, 4) person boxes (distorted pixels where the camera has distortion).
        camera: intrinsics, distortion and (optionally) extrinsics whose world is z up.
        size_px: crop side S.
        augmentations: the A augmentations of every person.
        box_margin: factor on the box's longer side that the crop spans.
        is_upright: keep the world's up (else the image's up) up in the crops.
    """
    boxes = undistorted_boxes(np.asarray(boxes_xyxy, np.float64).reshape(-1, 4), camera)
    up_cam = None
    if is_upright:
        extrinsics = camera.world_from_camera
        up_cam = CAMERA_UP if extrinsics is None else extrinsics[2, :3]
    return perspective_crops(
        np.repeat(boxes, len(augmentations), axis=0),
        camera.K,
        size_px,
        box_margin=box_margin,
        up_cam=up_cam,
        **augmentations.per_crop(len(boxes)),
    )


def undistorted_boxes(boxes_xyxy: np.ndarray, camera: Camera) -> np.ndarray:
    """(N, 4) boxes in ideal pinhole pixels: the extent of each box's undistorted side
    midpoints (MeTRAbs measures its boxes the same way); a copy without distortion."""
    if not camera.has_distortion or not len(boxes_xyxy):
        return boxes_xyxy.copy()
    x1, y1, x2, y2 = boxes_xyxy.T
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    sides = np.stack([np.stack([cx, y1], 1), np.stack([x2, cy], 1), np.stack([cx, y2], 1)], 1)
    sides = np.concatenate([sides, np.stack([x1, cy], 1)[:, None]], axis=1)
    points = camera.undistort_points(sides)
    return np.concatenate([points.min(axis=1), points.max(axis=1)], axis=1)


def cut_metrabs_crops(
    image_rgb: np.ndarray,
    crops: PerspectiveCrops,
    gammas: np.ndarray,
    camera: Camera | None = None,
    antialias: bool = True,
) -> np.ndarray:
    """MeTRAbs' crop pixels: (M, S, S, 3) float32 RGB in [0, 1].

    The image goes to linear light (``(x / 255) ** 2.2``), is warped (through the camera's
    distortion where it has one), and each crop is brought back with ``** (gamma / 2.2)``
    (gamma 1: the image's own encoding), as MeTRAbs' multi-person model does.
    """
    linear = _LINEAR_LIGHT[image_rgb]
    if camera is None or not camera.has_distortion:
        warped = warp_perspective_crops(linear, crops, antialias=antialias)
    else:
        warped = _warp_through_distortion(linear, crops, camera, antialias)
    np.clip(warped, 0.0, 1.0, out=warped)
    exponents = (np.asarray(gammas, np.float32) / np.float32(GAMMA_DECODE))[:, None, None, None]
    return np.power(warped, exponents, dtype=np.float32)


def _warp_through_distortion(
    image: np.ndarray, crops: PerspectiveCrops, camera: Camera, antialias: bool
) -> np.ndarray:
    """Like ``warp_perspective_crops``, but each crop pixel is looked up where the distorted
    camera saw its ray (``cv2.remap``)."""
    size = crops.size_px
    grid = np.stack(np.meshgrid(np.arange(size), np.arange(size)), axis=-1).reshape(1, -1, 2)
    image_from_crop = np.linalg.inv(crops.crop_from_image)
    pyramid = [image]
    out = np.empty((len(crops), size, size, image.shape[2]), np.float32)
    for index in range(len(crops)):
        zoom = float(crops.zoom[index])
        level = max(0, int(np.floor(np.log2(1.0 / zoom)))) if antialias and zoom < 1 else 0
        while len(pyramid) <= level:
            pyramid.append(cv2.pyrDown(pyramid[-1]))
        ideal = apply_homographies(grid, image_from_crop[index : index + 1])[0]
        observed = camera.distort_points(ideal) / 2.0**level
        maps = observed.reshape(size, size, 2).astype(np.float32)
        out[index] = cv2.remap(
            pyramid[level], maps[..., 0], maps[..., 1], cv2.INTER_LINEAR, cv2.BORDER_CONSTANT
        )
    return out
