"""The ground plane in the camera frame, and the gravity-aligned world frame it defines.

A ground plane is given in the camera frame (x right, y down, z forward, metres) by its unit
normal ``normal_cam`` pointing up (against gravity) and the camera centre's height above it,
``camera_height_m`` > 0: a point X lies on the plane when ``normal_cam . X = -camera_height_m``
and its height above the plane is ``normal_cam . X + camera_height_m``.

Angles (all in radians here, degrees in files and messages):

* pitch: the optical axis' angle below the horizon (positive: the camera looks down);
* roll: the angle by which the world's up direction, seen in the image, leans towards the
  image's +x (right): with positive roll the horizon's right end lies lower in the image.

``normal_cam = (sin(roll) cos(pitch), -cos(roll) cos(pitch), -sin(pitch))``.

World frame of a plane (``world_from_ground_plane``): z up (the plane normal), origin on the
ground below the camera centre, x along the camera's viewing direction projected on the
ground, y = z x x (to the left when looking along x); metres. The camera centre is at
(0, 0, camera_height_m).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from posecast.engines.geometry.camera import pixels_to_normalized
from posecast.errors import InvalidInputError

MIN_RAY_DESCENT = 1e-6
"""A ray meets the ground only if it points down by at least this much (n . d <= -this for a
unit direction d); rays at or above the horizon meet it nowhere (NaN)."""


def normal_from_pitch_roll(
    pitch_rad: np.ndarray | float, roll_rad: np.ndarray | float
) -> np.ndarray:
    """Unit up normals (..., 3) in the camera frame of cameras with these pitches and rolls."""
    pitch = np.asarray(pitch_rad, dtype=np.float64)
    roll = np.asarray(roll_rad, dtype=np.float64)
    cos_pitch = np.cos(pitch)
    return np.stack([np.sin(roll) * cos_pitch, -np.cos(roll) * cos_pitch, -np.sin(pitch)], axis=-1)


def pitch_roll_from_normal(normal_cam: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`normal_from_pitch_roll`: (..., 3) unit normals -> pitches, rolls (rad).

    Roll is undefined for a camera looking straight down or up (returned as 0 there).
    """
    normal = np.asarray(normal_cam, dtype=np.float64)
    normal = normal / np.linalg.norm(normal, axis=-1, keepdims=True)
    pitch = np.arcsin(np.clip(-normal[..., 2], -1.0, 1.0))
    roll = np.arctan2(normal[..., 0], -normal[..., 1])
    return pitch, roll


@dataclass(frozen=True, eq=False)
class GroundPlane:
    """The ground in the camera frame.

    Attributes:
        normal_cam: (3,) unit normal pointing up, camera frame (normalised on creation).
        camera_height_m: height of the camera centre above the plane, metres, > 0.

    Raises:
        InvalidInputError: a normal that is not a finite non-zero 3-vector, or a height that
            is not a finite positive number.
    """

    normal_cam: np.ndarray
    camera_height_m: float

    def __post_init__(self) -> None:
        try:
            normal = np.array(self.normal_cam, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError) as error:
            raise InvalidInputError("ground normal: expected 3 numbers") from error
        length = float(np.linalg.norm(normal)) if normal.shape == (3,) else 0.0
        if normal.shape != (3,) or not math.isfinite(length) or length < 1e-9:
            raise InvalidInputError(f"ground normal: expected a non-zero 3-vector, got {normal}")
        height = float(self.camera_height_m)
        if not (math.isfinite(height) and height > 0.0):
            raise InvalidInputError(f"camera_height_m must be positive, got {self.camera_height_m}")
        normal = normal / length
        normal.flags.writeable = False
        object.__setattr__(self, "normal_cam", normal)
        object.__setattr__(self, "camera_height_m", height)

    @classmethod
    def from_angles(cls, pitch_rad: float, roll_rad: float, camera_height_m: float) -> GroundPlane:
        """The plane seen by a camera with this pitch and roll at this height."""
        return cls(normal_from_pitch_roll(pitch_rad, roll_rad), camera_height_m)

    @property
    def pitch_rad(self) -> float:
        return float(pitch_roll_from_normal(self.normal_cam)[0])

    @property
    def roll_rad(self) -> float:
        return float(pitch_roll_from_normal(self.normal_cam)[1])

    def to_dict(self) -> dict[str, Any]:
        """``{"camera_height_m", "pitch_deg", "roll_deg"}`` (the scene file's ``ground``)."""
        return {
            "camera_height_m": round(self.camera_height_m, 6),
            "pitch_deg": round(math.degrees(self.pitch_rad), 6),
            "roll_deg": round(math.degrees(self.roll_rad), 6),
        }


def heights_above_ground_m(points_cam_m: np.ndarray, plane: GroundPlane) -> np.ndarray:
    """Signed heights (...) of (..., 3) camera-frame points above the plane, metres."""
    points = np.asarray(points_cam_m, dtype=np.float64)
    return points @ plane.normal_cam + plane.camera_height_m


