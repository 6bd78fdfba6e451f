"""Synthetic sequences written in the real 3DPW layout, for tests (no dataset needed).

`make_walking_scene` builds known 3D joints (stick figures walking in front of a slowly
panning camera); `write_sequence` writes them as ``sequenceFiles/{split}/{name}.pkl`` with the
real keys and layouts (pickle protocol 2, loadable with ``encoding="latin1"``) and, if asked,
``imageFiles/{name}/image_XXXXX.jpg`` frames that show the persons as stick figures, so that
a pipeline run can be tested without a person detector.

Example::

    scene = make_walking_scene(num_persons=2, num_frames=30, seed=0)
    write_sequence(root, "test", "synthetic_walk_00", scene, write_images=True)
    sequence = load_sequence(root, "test", "synthetic_walk_00")
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from posecast.clients.threedpw.layout import (
    SMPL_JOINT_COUNT,
    image_path,
    sequence_file_path,
    world_to_camera,
)
from posecast.errors import InvalidInputError

SMPL_PARENTS = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21)
"""Parent of each SMPL joint (-1 for the pelvis); the stick-figure bones."""

SMPL_TO_COCO18 = (15, 12, 17, 19, 21, 16, 18, 20, 2, 5, 8, 1, 4, 7, 15, 15, 15, 15)
"""For each OpenPose-COCO-18 keypoint of ``poses2d`` (nose, neck, right shoulder, elbow,
wrist, left shoulder, elbow, wrist, right hip, knee, ankle, left hip, knee, ankle, right eye,
left eye, right ear, left ear) the SMPL joint drawn in its place (face points -> head)."""

# A standing SMPL skeleton: pelvis at the origin, y up, facing +z, the person's left at +x.
_TEMPLATE_BODY_M = np.array(
    [
        [0.00, 0.00, 0.00],  # 0 pelvis
        [0.09, -0.08, 0.00],  # 1 left hip
        [-0.09, -0.08, 0.00],  # 2 right hip
        [0.00, 0.11, -0.01],  # 3 spine1
        [0.10, -0.48, 0.01],  # 4 left knee
        [-0.10, -0.48, 0.01],  # 5 right knee
        [0.00, 0.24, -0.01],  # 6 spine2
        [0.10, -0.88, -0.03],  # 7 left ankle
        [-0.10, -0.88, -0.03],  # 8 right ankle
        [0.00, 0.30, 0.00],  # 9 spine3
        [0.11, -0.94, 0.10],  # 10 left foot
        [-0.11, -0.94, 0.10],  # 11 right foot
        [0.00, 0.52, -0.01],  # 12 neck
        [0.07, 0.44, -0.01],  # 13 left collar
        [-0.07, 0.44, -0.01],  # 14 right collar
        [0.00, 0.62, 0.03],  # 15 head
        [0.18, 0.45, -0.01],  # 16 left shoulder
        [-0.18, 0.45, -0.01],  # 17 right shoulder
        [0.22, 0.20, -0.02],  # 18 left elbow
        [-0.22, 0.20, -0.02],  # 19 right elbow
        [0.24, -0.04, 0.02],  # 20 left wrist
        [-0.24, -0.04, 0.02],  # 21 right wrist
        [0.25, -0.12, 0.03],  # 22 left hand
        [-0.25, -0.12, 0.03],  # 23 right hand
    ]
)
_SWING_M = np.zeros(SMPL_JOINT_COUNT)
_SWING_M[[4, 7, 10]] = (0.10, 0.25, 0.25)  # left leg forward when the phase is positive
_SWING_M[[5, 8, 11]] = (-0.10, -0.25, -0.25)
_SWING_M[[18, 20, 22]] = (-0.08, -0.20, -0.22)  # arms opposite to the legs
_SWING_M[[19, 21, 23]] = (0.08, 0.20, 0.22)
_PELVIS_HEIGHT_M = 0.95


@dataclass(frozen=True)
class SyntheticScene:
    """Known ground truth of a synthetic sequence.

    Attributes:
        joints_world_m: (P, N, 24, 3) SMPL joints, world frame (y up), metres.
        cam_poses: (N, 4, 4) camera-from-world transforms.
        intrinsics: (3, 3) K, pixels.
        image_size_wh: (width, height) of the frames, pixels.
    """

    joints_world_m: np.ndarray
    cam_poses: np.ndarray
    intrinsics: np.ndarray
    image_size_wh: tuple[int, int]

    @property
    def joints_cam_m(self) -> np.ndarray:
        """(P, N, 24, 3) joints in each frame's camera frame, metres."""
        return world_to_camera(self.joints_world_m, self.cam_poses)


