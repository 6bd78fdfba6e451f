"""Skeleton formats (joint names, edges, mirror permutations) and conversions between them.

A conversion is one (J_out, J_in) matrix whose rows each sum to 1: every output joint is an
affine combination of input joints (weights may be negative to extrapolate). It applies to
any per-joint coordinates (2D pixels, 3D metres) with :func:`convert_joints` and commutes
with translation, rotation, scaling and mirroring. The weights of the derived joints are
anatomical estimates, not fits; docs/geometry.md tabulates them and how they were derived.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from posecast.errors import InvalidInputError


def _mirror_name(name: str) -> str:
    tokens = name.split("_")
    swapped = {"left": "right", "right": "left"}
    return "_".join(swapped.get(token, token) for token in tokens)


@dataclass(frozen=True, eq=False)
class SkeletonFormat:
    """A named joint set.

    Attributes:
        name: registry name, e.g. ``smpl_24``.
        joint_names: (J,) joint names; left/right joints carry ``left``/``right`` tokens.
        edges: (E, 2) pairs of joint indices to draw as bones.
        mirror_permutation: (J,) index of each joint's mirror image (left <-> right); a
            horizontally mirrored pose has joint i where joint ``mirror_permutation[i]`` was.
    """

    name: str
    joint_names: tuple[str, ...]
    edges: np.ndarray
    mirror_permutation: np.ndarray

    @classmethod
    def from_names(
        cls, name: str, joint_names: tuple[str, ...], edges: list[tuple[int, int]]
    ) -> SkeletonFormat:
        """Build a format; the mirror permutation comes from the left/right naming."""
        index = {joint: i for i, joint in enumerate(joint_names)}
        permutation = np.array([index[_mirror_name(joint)] for joint in joint_names])
        edge_array = np.array(edges, dtype=np.int64).reshape(-1, 2)
        edge_array.flags.writeable = False
        permutation.flags.writeable = False
        return cls(name, tuple(joint_names), edge_array, permutation)

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)

    def index(self, joint_name: str) -> int:
        """Index of a joint by name.

        Raises:
            InvalidInputError: unknown joint name.
        """
        try:
            return self.joint_names.index(joint_name)
        except ValueError:
            raise InvalidInputError(f"{self.name} has no joint {joint_name!r}") from None


# fmt: off
BLAZEPOSE_33 = SkeletonFormat.from_names(
    "blazepose_33",
    (
        "nose", "left_eye_inner", "left_eye", "left_eye_outer",
        "right_eye_inner", "right_eye", "right_eye_outer", "left_ear", "right_ear",
        "mouth_left", "mouth_right", "left_shoulder", "right_shoulder",
        "left_elbow", "right_elbow", "left_wrist", "right_wrist",
        "left_pinky", "right_pinky", "left_index", "right_index",
        "left_thumb", "right_thumb", "left_hip", "right_hip",
        "left_knee", "right_knee", "left_ankle", "right_ankle",
        "left_heel", "right_heel", "left_foot_index", "right_foot_index",
    ),
    # MediaPipe's POSE_CONNECTIONS.
    [
        (0, 1), (1, 2), (2, 3), (3, 7), (0, 4), (4, 5), (5, 6), (6, 8), (9, 10),
        (11, 12), (11, 13), (13, 15), (15, 17), (15, 19), (15, 21), (17, 19),
        (12, 14), (14, 16), (16, 18), (16, 20), (16, 22), (18, 20),
        (11, 23), (12, 24), (23, 24), (23, 25), (24, 26), (25, 27), (26, 28),
        (27, 29), (28, 30), (29, 31), (30, 32), (27, 31), (28, 32),
    ],
)

SMPL_24 = SkeletonFormat.from_names(
    "smpl_24",
    (
        "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
        "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck",
        "left_collar", "right_collar", "head", "left_shoulder", "right_shoulder",
        "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hand", "right_hand",
    ),
    # SMPL's kinematic tree (parent, child).
    [
        (0, 1), (0, 2), (0, 3), (1, 4), (2, 5), (3, 6), (4, 7), (5, 8), (6, 9), (7, 10),
        (8, 11), (9, 12), (9, 13), (9, 14), (12, 15), (13, 16), (14, 17), (16, 18),
        (17, 19), (18, 20), (19, 21), (20, 22), (21, 23),
    ],
)

COCO_17 = SkeletonFormat.from_names(
    "coco_17",
    (
        "nose", "left_eye", "right_eye", "left_ear", "right_ear",
        "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
        "left_wrist", "right_wrist", "left_hip", "right_hip",
        "left_knee", "right_knee", "left_ankle", "right_ankle",
    ),
    # The COCO keypoint skeleton, 0-based.
    [
        (15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6),
        (5, 7), (6, 8), (7, 9), (8, 10), (1, 2), (0, 1), (0, 2), (1, 3), (2, 4),
        (3, 5), (4, 6),
    ],
)

H36M_17 = SkeletonFormat.from_names(
    "h36m_17",
    (
        "pelvis", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee",
        "left_ankle", "spine", "thorax", "neck", "head_top", "left_shoulder",
        "left_elbow", "left_wrist", "right_shoulder", "right_elbow", "right_wrist",
    ),
    [
        (0, 1), (1, 2), (2, 3), (0, 4), (4, 5), (5, 6), (0, 7), (7, 8), (8, 9), (9, 10),
        (8, 11), (11, 12), (12, 13), (8, 14), (14, 15), (15, 16),
    ],
)

# fmt: on

BUILTIN_SKELETONS = (BLAZEPOSE_33, SMPL_24, COCO_17, H36M_17)
_FORMATS: dict[str, SkeletonFormat] = {skeleton.name: skeleton for skeleton in BUILTIN_SKELETONS}
SKELETONS = MappingProxyType(_FORMATS)
"""Every known format by name (read-only view: posecast's own, and those a loaded model
registered with :func:`register_skeleton`)."""


def get_skeleton(name: str) -> SkeletonFormat:
    """A skeleton format by name.

    Raises:
        InvalidInputError: unknown name (the message lists the valid ones).
    """
    try:
        return SKELETONS[name]
    except KeyError:
        raise InvalidInputError(
            f"unknown skeleton {name!r}; valid: {', '.join(sorted(SKELETONS))}"
        ) from None


# ---------------------------------------------------------------------------------------------
# Conversions from blazepose_33. Each output joint is written as a combination of named
# BlazePose landmarks; helpers keep the anatomy readable and left/right exactly symmetric.

Combination = dict[str, float]


def _mix(*terms: tuple[float, Combination | str]) -> Combination:
    """Sum of coefficient x (landmark name or combination)."""
    out: Combination = {}
    for coefficient, term in terms:
        parts = {term: 1.0} if isinstance(term, str) else term
        for joint, weight in parts.items():
            out[joint] = out.get(joint, 0.0) + coefficient * weight
    return out


def _mid(a: str, b: str) -> Combination:
    return _mix((0.5, a), (0.5, b))


_HIP_MID = _mid("left_hip", "right_hip")
_SHOULDER_MID = _mid("left_shoulder", "right_shoulder")
_EAR_MID = _mid("left_ear", "right_ear")


def _trunk(fraction: float) -> Combination:
    """Point ``fraction`` of the way from the hip midpoint to the shoulder midpoint."""
    return _mix((1.0 - fraction, _HIP_MID), (fraction, _SHOULDER_MID))


def _side(side: str, other: str, base: Combination, joint: str, lateral: float) -> Combination:
    """``base`` moved sideways by ``lateral`` x half the left-right distance of ``joint``."""
    return _mix(
        (1.0, base), (lateral / 2.0, f"{side}_{joint}"), (-lateral / 2.0, f"{other}_{joint}")
    )


# Assumed geometry (documented in docs/geometry.md, "Skeleton conversions"):
SMPL_HIP_LATERAL = 0.7
"""SMPL hip joint centres sit ~0.7x as far from the midline as BlazePose's hip landmarks."""
SMPL_HIP_DROP = 0.05
"""... and ~5 % of the hip->shoulder distance (~2.5 cm) lower."""


