"""Synthetic fixed-camera scenes with a known camera: mocap people walking on a ground plane.

Each person is CMU subject 131 (``synthetic.mocap``: walking, a few frames bending) as
BlazePose-like landmarks, scaled to a stature drawn around 1.70 m, turned to a walking
direction and set on the ground (its lowest foot landmark on the plane), walking a straight
line at 1.0-1.6 m/s through the camera's view. Seen by a pinhole camera with a known focal
length, pitch, roll and height: 2D landmarks with Gaussian noise (a fraction of the person's
image height), sitting people (the legs folded, the head ~0.45 m lower), and false
detections (a random skeleton at a random place in the image). Deterministic given the seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from posecast.engines.geometry.camera import intrinsics_from_fov, project_points, world_to_camera
from posecast.engines.geometry.ground import GroundPlane, world_from_ground_plane
from posecast.engines.geometry.skeletons import BLAZEPOSE_33
from synthetic.mocap import blazepose_like_from_mocap, load_mocap

FOOT_LANDMARKS = [BLAZEPOSE_33.index(n) for n in ("left_heel", "right_heel")] + [
    BLAZEPOSE_33.index(n) for n in ("left_foot_index", "right_foot_index")
]
HEAD_LANDMARKS = [BLAZEPOSE_33.index(n) for n in ("left_eye", "right_eye", "left_ear", "right_ear")]
HIP, KNEE, ANKLE = (
    ("left_hip", "right_hip"),
    ("left_knee", "right_knee"),
    ("left_ankle", "right_ankle"),
)


@dataclass(frozen=True)
class GroundSceneConfig:
    """What to generate.

    Attributes:
        image_size_wh: (width, height) in pixels.
        fov_deg: field of view of the longer image side.
        pitch_deg, roll_deg, camera_height_m: the camera's place above the ground.
        num_people: people walking through the view (each one track).
        frames_per_person: observations of each person, spaced ``frame_interval_s``.
        frame_interval_s: time between two observations of a person.
        range_m: (near, far) distances on the ground from the camera's foot point where
            people start walking.
        speed_m_s: walking speeds (uniform).
        stature_m: (mean, sd) of the people's standing heights.
        noise_fraction: sd of the 2D landmark noise as a fraction of the person's image
            height (per landmark, per axis).
        sitting_fraction: share of people who sit (legs folded) instead of walking.
        bending_fraction: share of a walking person's observations in a bending,
            crouching or foot-raised mocap frame (the mocap's own non-upright frames).
        false_fraction: false detections per true observation.
        seed: random seed.
    """

    image_size_wh: tuple[int, int] = (1280, 720)
    fov_deg: float = 50.0
    pitch_deg: float = 15.0
    roll_deg: float = 2.0
    camera_height_m: float = 4.0
    num_people: int = 12
    frames_per_person: int = 30
    frame_interval_s: float = 0.2
    range_m: tuple[float, float] = (5.0, 30.0)
    speed_m_s: tuple[float, float] = (1.0, 1.6)
    stature_m: tuple[float, float] = (1.70, 0.07)
    noise_fraction: float = 0.01
    sitting_fraction: float = 0.0
    bending_fraction: float = 0.0
    false_fraction: float = 0.0
    seed: int = 0


@dataclass(frozen=True)
class GroundScene:
    """A generated scene: the camera, the truth and what a pose estimator would report.

    Attributes:
        K: (3, 3) intrinsics. plane: the true ground plane.
        joints2d_px: (N, 33, 2) noisy landmarks of every observation (pixels).
        joints_cam_m: (N, 33, 3) true camera-frame landmarks (metres).
        joint_scores: (N, 33) visibility (1 inside the image, 0 outside).
        person_ids: (N,) track id per observation (false detections: negative, distinct).
        frame_indices: (N,) observation time step.
        statures_m: person id -> true stature (walking people; sitting ones: standing
            stature too).
        is_sitting: (N,) the observation is of a sitting person.
        is_false: (N,) a false detection (its 3D is meaningless).
    """

    K: np.ndarray
    plane: GroundPlane
    joints2d_px: np.ndarray
    joints_cam_m: np.ndarray
    joint_scores: np.ndarray
    person_ids: np.ndarray
    frame_indices: np.ndarray
    statures_m: dict[int, float] = field(default_factory=dict)
    is_sitting: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    is_false: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))


HEAD_BELOW_TOP_M = 0.12
"""The scenes' people have their head point (mean of eyes and ears) this far below their
stature, as ``CalibrationConfig.head_below_top_m`` assumes."""
MIN_UPRIGHT_HEIGHT = 0.95
"""Mocap frames whose head point is at least this fraction of the usual (90th percentile)
head height ...
"""
MAX_HEAD_OFFSET_M = 0.15
"""... and at most this far (horizontally, at a 1.58 m head height) from the foot point are
walking or standing; the others (bending, crouching, leaning, a foot raised high) are left
out of the walkers' poses (``mocap_poses_bending``)."""


def mocap_poses_world(
    positions: np.ndarray | None = None, names: np.ndarray | None = None
) -> np.ndarray:
    """(F, 33, 3) upright BlazePose-like mocap poses, z up, standing on z = 0 (lowest foot
    landmark), hip midpoint above the origin, scaled to stature 1 (head point at
    1 - HEAD_BELOW_TOP_M / 1.70 on average).

    Args:
        positions, names: (F, J, 3) BVH joint positions (y up) and their names; default
            the committed excerpt (``synthetic.mocap.load_mocap``).
    """
    return _mocap_poses(positions, names)[0]


def mocap_poses_bending(
    positions: np.ndarray | None = None, names: np.ndarray | None = None
) -> np.ndarray:
    """The frames :func:`mocap_poses_world` leaves out (bending, crouching, a foot raised),
    on the same scale."""
    return _mocap_poses(positions, names)[1]


def _mocap_poses(
    positions: np.ndarray | None, names: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    if positions is None or names is None:
        positions, names = load_mocap()
    world = positions[:, :, [2, 0, 1]]  # BVH (x left, y up, z forward) -> (x fwd, y left, z up)
    landmarks = blazepose_like_from_mocap(world, names)
    landmarks[..., 2] -= landmarks[:, FOOT_LANDMARKS, 2].min(axis=1)[:, None]
    landmarks[..., :2] -= landmarks[:, [23, 24], :2].mean(axis=1)[:, None]
    head = landmarks[:, HEAD_LANDMARKS, 2].mean(axis=1)
    offset = landmarks[:, HEAD_LANDMARKS, :2].mean(axis=1) - landmarks[:, FOOT_LANDMARKS, :2].mean(
        axis=1
    )
    offset_m = np.linalg.norm(offset, axis=1) / head * (1.70 - HEAD_BELOW_TOP_M)
    is_upright = (head >= MIN_UPRIGHT_HEIGHT * np.percentile(head, 90)) & (
        offset_m <= MAX_HEAD_OFFSET_M
    )
    scale = (1.0 - HEAD_BELOW_TOP_M / 1.70) / landmarks[is_upright][:, HEAD_LANDMARKS, 2].mean()
    return landmarks[is_upright] * scale, landmarks[~is_upright] * scale


def sitting_pose(pose: np.ndarray) -> np.ndarray:
    """A standing (33, 3) pose (z up) with its legs folded: thighs horizontal forward,
    shins vertical, everything above the hips lowered by the thigh length."""
    sitting = pose.copy()
    hips = [BLAZEPOSE_33.index(n) for n in HIP]
    knees = [BLAZEPOSE_33.index(n) for n in KNEE]
    thigh = float(np.linalg.norm(pose[knees[0]] - pose[hips[0]]))
    upper = [i for i in range(33) if pose[i, 2] >= pose[hips, 2].mean() - 1e-9]
    sitting[upper, 2] -= thigh
    forward = np.array([1.0, 0.0, 0.0])
    lower = [i for i in range(33) if i not in upper]
    for side in range(2):
        sitting[knees[side]] = sitting[hips[side]] + thigh * forward
    sitting[lower, 0] += thigh  # shins and feet under the knees
    sitting[..., 2] -= sitting[FOOT_LANDMARKS, 2].min()
    return sitting


def _rotation_z(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def generate_ground_scene(
    config: GroundSceneConfig, mocap: tuple[np.ndarray, np.ndarray] | None = None
) -> GroundScene:
    """People walking (or sitting) in front of a known camera; see the module docstring.

    Args:
        config: what to generate.
        mocap: (F, J, 3) BVH joint positions and (J,) names to draw the poses from (default
            the committed excerpt).
    """
    rng = np.random.default_rng(config.seed)
    width, height = config.image_size_wh
    K = intrinsics_from_fov(width, height, config.fov_deg)
    plane = GroundPlane.from_angles(
        math.radians(config.pitch_deg), math.radians(config.roll_deg), config.camera_height_m
    )
    world_from_camera = world_from_ground_plane(plane)
    poses = mocap_poses_world(*(mocap or (None, None)))
    bending = mocap_poses_bending(*(mocap or (None, None)))
    rows: list[tuple[np.ndarray, int, int, bool, bool]] = []
    statures: dict[int, float] = {}
    for person in range(config.num_people):
        stature = float(rng.normal(*config.stature_m))
        statures[person] = stature
        is_sitting = rng.random() < config.sitting_fraction
        path = _walk(rng, config, K, world_from_camera, stature, is_sitting, poses, bending)
        for frame, pose_world in path:
            pose_cam = world_to_camera(pose_world, world_from_camera)
            rows.append((pose_cam, person, frame, is_sitting, False))
    num_false = round(config.false_fraction * len(rows))
    for index in range(num_false):
        rows.append(
            (_false_detection(rng, rows), -1 - index, int(rng.integers(0, 1000)), False, True)
        )
    joints_cam = np.stack([row[0] for row in rows])
    projected = project_points(joints_cam, K)
    pixel_height = projected[..., 1].max(axis=1) - projected[..., 1].min(axis=1)
    noise = rng.normal(size=projected.shape) * (config.noise_fraction * pixel_height)[:, None, None]
    joints2d = projected + noise
    inside = (
        (joints2d[..., 0] >= 0) & (joints2d[..., 0] <= width - 1)
        & (joints2d[..., 1] >= 0) & (joints2d[..., 1] <= height - 1)
    )  # fmt: skip
    return GroundScene(
        K=K,
        plane=plane,
        joints2d_px=joints2d,
        joints_cam_m=joints_cam,
        joint_scores=inside.astype(np.float64),
        person_ids=np.array([row[1] for row in rows], np.int64),
        frame_indices=np.array([row[2] for row in rows], np.int64),
        statures_m=statures,
        is_sitting=np.array([row[3] for row in rows]),
        is_false=np.array([row[4] for row in rows]),
    )


def _walk(
    rng: np.random.Generator,
    config: GroundSceneConfig,
    K: np.ndarray,
    world_from_camera: np.ndarray,
    stature: float,
    is_sitting: bool,
    poses: np.ndarray,
    bending: np.ndarray,
) -> list[tuple[int, np.ndarray]]:
    """One person's observations: (time step, (33, 3) world pose) while fully in view."""
    width, height = config.image_size_wh
    for _ in range(1000):
        distance = rng.uniform(*config.range_m)
        bearing = rng.uniform(-0.5, 0.5) * math.radians(config.fov_deg)
        start = distance * np.array([math.cos(bearing), math.sin(bearing), 0.0])
        heading = rng.uniform(-math.pi, math.pi)
        speed = 0.0 if is_sitting else rng.uniform(*config.speed_m_s)
        direction = np.array([math.cos(heading), math.sin(heading), 0.0])
        first_frame = int(rng.integers(0, 200))
        path = []
        for step in range(config.frames_per_person):
            is_bending = config.bending_fraction > 0 and rng.random() < config.bending_fraction
            pool = bending if is_bending and len(bending) else poses
            pose = pool[(first_frame + step) % len(pool)] * 1.70
            pose[:, 2] *= stature / 1.70
            if is_sitting:
                pose = sitting_pose(pose)
            position = start + speed * step * config.frame_interval_s * direction
            pose_world = pose @ _rotation_z(heading).T + position
            pose_cam = world_to_camera(pose_world, world_from_camera)
            if pose_cam[:, 2].min() < 0.5:
                continue
            pixels = project_points(pose_cam, K)
            if (
                pixels.min() < 0
                or pixels[:, 0].max() > width - 1
                or pixels[:, 1].max() > height - 1
            ):
                continue
            path.append((first_frame + step, pose_world))
        if len(path) >= max(2, config.frames_per_person // 2):
            return path
    raise RuntimeError("could not place a person in view; check the camera settings")


def _false_detection(
    rng: np.random.Generator, rows: list[tuple[np.ndarray, int, int, bool, bool]]
) -> np.ndarray:
    """A real observation's skeleton moved to a random depth along a random ray: its feet
    are nowhere near the ground."""
    pose_cam = rows[int(rng.integers(0, len(rows)))][0]
    factor = rng.uniform(0.4, 2.5)
    return pose_cam * factor
