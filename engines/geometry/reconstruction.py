"""Absolute 3D poses from root-relative 3D poses, 2D joints and intrinsics (MeTRAbs).

For each person, find the translation t that best explains the 2D joints: with normalised
image coordinates (x_j, y_j) = K^-1 (u_j, v_j, 1) and root-relative joints (X_j, Y_j, Z_j),
the projection of X_j + t matches (x_j, y_j) when

    [1 0 -x_j; 0 1 -y_j] t = [x_j Z_j - X_j; y_j Z_j - Y_j],

two linear equations per joint. Weighted least squares over the joints (weight = joint
confidence, down-weighted outside the field of view) with a small L2 regulariser gives a 3x3
normal system per person, solved for all persons at once. Nothing is normalised across the
batch (MeTRAbs does), so a person's result never depends on who else is in the batch.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from posecast.engines.geometry.camera import pixels_to_normalized
from posecast.errors import InvalidInputError

VALID = ""
BEHIND_CAMERA = "behind_camera"
TOO_FEW_JOINTS = "too_few_joints"
ILL_CONDITIONED = "ill_conditioned"
NON_FINITE = "non_finite"
DROP_REASONS = (BEHIND_CAMERA, TOO_FEW_JOINTS, ILL_CONDITIONED, NON_FINITE)
"""Every reason :func:`reconstruct_absolute` may give for rejecting a person."""


@dataclass(frozen=True)
class ReconstructionConfig:
    """Settings of :func:`reconstruct_absolute`.

    Attributes:
        regularization: L2 regulariser on t, relative to the total joint weight. Keeps
            near-degenerate solves finite; raising it biases t towards the camera centre
            (about regularization / spread^2 relative depth error, spread = the pose's
            extent in normalised image coordinates), lowering it lets noise through on
            near-degenerate poses. 1e-10 costs < 0.02 mm at 30 m.
        min_depth_m: persons whose root depth is at or below this are dropped as
            ``behind_camera``.
        min_joint_weight: a joint counts as observed when its weight is at least this.
        min_joints: persons with fewer observed joints are dropped as ``too_few_joints``
            (two joints determine t; more make it robust).
        max_condition_number: persons whose normal matrix is worse conditioned are dropped as
            ``ill_conditioned`` (e.g. nearly all weight on one joint). A real person spans
            >= 0.01 in normalised coordinates even at 100 m, giving condition numbers below
            ~1e5; the regulariser caps degenerate ones near 1 / regularization.
        outside_fov_weight: factor on the weight of joints outside the image (see
            :func:`field_of_view_weights`); their 2D positions are extrapolated guesses.
    """

    regularization: float = 1e-10
    min_depth_m: float = 0.1
    min_joint_weight: float = 0.05
    min_joints: int = 4
    max_condition_number: float = 1e6
    outside_fov_weight: float = 0.1

    def __post_init__(self) -> None:
        if self.regularization < 0 or self.min_joint_weight < 0 or self.outside_fov_weight < 0:
            raise InvalidInputError("ReconstructionConfig: weights must be non-negative")
        if self.min_joints < 2:
            raise InvalidInputError("ReconstructionConfig.min_joints: at least 2 are needed")
        if self.max_condition_number <= 1:
            raise InvalidInputError("ReconstructionConfig.max_condition_number must exceed 1")


@dataclass(frozen=True, eq=False)
class AbsolutePoses:
    """Result of :func:`reconstruct_absolute` for N persons.

    Attributes:
        joints_cam_m: (N, J, 3) camera-frame joints in metres (NaN for dropped persons).
        translations_m: (N, 3) the solved translations t (NaN for dropped persons).
        is_valid: (N,) True for persons to emit.
        reasons: (N,) ``""`` for valid persons, else one of :data:`DROP_REASONS`.
    """

    joints_cam_m: np.ndarray
    translations_m: np.ndarray
    is_valid: np.ndarray
    reasons: np.ndarray

    def __len__(self) -> int:
        return len(self.is_valid)

    def drop_counts(self) -> dict[str, int]:
        """How many persons were dropped per reason (reasons with no drops omitted)."""
        return dict(Counter(str(reason) for reason in self.reasons[~self.is_valid]))


def field_of_view_weights(
    joints2d_px: np.ndarray,
    image_size_wh: tuple[int, int],
    outside_weight: float = 0.1,
) -> np.ndarray:
    """Per-joint factor: 1 inside the image, ``outside_weight`` outside.

    Args:
        joints2d_px: (N, J, 2) joints in image pixels.
        image_size_wh: (width, height); the image spans [-0.5, W - 0.5] x [-0.5, H - 0.5].
        outside_weight: factor for joints outside.

    Returns:
        (N, J) factors.
    """
    width, height = image_size_wh
    x, y = joints2d_px[..., 0], joints2d_px[..., 1]
    inside = (x >= -0.5) & (x <= width - 0.5) & (y >= -0.5) & (y <= height - 0.5)
    return np.where(inside, 1.0, outside_weight)


def _check_inputs(
    joints_rel_m: np.ndarray, joints2d_px: np.ndarray, K: np.ndarray, weights: np.ndarray
) -> None:
    n, j = joints_rel_m.shape[:2] if joints_rel_m.ndim == 3 else (-1, -1)
    if joints_rel_m.ndim != 3 or joints_rel_m.shape[2] != 3:
        raise InvalidInputError(f"joints_rel_m: expected (N, J, 3), got {joints_rel_m.shape}")
    if joints2d_px.shape != (n, j, 2):
        raise InvalidInputError(f"joints2d_px: expected {(n, j, 2)}, got {joints2d_px.shape}")
    if weights.shape != (n, j):
        raise InvalidInputError(f"weights: expected {(n, j)}, got {weights.shape}")
    if K.shape not in ((3, 3), (n, 3, 3)):
        raise InvalidInputError(f"K: expected (3, 3) or {(n, 3, 3)}, got {K.shape}")
    if np.any(weights < 0):
        raise InvalidInputError("weights: must be non-negative")


def reconstruct_absolute(
    joints_rel_m: np.ndarray,
    joints2d_px: np.ndarray,
    K: np.ndarray,
    weights: np.ndarray | None = None,
    image_size_wh: tuple[int, int] | None = None,
    config: ReconstructionConfig | None = None,
) -> AbsolutePoses:
    """Solve each person's translation and return camera-space joints.

    Args:
        joints_rel_m: (N, J, 3) root-relative joints in the camera's orientation, metres.
        joints2d_px: (N, J, 2) the same joints in undistorted image pixels.
        K: (3, 3) intrinsics, or (N, 3, 3) one per person.
        weights: (N, J) non-negative joint weights (e.g. confidences); None means all 1.
        image_size_wh: (width, height) of the image; when given, joints outside it are
            down-weighted by ``config.outside_fov_weight``.
        config: solver settings.

    Returns:
        Camera-space joints and per-person validity; invalid persons hold NaN and a reason.

    Raises:
        InvalidInputError: inconsistent shapes or negative weights.
    """
    config = config or ReconstructionConfig()
    joints_rel_m = np.asarray(joints_rel_m, dtype=np.float64)
    joints2d_px = np.asarray(joints2d_px, dtype=np.float64)
    K = np.asarray(K, dtype=np.float64)
    if weights is None:
        weights = np.ones(joints_rel_m.shape[:2])
    weights = np.asarray(weights, dtype=np.float64)
    _check_inputs(joints_rel_m, joints2d_px, K, weights)
    count = len(joints_rel_m)
    if image_size_wh is not None:
        weights = weights * field_of_view_weights(
            joints2d_px, image_size_wh, config.outside_fov_weight
        )

    finite = (
        np.all(np.isfinite(joints_rel_m), axis=(1, 2))
        & np.all(np.isfinite(joints2d_px), axis=(1, 2))
        & np.all(np.isfinite(weights), axis=1)
        & (np.all(np.isfinite(K), axis=(-2, -1)) if K.ndim == 3 else np.all(np.isfinite(K)))
    )
    # Zero the rows of non-finite persons so they cannot poison anything; they are dropped.
    joints_rel_m = np.where(finite[:, None, None], joints_rel_m, 0.0)
    joints2d_px = np.where(finite[:, None, None], joints2d_px, 0.0)
    weights = np.where(finite[:, None], weights, 0.0)

    normalized = pixels_to_normalized(joints2d_px, K)
    x, y = normalized[..., 0], normalized[..., 1]  # (N, J)
    big_x, big_y, big_z = joints_rel_m[..., 0], joints_rel_m[..., 1], joints_rel_m[..., 2]

    # Normal equations M t = b with A_j = [[1, 0, -x], [0, 1, -y]], r_j = [xZ - X, yZ - Y].
    # Sums run over the joint axis of each person only.
    w = weights
    sum_w = w.sum(axis=1)
    normal = np.empty((count, 3, 3))
    normal[:, 0, 0] = sum_w
    normal[:, 1, 1] = sum_w
    normal[:, 0, 1] = normal[:, 1, 0] = 0.0
    normal[:, 0, 2] = normal[:, 2, 0] = -(w * x).sum(axis=1)
    normal[:, 1, 2] = normal[:, 2, 1] = -(w * y).sum(axis=1)
    normal[:, 2, 2] = (w * (x * x + y * y)).sum(axis=1)
    residual_x = x * big_z - big_x
    residual_y = y * big_z - big_y
    rhs = np.stack(
        [
            (w * residual_x).sum(axis=1),
            (w * residual_y).sum(axis=1),
            -(w * (x * residual_x + y * residual_y)).sum(axis=1),
        ],
        axis=1,
    )
    normal += (config.regularization * sum_w)[:, None, None] * np.eye(3)

    num_observed = (w >= config.min_joint_weight).sum(axis=1)
    eigenvalues = np.linalg.eigvalsh(normal)  # ascending
    with np.errstate(divide="ignore", invalid="ignore"):
        condition = eigenvalues[:, 2] / eigenvalues[:, 0]
    is_well_conditioned = (eigenvalues[:, 0] > 0) & (condition <= config.max_condition_number)
    solvable = finite & (num_observed >= config.min_joints) & is_well_conditioned
    safe_normal = np.where(solvable[:, None, None], normal, np.eye(3))
    translations = np.linalg.solve(safe_normal, rhs[..., None])[..., 0]

    reasons = np.full(count, VALID, dtype="<U16")
    reasons[solvable & (translations[:, 2] <= config.min_depth_m)] = BEHIND_CAMERA
    reasons[~is_well_conditioned] = ILL_CONDITIONED
    reasons[num_observed < config.min_joints] = TOO_FEW_JOINTS
    reasons[~finite] = NON_FINITE
    is_valid = reasons == VALID
    translations[~is_valid] = np.nan
    return AbsolutePoses(
        joints_cam_m=joints_rel_m + translations[:, None, :],
        translations_m=translations,
        is_valid=is_valid,
        reasons=reasons,
    )