def _smpl_24_combinations() -> dict[str, Combination]:
    combos: dict[str, Combination] = {
        "pelvis": _trunk(0.12),
        "spine1": _trunk(0.33),
        "spine2": _trunk(0.58),
        "spine3": _trunk(0.68),
        "neck": _mix((0.65, _SHOULDER_MID), (0.35, _EAR_MID)),
        "head": _mix((0.8, _EAR_MID), (0.2, _SHOULDER_MID)),
    }
    for side, other in (("left", "right"), ("right", "left")):
        combos[f"{side}_hip"] = _side(side, other, _trunk(-SMPL_HIP_DROP), "hip", SMPL_HIP_LATERAL)
        combos[f"{side}_collar"] = _side(side, other, _trunk(0.95), "shoulder", 0.45)
        combos[f"{side}_foot"] = _mix((0.3, f"{side}_ankle"), (0.7, f"{side}_foot_index"))
        combos[f"{side}_hand"] = _mix(
            (0.2, f"{side}_wrist"), (0.4, f"{side}_index"), (0.4, f"{side}_pinky")
        )
        for joint in ("knee", "ankle", "shoulder", "elbow", "wrist"):
            combos[f"{side}_{joint}"] = {f"{side}_{joint}": 1.0}
    return combos


def _h36m_17_combinations() -> dict[str, Combination]:
    combos: dict[str, Combination] = {
        "pelvis": dict(_HIP_MID),
        "spine": _trunk(0.5),
        "thorax": dict(_SHOULDER_MID),
        "neck": _mix((0.6, "nose"), (0.4, _SHOULDER_MID)),
        "head_top": _mix((1.6, _EAR_MID), (-0.6, _SHOULDER_MID)),
    }
    for side in ("left", "right"):
        for joint in ("hip", "knee", "ankle", "shoulder", "elbow", "wrist"):
            combos[f"{side}_{joint}"] = {f"{side}_{joint}": 1.0}
    return combos


