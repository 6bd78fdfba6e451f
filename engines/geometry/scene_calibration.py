"""Self-calibration of a fixed camera from the people it sees (pedestrian autocalibration).

An upright person is a vertical segment standing on the ground: their foot contact point's
ray meets the ground plane at G, their head point lies at G + H n (n the plane's up normal,
H the head point's height). Many such people, seen at different places in the image, fix the
camera's pitch and roll (their head-foot lines meet at the vertical vanishing point), the
horizon (how their image heights change with their image rows) and, with the principal point
at the image centre, the focal length; the camera height is then known relative to the
people's heights, and a prior on the crowd's mean stature makes it metric.

The solver fits all of it at once: unknowns the focal length (unless K is given), pitch, roll,
camera height and one head height per person (track); residuals the head points' reprojection
errors (in units of ``landmark_noise`` x the person's image height) and each person's height
against the stature prior; robust (Cauchy) loss, so sitting, bending, half-hidden and falsely
detected people are outliers, not errors. Started from a grid over focal length and pitch.
The covariance of the fit (Gauss-Newton, scaled by the residuals' robust spread) gives the
uncertainty, which decides ``calibrated`` vs ``calibrating``. Too little evidence (too few
observations or people, everyone at one depth) gives :class:`NotEnoughEvidence`, never an
estimate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import least_squares

from posecast.engines.geometry.camera import pixels_to_normalized
from posecast.engines.geometry.ground import GroundPlane, normal_from_pitch_roll
from posecast.engines.geometry.scene_config import CalibrationConfig
from posecast.engines.geometry.skeletons import BLAZEPOSE_33
from posecast.errors import InvalidInputError

HEAD_LANDMARKS = tuple(
    BLAZEPOSE_33.index(n) for n in ("left_eye", "right_eye", "left_ear", "right_ear")
)
"""BlazePose landmarks whose mean is a person's head point."""
FOOT_LANDMARKS = tuple(
    BLAZEPOSE_33.index(n)
    for n in ("left_heel", "right_heel", "left_foot_index", "right_foot_index")
)
"""BlazePose landmarks whose mean is a person's foot contact point (between the feet)."""
HIP_LANDMARKS = (BLAZEPOSE_33.index("left_hip"), BLAZEPOSE_33.index("right_hip"))
SHOULDER_LANDMARKS = (BLAZEPOSE_33.index("left_shoulder"), BLAZEPOSE_33.index("right_shoulder"))
MIN_STRAIGHTNESS = 0.93
"""An upright person's 3D chain feet - hips - shoulders - head point is at least this
straight: the head point's distance from the feet over the chain's length (standing and
walking people: 0.97-1.0; bending, crouching people: below 0.93)."""
MIN_LEG_EXTENSION = 0.65
"""... and their legs at least this extended: the distance from the hips to the ankles
(midpoints) over the legs' length (standing 0.93-0.95, walking 0.7-0.95, sitting 0.35-0.55)."""
KNEE_LANDMARKS = (BLAZEPOSE_33.index("left_knee"), BLAZEPOSE_33.index("right_knee"))
ANKLE_LANDMARKS = (BLAZEPOSE_33.index("left_ankle"), BLAZEPOSE_33.index("right_ankle"))
MIN_VISIBILITY = 0.5
"""Head and foot landmarks count as seen from this visibility on."""
INLIER_NOISE_UNITS = 3.0
"""An observation fits when its head residual is within this many noise units."""
FIELD_OF_VIEW_RANGE_DEG = (10.0, 120.0)
"""Focal lengths searched and allowed, as fields of view of the longer image side."""
PITCH_RANGE_DEG = (-30.0, 85.0)
"""Pitches searched (the solver may leave this range, not +-90 degrees)."""
_CAMERA_HEIGHT_RANGE_M = (0.05, 1000.0)
GRID_OBSERVATIONS = 600
"""The starting grid is scored on at most this many observations (spread over all)."""


_FIELDS = ("foot_px", "head_px", "person_ids", "statures_m", "foot_heights_m", "frame_indices")


