"""Loader of the CMU Panoptic Studio moments: calibrated HD views of the same instants.

Images are ``ROOT/panoptic/<camera>/<camera>_<frame>.jpg`` (e.g. ``00_03/00_03_00004500.jpg``,
camera ``00_03``, frame 4500); the calibration is ``camera_parameters.json`` in the camera's
folder if there is one, else the shared ``ROOT/panoptic/camera_parameters.json`` (the layout
found here). Panoptic's convention: a world point X (cm) is seen at ``R X + t`` in the camera
frame (x right, y down, z forward); distortion ``distCoef`` is OpenCV's (k1, k2, p1, p2, k3).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

CM_PER_M = 100.0


@dataclass(frozen=True)
class PanopticCamera:
    """One calibrated camera.

    Attributes:
        name: e.g. ``00_03``. K: (3, 3) intrinsics, pixels. distortion: (5,) OpenCV order.
        world_from_camera: (4, 4) rigid transform, camera frame to world frame, metres.
    """

    name: str
    K: np.ndarray
    distortion: np.ndarray
    world_from_camera: np.ndarray


@dataclass(frozen=True)
class PanopticView:
    """One camera's image of one moment."""

    camera: PanopticCamera
    moment: int
    image_path: Path


def camera_from_panoptic(entry: dict[str, Any]) -> PanopticCamera:
    """A camera from one ``cameras`` entry (R, t camera-from-world, t in cm)."""
    rotation = np.array(entry["R"], np.float64).reshape(3, 3)
    translation_m = np.array(entry["t"], np.float64).reshape(3) / CM_PER_M
    world_from_camera = np.eye(4)
    world_from_camera[:3, :3] = rotation.T
    world_from_camera[:3, 3] = -rotation.T @ translation_m  # the camera centre
    return PanopticCamera(
        name=entry["name"],
        K=np.array(entry["K"], np.float64).reshape(3, 3),
        distortion=np.array(entry["distCoef"], np.float64).reshape(-1),
        world_from_camera=world_from_camera,
    )


def _cameras(path: Path) -> dict[str, PanopticCamera]:
    entries = json.loads(path.read_text())["cameras"]
    return {entry["name"]: camera_from_panoptic(entry) for entry in entries}


def load_panoptic(root: Path) -> dict[int, list[PanopticView]]:
    """Views per moment (frame number), each sorted by camera name."""
    folder = Path(root) / "panoptic"
    shared = folder / "camera_parameters.json"
    shared_cameras = _cameras(shared) if shared.exists() else {}
    moments: dict[int, list[PanopticView]] = {}
    for camera_dir in sorted(path for path in folder.iterdir() if path.is_dir()):
        own = camera_dir / "camera_parameters.json"
        cameras = _cameras(own) if own.exists() else shared_cameras
        if camera_dir.name not in cameras:
            raise ValueError(f"panoptic: no calibration for camera {camera_dir.name}")
        for image_path in sorted(camera_dir.glob(f"{camera_dir.name}_*.jpg")):
            moment = int(image_path.stem.removeprefix(f"{camera_dir.name}_"))
            view = PanopticView(cameras[camera_dir.name], moment, image_path)
            moments.setdefault(moment, []).append(view)
    return dict(sorted(moments.items()))
