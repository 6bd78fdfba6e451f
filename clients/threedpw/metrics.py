"""The 3DPW challenge pose metrics, following the official evaluation script.

Verified against the challenge's ``evaluate.py`` (aymenmir1/3dpw-eval, as vendored e.g. in
ROMP's ``romp/lib/evaluation/pw3d_eval/evaluate.py``):

- Predictions and ground truth are compared in millimetres (metres x 1000).
- Both poses are first aligned at joint 0 (pelvis): ``joints - joints[0]``.
- MPJPE: mean over the 24 joints of the Euclidean error of the root-aligned poses, then mean
  over all person-frames.
- PA-MPJPE: the root-aligned prediction is mapped onto the root-aligned ground truth by the
  similarity transform (scale, rotation, translation) minimising squared error; the rotation
  is forced proper (det +1), so a mirrored pose is NOT undone. The scale is
  trace(R K) / |X_pred - mean|^2. A prediction that is all zeros after root alignment (every
  joint at the pelvis) cannot be aligned: all its joints are placed at the ground-truth
  centroid, as the official script does.
- PCK and AUC use the ROOT-ALIGNED errors (the same ones as MPJPE, not the Procrustes-aligned
  ones) of the 12 joints hips, knees, ankles, shoulders, elbows, wrists
  (SMPL [1, 2, 4, 5, 7, 8, 16, 17, 18, 19, 20, 21]); a joint is correct when its error is
  <= the threshold (50 mm for PCK).
- AUC: PCK at the thresholds 0, 1, ..., 199 mm, integrated over the thresholds normalised to
  [0, 1] (divided by 199) with linear interpolation in between, i.e. the trapezoidal rule.
  (The official script integrates ``np.interp`` with ``scipy.integrate.quad``, which
  approximates this same integral.)

This module is deliberately independent of posecast's own geometry code
(``posecast.engines.geometry``): Procrustes is implemented here, so the pipeline cannot grade
itself with its own maths.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from posecast.errors import InvalidInputError

SMPL_JOINT_COUNT = 24

PCK_JOINTS = (1, 2, 4, 5, 7, 8, 16, 17, 18, 19, 20, 21)
"""SMPL joints PCK and AUC are measured on: hips, knees, ankles, shoulders, elbows, wrists."""

PCK_THRESHOLD_MM = 50.0
AUC_THRESHOLDS_MM = np.arange(0.0, 200.0)
"""0, 1, ..., 199 mm, as ``np.arange(0, 200)`` in the official script."""


@dataclass(frozen=True)
class JointErrors:
    """Per-joint errors of a set of person-frames, the raw material of every metric.

    Attributes:
        root_aligned_mm: (F, 24) errors after aligning joint 0, millimetres.
        procrustes_mm: (F, 24) errors after similarity Procrustes, millimetres.
    """

    root_aligned_mm: np.ndarray
    procrustes_mm: np.ndarray

    @property
    def num_person_frames(self) -> int:
        return int(self.root_aligned_mm.shape[0])

    @staticmethod
    def concatenate(parts: list[JointErrors]) -> JointErrors:
        if not parts:
            return JointErrors(np.zeros((0, SMPL_JOINT_COUNT)), np.zeros((0, SMPL_JOINT_COUNT)))
        return JointErrors(
            np.concatenate([part.root_aligned_mm for part in parts]),
            np.concatenate([part.procrustes_mm for part in parts]),
        )


@dataclass(frozen=True)
class PoseMetrics:
    """The four challenge figures over a set of person-frames (NaN when it is empty)."""

    mpjpe_mm: float
    pa_mpjpe_mm: float
    pck_percent: float
    auc: float
    num_person_frames: int

    def to_dict(self) -> dict[str, float | int | None]:
        return {key: _json_number(value) for key, value in asdict(self).items()}


def align_root(joints: np.ndarray) -> np.ndarray:
    """(..., J, 3) joints minus their joint 0 (the SMPL pelvis)."""
    return joints - joints[..., :1, :]


def procrustes_align(predicted: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Map each predicted pose onto its target by the best similarity transform.

    Solves min over s > 0, proper rotation R, t of sum_j |s R p_j + t - q_j|^2 per pose
    (Umeyama/Kabsch with the determinant sign fixed, so reflections are never used).

    Args:
        predicted: (F, J, 3) poses.
        target: (F, J, 3) poses, same units.

    Returns:
        (F, J, 3) aligned predictions. Poses that are all zeros (the official script's
        degenerate case) come back with every joint at the target's centroid.
    """
    predicted_mean = predicted.mean(axis=1, keepdims=True)  # (F, 1, 3)
    target_mean = target.mean(axis=1, keepdims=True)
    predicted_centred = predicted - predicted_mean
    target_centred = target - target_mean
    covariance = np.einsum("fji,fjk->fik", predicted_centred, target_centred)  # (F, 3, 3)
    u, _, vt = np.linalg.svd(covariance)
    # R = V diag(1, 1, sign det(V U^T)) U^T maximises trace(R K) among proper rotations.
    sign = np.sign(
        np.linalg.det(np.einsum("fij,fjk->fik", vt.transpose(0, 2, 1), u.transpose(0, 2, 1)))
    )
    correction = np.ones((len(predicted), 3))
    correction[:, 2] = sign
    rotation = np.einsum("fji,fj,fkj->fik", vt, correction, u)  # V diag(c) U^T, (F, 3, 3)
    variance = np.sum(predicted_centred**2, axis=(1, 2))  # (F,)
    trace = np.einsum("fij,fji->f", rotation, covariance)
    # All-zero poses (the official script's degenerate case) get scale 0: every joint lands
    # on the target centroid. Constant non-zero poses have zero variance too; same outcome.
    scale = np.where(variance > 0, trace / np.where(variance > 0, variance, 1.0), 0.0)
    return (
        scale[:, None, None] * np.einsum("fik,fjk->fji", rotation, predicted_centred) + target_mean
    )