@dataclass(frozen=True, eq=False)
class GroundObservations:
    """Observations of upright people: where their feet touch the ground and where their head
    is, in undistorted pixels.

    Attributes:
        foot_px: (N, 2) foot contact points (mean of heels and toes).
        head_px: (N, 2) head points (mean of eyes and ears).
        person_ids: (N,) who is who (track ids; observations with equal ids share a height).
        statures_m: (N,) standing height from the metric skeleton (lowest foot landmark to
            the head point, plus the head's top), metres: the pose model's idea of the
            person's size.
        foot_heights_m: (N,) height of the foot point above the skeleton's lowest foot
            landmark (which touches the ground), from the metric skeleton, metres.
        frame_indices: (N,) frame of each observation.
    """

    foot_px: np.ndarray
    head_px: np.ndarray
    person_ids: np.ndarray
    statures_m: np.ndarray
    foot_heights_m: np.ndarray
    frame_indices: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.person_ids)
        shapes = {
            "foot_px": (n, 2),
            "head_px": (n, 2),
            "person_ids": (n,),
            "statures_m": (n,),
            "foot_heights_m": (n,),
            "frame_indices": (n,),
        }
        for name, shape in shapes.items():
            value = np.asarray(getattr(self, name))
            if value.shape != shape:
                raise InvalidInputError(
                    f"GroundObservations.{name}: expected shape {shape}, got {value.shape}"
                )
            if value.dtype.kind == "f" and not np.isfinite(value).all():
                raise InvalidInputError(f"GroundObservations.{name}: non-finite values")

    @classmethod
    def empty(cls) -> GroundObservations:
        return cls(
            np.zeros((0, 2)),
            np.zeros((0, 2)),
            np.zeros(0, np.int64),
            np.zeros(0),
            np.zeros(0),
            np.zeros(0, np.int64),
        )

    def __len__(self) -> int:
        return len(self.person_ids)

    def select(self, index: np.ndarray | slice | list[int]) -> GroundObservations:
        return GroundObservations(
            self.foot_px[index],
            self.head_px[index],
            self.person_ids[index],
            self.statures_m[index],
            self.foot_heights_m[index],
            self.frame_indices[index],
        )

    @classmethod
    def concatenate(cls, parts: list[GroundObservations]) -> GroundObservations:
        if not parts:
            return cls.empty()
        return cls(*(np.concatenate([getattr(part, name) for part in parts]) for name in _FIELDS))

    @property
    def num_people(self) -> int:
        return len(np.unique(self.person_ids))


def _mean_points(values: np.ndarray, indices: tuple[int, ...]) -> np.ndarray:
    return values[:, list(indices)].mean(axis=1)


def upright_straightness(joints_m: np.ndarray) -> np.ndarray:
    """(N,) straightness of (N, 33, 3) BlazePose skeletons: the distance from the foot point
    to the head point over the length of the chain feet - hips - shoulders - head (1: a
    straight vertical chain)."""
    feet = _mean_points(joints_m, FOOT_LANDMARKS)
    hips = _mean_points(joints_m, HIP_LANDMARKS)
    shoulders = _mean_points(joints_m, SHOULDER_LANDMARKS)
    head = _mean_points(joints_m, HEAD_LANDMARKS)
    chain = (
        np.linalg.norm(hips - feet, axis=-1)
        + np.linalg.norm(shoulders - hips, axis=-1)
        + np.linalg.norm(head - shoulders, axis=-1)
    )
    return np.linalg.norm(head - feet, axis=-1) / np.maximum(chain, 1e-9)


def leg_extension(joints_m: np.ndarray) -> np.ndarray:
    """(N,) how extended the legs of (N, 33, 3) BlazePose skeletons are: the distance from
    the hips' to the ankles' midpoint over the mean length of the two legs (thigh + shin)."""
    hips = joints_m[:, list(HIP_LANDMARKS)]
    knees = joints_m[:, list(KNEE_LANDMARKS)]
    ankles = joints_m[:, list(ANKLE_LANDMARKS)]
    legs = np.linalg.norm(knees - hips, axis=-1) + np.linalg.norm(ankles - knees, axis=-1)
    reach = np.linalg.norm(hips.mean(axis=1) - ankles.mean(axis=1), axis=-1)
    return reach / np.maximum(legs.mean(axis=1), 1e-9)