def _coco_17_combinations() -> dict[str, Combination]:
    return {name: {name: 1.0} for name in COCO_17.joint_names}


def _matrix(src: SkeletonFormat, dst: SkeletonFormat, combos: dict[str, Combination]) -> np.ndarray:
    matrix = np.zeros((dst.num_joints, src.num_joints))
    for row, joint in enumerate(dst.joint_names):
        for source_joint, weight in combos[joint].items():
            matrix[row, src.index(source_joint)] += weight
    matrix.flags.writeable = False
    return matrix


def _identity(skeleton: SkeletonFormat) -> np.ndarray:
    matrix = np.eye(skeleton.num_joints)
    matrix.flags.writeable = False
    return matrix


_CONVERSION_MATRICES: dict[tuple[str, str], np.ndarray] = {
    ("blazepose_33", "blazepose_33"): _identity(BLAZEPOSE_33),
    ("blazepose_33", "smpl_24"): _matrix(BLAZEPOSE_33, SMPL_24, _smpl_24_combinations()),
    ("blazepose_33", "coco_17"): _matrix(BLAZEPOSE_33, COCO_17, _coco_17_combinations()),
    ("blazepose_33", "h36m_17"): _matrix(BLAZEPOSE_33, H36M_17, _h36m_17_combinations()),
}
CONVERSIONS = MappingProxyType(_CONVERSION_MATRICES)
"""(J_out, J_in) conversion matrices by (source, destination) name (read-only view)."""


def register_skeleton(skeleton: SkeletonFormat) -> None:
    """Make a model's own joint set known by name (``get_skeleton``, ``--skeleton``,
    ``/v1/skeletons``), e.g. a MeTRAbs model's formats when it is loaded.

    Formats are process-wide names (the wire, the command line and the settings look them
    up), so registration is explicit, done by the model loader, idempotent for an identical
    format, and never replaces another one.

    Raises:
        InvalidInputError: the name is taken by a different format (a built-in one, or one
            another model registered with other joints or edges).
    """
    existing = _FORMATS.get(skeleton.name)
    if existing is None:
        _FORMATS[skeleton.name] = skeleton
        return
    same = existing.joint_names == skeleton.joint_names and np.array_equal(
        existing.edges, skeleton.edges
    )
    if not same:
        raise InvalidInputError(f"skeleton {skeleton.name!r} is already defined differently")


