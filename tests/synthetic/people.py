"""Generated images of differently dressed people, with their BlazePose landmarks and camera-space
joints: test data for appearance descriptors and re-identification (no real images needed).

A person stands upright on the ground in front of a level pinhole camera 1.6 m above it; the
33 BlazePose landmarks come from fixed proportions of the body height. ``draw_people`` paints
each person over a noisy grey background: a shirt (torso and arms), trousers (legs) and a
skin-coloured head.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import cv2
import numpy as np

from posecast.engines.geometry.skeletons import BLAZEPOSE_33

CAMERA_HEIGHT_M = 1.6
BODY_HEIGHT_M = 1.7
SKIN_RGB = (224, 172, 140)

# (lateral offset, height above the ground) of each landmark as fractions of the body height;
# the person faces the camera, so their left is on the image's right.
_LANDMARKS = {
    "nose": (0.0, 0.93),
    "left_eye_inner": (0.01, 0.945),
    "left_eye": (0.02, 0.945),
    "left_eye_outer": (0.03, 0.945),
    "right_eye_inner": (-0.01, 0.945),
    "right_eye": (-0.02, 0.945),
    "right_eye_outer": (-0.03, 0.945),
    "left_ear": (0.045, 0.935),
    "right_ear": (-0.045, 0.935),
    "mouth_left": (0.015, 0.915),
    "mouth_right": (-0.015, 0.915),
    "left_shoulder": (0.13, 0.82),
    "right_shoulder": (-0.13, 0.82),
    "left_elbow": (0.16, 0.64),
    "right_elbow": (-0.16, 0.64),
    "left_wrist": (0.17, 0.49),
    "right_wrist": (-0.17, 0.49),
    "left_pinky": (0.175, 0.46),
    "right_pinky": (-0.175, 0.46),
    "left_index": (0.17, 0.455),
    "right_index": (-0.17, 0.455),
    "left_thumb": (0.16, 0.465),
    "right_thumb": (-0.16, 0.465),
    "left_hip": (0.08, 0.50),
    "right_hip": (-0.08, 0.50),
    "left_knee": (0.075, 0.27),
    "right_knee": (-0.075, 0.27),
    "left_ankle": (0.07, 0.04),
    "right_ankle": (-0.07, 0.04),
    "left_heel": (0.07, 0.02),
    "right_heel": (-0.07, 0.02),
    "left_foot_index": (0.075, 0.0),
    "right_foot_index": (-0.075, 0.0),
}
_OFFSETS = np.array([_LANDMARKS[name] for name in BLAZEPOSE_33.joint_names])  # (33, 2)


@dataclass(frozen=True)
class Outfit:
    """Colours (RGB) of a person's shirt and trousers."""

    shirt_rgb: tuple[int, int, int]
    trousers_rgb: tuple[int, int, int]


RED_ON_BLUE = Outfit((200, 30, 30), (40, 50, 160))
GREEN_ON_GREY = Outfit((40, 170, 60), (120, 120, 120))
YELLOW_ON_BLACK = Outfit((230, 210, 40), (25, 25, 25))


def intrinsics(size_wh: tuple[int, int], fov_deg: float = 55.0) -> np.ndarray:
    """(3, 3) K of a pinhole with ``fov_deg`` across the longer side, centred."""
    width, height = size_wh
    focal = max(width, height) / (2 * np.tan(np.radians(fov_deg) / 2))
    return np.array([[focal, 0, width / 2], [0, focal, height / 2], [0, 0, 1.0]])


def standing_person_m(x_m: float, z_m: float) -> np.ndarray:
    """(33, 3) camera-frame landmarks (x right, y down, z forward, metres) of a person
    standing at ground point (x, z)."""
    joints = np.zeros((len(_OFFSETS), 3))
    joints[:, 0] = x_m + _OFFSETS[:, 0] * BODY_HEIGHT_M
    joints[:, 1] = CAMERA_HEIGHT_M - _OFFSETS[:, 1] * BODY_HEIGHT_M
    joints[:, 2] = z_m
    return joints


def project(joints_m: np.ndarray, k: np.ndarray) -> np.ndarray:
    """(..., 3) camera-frame points -> (..., 2) pixels."""
    return joints_m[..., :2] / joints_m[..., 2:3] * k[0, 0] + k[:2, 2]


def draw_people(
    size_wh: tuple[int, int],
    joints2d_px: list[np.ndarray],
    outfits: list[Outfit],
    seed: int = 0,
) -> np.ndarray:
    """(H, W, 3) uint8 RGB image of the people (drawn in order: later ones in front)."""
    width, height = size_wh
    rng = np.random.default_rng(seed)
    image = np.clip(rng.normal(110, 12, (height, width, 3)), 0, 255).astype(np.uint8)
    index = {name: i for i, name in enumerate(BLAZEPOSE_33.joint_names)}

    def point(joints: np.ndarray, name: str) -> tuple[int, int]:
        u, v = joints[index[name]]
        return round(float(u)), round(float(v))

    for joints, outfit in zip(joints2d_px, outfits, strict=True):
        body_px = float(np.ptp(joints[:, 1]))
        limb = max(round(0.07 * body_px), 1)
        torso = [point(joints, n) for n in ("left_shoulder", "right_shoulder")]
        torso += [point(joints, n) for n in ("right_hip", "left_hip")]
        cv2.fillPoly(image, [np.array(torso, np.int32)], outfit.shirt_rgb)
        for side in ("left", "right"):
            arm = [point(joints, f"{side}_{n}") for n in ("shoulder", "elbow", "wrist")]
            leg = [point(joints, f"{side}_{n}") for n in ("hip", "knee", "ankle")]
            for a, b in itertools.pairwise(arm):
                cv2.line(image, a, b, outfit.shirt_rgb, limb)
            for a, b in itertools.pairwise(leg):
                cv2.line(image, a, b, outfit.trousers_rgb, round(1.3 * limb))
        cv2.line(
            image, point(joints, "left_hip"), point(joints, "right_hip"), outfit.trousers_rgb, limb
        )
        cv2.circle(image, point(joints, "nose"), max(round(0.06 * body_px), 1), SKIN_RGB, -1)
    return image
