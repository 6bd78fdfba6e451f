"""2D keypoint accuracy (PCK) of posecast's joints against each image set's keypoints.

**Joint mapping.** posecast's output is converted to ``coco_17`` (``FramePoses.to_skeleton``;
its 17 joints are BlazePose landmarks of the same names), and each dataset keypoint is an
affine combination of COCO-17 joints (:data:`KEYPOINT_COMBINATIONS`):

- the 17 COCO joints map to themselves (MPII's and MHP's hips, the hip joint centres, to
  COCO's hips as well);
- ``pelvis``: hip midpoint; ``neck`` (AIC, CrowdPose, ExLPose: the base of the neck) and
  ``thorax`` (MPII): shoulder midpoint;
- ``head_top`` (MPII, AIC, PoseTrack; CrowdPose's and ExLPose's ``head``): the ear midpoint
  moved 0.6 of the shoulder-to-ear vector further up, as posecast's ``h36m_17`` head top;
- ``upper_neck`` (MPII) and ``head_bottom`` (PoseTrack): halfway between the shoulder
  midpoint and the nose (just below the chin).

The last three are approximations: compare them with the exactly defined limb joints
(:data:`LIMB_KEYPOINTS`), which the tables report apart. Keypoints without a combination
(Human-Art's fingers and toes) are not scored.

**PCK.** A labelled keypoint is correct when the mapped prediction lies within 0.5 x the
person's size: head size for MPII (PCKh; the MPII json here has no head box, so head size is
the head-top to upper-neck distance, within ~15 % of the usual 0.6 x head-box diagonal),
torso size for the others (mean distance over the labelled shoulder-hip pairs, both sides
and across). Predictions and labelled persons are paired per image by Hungarian assignment
maximising the number of correct keypoints (an upper bound on what association could do).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

COCO_17_NAMES = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)  # fmt: skip
"""posecast's ``coco_17`` joint order (the COCO keypoint order)."""

LIMB_KEYPOINTS = tuple(
    f"{side}_{joint}"
    for joint in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")
    for side in ("left", "right")
)
"""The 12 keypoints every dataset here labels and every skeleton defines the same way."""

_SHOULDERS = {"left_shoulder": 0.5, "right_shoulder": 0.5}
_HIPS = {"left_hip": 0.5, "right_hip": 0.5}
_EARS = {"left_ear": 0.5, "right_ear": 0.5}
_BELOW_CHIN = {"nose": 0.5, "left_shoulder": 0.25, "right_shoulder": 0.25}

KEYPOINT_COMBINATIONS: dict[str, dict[str, float]] = {
    **{name: {name: 1.0} for name in COCO_17_NAMES},
    "pelvis": _HIPS,
    "neck": _SHOULDERS,
    "thorax": _SHOULDERS,
    # 1.6 x ear midpoint - 0.6 x shoulder midpoint (weights sum to 1)
    "head_top": {
        **{k: 1.6 * v for k, v in _EARS.items()},
        **{k: -0.6 * v for k, v in _SHOULDERS.items()},
    },
    "upper_neck": _BELOW_CHIN,
    "head_bottom": _BELOW_CHIN,
}
"""Dataset keypoint (canonical name) -> weights over COCO-17 joint names (summing to 1)."""


def mapping_matrix(
    keypoint_names: Sequence[str], source_names: Sequence[str] = COCO_17_NAMES
) -> tuple[np.ndarray, np.ndarray]:
    """Affine map from a skeleton's joints to a dataset's keypoints.

    Args:
        keypoint_names: (K,) the dataset's canonical keypoint names.
        source_names: (J,) the predicted skeleton's joint names.

    Returns:
        ``matrix`` (K, J) (rows of unmapped keypoints are zero) and ``is_mapped`` (K,) bool.
    """
    index = {name: i for i, name in enumerate(source_names)}
    matrix = np.zeros((len(keypoint_names), len(source_names)))
    is_mapped = np.zeros(len(keypoint_names), bool)
    for row, name in enumerate(keypoint_names):
        weights = KEYPOINT_COMBINATIONS.get(name)
        if weights is None or not all(joint in index for joint in weights):
            continue
        for joint, weight in weights.items():
            matrix[row, index[joint]] += weight
        is_mapped[row] = True
    return matrix, is_mapped