def joint_errors(predicted_m: np.ndarray, target_m: np.ndarray) -> JointErrors:
    """Per-joint root-aligned and Procrustes-aligned errors, millimetres.

    Args:
        predicted_m: (F, 24, 3) predicted joints, metres, any frame (only shape matters).
        target_m: (F, 24, 3) ground-truth joints, metres.
    """
    if predicted_m.shape != target_m.shape or predicted_m.ndim != 3 or predicted_m.shape[2] != 3:
        raise InvalidInputError(
            f"expected two (F, J, 3) arrays of one shape, got {predicted_m.shape} and "
            f"{target_m.shape}"
        )
    predicted_mm = align_root(np.asarray(predicted_m, dtype=np.float64) * 1000.0)
    target_mm = align_root(np.asarray(target_m, dtype=np.float64) * 1000.0)
    root_aligned = np.linalg.norm(predicted_mm - target_mm, axis=-1)
    procrustes = np.linalg.norm(procrustes_align(predicted_mm, target_mm) - target_mm, axis=-1)
    return JointErrors(root_aligned_mm=root_aligned, procrustes_mm=procrustes)


def pck(errors_mm: np.ndarray, threshold_mm: float = PCK_THRESHOLD_MM) -> float:
    """Fraction of errors <= threshold (errors of the PCK joints, any shape)."""
    if errors_mm.size == 0:
        return math.nan
    return float(np.mean(errors_mm <= threshold_mm))


def pck_curve(errors_mm: np.ndarray, thresholds_mm: np.ndarray = AUC_THRESHOLDS_MM) -> np.ndarray:
    """PCK (fraction) at each threshold: (T,) for errors of any shape."""
    if errors_mm.size == 0:
        return np.full(len(thresholds_mm), math.nan)
    flat = np.sort(errors_mm.ravel())
    return np.searchsorted(flat, thresholds_mm, side="right") / flat.size


def auc(errors_mm: np.ndarray, thresholds_mm: np.ndarray = AUC_THRESHOLDS_MM) -> float:
    """Area under the PCK curve over thresholds normalised to [0, 1] (trapezoidal rule)."""
    curve = pck_curve(errors_mm, thresholds_mm)
    x = (thresholds_mm - thresholds_mm.min()) / (thresholds_mm.max() - thresholds_mm.min())
    return float(np.sum((curve[1:] + curve[:-1]) * np.diff(x)) / 2.0)


def summarize(errors: JointErrors) -> PoseMetrics:
    """The challenge figures of a set of person-frames."""
    if errors.num_person_frames == 0:
        return PoseMetrics(math.nan, math.nan, math.nan, math.nan, 0)
    pck_errors = errors.root_aligned_mm[:, PCK_JOINTS]
    return PoseMetrics(
        mpjpe_mm=float(errors.root_aligned_mm.mean()),
        pa_mpjpe_mm=float(errors.procrustes_mm.mean()),
        pck_percent=100.0 * pck(pck_errors),
        auc=auc(pck_errors),
        num_person_frames=errors.num_person_frames,
    )


def pose_metrics(predicted_m: np.ndarray, target_m: np.ndarray) -> PoseMetrics:
    """MPJPE, PA-MPJPE (mm), PCK (%), AUC of (F, 24, 3) predictions against targets (metres)."""
    return summarize(joint_errors(predicted_m, target_m))


def _json_number(value: float | int) -> float | int | None:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
