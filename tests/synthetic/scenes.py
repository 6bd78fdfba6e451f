"""Synthetic multi-person scenes with ground truth, for tests and benchmarks.

People walk at 1.0-1.6 m/s on a ground plane in front of a pinhole camera (horizontal
optical axis, 1.6 m above the ground), on gently curving paths through a common central area,
so paths cross and people come close (never closer than ``min_separation_m``). Each person is an
articulated walking skeleton of 17 joints in COCO order (``JOINT_NAMES``); the skeleton's name
is ``synthetic_17`` since the face joints are only roughly placed. Detections suffer random
misses, occlusions of up to ``max_occlusion_s``, false detections, per-joint noise,
low-confidence joints and scores, jittered timestamps and dropped frames. Deterministic given
the seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from posecast.engines.frames import FramePoses
from posecast.tracker.references import ReferencePoses

SYNTHETIC_SKELETON = "synthetic_17"
JOINT_NAMES = (
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
)
HIP_JOINTS = (11, 12)
"""The root of a pose is the midpoint of these joints (the pelvis)."""
FIRST_PERSON_ID = 100
"""Ground-truth ids are FIRST_PERSON_ID, FIRST_PERSON_ID + 1, ... (unlike tracker ids)."""
STRIDE_M = 1.4
"""Distance of one full gait cycle (two steps)."""


@dataclass(frozen=True)
class SceneConfig:
    """What to generate.

    Attributes:
        num_people: people in the scene (they enter and leave the field of view).
        duration_s: length of the scene.
        frame_rate_hz: nominal frame rate.
        min_separation_m: no two people's roots ever come closer on the ground.
        close_pass_fraction: fraction of people whose path is aimed to pass another person
            within ``min_separation_m + 0.4`` m.
        speed_range_m_s: walking speeds, uniform.
        max_turn_rate_rad_s: paths curve with a constant turn rate up to this.
        miss_rate: probability that a visible person is not detected in a frame.
        occlusion_rate_per_s: occlusion events per person per second (Poisson).
        max_occlusion_s: occlusion durations are uniform in [0.2, max_occlusion_s].
        false_detections_per_frame: mean number of false detections per frame (Poisson).
        joint_noise_m: std of Gaussian noise per joint coordinate, metres.
        joint_noise_px: std of Gaussian noise of 2D joints, pixels.
        low_score_rate: fraction of true detections with a low score in [0.15, 0.45].
        timestamp_jitter_s: timestamps move by up to this (uniform), less than half a period.
        drop_rate: probability that a frame is dropped (never the first).
        image_size_px: (width, height).
        fov_deg: horizontal and vertical field of view of the larger side.
        camera_height_m: height of the camera above the ground.
        seed: random seed.
    """

    num_people: int = 4
    duration_s: float = 10.0
    frame_rate_hz: float = 30.0
    min_separation_m: float = 0.5
    close_pass_fraction: float = 0.5
    speed_range_m_s: tuple[float, float] = (1.0, 1.6)
    max_turn_rate_rad_s: float = 0.15
    miss_rate: float = 0.1
    occlusion_rate_per_s: float = 0.1
    max_occlusion_s: float = 1.0
    false_detections_per_frame: float = 0.1
    joint_noise_m: float = 0.03
    joint_noise_px: float = 2.0
    low_score_rate: float = 0.1
    timestamp_jitter_s: float = 0.005
    drop_rate: float = 0.05
    image_size_px: tuple[int, int] = (1280, 720)
    fov_deg: float = 55.0
    camera_height_m: float = 1.6
    seed: int = 0

    def __post_init__(self) -> None:
        if not 2 * self.timestamp_jitter_s < 1.0 / self.frame_rate_hz:
            raise ValueError("timestamp_jitter_s must be less than half a frame period")
        if self.num_people < 0 or self.duration_s <= 0:
            raise ValueError("num_people must be >= 0 and duration_s > 0")


@dataclass(frozen=True)
class SceneFrame:
    """One delivered frame.

    Attributes:
        frame_index: index in the undropped sequence (gaps where frames were dropped).
        timestamp_s: jittered time.
        detections: the detector's output (untracked), skeleton ``synthetic_17``.
        detection_person_ids: (N,) ground-truth id of each detection, -1 for false ones.
        person_ids: (P,) ids of the people in view (detected or not).
        roots_cam_m: (P, 3) their true pelvis, camera frame, metres.
        joints2d_px: (P, J, 2) their true projected joints (for reference poses).
    """

    frame_index: int
    timestamp_s: float
    detections: FramePoses
    detection_person_ids: np.ndarray
    person_ids: np.ndarray
    roots_cam_m: np.ndarray
    joints2d_px: np.ndarray

    def references(self) -> ReferencePoses:
        """Reference 2D poses (true joints, full confidence) of the people in view."""
        return ReferencePoses(
            ids=self.person_ids.astype(np.int64),
            joints2d_px=self.joints2d_px,
            joint_scores=np.ones(self.joints2d_px.shape[:2]),
        )


@dataclass(frozen=True)
class Scene:
    """A generated scene: its config, camera and frames."""

    config: SceneConfig
    intrinsics: np.ndarray
    frames: list[SceneFrame]
    min_distance_m: float
    """Smallest distance between two people's roots over the scene."""


