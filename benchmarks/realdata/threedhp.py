"""Loader of the MPI-INF-3DHP frames: ``ROOT/3dhp/ground_truth.json``.

Per frame: the image, its true intrinsics K, 17 joints in the camera frame (metres; x right,
y down, z forward) and in pixels. The joint names (``joint_names``) are MPI-INF-3DHP's test
set: ``head_top, neck, r_shoulder, ..., pelvis, spine, head``, where ``neck`` is the base
of the neck (between the shoulders) and ``head`` the middle of the head.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Frame3d:
    """One frame: ``image_path``, ``K`` (3, 3), ``joints_cam_m`` (17, 3), ``joints2d_px``
    (17, 2) (some may lie outside the image)."""

    image_path: Path
    K: np.ndarray
    joints_cam_m: np.ndarray
    joints2d_px: np.ndarray


def load_3dhp(root: Path) -> tuple[tuple[str, ...], list[Frame3d]]:
    """The joint names and the frames of ``ROOT/3dhp/ground_truth.json``."""
    folder = Path(root) / "3dhp"
    data = json.loads((folder / "ground_truth.json").read_text())
    if data.get("units", "m") != "m":
        raise ValueError(f"3dhp: expected units 'm', got {data['units']!r}")
    names = tuple(data["joint_names"])
    frames = [
        Frame3d(
            image_path=folder / frame["image"],
            K=np.array(frame["K"], np.float64).reshape(3, 3),
            joints_cam_m=np.array(frame["joints3d"], np.float64).reshape(len(names), 3),
            joints2d_px=np.array(frame["joints2d"], np.float64).reshape(len(names), 2),
        )
        for frame in data["frames"]
    ]
    return names, frames


H36M_17_NAMES = (
    "pelvis", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee",
    "left_ankle", "spine", "thorax", "neck", "head_top", "left_shoulder",
    "left_elbow", "left_wrist", "right_shoulder", "right_elbow", "right_wrist",
)  # fmt: skip
"""posecast's ``h36m_17`` joint order (``FramePoses.to_skeleton("h36m_17")``)."""

THREEDHP_TO_H36M = {
    "head_top": "head_top",
    "neck": "thorax",  # 3DHP's neck is the base of the neck, H36M's thorax
    "head": "neck",  # 3DHP's head centre is H36M's "neck/nose" joint
    "spine": "spine",
    "pelvis": "pelvis",
    **{
        f"{s}_{j}": f"{side}_{j}"
        for s, side in (("r", "right"), ("l", "left"))
        for j in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")
    },
}
"""MPI-INF-3DHP joint name -> posecast ``h36m_17`` joint name (the usual correspondence of
the two 17-joint sets; posecast's head top and neck/nose are approximations from BlazePose's
ears, nose and shoulders)."""

LIMB_BONES = tuple(
    (f"{s}_{a}", f"{s}_{b}")
    for s in ("r", "l")
    for a, b in (("shoulder", "elbow"), ("elbow", "wrist"), ("hip", "knee"), ("knee", "ankle"))
)
"""The 8 limb bones (3DHP names) whose summed length gives the skeleton scale."""


def h36m_indices(joint_names: tuple[str, ...]) -> np.ndarray:
    """(J,) index into ``h36m_17`` of each 3DHP joint."""
    return np.array([H36M_17_NAMES.index(THREEDHP_TO_H36M[name]) for name in joint_names])


def bone_indices(joint_names: tuple[str, ...]) -> np.ndarray:
    """(8, 2) joint indices of :data:`LIMB_BONES` in ``joint_names``."""
    return np.array([[joint_names.index(a), joint_names.index(b)] for a, b in LIMB_BONES])