def make_walking_scene(
    num_persons: int = 2,
    num_frames: int = 20,
    *,
    seed: int = 0,
    image_size_wh: tuple[int, int] = (320, 240),
    fps: float = 30.0,
) -> SyntheticScene:
    """Persons walking side by side in front of a camera that pans slowly.

    Person p starts at x = 1.2 (p - (P - 1) / 2) m, 5 to 6 m in front of the camera, walks at
    1 to 1.5 m/s in a direction within 40 degrees of sideways, legs and arms swinging.
    """
    if num_persons < 1 or num_frames < 1:
        raise InvalidInputError(
            f"need at least one person and frame, got {num_persons} and {num_frames}"
        )
    rng = np.random.default_rng(seed)
    times_s = np.arange(num_frames) / fps
    joints = np.empty((num_persons, num_frames, SMPL_JOINT_COUNT, 3))
    for person in range(num_persons):
        start = np.array([1.2 * (person - (num_persons - 1) / 2), _PELVIS_HEIGHT_M, 0.0])
        start[2] = rng.uniform(5.0, 6.0)
        heading_rad = np.pi / 2 + rng.uniform(-0.7, 0.7) + (np.pi if person % 2 else 0.0)
        direction = np.array([np.sin(heading_rad), 0.0, np.cos(heading_rad)])
        speed_m_s = rng.uniform(1.0, 1.5)
        phase = 2 * np.pi * 1.8 * times_s + rng.uniform(0, 2 * np.pi)  # ~1.8 strides per second
        body = np.broadcast_to(_TEMPLATE_BODY_M, (num_frames, SMPL_JOINT_COUNT, 3)).copy()
        body[:, :, 2] += np.sin(phase)[:, None] * _SWING_M[None, :]
        rotation = _yaw_matrix(heading_rad)
        pelvis = start + speed_m_s * times_s[:, None] * direction
        joints[person] = body @ rotation.T + pelvis[:, None, :]
    width, height = image_size_wh
    focal_px = max(width, height) / (2 * np.tan(np.radians(55.0) / 2))
    intrinsics = np.array([[focal_px, 0, width / 2], [0, focal_px, height / 2], [0, 0, 1.0]])
    pan_rad = np.radians(3.0) * np.sin(2 * np.pi * 0.2 * times_s)
    cam_poses = np.stack([_camera_from_world(angle) for angle in pan_rad])
    return SyntheticScene(joints, cam_poses, intrinsics, (int(width), int(height)))


def _yaw_matrix(angle_rad: float) -> np.ndarray:
    """Rotation about the world y axis (up)."""
    cos, sin = np.cos(angle_rad), np.sin(angle_rad)
    return np.array([[cos, 0, sin], [0, 1, 0], [-sin, 0, cos]])


def _camera_from_world(pan_rad: float) -> np.ndarray:
    """A camera 1.4 m above the ground at the world origin, looking along +z, panned."""
    world_to_camera_axes = np.diag([-1.0, -1.0, 1.0])  # world y up -> camera y down (det +1)
    rotation = world_to_camera_axes @ _yaw_matrix(pan_rad).T
    centre = np.array([0.0, 1.4, 0.0])
    transform = np.eye(4)
    transform[:3, :3] = rotation
    transform[:3, 3] = -rotation @ centre
    return transform


def project_poses2d(
    joints_cam_m: np.ndarray, intrinsics: np.ndarray, image_size_wh: tuple[int, int]
) -> np.ndarray:
    """3DPW-style 2D keypoints from camera-frame SMPL joints.

    Args:
        joints_cam_m: (P, N, 24, 3) joints, camera frame, metres.
        intrinsics: (3, 3) K.
        image_size_wh: (width, height), pixels.

    Returns:
        (P, N, 18, 3) OpenPose-COCO-18 keypoints (x_px, y_px, confidence): confidence 1 for
        keypoints in the image and in front of the camera, else 0 with (0, 0); a person-frame
        with fewer than 6 such keypoints is all zeros, as in 3DPW.
    """
    points = joints_cam_m[:, :, SMPL_TO_COCO18]  # (P, N, 18, 3)
    z = points[..., 2]
    in_front = z > 1e-6
    safe_z = np.where(in_front, z, 1.0)
    pixels = points[..., :2] / safe_z[..., None] @ intrinsics[:2, :2].T + intrinsics[:2, 2]
    width, height = image_size_wh
    visible = (
        in_front
        & (pixels[..., 0] >= 0)
        & (pixels[..., 0] < width)
        & (pixels[..., 1] >= 0)
        & (pixels[..., 1] < height)
    )
    poses2d = np.concatenate([pixels, np.ones_like(pixels[..., :1])], axis=-1)
    poses2d[~visible] = 0.0
    poses2d[np.count_nonzero(visible, axis=-1) < 6] = 0.0
    return poses2d