def is_upright(joints_m: np.ndarray) -> np.ndarray:
    """(N,) whether (N, 33, 3) BlazePose skeletons stand or walk (see
    :data:`MIN_STRAIGHTNESS`, :data:`MIN_LEG_EXTENSION`)."""
    return (upright_straightness(joints_m) >= MIN_STRAIGHTNESS) & (
        leg_extension(joints_m) >= MIN_LEG_EXTENSION
    )


def observations_from_poses(
    joints2d_px: np.ndarray,
    joints_cam_m: np.ndarray,
    joint_scores: np.ndarray,
    person_ids: np.ndarray,
    frame_index: int,
    image_size_wh: tuple[int, int],
    head_below_top_m: float = 0.12,
) -> GroundObservations:
    """The upright people of one frame whose feet and head are seen, as observations.

    Args:
        joints2d_px: (N, 33, 2) BlazePose landmarks in undistorted pixels.
        joints_cam_m: (N, 33, 3) the metric skeletons (any placement; only their shape is
            used).
        joint_scores: (N, 33) landmark visibility.
        person_ids: (N,) track ids (untracked persons: give each a distinct id).
        frame_index: the frame's index.
        image_size_wh: (width, height); points outside the image (2 px margin) do not count.
        head_below_top_m: added to the skeleton's head-point height to give its stature.

    Returns:
        Observations of the persons that are upright (:func:`is_upright`) with
        both feet and the head seen (heels and toes, and at least one eye or ear, with
        visibility >= :data:`MIN_VISIBILITY`).
    """
    joints2d_px = np.asarray(joints2d_px, dtype=np.float64)
    joints_cam_m = np.asarray(joints_cam_m, dtype=np.float64)
    joint_scores = np.asarray(joint_scores, dtype=np.float64)
    if joints2d_px.ndim != 3 or joints2d_px.shape[1:] != (BLAZEPOSE_33.num_joints, 2):
        raise InvalidInputError(f"joints2d_px: expected (N, 33, 2), got {joints2d_px.shape}")
    if len(joints2d_px) == 0:
        return GroundObservations.empty()
    width, height = image_size_wh
    x, y = joints2d_px[..., 0], joints2d_px[..., 1]
    inside = (x >= 2) & (x <= width - 3) & (y >= 2) & (y <= height - 3)
    seen = (joint_scores >= MIN_VISIBILITY) & inside
    feet_seen = seen[:, list(FOOT_LANDMARKS)].all(axis=1)
    head_seen = seen[:, list(HEAD_LANDMARKS)].any(axis=1) & inside[:, list(HEAD_LANDMARKS)].all(
        axis=1
    )
    is_finite = np.isfinite(joints_cam_m).all(axis=(1, 2)) & np.isfinite(joints2d_px).all(
        axis=(1, 2)
    )
    upright = is_finite & is_upright(np.nan_to_num(joints_cam_m))
    keep = feet_seen & head_seen & upright
    foot = _mean_points(joints2d_px[keep], FOOT_LANDMARKS)
    head = _mean_points(joints2d_px[keep], HEAD_LANDMARKS)
    skeletons = joints_cam_m[keep]
    foot_3d = _mean_points(skeletons, FOOT_LANDMARKS)
    head_3d = _mean_points(skeletons, HEAD_LANDMARKS)
    up = head_3d - foot_3d
    up /= np.maximum(np.linalg.norm(up, axis=-1, keepdims=True), 1e-9)
    # The lowest foot landmark along the body's axis touches the ground.
    lowest = np.min(np.einsum("njk,nk->nj", skeletons[:, list(FOOT_LANDMARKS)], up), axis=1)
    foot_heights = np.einsum("nk,nk->n", foot_3d, up) - lowest
    statures = np.einsum("nk,nk->n", head_3d, up) - lowest + head_below_top_m
    upward = foot[:, 1] - head[:, 1] > 1.0  # the head above the feet in the image
    return GroundObservations(
        foot[upward],
        head[upward],
        np.asarray(person_ids, np.int64)[keep][upward],
        statures[upward],
        foot_heights[upward],
        np.full(int(upward.sum()), frame_index, np.int64),
    )