def rays_to_ground_cam(directions_cam: np.ndarray, plane: GroundPlane) -> np.ndarray:
    """Where rays from the camera centre meet the plane.

    Args:
        directions_cam: (..., 3) ray directions in the camera frame (any length).
        plane: the ground.

    Returns:
        (..., 3) camera-frame points on the plane, metres; NaN where a ray does not point
        below the horizon (see :data:`MIN_RAY_DESCENT`).
    """
    directions = np.asarray(directions_cam, dtype=np.float64)
    lengths = np.linalg.norm(directions, axis=-1)
    descent = directions @ plane.normal_cam  # negative below the horizon
    with np.errstate(divide="ignore", invalid="ignore"):
        is_below = descent <= -MIN_RAY_DESCENT * lengths
        distance = np.where(is_below, -plane.camera_height_m / descent, np.nan)
    return directions * distance[..., None]


def pixels_to_ground_cam(points_px: np.ndarray, K: np.ndarray, plane: GroundPlane) -> np.ndarray:
    """Camera-frame points (..., 3) where the rays of (..., 2) undistorted pixels meet the
    plane; NaN for pixels at or above the horizon."""
    normalized = pixels_to_normalized(points_px, K)
    rays = np.concatenate([normalized, np.ones((*normalized.shape[:-1], 1))], axis=-1)
    return rays_to_ground_cam(rays, plane)


def horizon_line_px(K: np.ndarray, plane: GroundPlane) -> np.ndarray:
    """The horizon as a line (a, b, c) with a u + b v + c = 0 in undistorted pixels,
    scaled so that (a, b) is a unit vector pointing towards the sky (up, away from the
    ground's half of the image)."""
    line = np.linalg.inv(np.asarray(K, dtype=np.float64)).T @ plane.normal_cam
    # Points on the sky side have normal . ray > 0, i.e. line . (u, v, 1) > 0.
    return line / np.linalg.norm(line[:2])


def world_from_ground_plane(plane: GroundPlane) -> np.ndarray:
    """(4, 4) world_from_camera of the plane's world frame (module docstring).

    x is the optical axis projected on the ground; for a camera looking straight down it is
    the image's up direction (-y) projected instead.
    """
    up = plane.normal_cam
    forward = np.array([0.0, 0.0, 1.0]) - up[2] * up
    if np.linalg.norm(forward) < 1e-6:
        forward = np.array([0.0, -1.0, 0.0]) - (-up[1]) * up
    forward /= np.linalg.norm(forward)
    left = np.cross(up, forward)
    rotation = np.stack([forward, left, up])  # rows: world axes in camera coordinates
    world_from_camera = np.eye(4)
    world_from_camera[:3, :3] = rotation
    world_from_camera[:3, 3] = rotation @ (plane.camera_height_m * up)
    return world_from_camera


def ground_plane_from_world(
    world_from_camera: np.ndarray,
    up_world: np.ndarray | tuple[float, float, float] = (0.0, 0.0, 1.0),
    ground_level_m: float = 0.0,
) -> GroundPlane:
    """The ground of a world frame in the camera frame.

    Args:
        world_from_camera: (4, 4) rigid transform.
        up_world: the world's up direction (posecast's convention: +z).
        ground_level_m: the ground's coordinate along ``up_world``.

    Raises:
        InvalidInputError: the camera is not above the ground.
    """
    up = np.asarray(up_world, dtype=np.float64)
    up = up / np.linalg.norm(up)
    rotation = np.asarray(world_from_camera, dtype=np.float64)[:3, :3]
    centre = np.asarray(world_from_camera, dtype=np.float64)[:3, 3]
    height = float(centre @ up - ground_level_m)
    if not height > 0.0:
        raise InvalidInputError(
            f"the camera centre is not above the ground (height {height:.3f} m along {up})"
        )
    return GroundPlane(rotation.T @ up, height)


def heights_above_feet_m(
    foot_px: np.ndarray, top_px: np.ndarray, K: np.ndarray, plane: GroundPlane
) -> np.ndarray:
    """Heights of upright people from two image points each: how high above the ground the
    point on the vertical through the foot's ground point lies that projects onto ``top_px``.

    Args:
        foot_px: (..., 2) undistorted pixels of the foot contact points.
        top_px: (..., 2) undistorted pixels of points straight above them (head, head top).
        K: (3, 3) intrinsics.
        plane: the ground.

    Returns:
        (...) heights in metres (algebraic least squares along the vertical's image, exact
        for exact points); NaN where the foot is at or above the horizon.
    """
    K = np.asarray(K, dtype=np.float64)
    ground = pixels_to_ground_cam(foot_px, K, plane)
    top = np.asarray(top_px, dtype=np.float64)
    # The vertical's image: K (G + rho n) = a + rho b; the top pixel t satisfies
    # t p_z = p_xy, two equations linear in rho.
    a = ground @ K.T
    b = K @ plane.normal_cam
    constant = top * a[..., 2:3] - a[..., :2]
    slope = top * b[2] - b[:2]
    return -(constant * slope).sum(axis=-1) / (slope * slope).sum(axis=-1)
