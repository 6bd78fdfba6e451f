"""Pictures of tracking results: 2D skeleton overlays and a top-down plot of 3D trajectories.

Drawn with OpenCV only, so rendering needs no plotting library.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import cv2
import numpy as np

from posecast.engines.frames import UNTRACKED_ID, FramePoses
from posecast.engines.geometry.skeletons import get_skeleton

UNTRACKED_COLOUR_RGB = (200, 200, 200)


def track_colour_rgb(track_id: int) -> tuple[int, int, int]:
    """A stable, well-separated colour per track id (golden-angle hues)."""
    if track_id == UNTRACKED_ID:
        return UNTRACKED_COLOUR_RGB
    hue = int((track_id * 137.508) % 180)
    hsv = np.array([[[hue, 220, 255]]], np.uint8)
    red, green, blue = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0]
    return int(red), int(green), int(blue)


def draw_skeletons(image_rgb: np.ndarray, poses: FramePoses, min_score: float = 0.3) -> np.ndarray:
    """A copy of the image with each person's 2D skeleton and track id drawn on it.

    Searching and terminated tracks (predicted poses) are not drawn; joints below
    ``min_score`` are left out.
    """
    canvas = image_rgb.copy()
    edges = get_skeleton(poses.skeleton).edges
    for index in range(len(poses)):
        if poses.track_states[index] in ("searching", "terminated"):
            continue
        colour = track_colour_rgb(int(poses.track_ids[index]))
        points = poses.joints2d_px[index]
        visible = poses.joint_scores[index] >= min_score
        for start, end in edges:
            if visible[start] and visible[end]:
                cv2.line(
                    canvas,
                    tuple(np.round(points[start]).astype(int)),
                    tuple(np.round(points[end]).astype(int)),
                    colour,
                    2,
                    cv2.LINE_AA,
                )
        if poses.track_ids[index] != UNTRACKED_ID:
            x1, y1 = np.round(poses.boxes_xyxy[index, :2]).astype(int)
            cv2.putText(
                canvas,
                str(int(poses.track_ids[index])),
                (int(x1), max(int(y1) - 4, 12)),
                cv2.FONT_HERSHEY_SIMPLEX,
                0.5,
                colour,
                2,
                cv2.LINE_AA,
            )
    return canvas


def plot_trajectories(
    trajectories_m: Mapping[int, Sequence[tuple[float, float]]],
    size_px: int = 800,
    margin_px: int = 60,
) -> np.ndarray:
    """Top-down view (x right, depth z up) of each track's ground positions, as an RGB image.

    Args:
        trajectories_m: track id -> [(x_m, z_m), ...] in camera coordinates.
        size_px: side of the square picture.
        margin_px: room for the axis labels.
    """
    canvas = np.full((size_px, size_px, 3), 255, np.uint8)
    points = [p for path in trajectories_m.values() for p in path]
    if not points:
        cv2.putText(canvas, "no tracks", (margin_px, size_px // 2), 0, 1.0, (0, 0, 0), 2)
        return canvas
    xz = np.array(points)
    low, high = xz.min(axis=0) - 0.5, xz.max(axis=0) + 0.5
    span_m = float(max(high - low))
    scale = (size_px - 2 * margin_px) / span_m

    def to_px(x_m: float, z_m: float) -> tuple[int, int]:
        return (
            int(margin_px + (x_m - low[0]) * scale),
            int(size_px - margin_px - (z_m - low[1]) * scale),
        )

    step_m = max(1.0, float(np.ceil(span_m / 8)))
    for x_m in np.arange(np.ceil(low[0]), low[0] + span_m, step_m):
        u = to_px(x_m, low[1])[0]
        cv2.line(canvas, (u, margin_px), (u, size_px - margin_px), (225, 225, 225), 1)
        cv2.putText(canvas, f"{x_m:.0f}", (u - 8, size_px - margin_px + 18), 0, 0.4, (0, 0, 0))
    for z_m in np.arange(np.ceil(low[1]), low[1] + span_m, step_m):
        v = to_px(low[0], z_m)[1]
        cv2.line(canvas, (margin_px, v), (size_px - margin_px, v), (225, 225, 225), 1)
        cv2.putText(canvas, f"{z_m:.0f}", (10, v + 4), 0, 0.4, (0, 0, 0))
    cv2.putText(canvas, "x (m)", (size_px // 2, size_px - 15), 0, 0.5, (0, 0, 0), 1)
    cv2.putText(canvas, "depth z (m)", (10, margin_px - 20), 0, 0.5, (0, 0, 0), 1)
    for track_id, path in sorted(trajectories_m.items()):
        colour = track_colour_rgb(track_id)
        pixels = np.array([to_px(x, z) for x, z in path], np.int32)
        cv2.polylines(canvas, [pixels], False, colour, 2, cv2.LINE_AA)
        cv2.putText(canvas, str(track_id), tuple(int(v) for v in pixels[-1]), 0, 0.45, colour, 2)
    return canvas