def intrinsics_for(image_size_px: tuple[int, int], fov_deg: float) -> np.ndarray:
    """(3, 3) pinhole K: principal point at the centre, f = max(W, H) / (2 tan(fov / 2))."""
    width, height = image_size_px
    focal_px = max(width, height) / (2.0 * math.tan(math.radians(fov_deg) / 2.0))
    return np.array([[focal_px, 0, width / 2], [0, focal_px, height / 2], [0, 0, 1.0]])


def project_to_image(points_cam_m: np.ndarray, intrinsics: np.ndarray) -> np.ndarray:
    """(..., 3) camera-frame points (z > 0) to (..., 2) pixels."""
    homogeneous = points_cam_m @ intrinsics.T
    return homogeneous[..., :2] / homogeneous[..., 2:3]


def walking_skeleton(
    ground_xz_m: np.ndarray,
    heading_rad: float,
    gait_phase_rad: float,
    height_scale: float,
    camera_height_m: float,
) -> np.ndarray:
    """(17, 3) joints of a walking person, camera frame (y down), metres.

    Args:
        ground_xz_m: (2,) point on the ground below the pelvis, camera x and z.
        heading_rad: walking direction in the ground plane, angle from camera x towards z.
        gait_phase_rad: 0..2 pi over one stride; legs and arms swing with it.
        height_scale: 1.0 is a person of about 1.75 m.
        camera_height_m: the ground is at camera y = camera_height_m.
    """
    s = height_scale
    swing = 0.35 * math.sin(gait_phase_rad)  # left leg angle, forward positive
    bob = 0.02 * math.cos(2 * gait_phase_rad)
    body = {}  # joint index -> (forward, left, up) in metres

    def limb(start: tuple, angle: float, length: float) -> tuple:
        return (start[0] + length * math.sin(angle), start[1], start[2] - length * math.cos(angle))

    for side, sign in ((0, 1.0), (1, -1.0)):  # left, right
        leg_angle = sign * swing
        knee_bend = 0.15 + 0.25 * max(0.0, -sign * math.sin(gait_phase_rad + 0.6))
        hip = (0.0, sign * 0.1 * s, 0.93 * s + bob)
        knee = limb(hip, leg_angle, 0.45 * s)
        ankle = limb(knee, leg_angle - knee_bend, 0.44 * s)
        shoulder = (0.0, sign * 0.19 * s, 1.43 * s + bob)
        elbow = limb(shoulder, -0.7 * leg_angle, 0.28 * s)
        wrist = limb(elbow, -0.7 * leg_angle + 0.25, 0.26 * s)
        for index, point in zip(
            (11, 13, 15, 5, 7, 9), (hip, knee, ankle, shoulder, elbow, wrist), strict=True
        ):
            body[index + side] = point
        body[1 + side] = (0.08 * s, sign * 0.035 * s, 1.66 * s + bob)  # eyes
        body[3 + side] = (0.0, sign * 0.08 * s, 1.63 * s + bob)  # ears
    body[0] = (0.11 * s, 0.0, 1.62 * s + bob)  # nose
    local = np.array([body[index] for index in range(17)])  # (17, 3) forward, left, up
    forward = np.array([math.cos(heading_rad), 0.0, math.sin(heading_rad)])
    up = np.array([0.0, -1.0, 0.0])
    left = np.cross(up, forward)  # facing the camera, the left hand is on the image's right
    origin = np.array([ground_xz_m[0], camera_height_m, ground_xz_m[1]])
    return origin + local[:, :1] * forward + local[:, 1:2] * left + local[:, 2:3] * up


