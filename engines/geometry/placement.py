"""Where each person stands: ground-contact placement on a known plane, else monocular.

Monocular placement (``reconstruct_absolute``) gets a person's range from the skeleton's
metric size, so a size error is a range error of the same fraction. With a known ground plane
a person whose feet are on it is placed where their foot contact point's ray meets it:

1. the contact landmark is the lowest (along the plane normal) heel or toe landmark of the
   feet that are seen (heel and toe visible, inside the image);
2. its ray through the observed (undistorted) pixel meets the plane at G;
3. the monocular skeleton is scaled about the camera centre by s = |G| / |P| (P its contact
   landmark), which leaves its image unchanged, and shifted by G - s P (the small residual of
   the monocular fit at that landmark), so the contact landmark lands on G.

The skeleton keeps its shape and orientation; its size follows the plane (this is also the
scale correction: with a given plane the skeleton becomes metric). People fall back to the
monocular placement (times ``monocular_scale``) when there is no plane, no foot is seen, the
trunk leans too far, the contact ray misses the plane or meets it too far for the foot's
pixel noise, or the plane's range disagrees with the skeleton's size by more than the config
allows (in the air, on a step, misdetected feet). Each person's choice and reason is
returned.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from posecast.engines.geometry.ground import GroundPlane, horizon_line_px, pixels_to_ground_cam
from posecast.engines.geometry.scene_config import PlacementConfig
from posecast.engines.geometry.skeletons import BLAZEPOSE_33
from posecast.errors import InvalidInputError

GROUND = "ground"
MONOCULAR = "monocular"
PLACEMENTS = (GROUND, MONOCULAR)
"""How a person was placed (the per-person ``placement`` of the output)."""

FEET = tuple(
    (BLAZEPOSE_33.index(f"{side}_heel"), BLAZEPOSE_33.index(f"{side}_foot_index"))
    for side in ("left", "right")
)
"""(heel, toe) landmark indices of each foot."""
_HIPS = (BLAZEPOSE_33.index("left_hip"), BLAZEPOSE_33.index("right_hip"))
_SHOULDERS = (BLAZEPOSE_33.index("left_shoulder"), BLAZEPOSE_33.index("right_shoulder"))

NO_PLANE = "no_plane"
DISABLED = "disabled"
FEET_NOT_SEEN = "feet_not_seen"
LEANING = "leaning"
ABOVE_HORIZON = "above_horizon"
IMPRECISE = "imprecise"
OFF_PLANE = "off_plane"
MONOCULAR_REASONS = (
    NO_PLANE,
    DISABLED,
    FEET_NOT_SEEN,
    LEANING,
    ABOVE_HORIZON,
    IMPRECISE,
    OFF_PLANE,
)
"""Why a person was placed monocularly (``""`` for people on the ground)."""


@dataclass(frozen=True, eq=False)
class Placement:
    """Result of :func:`place_people` for N persons.

    Attributes:
        joints_cam_m: (N, J, 3) placed camera-frame joints, metres.
        is_ground: (N,) True where placed on the ground.
        scales: (N,) the factor applied about the camera centre (ground: range ratio;
            monocular: ``monocular_scale``).
        reasons: (N,) ``""`` on the ground, else one of :data:`MONOCULAR_REASONS`.
    """

    joints_cam_m: np.ndarray
    is_ground: np.ndarray
    scales: np.ndarray
    reasons: np.ndarray

    def __len__(self) -> int:
        return len(self.is_ground)

    @property
    def labels(self) -> np.ndarray:
        """(N,) ``"ground"`` or ``"monocular"`` per person."""
        return np.where(self.is_ground, GROUND, MONOCULAR).astype("<U9")


def scale_about_camera(joints_cam_m: np.ndarray, scales: np.ndarray | float) -> np.ndarray:
    """(N, J, 3) skeletons scaled about the camera centre by (N,) factors: sizes and ranges
    change, their images do not."""
    joints = np.asarray(joints_cam_m, dtype=np.float64)
    factors = np.broadcast_to(np.asarray(scales, dtype=np.float64), joints.shape[:1])
    return joints * factors[:, None, None]


def _monocular(joints: np.ndarray, config: PlacementConfig, reason: str) -> Placement:
    n = len(joints)
    return Placement(
        scale_about_camera(joints, config.monocular_scale),
        np.zeros(n, bool),
        np.full(n, config.monocular_scale),
        np.full(n, reason, dtype="<U16"),
    )


def seen_feet(
    joints2d_px: np.ndarray,
    joint_scores: np.ndarray,
    image_size_wh: tuple[int, int],
    min_visibility: float,
) -> np.ndarray:
    """(N, 2) whether each foot (left, right) is seen: heel and toe at least
    ``min_visibility`` and inside the image."""
    width, height = image_size_wh
    x, y = joints2d_px[..., 0], joints2d_px[..., 1]
    usable = (
        (joint_scores >= min_visibility)
        & (x >= -0.5) & (x <= width - 0.5) & (y >= -0.5) & (y <= height - 0.5)
    )  # fmt: skip
    return np.stack([usable[:, heel] & usable[:, toe] for heel, toe in FEET], axis=1)


def place_people(
    joints_cam_m: np.ndarray,
    joints2d_px: np.ndarray,
    joint_scores: np.ndarray,
    K: np.ndarray,
    image_size_wh: tuple[int, int],
    plane: GroundPlane | None,
    config: PlacementConfig | None = None,
) -> Placement:
    """Place each person on the ground plane where the evidence allows (module docstring).

    Args:
        joints_cam_m: (N, 33, 3) monocularly placed BlazePose skeletons, camera frame, m.
        joints2d_px: (N, 33, 2) their landmarks in undistorted pixels.
        joint_scores: (N, 33) landmark visibility.
        K: (3, 3) intrinsics.
        image_size_wh: (width, height).
        plane: the ground, or None (everyone monocular).
        config: thresholds.

    Returns:
        The placed skeletons, the choice and the reason per person.

    Raises:
        InvalidInputError: arrays of the wrong shapes.
    """
    config = config or PlacementConfig()
    joints = np.asarray(joints_cam_m, dtype=np.float64)
    points = np.asarray(joints2d_px, dtype=np.float64)
    scores = np.asarray(joint_scores, dtype=np.float64)
    n = len(joints)
    if joints.shape != (n, BLAZEPOSE_33.num_joints, 3) or points.shape != (
        n,
        BLAZEPOSE_33.num_joints,
        2,
    ):
        raise InvalidInputError(
            f"place_people: expected (N, 33, 3) and (N, 33, 2), got {joints.shape}, {points.shape}"
        )
    if scores.shape != (n, BLAZEPOSE_33.num_joints):
        raise InvalidInputError(f"place_people: joint_scores expected (N, 33), got {scores.shape}")
    if plane is None:
        return _monocular(joints, config, NO_PLANE)
    if not config.is_enabled:
        return _monocular(joints, config, DISABLED)
    placement = _monocular(joints, config, "")
    reasons = placement.reasons.copy()
    up = plane.normal_cam
    # 1. Feet seen, trunk upright enough.
    feet = seen_feet(points, scores, image_size_wh, config.min_foot_visibility)
    reasons[~feet.any(axis=1)] = FEET_NOT_SEEN
    trunk = joints[:, list(_SHOULDERS)].mean(axis=1) - joints[:, list(_HIPS)].mean(axis=1)
    cosine = (trunk @ up) / np.maximum(np.linalg.norm(trunk, axis=-1), 1e-9)
    reasons[(reasons == "") & ~(cosine >= math.cos(math.radians(config.max_lean_deg)))] = LEANING
    # 2. The contact landmark: the lowest heel or toe of the seen feet.
    candidates = np.array([index for foot in FEET for index in foot])  # (4,)
    is_candidate = np.repeat(feet, 2, axis=1)  # (N, 4)
    heights = joints[:, candidates] @ up
    heights = np.where(is_candidate, heights, np.inf)
    contact = candidates[np.argmin(heights, axis=1)]  # (N,)
    rows = np.arange(n)
    contact_cam = joints[rows, contact]
    contact_px = points[rows, contact]
    # 3. Its ray meets the plane; precise enough for the foot's pixel noise?
    ground = pixels_to_ground_cam(contact_px, K, plane)
    reasons[(reasons == "") & ~np.isfinite(ground).all(axis=1)] = ABOVE_HORIZON
    towards_sky = horizon_line_px(K, plane)[:2]
    moved = pixels_to_ground_cam(contact_px + config.foot_noise_px * towards_sky, K, plane)
    ranges = np.linalg.norm(ground, axis=1)
    with np.errstate(invalid="ignore"):
        error = np.abs(np.linalg.norm(moved, axis=1) - ranges) / ranges
        reasons[(reasons == "") & ~(error <= config.max_depth_error_fraction)] = IMPRECISE
        # 4. The plane's range must agree with the skeleton's size, within bounds.
        scales = ranges / np.maximum(np.linalg.norm(contact_cam, axis=1), 1e-9)
        relative = scales / config.monocular_scale
        agrees = (relative >= config.min_ground_scale) & (relative <= config.max_ground_scale)
    reasons[(reasons == "") & ~agrees] = OFF_PLANE
    is_ground = reasons == ""
    placed = placement.joints_cam_m.copy()
    if is_ground.any():
        s = scales[is_ground]
        shift = ground[is_ground] - s[:, None] * contact_cam[is_ground]
        placed[is_ground] = scale_about_camera(joints[is_ground], s) + shift[:, None, :]
    return Placement(
        joints_cam_m=placed,
        is_ground=is_ground,
        scales=np.where(is_ground, np.nan_to_num(scales), config.monocular_scale),
        reasons=reasons,
    )
