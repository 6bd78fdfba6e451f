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
    pyramid_level,
)
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

    Each crop pixel is looked up where its ray meets the image (``cv2.remap`` on maps
    computed here): unlike ``cv2.warpPerspective``, whose block-wise coordinate arithmetic
    depends on how OpenCV splits the work between threads, this gives bitwise the same
    crop whatever else runs at the same time (the service poses many streams at once).
    """
    linear = _LINEAR_LIGHT[image_rgb]
    size = crops.size_px
    # float32 maps: 1e-4 px from float64 ones at 2000 px, far below remap's 1/32 px grid
    columns = np.arange(size, dtype=np.float32)[None, :]
    rows = np.arange(size, dtype=np.float32)[:, None]
    image_from_crop = np.linalg.inv(crops.crop_from_image)
    distorted = camera is not None and camera.has_distortion
    pyramid = [linear]
    warped = np.empty((len(crops), size, size, 3), np.float32)
    for index in range(len(crops)):
        level = pyramid_level(float(crops.zoom[index])) if antialias else 0
        while len(pyramid) <= level:
            pyramid.append(cv2.pyrDown(pyramid[-1]))
        h = image_from_crop[index].astype(np.float32)
        depth = h[2, 0] * columns + (h[2, 1] * rows + h[2, 2])
        x = (h[0, 0] * columns + (h[0, 1] * rows + h[0, 2])) / depth
        y = (h[1, 0] * columns + (h[1, 1] * rows + h[1, 2])) / depth
        if distorted:
            observed = camera.distort_points(np.stack([x, y], axis=-1))  # type: ignore[union-attr]
            x, y = observed[..., 0], observed[..., 1]
        scale = np.float32(0.5**level)
        warped[index] = cv2.remap(
            pyramid[level],
            (x * scale).astype(np.float32),
            (y * scale).astype(np.float32),
            cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
        )
    np.clip(warped, 0.0, 1.0, out=warped)
    exponents = (np.asarray(gammas, np.float32) / np.float32(GAMMA_DECODE))[:, None, None, None]
    return np.power(warped, exponents, dtype=np.float32)