@dataclass(frozen=True)
class _Walk:
    positions_xz_m: np.ndarray  # (T, 2) ground position at each nominal frame time
    headings_rad: np.ndarray  # (T,)
    phases_rad: np.ndarray  # (T,)
    height_scale: float


def _sample_walk(
    rng: np.random.Generator, config: SceneConfig, times_s: np.ndarray, anchor_xz_m: np.ndarray
) -> _Walk:
    speed = rng.uniform(*config.speed_range_m_s)
    turn_rate = rng.uniform(-config.max_turn_rate_rad_s, config.max_turn_rate_rad_s)
    heading0 = rng.uniform(0, 2 * math.pi)
    centre_time_s = rng.uniform(0.3, 0.7) * config.duration_s
    headings = heading0 + turn_rate * (times_s - centre_time_s)
    step_s = times_s[1] - times_s[0] if len(times_s) > 1 else 0.0
    velocity = speed * np.stack([np.cos(headings), np.sin(headings)], axis=1)
    positions = np.cumsum(velocity * step_s, axis=0)
    centre = int(np.argmin(np.abs(times_s - centre_time_s)))
    positions += anchor_xz_m - positions[centre]
    phases = rng.uniform(0, 2 * math.pi) + 2 * math.pi * speed * times_s / STRIDE_M
    return _Walk(positions, headings, phases, rng.uniform(0.9, 1.1))


def _central_point(rng: np.random.Generator, config: SceneConfig) -> np.ndarray:
    return np.array([rng.uniform(-1.5, 1.5), rng.uniform(4.5, 7.5)])


def _sample_walks(
    rng: np.random.Generator, config: SceneConfig, times_s: np.ndarray
) -> list[_Walk]:
    """Walks through the central area, at least ``min_separation_m`` apart at all times."""
    walks: list[_Walk] = []
    for _ in range(config.num_people):
        for _attempt in range(2000):
            anchor = _central_point(rng, config)
            if walks and rng.uniform() < config.close_pass_fraction:
                # Aim at another walker's position in mid-scene, a little to the side.
                other = walks[rng.integers(len(walks))]
                angle = rng.uniform(0, 2 * math.pi)
                offset = rng.uniform(config.min_separation_m, config.min_separation_m + 0.4)
                centre = len(times_s) // 2
                anchor = other.positions_xz_m[centre] + offset * np.array(
                    [math.cos(angle), math.sin(angle)]
                )
            walk = _sample_walk(rng, config, times_s, anchor)
            if all(
                _min_distance_m(walk.positions_xz_m, other.positions_xz_m)
                >= config.min_separation_m
                for other in walks
            ):
                walks.append(walk)
                break
        else:
            raise ValueError(
                f"cannot place {config.num_people} people {config.min_separation_m} m apart"
            )
    return walks


def _min_distance_m(a_xz_m: np.ndarray, b_xz_m: np.ndarray) -> float:
    return float(np.linalg.norm(a_xz_m - b_xz_m, axis=1).min())


def _occlusion_mask(
    rng: np.random.Generator, config: SceneConfig, times_s: np.ndarray
) -> np.ndarray:
    """(T,) True where the person is occluded."""
    mask = np.zeros(len(times_s), bool)
    for _ in range(rng.poisson(config.occlusion_rate_per_s * config.duration_s)):
        start_s = rng.uniform(0, config.duration_s)
        length_s = rng.uniform(0.2, max(0.2, config.max_occlusion_s))
        mask |= (times_s >= start_s) & (times_s < start_s + length_s)
    return mask


def generate_scene(config: SceneConfig) -> Scene:
    """A scene with ground truth; identical for identical configs (including the seed)."""
    rng = np.random.default_rng(config.seed)
    intrinsics = intrinsics_for(config.image_size_px, config.fov_deg)
    num_frames = max(1, round(config.duration_s * config.frame_rate_hz))
    times_s = np.arange(num_frames) / config.frame_rate_hz
    walks = _sample_walks(rng, config, times_s)
    occluded = [_occlusion_mask(rng, config, times_s) for _ in walks]
    frames = []
    for k in range(num_frames):
        if k > 0 and rng.uniform() < config.drop_rate:
            continue
        jitter_s = rng.uniform(-config.timestamp_jitter_s, config.timestamp_jitter_s)
        frames.append(_frame(rng, config, intrinsics, walks, occluded, k, times_s[k] + jitter_s))
    distances = [
        _min_distance_m(a.positions_xz_m, b.positions_xz_m)
        for i, a in enumerate(walks)
        for b in walks[i + 1 :]
    ]
    return Scene(config, intrinsics, frames, min(distances, default=math.inf))


