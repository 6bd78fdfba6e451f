"""Pictures of tracking results: 2D skeleton overlays, the ground grid and horizon of a known
scene, and a top-down plot of 3D trajectories.

Drawn with OpenCV only, so rendering needs no plotting library.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from posecast.engines.frames import UNTRACKED_ID, FramePoses
from posecast.engines.geometry.camera import world_to_camera
from posecast.engines.geometry.ground import MIN_RAY_DESCENT, horizon_line_px
from posecast.engines.geometry.scene import Scene
from posecast.engines.geometry.skeletons import get_skeleton

UNTRACKED_COLOUR_RGB = (200, 200, 200)
GRID_COLOUR_RGB = (90, 200, 255)
HORIZON_COLOUR_RGB = (255, 140, 0)


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


@dataclass(frozen=True)
class GroundGrid:
    """A scene's ground grid and horizon in pixels: computed once per scene, drawn on every
    frame of a fixed camera.

    Attributes:
        polylines: (pixels (K, 2) int32, thickness) per visible piece of a grid line.
        horizon: the horizon's end points at the left and right image edges, if it crosses them.
    """

    polylines: tuple[tuple[np.ndarray, int], ...]
    horizon: tuple[tuple[int, int], tuple[int, int]] | None


def ground_grid(
    scene: Scene, image_size_wh: tuple[int, int], spacing_m: float = 1.0, extent_m: float = 40.0
) -> GroundGrid | None:
    """The scene's ground grid (lines every ``spacing_m`` of the ground plane's world frame,
    every fifth thicker, up to ``extent_m`` from the camera's foot point) and horizon in
    pixels; None when no ground is known."""
    if scene.ground is None:
        return None
    width, height = image_size_wh
    world_from_camera = scene.world_from_camera
    centre = world_from_camera[:3, 3]
    ticks = np.arange(-extent_m, extent_m + 1e-9, spacing_m)
    samples = np.linspace(-extent_m, extent_m, 161)
    polylines: list[tuple[np.ndarray, int]] = []
    for tick in ticks:
        thickness = 2 if round(tick / spacing_m) % 5 == 0 else 1
        for line in (
            np.stack([np.full_like(samples, tick), samples], axis=1),
            np.stack([samples, np.full_like(samples, tick)], axis=1),
        ):
            points_world = np.concatenate([line + centre[:2], np.zeros((len(line), 1))], axis=1)
            pieces = _visible_pieces_px(scene, world_from_camera, points_world, width, height)
            polylines += [(piece, thickness) for piece in pieces]
    horizon = None
    a, b, c = horizon_line_px(scene.camera.K, scene.ground)
    if abs(b) > 1e-9:  # v = -(a u + c) / b at the left and right edges
        left, right = round(-c / b), round(-(c + a * (width - 1)) / b)
        horizon = ((0, left), (width - 1, right))
    return GroundGrid(tuple(polylines), horizon)


def draw_ground_grid(image_rgb: np.ndarray, grid: GroundGrid | None) -> np.ndarray:
    """A copy of the image with the grid drawn on it; the image itself without a grid."""
    if grid is None:
        return image_rgb
    canvas = image_rgb.copy()
    for polyline, thickness in grid.polylines:
        cv2.polylines(canvas, [polyline], False, GRID_COLOUR_RGB, thickness, cv2.LINE_AA)
    if grid.horizon is not None:
        cv2.line(canvas, *grid.horizon, HORIZON_COLOUR_RGB, 2, cv2.LINE_AA)
    return canvas


def draw_ground(
    image_rgb: np.ndarray,
    scene: Scene,
    spacing_m: float = 1.0,
    extent_m: float = 40.0,
) -> np.ndarray:
    """A copy of the image with the scene's ground grid and horizon drawn on it
    (:func:`ground_grid`); the image itself when no ground is known."""
    size_wh = (image_rgb.shape[1], image_rgb.shape[0])
    return draw_ground_grid(image_rgb, ground_grid(scene, size_wh, spacing_m, extent_m))


def _visible_pieces_px(
    scene: Scene,
    world_from_camera: np.ndarray,
    points_world: np.ndarray,
    width: int,
    height: int,
) -> list[np.ndarray]:
    """The pixel pieces of a ground polyline that lie in front of the camera, below the
    horizon and not absurdly far (the grid would turn into noise near the horizon)."""
    points_cam = world_to_camera(points_world, world_from_camera)
    ranges = np.linalg.norm(points_cam, axis=1)
    descent = (points_cam @ scene.ground.normal_cam) / np.maximum(ranges, 1e-9)
    visible = (points_cam[:, 2] > 0.1) & (descent < -max(MIN_RAY_DESCENT, 0.02))
    pixels = np.full((len(points_cam), 2), np.nan)
    if visible.any():
        pixels[visible] = scene.camera.project(points_cam[visible])
    inside = visible & (np.abs(pixels[:, 0]) < 4 * width) & (np.abs(pixels[:, 1]) < 4 * height)
    pieces = []
    start = None
    for i in range(len(pixels) + 1):
        if i < len(pixels) and inside[i]:
            start = i if start is None else start
            continue
        if start is not None and i - start >= 2:
            pieces.append(np.round(pixels[start:i]).astype(np.int32))
        start = None
    return pieces


def plot_trajectories(
    trajectories_m: Mapping[int, Sequence[tuple[float, float]]],
    size_px: int = 800,
    margin_px: int = 60,
    axis_names: tuple[str, str] = ("x (m)", "depth z (m)"),
    camera_m: tuple[float, float] | None = None,
) -> np.ndarray:
    """Top-down view of each track's ground positions, as an RGB image.

    Args:
        trajectories_m: track id -> [(right_m, forward_m), ...]: camera x and z, or on a
            ground plane's world frame -y and x (the camera at the bottom looking up).
        size_px: side of the square picture.
        margin_px: room for the axis labels.
        axis_names: labels of the horizontal and vertical axes.
        camera_m: where to mark the camera (its foot point), if anywhere.
    """
    canvas = np.full((size_px, size_px, 3), 255, np.uint8)
    points = [p for path in trajectories_m.values() for p in path]
    if not points:
        cv2.putText(canvas, "no tracks", (margin_px, size_px // 2), 0, 1.0, (0, 0, 0), 2)
        return canvas
    xz = np.array(points)
    # The extent covers 98 % of the points (a few far-off placements would shrink the rest
    # to a corner; their lines run off the picture) and the camera.
    low, high = np.percentile(xz, 1, axis=0), np.percentile(xz, 99, axis=0)
    if camera_m is not None:
        low, high = np.minimum(low, camera_m), np.maximum(high, camera_m)
    low, high = low - 0.5, high + 0.5
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
        cv2.putText(canvas, f"{x_m + 0:.0f}", (u - 8, size_px - margin_px + 18), 0, 0.4, (0, 0, 0))
    for z_m in np.arange(np.ceil(low[1]), low[1] + span_m, step_m):
        v = to_px(low[0], z_m)[1]
        cv2.line(canvas, (margin_px, v), (size_px - margin_px, v), (225, 225, 225), 1)
        cv2.putText(canvas, f"{z_m + 0:.0f}", (10, v + 4), 0, 0.4, (0, 0, 0))
    cv2.putText(canvas, axis_names[0], (size_px // 2, size_px - 15), 0, 0.5, (0, 0, 0), 1)
    cv2.putText(canvas, axis_names[1], (10, margin_px - 20), 0, 0.5, (0, 0, 0), 1)
    if camera_m is not None:
        u, v = to_px(*camera_m)
        cv2.drawMarker(canvas, (u, v), (0, 0, 0), cv2.MARKER_TRIANGLE_UP, 16, 2)
        cv2.putText(canvas, "camera", (u + 10, v + 4), 0, 0.45, (0, 0, 0), 1)
    for track_id, path in sorted(trajectories_m.items()):
        colour = track_colour_rgb(track_id)
        pixels = np.array([to_px(x, z) for x, z in path], np.int32)
        cv2.polylines(canvas, [pixels], False, colour, 2, cv2.LINE_AA)
        cv2.putText(canvas, str(track_id), tuple(int(v) for v in pixels[-1]), 0, 0.45, colour, 2)
    return canvas
