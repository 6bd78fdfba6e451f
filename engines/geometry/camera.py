"""Pinhole cameras: intrinsics, lens distortion, extrinsics, projection.

Conventions (see docs/geometry.md): camera frame x right, y down, z forward, metres; image
pixels with the centre of pixel (i, j) at (x=j, y=i) (OpenCV's convention); K maps camera
rays to pixels, ``[u, v, 1] ~ K @ [X, Y, Z]``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from posecast.errors import InvalidInputError

DEFAULT_FOV_DEG = 55.0
"""Field of view assumed when the intrinsics are unknown (MeTRAbs' default)."""

_DISTORTION_LENGTHS = (4, 5, 8, 12, 14)


def _as_matrix(value: Any, shape: tuple[int, ...], name: str) -> np.ndarray:
    try:
        array = np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise InvalidInputError(f"{name}: expected numbers of shape {shape}") from error
    if array.shape != shape:
        raise InvalidInputError(f"{name}: expected shape {shape}, got {array.shape}")
    if not np.all(np.isfinite(array)):
        raise InvalidInputError(f"{name}: contains non-finite values")
    return array


def validate_intrinsics(K: Any) -> np.ndarray:
    """Check a camera matrix and return it as a new float64 (3, 3) array.

    Raises:
        InvalidInputError: wrong shape, non-finite values, focal lengths not positive, last
            row not (0, 0, 1), or a singular matrix.
    """
    K = _as_matrix(K, (3, 3), "K")
    if K[0, 0] <= 0 or K[1, 1] <= 0:
        raise InvalidInputError(
            f"K: focal lengths must be positive, got fx={K[0, 0]}, fy={K[1, 1]}"
        )
    if not np.allclose(K[2], [0.0, 0.0, 1.0]):
        raise InvalidInputError(f"K: last row must be (0, 0, 1), got {K[2].tolist()}")
    if K[1, 0] != 0 or abs(np.linalg.det(K)) < 1e-12:
        raise InvalidInputError(f"K: not an upper-triangular non-singular matrix: {K.tolist()}")
    return K


def intrinsics_from_fov(width: int, height: int, fov_deg: float = DEFAULT_FOV_DEG) -> np.ndarray:
    """Intrinsics (3, 3) with the principal point at the image centre.

    f = max(H, W) / (2 tan(fov / 2)); the principal point is ((W - 1) / 2, (H - 1) / 2), the
    centre of the pixel grid under the pixel-centre-at-integer convention.

    Raises:
        InvalidInputError: non-positive size or fov outside (0, 180) degrees.
    """
    if width <= 0 or height <= 0:
        raise InvalidInputError(f"image size must be positive, got {width} x {height}")
    if not 0.0 < fov_deg < 180.0:
        raise InvalidInputError(f"fov_deg must be in (0, 180), got {fov_deg}")
    tangent = math.tan(math.radians(fov_deg) / 2.0)
    if not tangent > 0.0 or not math.isfinite(max(width, height) / tangent):
        raise InvalidInputError(f"fov_deg {fov_deg} gives no finite focal length")
    focal_px = max(width, height) / (2.0 * tangent)
    return np.array(
        [[focal_px, 0.0, (width - 1) / 2.0], [0.0, focal_px, (height - 1) / 2.0], [0.0, 0.0, 1.0]]
    )


def project_points(points_cam_m: np.ndarray, K: np.ndarray) -> np.ndarray:
    """Pinhole projection without distortion.

    Args:
        points_cam_m: (..., J, 3) points in the camera frame, metres; z must be non-zero.
        K: (3, 3) intrinsics, or (..., 3, 3) one per leading index of ``points_cam_m``.

    Returns:
        (..., J, 2) pixel coordinates.
    """
    points_cam_m = np.asarray(points_cam_m, dtype=np.float64)
    K = np.asarray(K, dtype=np.float64)
    normalized = points_cam_m[..., :2] / points_cam_m[..., 2:3]
    if K.ndim == 2:
        return normalized @ K[:2, :2].T + K[:2, 2]
    # (..., J, 2) @ (..., 2, 2)^T + (..., 1, 2)
    return normalized @ np.swapaxes(K[..., :2, :2], -1, -2) + K[..., None, :2, 2]


def pixels_to_normalized(points_px: np.ndarray, K: np.ndarray) -> np.ndarray:
    """Undo the intrinsics: (..., J, 2) pixels -> (..., J, 2) normalised coordinates (x/z, y/z).

    ``K`` is (3, 3) or (..., 3, 3) one per leading index of ``points_px``.
    """
    points_px = np.asarray(points_px, dtype=np.float64)
    K = np.asarray(K, dtype=np.float64)
    if K.ndim == 2:
        K = K[None]
        squeeze = True
    else:
        squeeze = False
    fx, fy = K[..., 0, 0, None], K[..., 1, 1, None]
    cx, cy = K[..., 0, 2, None], K[..., 1, 2, None]
    skew = K[..., 0, 1, None]
    y = (points_px[..., 1] - cy) / fy
    x = (points_px[..., 0] - cx - skew * y) / fx
    if squeeze:
        x, y = x.reshape(points_px.shape[:-1]), y.reshape(points_px.shape[:-1])
    return np.stack([x, y], axis=-1)


def camera_to_world(points_cam_m: np.ndarray, world_from_camera: np.ndarray) -> np.ndarray:
    """Rigid transform of (..., 3) camera-frame points into the world frame with a (4, 4) matrix."""
    points_cam_m = np.asarray(points_cam_m, dtype=np.float64)
    return points_cam_m @ world_from_camera[:3, :3].T + world_from_camera[:3, 3]


def world_to_camera(points_world_m: np.ndarray, world_from_camera: np.ndarray) -> np.ndarray:
    """Inverse of :func:`camera_to_world`: (..., 3) world points into the camera frame."""
    points_world_m = np.asarray(points_world_m, dtype=np.float64)
    return (points_world_m - world_from_camera[:3, 3]) @ world_from_camera[:3, :3]


def _validate_rigid(matrix: Any) -> np.ndarray:
    matrix = _as_matrix(matrix, (4, 4), "world_from_camera")
    rotation = matrix[:3, :3]
    if not np.allclose(matrix[3], [0.0, 0.0, 0.0, 1.0]):
        raise InvalidInputError("world_from_camera: last row must be (0, 0, 0, 1)")
    if not np.allclose(rotation @ rotation.T, np.eye(3), atol=1e-6) or np.linalg.det(rotation) < 0:
        raise InvalidInputError("world_from_camera: upper-left 3x3 block is not a rotation")
    return matrix


@dataclass(frozen=True, eq=False)
class Camera:
    """A calibrated camera.

    Attributes:
        K: (3, 3) intrinsics in pixels.
        distortion: (D,) OpenCV distortion coefficients (k1, k2, p1, p2[, k3[, k4, k5, k6
            [, s1..s4[, tx, ty]]]]), D in {4, 5, 8, 12, 14}; None for an ideal pinhole.
        world_from_camera: (4, 4) rigid transform taking camera-frame points to the world
            frame (metres); None when no world frame is defined.

    Raises:
        InvalidInputError: on any malformed field (see :func:`validate_intrinsics`).
    """

    K: np.ndarray
    distortion: np.ndarray | None = None
    world_from_camera: np.ndarray | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "K", validate_intrinsics(self.K))
        if self.distortion is not None:
            distortion = np.array(self.distortion, dtype=np.float64).reshape(-1)
            if distortion.size not in _DISTORTION_LENGTHS:
                raise InvalidInputError(
                    f"distortion: expected {_DISTORTION_LENGTHS} coefficients, "
                    f"got {distortion.size}"
                )
            if not np.all(np.isfinite(distortion)):
                raise InvalidInputError("distortion: contains non-finite values")
            object.__setattr__(self, "distortion", None if not distortion.any() else distortion)
        if self.world_from_camera is not None:
            object.__setattr__(self, "world_from_camera", _validate_rigid(self.world_from_camera))
        for name in ("K", "distortion", "world_from_camera"):
            value = getattr(self, name)
            if value is not None:
                value.flags.writeable = False

    @classmethod
    def from_fov(cls, width: int, height: int, fov_deg: float = DEFAULT_FOV_DEG) -> Camera:
        """Camera with unknown intrinsics: see :func:`intrinsics_from_fov`."""
        return cls(K=intrinsics_from_fov(width, height, fov_deg))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Camera:
        """Camera from the JSON-style mapping documented in docs/geometry.md.

        Keys: ``K`` (3x3, required); ``distortion`` (list, optional); either
        ``world_from_camera`` (4x4) or ``R`` (3x3, world-from-camera rotation) with ``t``
        (3, camera centre in world metres), both optional.

        Raises:
            InvalidInputError: missing or unknown keys, or malformed values.
        """
        if not isinstance(data, dict):
            raise InvalidInputError(f"camera: expected a JSON object, got {type(data).__name__}")
        known = {"K", "distortion", "world_from_camera", "R", "t"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidInputError(f"camera: unknown keys {unknown}; valid: {sorted(known)}")
        if "K" not in data:
            raise InvalidInputError("camera: missing key 'K'")
        world_from_camera = data.get("world_from_camera")
        if "R" in data or "t" in data:
            if world_from_camera is not None:
                raise InvalidInputError("camera: give either 'world_from_camera' or 'R' and 't'")
            if "R" not in data or "t" not in data:
                raise InvalidInputError("camera: 'R' and 't' must be given together")
            world_from_camera = np.eye(4)
            world_from_camera[:3, :3] = _as_matrix(data["R"], (3, 3), "R")
            world_from_camera[:3, 3] = _as_matrix(data["t"], (3,), "t")
        return cls(
            K=data["K"], distortion=data.get("distortion"), world_from_camera=world_from_camera
        )

    @classmethod
    def from_json(cls, path: str | Path) -> Camera:
        """Camera from a JSON file (format: :meth:`from_dict`).

        Raises:
            InvalidInputError: unreadable file, invalid JSON or malformed camera.
        """
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as error:
            raise InvalidInputError(f"camera file {path}: {error}") from error
        return cls.from_dict(data)

    def to_dict(self) -> dict[str, Any]:
        """The JSON-style mapping :meth:`from_dict` reads."""
        data: dict[str, Any] = {"K": self.K.tolist()}
        if self.distortion is not None:
            data["distortion"] = self.distortion.tolist()
        if self.world_from_camera is not None:
            data["world_from_camera"] = self.world_from_camera.tolist()
        return data

    @property
    def has_distortion(self) -> bool:
        return self.distortion is not None

    def undistort_points(self, points_px: np.ndarray) -> np.ndarray:
        """Remove lens distortion: (..., 2) observed pixels -> (..., 2) ideal pinhole pixels.

        Ideal pixels are those a distortion-free camera with the same K would observe
        (cv2.undistortPoints with P = K). Without distortion this returns a copy.
        """
        points_px = np.asarray(points_px, dtype=np.float64)
        if self.distortion is None or points_px.size == 0:
            return points_px.copy()
        flat = points_px.reshape(-1, 1, 2)
        criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 50, 1e-12)
        undistorted = cv2.undistortPoints(
            flat, self.K, self.distortion, R=None, P=self.K, criteria=criteria
        )
        return undistorted.reshape(points_px.shape)

    def distort_points(self, points_px: np.ndarray) -> np.ndarray:
        """Apply lens distortion: (..., 2) ideal pinhole pixels -> (..., 2) observed pixels."""
        points_px = np.asarray(points_px, dtype=np.float64)
        if self.distortion is None or points_px.size == 0:
            return points_px.copy()
        normalized = pixels_to_normalized(points_px.reshape(-1, 2), self.K)
        rays = np.concatenate([normalized, np.ones((len(normalized), 1))], axis=1)
        return self.project(rays).reshape(points_px.shape)

    def project(self, points_cam_m: np.ndarray) -> np.ndarray:
        """Project (..., 3) camera-frame points (z > 0) to (..., 2) pixels, with distortion."""
        points_cam_m = np.asarray(points_cam_m, dtype=np.float64)
        if self.distortion is None or points_cam_m.size == 0:
            return project_points(points_cam_m, self.K)
        flat = points_cam_m.reshape(-1, 1, 3)
        zero = np.zeros(3)
        projected, _ = cv2.projectPoints(flat, zero, zero, self.K, self.distortion)
        return projected.reshape(*points_cam_m.shape[:-1], 2)

    def camera_to_world(self, points_cam_m: np.ndarray) -> np.ndarray:
        """(..., 3) camera-frame points in the world frame.

        Raises:
            InvalidInputError: the camera has no extrinsics.
        """
        if self.world_from_camera is None:
            raise InvalidInputError("camera has no world_from_camera extrinsics")
        return camera_to_world(points_cam_m, self.world_from_camera)