@dataclass(frozen=True)
class NotEnoughEvidence:
    """The people seen so far do not determine the scene; ``reason`` says why."""

    reason: str
    num_observations: int
    num_people: int


@dataclass(frozen=True, eq=False)
class SceneEstimate:
    """A calibration.

    Attributes:
        K: (3, 3) intrinsics (estimated focal length, principal point at the image centre; or
            the given K).
        ground: the ground plane in the camera frame.
        is_focal_estimated: False when K was given.
        focal_px_sd, camera_height_m_sd, pitch_deg_sd, roll_deg_sd: standard deviations
            (``focal_px_sd`` 0 when K was given; inf where the data do not determine a
            value).
        is_converged: every uncertainty is within the config's bounds and enough
            observations fit.
        num_observations, num_inliers, num_people: the evidence.
        residual_sd: robust spread of the head residuals in noise units (about 1 when
            ``landmark_noise`` describes the landmarks).
        person_statures_m: fitted stature of each person id.
    """

    K: np.ndarray
    ground: GroundPlane
    is_focal_estimated: bool
    focal_px_sd: float
    camera_height_m_sd: float
    pitch_deg_sd: float
    roll_deg_sd: float
    is_converged: bool
    num_observations: int
    num_inliers: int
    num_people: int
    residual_sd: float
    person_statures_m: dict[int, float] = field(default_factory=dict)

    @property
    def focal_px(self) -> float:
        return float(self.K[0, 0])