def register_conversion(src: str, dst: str, matrix: np.ndarray) -> None:
    """Make a (J_dst, J_src) conversion between two known formats available (rows must sum
    to 1: affine combinations). Idempotent for the same matrix.

    Raises:
        InvalidInputError: unknown formats, a wrong shape, rows not summing to 1, or a
            different matrix already registered for the pair.
    """
    matrix = np.array(matrix, dtype=np.float64)
    shape = (get_skeleton(dst).num_joints, get_skeleton(src).num_joints)
    if matrix.shape != shape or not np.allclose(matrix.sum(axis=1), 1.0):
        raise InvalidInputError(
            f"conversion {src}->{dst}: expected a {shape} matrix with rows summing to 1"
        )
    existing = _CONVERSION_MATRICES.get((src, dst))
    if existing is not None:
        if not np.array_equal(existing, matrix):
            raise InvalidInputError(f"conversion {src}->{dst} is already defined differently")
        return
    matrix.flags.writeable = False
    _CONVERSION_MATRICES[(src, dst)] = matrix


def conversion_matrix(src: str, dst: str) -> np.ndarray:
    """The (J_dst, J_src) matrix converting ``src`` joints to ``dst`` joints.

    Raises:
        InvalidInputError: unknown format or no conversion between the two.
    """
    get_skeleton(src)
    get_skeleton(dst)
    if src == dst:
        return _identity(get_skeleton(src))
    try:
        return CONVERSIONS[(src, dst)]
    except KeyError:
        available = ", ".join(f"{a}->{b}" for a, b in CONVERSIONS if a != b)
        raise InvalidInputError(
            f"no conversion from {src!r} to {dst!r}; available: {available}"
        ) from None


def convert_joints(joints: np.ndarray, src: str, dst: str) -> np.ndarray:
    """Convert per-joint coordinates between formats.

    Args:
        joints: (N, J_src, D) coordinates (pixels or metres, any D).
        src: source format name.
        dst: destination format name.

    Returns:
        (N, J_dst, D) new array.

    Raises:
        InvalidInputError: unknown formats or a joint axis that does not match ``src``.
    """
    matrix = conversion_matrix(src, dst)
    joints = np.asarray(joints)
    if joints.ndim != 3 or joints.shape[1] != matrix.shape[1]:
        raise InvalidInputError(
            f"joints: expected (N, {matrix.shape[1]}, D) for {src}, got {joints.shape}"
        )
    return matrix @ joints


def convert_confidences(confidences: np.ndarray, src: str, dst: str) -> np.ndarray:
    """Convert per-joint confidences between formats.

    A converted joint's confidence is the mean of its contributing joints' confidences
    weighted by |weight|: a joint copied from one landmark keeps its confidence, an
    interpolated one averages, and an extrapolated one leans on its dominant landmarks.

    Args:
        confidences: (N, J_src) values in [0, 1].

    Returns:
        (N, J_dst) new array.
    """
    matrix = np.abs(conversion_matrix(src, dst))
    matrix = matrix / matrix.sum(axis=1, keepdims=True)
    confidences = np.asarray(confidences)
    if confidences.ndim != 2 or confidences.shape[1] != matrix.shape[1]:
        raise InvalidInputError(
            f"confidences: expected (N, {matrix.shape[1]}) for {src}, got {confidences.shape}"
        )
    return confidences @ matrix.T


def mirror_joints(joints: np.ndarray, skeleton: str, mirror_x: bool = True) -> np.ndarray:
    """Mirror poses left-right: permute joint identities and (optionally) negate x.

    Args:
        joints: (N, J, D) coordinates whose x (index 0) is mirrored about 0 when
            ``mirror_x``; pass ``mirror_x=False`` when the coordinates were already mirrored
            geometrically and only the identities need swapping.
        skeleton: format name.

    Returns:
        (N, J, D) new array.
    """
    permutation = get_skeleton(skeleton).mirror_permutation
    out = np.asarray(joints)[:, permutation].copy()
    if mirror_x:
        out[..., 0] = -out[..., 0]
    return out