def map_joints(joints: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """(N, J, D) joints -> (N, K, D) keypoints with a (K, J) mapping matrix."""
    return np.einsum("kj,njd->nkd", matrix, np.asarray(joints, np.float64))


def _pair_distances(points: np.ndarray, names: Sequence[str], a: str, b: str) -> np.ndarray:
    """(G,) distance between keypoints ``a`` and ``b``; NaN where either is missing."""
    if a not in names or b not in names:
        return np.full(len(points), np.nan)
    return np.linalg.norm(points[:, names.index(a)] - points[:, names.index(b)], axis=-1)


def torso_size_px(
    keypoints_px: np.ndarray, is_labelled: np.ndarray, names: Sequence[str]
) -> np.ndarray:
    """(G,) mean distance over the labelled (shoulder, hip) pairs; NaN if none is labelled.

    Args:
        keypoints_px: (G, K, 2) labelled keypoints. is_labelled: (G, K) bool.
        names: (K,) canonical keypoint names.
    """
    points = np.where(np.asarray(is_labelled)[..., None], keypoints_px, np.nan)
    pairs = [
        _pair_distances(points, names, f"{s}_shoulder", f"{h}_hip")
        for s in ("left", "right")
        for h in ("left", "right")
    ]
    stacked = np.stack(pairs, axis=1)  # (G, 4)
    has_any = np.isfinite(stacked).any(axis=1)
    sizes = np.full(len(points), np.nan)
    sizes[has_any] = np.nanmean(stacked[has_any], axis=1)
    return sizes


def head_size_px(
    keypoints_px: np.ndarray, is_labelled: np.ndarray, names: Sequence[str]
) -> np.ndarray:
    """(G,) head-top to upper-neck distance (MPII's head segment); NaN where unlabelled."""
    points = np.where(np.asarray(is_labelled)[..., None], keypoints_px, np.nan)
    return _pair_distances(points, names, "head_top", "upper_neck")


@dataclass(frozen=True)
class KeypointMatch:
    """One image's persons paired with predictions.

    Attributes:
        is_correct: (G, K) bool, labelled keypoints within the threshold (False elsewhere).
        is_scored: (G, K) bool, keypoints that count (labelled, mapped, person has a size).
        is_found: (G,) bool, persons paired with a prediction with at least one correct keypoint.
        normalized_error: (G, K) distance / person size (NaN where not scored or not found).
    """

    is_correct: np.ndarray
    is_scored: np.ndarray
    is_found: np.ndarray
    normalized_error: np.ndarray


def match_keypoints(
    pred_keypoints_px: np.ndarray,
    truth_keypoints_px: np.ndarray,
    is_scored: np.ndarray,
    person_size_px: np.ndarray,
    threshold: float = 0.5,
) -> KeypointMatch:
    """Pair predictions with labelled persons and mark the correct keypoints.

    Args:
        pred_keypoints_px: (P, K, 2) predictions already mapped to the dataset's keypoints.
        truth_keypoints_px: (G, K, 2) labels.
        is_scored: (G, K) bool: labelled and mapped keypoints.
        person_size_px: (G,) head or torso size; persons with NaN are not scored.
        threshold: fraction of the person size within which a keypoint is correct.
    """
    pred = np.asarray(pred_keypoints_px, np.float64).reshape(-1, *np.shape(truth_keypoints_px)[1:])
    truth = np.asarray(truth_keypoints_px, np.float64)
    sizes = np.asarray(person_size_px, np.float64)
    has_size = np.isfinite(sizes) & (sizes > 0)
    is_scored = np.asarray(is_scored, bool) & has_size[:, None]
    sizes = np.where(has_size, sizes, 1.0)
    # (P, G, K) distance in person sizes
    error = np.linalg.norm(pred[:, None] - truth[None], axis=-1) / sizes[None, :, None]
    correct = (error <= threshold) & is_scored[None]
    num_correct = correct.sum(axis=-1)  # (P, G)
    mean_error = np.where(is_scored[None], error, 0.0).sum(-1) / np.maximum(is_scored.sum(-1), 1)
    is_correct = np.zeros(truth.shape[:2], bool)
    normalized_error = np.full(truth.shape[:2], np.nan)
    is_found = np.zeros(len(truth), bool)
    if num_correct.size:
        # Most correct keypoints first; mean error breaks ties.
        rows, cols = linear_sum_assignment(
            num_correct - 1e-3 * np.minimum(mean_error, 100), maximize=True
        )
        for p, g in zip(rows, cols, strict=True):
            if num_correct[p, g] == 0:
                continue
            is_found[g] = True
            is_correct[g] = correct[p, g]
            normalized_error[g] = np.where(is_scored[g], error[p, g], np.nan)
    return KeypointMatch(is_correct, is_scored, is_found, normalized_error)


@dataclass(frozen=True)
class PckScores:
    """PCK pooled over images.

    Attributes:
        pck_found: correct / scored keypoints of found persons.
        pck_all: correct / scored keypoints of all persons (missed persons count as wrong).
        pck_limbs_found: ``pck_found`` over :data:`LIMB_KEYPOINTS` only.
        num_persons, num_found: labelled persons with a size, and those found.
        num_keypoints: scored keypoints.
    """

    pck_found: float
    pck_all: float
    pck_limbs_found: float
    num_persons: int
    num_found: int
    num_keypoints: int


def score_pck(
    matches: Sequence[KeypointMatch], keypoint_names: Sequence[Sequence[str]]
) -> PckScores:
    """Pool images' matches; ``keypoint_names[i]`` names the keypoints of ``matches[i]``."""
    correct = found_correct = found_scored = limbs_correct = limbs_scored = scored = 0
    persons = found = 0
    for match, names in zip(matches, keypoint_names, strict=True):
        limb = np.isin(np.asarray(names), LIMB_KEYPOINTS)
        has_size = match.is_scored.any(axis=1)
        found_rows = match.is_found & has_size
        persons += int(has_size.sum())
        found += int(found_rows.sum())
        scored += int(match.is_scored.sum())
        correct += int(match.is_correct.sum())
        found_scored += int(match.is_scored[found_rows].sum())
        found_correct += int(match.is_correct[found_rows].sum())
        limbs_scored += int(match.is_scored[found_rows][:, limb].sum())
        limbs_correct += int(match.is_correct[found_rows][:, limb].sum())

    def ratio(a: int, b: int) -> float:
        return a / b if b else float("nan")

    return PckScores(
        pck_found=ratio(found_correct, found_scored),
        pck_all=ratio(correct, scored),
        pck_limbs_found=ratio(limbs_correct, limbs_scored),
        num_persons=persons,
        num_found=found,
        num_keypoints=scored,
    )