class _Model:
    """Residuals of the calibration problem; parameters ``[log f,] pitch, roll, log h,
    log H_1..H_P`` (f only when K is unknown)."""

    def __init__(
        self,
        observations: GroundObservations,
        image_size_wh: tuple[int, int],
        config: CalibrationConfig,
        K: np.ndarray | None,
    ) -> None:
        self.foot = observations.foot_px
        self.head = observations.head_px
        self.foot_heights = observations.foot_heights_m
        self.ids, self.person_of = np.unique(observations.person_ids, return_inverse=True)
        self.num_people = len(self.ids)
        width, height = image_size_wh
        self.centre = np.array([(width - 1) / 2.0, (height - 1) / 2.0])
        self.longer_side = float(max(width, height))
        self.K_given = None if K is None else np.asarray(K, dtype=np.float64)
        self.num_global = 3 if K is not None else 4
        lengths = np.linalg.norm(self.head - self.foot, axis=-1)
        self.noise_px = config.landmark_noise * np.maximum(lengths, 1.0)
        self.head_height_prior_m = config.stature_prior_m - config.head_below_top_m
        self.head_height_log_sd = config.stature_sd_m / self.head_height_prior_m
        self.config = config
        if K is not None:
            self.foot_rays = self._rays(self.foot, self.K_given)

    def K(self, focal_px: float) -> np.ndarray:  # noqa: N802 (the usual name of intrinsics)
        if self.K_given is not None:
            return self.K_given
        return np.array(
            [[focal_px, 0.0, self.centre[0]], [0.0, focal_px, self.centre[1]], [0.0, 0.0, 1.0]]
        )

    @staticmethod
    def _rays(points_px: np.ndarray, K: np.ndarray) -> np.ndarray:
        normalized = pixels_to_normalized(points_px, K)
        return np.concatenate([normalized, np.ones((len(normalized), 1))], axis=1)

    def unpack(self, params: np.ndarray) -> tuple[float, float, float, float, np.ndarray]:
        """focal_px, pitch_rad, roll_rad, camera_height_m, head heights (P,)."""
        if self.K_given is None:
            focal = math.exp(params[0])
            rest = params[1:]
        else:
            focal = float(self.K_given[0, 0])
            rest = params
        pitch, roll, log_height = rest[0], rest[1], rest[2]
        return focal, float(pitch), float(roll), math.exp(log_height), np.exp(rest[3:])

    def pack(
        self, focal_px: float, pitch: float, roll: float, height_m: float, heads_m: np.ndarray
    ) -> np.ndarray:
        head = [] if self.K_given is not None else [math.log(focal_px)]
        return np.array([*head, pitch, roll, math.log(height_m), *np.log(heads_m)])

    def head_points(self, params: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(N, 3) the model's head points (camera frame), the plane normal and K."""
        focal, pitch, roll, height, heads = self.unpack(params)
        K = self.K(focal)
        normal = normal_from_pitch_roll(pitch, roll)
        rays = self.foot_rays if self.K_given is not None else self._rays(self.foot, K)
        descent = np.minimum(rays @ normal, -1e-6)  # rays above the horizon: far away
        # The foot point lies foot_heights above the ground, the head point heads above it.
        feet = -(height - self.foot_heights)[:, None] * rays / descent[:, None]
        tops = feet + (heads[self.person_of] - self.foot_heights)[:, None] * normal
        return tops, normal, K

    @staticmethod
    def project(points: np.ndarray, K: np.ndarray) -> np.ndarray:
        depth = np.maximum(points[:, 2], 1e-6)
        return (points[:, :2] / depth[:, None]) @ K[:2, :2].T + K[:2, 2]

    def head_residuals(self, params: np.ndarray) -> np.ndarray:
        """(N, 2) head reprojection errors in noise units."""
        tops, _, K = self.head_points(params)
        return (self.project(tops, K) - self.head) / self.noise_px[:, None]

    def residuals(self, params: np.ndarray) -> np.ndarray:
        heads_log = params[self.num_global :]
        prior = (heads_log - math.log(self.head_height_prior_m)) / self.head_height_log_sd
        return np.concatenate([self.head_residuals(params).ravel(), prior])

    def jacobian(self, params: np.ndarray) -> np.ndarray:
        """Dense (2N + P, G + P) Jacobian of :meth:`residuals`: forward differences for the
        G global parameters, one shared difference for all head heights (each observation
        depends on its own person's only), the prior rows exactly."""
        num_obs = len(self.foot)
        jacobian = np.zeros((2 * num_obs + self.num_people, self.num_global + self.num_people))
        base = self.head_residuals(params).ravel()
        for column in range(self.num_global):
            step = 1e-6 * max(1.0, abs(params[column]))
            moved = params.copy()
            moved[column] += step
            jacobian[: 2 * num_obs, column] = (self.head_residuals(moved).ravel() - base) / step
        step = 1e-6
        moved = params.copy()
        moved[self.num_global :] += step
        columns = self.num_global + np.repeat(self.person_of, 2)
        jacobian[np.arange(2 * num_obs), columns] = (
            self.head_residuals(moved).ravel() - base
        ) / step
        people = np.arange(self.num_people)
        jacobian[2 * num_obs + people, self.num_global + people] = 1.0 / self.head_height_log_sd
        return jacobian

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        low = [-math.pi / 2, -math.pi / 2, math.log(_CAMERA_HEIGHT_RANGE_M[0])]
        high = [math.pi / 2, math.pi / 2, math.log(_CAMERA_HEIGHT_RANGE_M[1])]
        if self.K_given is None:
            fov_low, fov_high = FIELD_OF_VIEW_RANGE_DEG
            low.insert(0, math.log(self._focal_of_fov(fov_high)))
            high.insert(0, math.log(self._focal_of_fov(fov_low)))
        low += [math.log(0.2)] * self.num_people
        high += [math.log(5.0)] * self.num_people
        return np.array(low), np.array(high)

    def _focal_of_fov(self, fov_deg: float) -> float:
        return self.longer_side / (2.0 * math.tan(math.radians(fov_deg) / 2.0))

    def grid_starts(self, count: int) -> list[np.ndarray]:
        """The ``count`` best starting points of a grid over focal length and pitch (roll
        0): each scored by how well the head points line up above the feet and how
        consistent the implied head heights are."""
        if self.K_given is None:
            fovs = np.geomspace(*FIELD_OF_VIEW_RANGE_DEG, 16)
            focals = [self._focal_of_fov(fov) for fov in fovs]
        else:
            focals = [float(self.K_given[0, 0])]
        pitches = np.radians(np.arange(PITCH_RANGE_DEG[0], PITCH_RANGE_DEG[1] + 1e-9, 2.5))
        spread = math.hypot(self.head_height_log_sd, 2.0 * self.config.landmark_noise)
        subset = np.unique(np.linspace(0, len(self.foot) - 1, GRID_OBSERVATIONS).astype(int))
        foot, head, noise = self.foot[subset], self.head[subset], self.noise_px[subset]
        scored = []
        for focal in focals:
            K = self.K(focal)
            rays = self._rays(foot, K)
            for pitch in pitches:
                cost, log_ratio = _grid_cost(rays, head, K, pitch, noise, spread)
                if math.isfinite(cost):
                    scored.append((cost, focal, float(pitch), log_ratio))
        scored.sort(key=lambda item: item[0])
        starts = []
        for _, focal, pitch, log_ratio in scored[:count]:
            height = self.head_height_prior_m / math.exp(log_ratio)
            height = float(np.clip(height, *_CAMERA_HEIGHT_RANGE_M))
            heads = np.full(self.num_people, self.head_height_prior_m)
            starts.append(self.pack(focal, pitch, 0.0, height, heads))
        return starts

    def warm_start(self, previous: SceneEstimate) -> np.ndarray:
        """A previous estimate as a starting point (people it knew keep their heights)."""
        heads = np.array(
            [
                previous.person_statures_m.get(int(person), self.config.stature_prior_m)
                - self.config.head_below_top_m
                for person in self.ids
            ]
        )
        ground = previous.ground
        return self.pack(
            previous.focal_px, ground.pitch_rad, ground.roll_rad, ground.camera_height_m, heads
        )


def _grid_cost(
    rays: np.ndarray,
    head_px: np.ndarray,
    K: np.ndarray,
    pitch: float,
    noise_px: np.ndarray,
    log_spread: float,
) -> tuple[float, float]:
    """Robust cost of a (focal, pitch) candidate with unit camera height and no roll, and the
    median log head-height ratio it implies."""
    normal = normal_from_pitch_roll(pitch, 0.0)
    descent = rays @ normal
    below = descent < -1e-6
    if below.mean() < 0.5:
        return math.inf, 0.0
    ground = -rays[below] / descent[below, None]
    a = ground @ K.T
    b = K @ normal
    top = head_px[below]
    constant = top * a[:, 2:3] - a[:, :2]
    slope = top * b[2] - b[:2]
    ratio = -(constant * slope).sum(axis=-1) / (slope * slope).sum(axis=-1)
    valid = ratio > 1e-6
    if valid.mean() < 0.5:
        return math.inf, 0.0
    tops = ground[valid] + ratio[valid, None] * normal
    projected = (tops[:, :2] / tops[:, 2:3]) @ K[:2, :2].T + K[:2, 2]
    direction = np.linalg.norm(projected - top[valid], axis=-1) / noise_px[below][valid]
    log_ratio = np.log(ratio[valid])
    centre = float(np.median(log_ratio))
    consistency = (log_ratio - centre) / log_spread
    cost = np.log1p(direction**2).sum() + np.log1p(consistency**2).sum()
    invalid = len(rays) - int(valid.sum())
    return float(cost + 10.0 * invalid), centre


def _check_evidence(
    observations: GroundObservations, image_height: int, config: CalibrationConfig
) -> NotEnoughEvidence | None:
    count, people = len(observations), observations.num_people

    def short(reason: str) -> NotEnoughEvidence:
        return NotEnoughEvidence(reason, count, people)

    if count == 0:
        return short("no upright person with visible feet and head")
    if count < config.min_observations:
        return short(f"{count} upright observations, at least {config.min_observations} needed")
    if people < config.min_people:
        return short(
            f"{people} distinct people, at least {config.min_people} needed (the scale rests on "
            "the crowd's mean height)"
        )
    rows = observations.foot_px[:, 1]
    spread = float(np.percentile(rows, 90) - np.percentile(rows, 10)) / image_height
    if spread < config.min_depth_spread:
        return short(
            f"the feet cover {spread:.0%} of the image height, at least "
            f"{config.min_depth_spread:.0%} needed (people at one depth fix neither the horizon "
            "nor the focal length)"
        )
    return None


def calibrate_scene(
    observations: GroundObservations,
    image_size_wh: tuple[int, int],
    config: CalibrationConfig | None = None,
    K: np.ndarray | None = None,
    num_starts: int = 4,
    previous: SceneEstimate | None = None,
) -> SceneEstimate | NotEnoughEvidence:
    """Estimate the ground plane (and the focal length, unless ``K`` is given) from
    observations of upright people.

    Args:
        observations: feet and head points (undistorted pixels) with person ids.
        image_size_wh: (width, height) of the images.
        config: priors, noise model, evidence and convergence thresholds.
        K: (3, 3) known intrinsics; None: focal length estimated, principal point at the
            image centre, square pixels.
        num_starts: the solver runs from this many of the best grid points.
        previous: an earlier estimate of the same scene (a stream's last solve): the solver
            starts from it and from the best grid point only.

    Returns:
        The estimate with its uncertainty (``is_converged`` says whether it is good enough
        to use), or :class:`NotEnoughEvidence`.
    """
    config = config or CalibrationConfig()
    missing = _check_evidence(observations, image_size_wh[1], config)
    if missing is not None:
        return missing
    model = _Model(observations, image_size_wh, config, K)
    if previous is not None and previous.is_focal_estimated == (K is None):
        starts = [model.warm_start(previous), *model.grid_starts(1)]
    else:
        starts = model.grid_starts(num_starts)
    if not starts:
        return NotEnoughEvidence(
            "no camera pitch puts the feet below the horizon", len(observations), model.num_people
        )
    low, high = model.bounds()
    best = None
    for start in starts:
        result = least_squares(
            model.residuals,
            np.clip(start, low + 1e-9, high - 1e-9),
            jac=model.jacobian,
            bounds=(low, high),
            loss="cauchy",
            f_scale=1.0,
            x_scale="jac",
            max_nfev=200,
        )
        if best is None or result.cost < best.cost:
            best = result
    return _estimate(model, best, observations, config)


def _estimate(
    model: _Model, result: object, observations: GroundObservations, config: CalibrationConfig
) -> SceneEstimate:
    params = result.x  # type: ignore[attr-defined]
    focal, pitch, roll, height, heads = model.unpack(params)
    residuals = model.head_residuals(params)
    norms = np.linalg.norm(residuals, axis=-1)
    inliers = norms < INLIER_NOISE_UNITS
    residual_sd = (
        float(1.4826 * np.median(np.abs(residuals[inliers]))) if inliers.any() else math.inf
    )
    variances = _global_variances(model, params)
    sds = np.sqrt(variances)
    if model.K_given is None:
        focal_sd, rest = focal * sds[0], sds[1:]
    else:
        focal_sd, rest = 0.0, sds
    pitch_sd, roll_sd = math.degrees(rest[0]), math.degrees(rest[1])
    height_sd = height * rest[2]
    is_converged = bool(
        (model.K_given is not None or focal_sd <= config.max_focal_sd_fraction * focal)
        and height_sd <= config.max_height_sd_fraction * height
        and max(pitch_sd, roll_sd) <= config.max_angle_sd_deg
        and inliers.mean() >= config.min_inlier_fraction
    )
    statures = heads + config.head_below_top_m
    return SceneEstimate(
        K=model.K(focal),
        ground=GroundPlane.from_angles(pitch, roll, height),
        is_focal_estimated=model.K_given is None,
        focal_px_sd=float(focal_sd),
        camera_height_m_sd=float(height_sd),
        pitch_deg_sd=float(pitch_sd),
        roll_deg_sd=float(roll_sd),
        is_converged=is_converged,
        num_observations=len(observations),
        num_inliers=int(inliers.sum()),
        num_people=model.num_people,
        residual_sd=residual_sd,
        person_statures_m={int(i): float(s) for i, s in zip(model.ids, statures, strict=True)},
    )


def _global_variances(model: _Model, params: np.ndarray) -> np.ndarray:
    """Marginal variances of the global parameters: statistical plus systematic; inf where
    the data do not determine a value.

    Statistical, cluster-robust: observations of one person are not independent (the same
    lean, the same landmark biases frame after frame), so the score is summed per person
    before its spread is taken (the sandwich H^-1 (sum_k g_k g_k^T) H^-1 with the Cauchy
    loss's weights, times K / (K - 1) for K people).

    Systematic: what the people themselves may get wrong in common, propagated by one
    Gauss-Newton step (dp = -H^-1 J^T W dr): a common lean of ``lean_bias_deg``, a lean
    that changes by that much from the image's centre to its left and right edges (people
    walking one way on one side), and head points high or low by ``size_bias_fraction``
    of the person's image height, changing from the top to the bottom of the image
    (landmark biases that depend on a person's size), and heads ``head_offset_bias_m``
    ahead of the feet towards the camera (posture: the head point is rarely exactly above
    the feet). Their squared effects are added.
    """
    jacobian = model.jacobian(params)
    residuals = model.residuals(params)
    weights = 1.0 / (1.0 + residuals**2)  # the Cauchy loss's IRLS weights
    hessian = jacobian.T @ (weights[:, None] * jacobian)
    clusters = np.concatenate([np.repeat(model.person_of, 2), np.arange(model.num_people)])
    scores = np.zeros((model.num_people, jacobian.shape[1]))
    np.add.at(scores, clusters, (weights * residuals)[:, None] * jacobian)
    meat = scores.T @ scores * model.num_people / max(model.num_people - 1, 1)
    try:
        scale = np.sqrt(np.maximum(np.diag(hessian), 1e-300))
        normalized = hessian / np.outer(scale, scale)
        if np.linalg.cond(normalized) > 1e12:
            raise np.linalg.LinAlgError("singular")
        inverse = np.linalg.inv(normalized) / np.outer(scale, scale)
    except np.linalg.LinAlgError:
        return np.full(model.num_global, np.inf)
    variances = np.diag(inverse @ meat @ inverse)[: model.num_global].copy()
    for shift_px in _systematic_head_shifts(model, params):
        shift = np.concatenate(
            [(shift_px / model.noise_px[:, None]).ravel(), np.zeros(model.num_people)]
        )
        step = inverse @ (jacobian.T @ (weights * shift))
        variances += step[: model.num_global] ** 2
    return np.where(np.isfinite(variances) & (variances >= 0), variances, np.inf)


def _systematic_head_shifts(model: _Model, params: np.ndarray) -> list[np.ndarray]:
    """(N, 2) head-point shifts of the systematic errors of :func:`_global_variances`."""
    body = model.head - model.foot
    length = np.maximum(np.linalg.norm(body, axis=-1, keepdims=True), 1.0)
    along = body / length  # towards the head
    across = np.stack([-along[:, 1], along[:, 0]], axis=-1)
    lean = math.tan(math.radians(model.config.lean_bias_deg)) * length * across
    half_width, half_height = model.centre + 0.5
    sideways = (model.foot[:, :1] - model.centre[0]) / half_width
    downwards = (model.foot[:, 1:] - model.centre[1]) / half_height
    size = model.config.size_bias_fraction * length * along
    # Heads ahead of (or behind) the feet by head_offset_bias_m, towards the camera.
    tops, normal, K = model.head_points(params)
    towards = -(tops - np.outer(tops @ normal, normal))
    towards /= np.maximum(np.linalg.norm(towards, axis=1, keepdims=True), 1e-9)
    moved = tops + model.config.head_offset_bias_m * towards
    offset = model.project(moved, K) - model.project(tops, K)
    return [lean, lean * sideways, size * downwards, offset]