def write_sequence(
    root: Path,
    split: str,
    name: str,
    scene: SyntheticScene,
    *,
    campose_valid: np.ndarray | None = None,
    is_detected: np.ndarray | None = None,
    write_images: bool = False,
    jpeg_quality: int = 90,
) -> Path:
    """Write a synthetic sequence in the 3DPW layout; return the sequence file's path.

    Args:
        root: 3DPW root to write into (created).
        split: split directory, e.g. ``test``.
        name: sequence name.
        scene: the known ground truth.
        campose_valid: (P, N) bool; default all True.
        is_detected: (P, N) bool; where False the 2D keypoints are zeroed (3DPW's marker
            of a person-frame with fewer than 6 detected joints); default all True.
        write_images: also write ``imageFiles/{name}/image_XXXXX.jpg`` stick-figure frames.
        jpeg_quality: JPEG quality of the frames.
    """
    persons, frames = scene.joints_world_m.shape[:2]
    valid = np.ones((persons, frames), bool) if campose_valid is None else campose_valid
    detected = np.ones((persons, frames), bool) if is_detected is None else is_detected
    for label, mask in (("campose_valid", valid), ("is_detected", detected)):
        if mask.shape != (persons, frames):
            raise InvalidInputError(f"{label} expected shape {(persons, frames)}, got {mask.shape}")
    joints_cam_m = scene.joints_cam_m
    poses2d = project_poses2d(joints_cam_m, scene.intrinsics, scene.image_size_wh)
    poses2d[~detected] = 0.0
    pelvis_world = scene.joints_world_m[:, :, 0]
    data = {
        "sequence": name,
        "genders": ["m" if person % 2 == 0 else "f" for person in range(persons)],
        "betas": [np.zeros(10) for _ in range(persons)],
        "betas_clothed": [np.zeros(10) for _ in range(persons)],
        "poses": [np.zeros((frames, 72)) for _ in range(persons)],
        "trans": [pelvis_world[person].copy() for person in range(persons)],
        "poses2d": [poses2d[person].transpose(0, 2, 1).copy() for person in range(persons)],
        "jointPositions": [
            scene.joints_world_m[person].reshape(frames, SMPL_JOINT_COUNT * 3).copy()
            for person in range(persons)
        ],
        "cam_poses": scene.cam_poses.copy(),
        "cam_intrinsics": scene.intrinsics.copy(),
        "campose_valid": [valid[person].astype(np.int64) for person in range(persons)],
        "img_frame_ids": np.arange(frames),
        "v_template_clothed": [np.zeros((6890, 3), np.float32) for _ in range(persons)],
        "texture_maps": [np.zeros((4, 4, 3), np.uint8) for _ in range(persons)],
    }
    path = sequence_file_path(root, split, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as file:
        pickle.dump(data, file, protocol=2)
    if write_images:
        for frame in range(frames):
            target = image_path(root, name, frame)
            target.parent.mkdir(parents=True, exist_ok=True)
            image = render_stick_figures(
                joints_cam_m[:, frame], scene.intrinsics, scene.image_size_wh
            )
            if not cv2.imwrite(str(target), image, [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality]):
                raise OSError(f"could not write {target}")
    return path


def render_stick_figures(
    joints_cam_m: np.ndarray, intrinsics: np.ndarray, image_size_wh: tuple[int, int]
) -> np.ndarray:
    """Draw persons as stick figures, farthest first.

    Args:
        joints_cam_m: (P, 24, 3) camera-frame joints, metres.
        intrinsics: (3, 3) K.
        image_size_wh: (width, height), pixels.

    Returns:
        (H, W, 3) uint8 image (BGR, as OpenCV writes it) on a grey background.
    """
    width, height = image_size_wh
    image = np.full((height, width, 3), 96, np.uint8)
    colours = ((40, 200, 240), (240, 120, 40), (80, 220, 80), (200, 80, 220))
    for person in np.argsort(-joints_cam_m[:, 0, 2]):
        points = joints_cam_m[person]
        if np.any(points[:, 2] <= 0.05):
            continue
        pixels = points[:, :2] / points[:, 2:] @ intrinsics[:2, :2].T + intrinsics[:2, 2]
        thickness = max(1, round(0.06 * intrinsics[0, 0] / points[0, 2]))
        colour = colours[person % len(colours)]
        for joint, parent in enumerate(SMPL_PARENTS):
            if parent >= 0:
                start = tuple(int(v) for v in np.round(pixels[parent]))
                end = tuple(int(v) for v in np.round(pixels[joint]))
                cv2.line(image, start, end, colour, thickness, cv2.LINE_AA)
        head = tuple(int(v) for v in np.round(pixels[15]))
        cv2.circle(image, head, 2 * thickness, colour, -1, cv2.LINE_AA)
    return image
