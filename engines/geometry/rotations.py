"""Rotations of the camera frame: look-at rotations, rotations about the optical axis, angles.

A look-at rotation turns a camera towards a viewing ray without rolling it; a rotation about
z rolls it (a BlazePose ROI's rotation, a perspective crop's roll). Both are (N, 3, 3)
matrices acting on column vectors in the camera frame (x right, y down, z forward).
"""

from __future__ import annotations

import numpy as np

from posecast.errors import InvalidInputError


def look_at_rotations(directions_cam: np.ndarray) -> np.ndarray:
    """Smallest rotations that turn the optical axis towards given directions.

    Args:
        directions_cam: (N, 3) viewing directions in the camera frame (any length, z > -|d|).

    Returns:
        (N, 3, 3) rotations R with R @ d / |d| = (0, 0, 1): R maps camera-frame vectors into
        the frame of a virtual camera looking along d. Among all such rotations this one has
        no roll about the new axis (its axis is perpendicular to both z and d), which is what
        makes an axis-aligned image cut around the ray look like that camera's view.
    """
    directions = np.asarray(directions_cam, dtype=np.float64)
    directions = directions / np.linalg.norm(directions, axis=-1, keepdims=True)
    # Rodrigues' formula for the rotation taking unit a onto unit b: v = a x b, c = a . b,
    # R = I + [v]x + [v]x^2 / (1 + c). Here b = z.
    v = np.stack([directions[:, 1], -directions[:, 0], np.zeros(len(directions))], axis=-1)
    c = directions[:, 2]
    if np.any(c <= -1.0 + 1e-9):
        raise InvalidInputError("look_at_rotations: direction points backwards (z <= 0)")
    cross = np.zeros((len(directions), 3, 3))
    cross[:, 0, 1], cross[:, 0, 2] = -v[:, 2], v[:, 1]
    cross[:, 1, 0], cross[:, 1, 2] = v[:, 2], -v[:, 0]
    cross[:, 2, 0], cross[:, 2, 1] = -v[:, 1], v[:, 0]
    return np.eye(3) + cross + (cross @ cross) / (1.0 + c)[:, None, None]


def upright_look_at_rotations(directions_cam: np.ndarray, up_cam: np.ndarray) -> np.ndarray:
    """Rotations that turn the optical axis towards given directions and keep "up" up.

    MeTRAbs' crop cameras (``get_new_rotation_matrix`` in its multi-person model): the new
    z axis is the viewing direction, the new x axis is z x up (horizontal in the world), the
    new y axis z x x (towards the world's down). A person standing upright then stands
    upright in every crop, even where the camera is rolled (given its world up), which
    differs from :func:`look_at_rotations` by a small roll away from the image centre.

    Args:
        directions_cam: (N, 3) viewing directions in the camera frame (any length).
        up_cam: (3,) the world's up direction in the camera frame ((0, -1, 0): image up).

    Returns:
        (N, 3, 3) rotations R with R @ d / |d| = (0, 0, 1) (camera frame -> crop frame).
        Where d is parallel to up, x is the camera's x axis made perpendicular to d.
    """
    directions = np.asarray(directions_cam, dtype=np.float64)
    new_z = directions / np.linalg.norm(directions, axis=-1, keepdims=True)
    up = np.broadcast_to(np.asarray(up_cam, dtype=np.float64), new_z.shape)
    new_x = np.cross(new_z, up)
    # Looking straight up or down: the camera's x axis, made perpendicular to the ray.
    fallback = np.array([1.0, 0.0, 0.0]) - new_z * new_z[:, :1]
    norms = np.linalg.norm(new_x, axis=-1, keepdims=True)
    new_x = np.where(norms > 1e-12, new_x, fallback)
    new_x = new_x / np.linalg.norm(new_x, axis=-1, keepdims=True)
    new_y = np.cross(new_z, new_x)
    return np.stack([new_x, new_y, new_z], axis=1)


def rotations_about_z(angles_rad: np.ndarray) -> np.ndarray:
    """(N,) angles -> (N, 3, 3) rotations about the optical axis.

    In image terms (x right, y down) a positive angle turns x towards y, i.e. clockwise on
    screen; this is the sense of MediaPipe's ROI rotation.
    """
    angles = np.asarray(angles_rad, dtype=np.float64)
    cos, sin = np.cos(angles), np.sin(angles)
    rotations = np.zeros((len(angles), 3, 3))
    rotations[:, 0, 0], rotations[:, 0, 1] = cos, -sin
    rotations[:, 1, 0], rotations[:, 1, 1] = sin, cos
    rotations[:, 2, 2] = 1.0
    return rotations


def normalize_radians(angles_rad: np.ndarray) -> np.ndarray:
    """Wrap angles to [-pi, pi) as MediaPipe's NormalizeRadians does."""
    angles = np.asarray(angles_rad, dtype=np.float64)
    return angles - 2.0 * np.pi * np.floor((angles + np.pi) / (2.0 * np.pi))