def _true_joints(config: SceneConfig, walk: _Walk, k: int) -> np.ndarray:
    return walking_skeleton(
        walk.positions_xz_m[k],
        float(walk.headings_rad[k]),
        float(walk.phases_rad[k]),
        walk.height_scale,
        config.camera_height_m,
    )


def _is_in_view(joints_cam_m: np.ndarray, intrinsics: np.ndarray, config: SceneConfig) -> bool:
    root = joints_cam_m[list(HIP_JOINTS)].mean(axis=0)
    if root[2] < 1.0:
        return False
    u, v = project_to_image(root, intrinsics)
    width, height = config.image_size_px
    return bool(0 <= u < width and 0 <= v < height)


def _frame(
    rng: np.random.Generator,
    config: SceneConfig,
    intrinsics: np.ndarray,
    walks: list[_Walk],
    occluded: list[np.ndarray],
    k: int,
    timestamp_s: float,
) -> SceneFrame:
    person_ids, roots, joints2d, detected_joints, detected_ids = [], [], [], [], []
    for index, walk in enumerate(walks):
        joints = _true_joints(config, walk, k)
        if not _is_in_view(joints, intrinsics, config):
            continue
        person_id = FIRST_PERSON_ID + index
        person_ids.append(person_id)
        roots.append(joints[list(HIP_JOINTS)].mean(axis=0))
        joints2d.append(project_to_image(joints, intrinsics))
        if not occluded[index][k] and rng.uniform() >= config.miss_rate:
            detected_joints.append(joints)
            detected_ids.append(person_id)
    scores = [
        rng.uniform(0.15, 0.45) if rng.uniform() < config.low_score_rate else rng.uniform(0.55, 1.0)
        for _ in detected_ids
    ]
    for _ in range(rng.poisson(config.false_detections_per_frame)):
        ground = np.array([rng.uniform(-3, 3), rng.uniform(3, 10)])
        ghost = walking_skeleton(
            ground, rng.uniform(0, 2 * math.pi), 0.0, 1.0, config.camera_height_m
        )
        if _is_in_view(ghost, intrinsics, config):
            detected_joints.append(ghost)
            detected_ids.append(-1)
            scores.append(rng.uniform(0.1, 0.6))
    detections = _detections(rng, config, intrinsics, detected_joints, np.asarray(scores))
    num_joints = len(JOINT_NAMES)
    return SceneFrame(
        frame_index=k,
        timestamp_s=float(timestamp_s),
        detections=detections,
        detection_person_ids=np.asarray(detected_ids, np.int64),
        person_ids=np.asarray(person_ids, np.int64),
        roots_cam_m=np.asarray(roots, np.float64).reshape(-1, 3),
        joints2d_px=np.asarray(joints2d, np.float64).reshape(-1, num_joints, 2),
    )


def _detections(
    rng: np.random.Generator,
    config: SceneConfig,
    intrinsics: np.ndarray,
    true_joints_m: list[np.ndarray],
    scores: np.ndarray,
) -> FramePoses:
    num_joints = len(JOINT_NAMES)
    if not true_joints_m:
        return FramePoses.empty(SYNTHETIC_SKELETON, num_joints)
    joints = np.stack(true_joints_m)  # (N, J, 3)
    joints2d = project_to_image(joints, intrinsics)
    joints2d = joints2d + rng.normal(0, config.joint_noise_px, joints2d.shape)
    joints = joints + rng.normal(0, config.joint_noise_m, joints.shape)
    joint_scores = rng.uniform(0.5, 1.0, joints.shape[:2])
    unsure = rng.uniform(size=joint_scores.shape) < 0.05
    joint_scores[unsure] = rng.uniform(0.0, 0.25, unsure.sum())
    margin = 0.1 * (joints2d.max(axis=1) - joints2d.min(axis=1))
    boxes = np.concatenate([joints2d.min(axis=1) - margin, joints2d.max(axis=1) + margin], axis=1)
    return FramePoses(
        skeleton=SYNTHETIC_SKELETON,
        boxes_xyxy=boxes,
        scores=scores.astype(np.float64),
        joints2d_px=joints2d,
        joints_cam_m=joints,
        joint_scores=joint_scores,
    )
