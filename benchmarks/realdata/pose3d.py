"""Metric 3D pose errors of one person at a time, vectorised over frames.

All joints are (N, J, 3) arrays in metres in one frame (camera or world), prediction and
truth in the same joint order; results are (N,) in metres (ratios for the scale).
"""

from __future__ import annotations

import numpy as np


def root_aligned(joints_m: np.ndarray, root_index: int) -> np.ndarray:
    """(N, J, 3) joints relative to their root joint."""
    joints_m = np.asarray(joints_m, np.float64)
    return joints_m - joints_m[:, root_index : root_index + 1]


def mpjpe_m(pred_m: np.ndarray, truth_m: np.ndarray, root_index: int) -> np.ndarray:
    """(N,) mean per-joint position error after aligning the roots (e.g. the pelvis)."""
    difference = root_aligned(pred_m, root_index) - root_aligned(truth_m, root_index)
    return np.linalg.norm(difference, axis=-1).mean(axis=-1)


def procrustes_aligned(pred_m: np.ndarray, truth_m: np.ndarray) -> np.ndarray:
    """(N, J, 3) predictions moved onto the truth by the best similarity transform (scale,
    rotation without reflection, translation; Umeyama's least squares)."""
    pred_m = np.asarray(pred_m, np.float64)
    truth_m = np.asarray(truth_m, np.float64)
    pred_mean = pred_m.mean(axis=1, keepdims=True)
    truth_mean = truth_m.mean(axis=1, keepdims=True)
    p, t = pred_m - pred_mean, truth_m - truth_mean  # (N, J, 3)
    covariance = np.einsum("nji,njk->nik", t, p)  # (N, 3, 3): sum_j t_j p_j^T
    u, singular, vt = np.linalg.svd(covariance)
    # Flip the last axis where the best orthogonal map would be a reflection.
    sign = np.sign(np.linalg.det(u @ vt))
    correction = np.ones((len(p), 3))
    correction[:, 2] = sign
    rotation = u @ (correction[:, :, None] * vt)  # (N, 3, 3)
    variance = (p**2).sum(axis=(1, 2))
    scale = (singular * correction).sum(axis=1) / np.maximum(variance, 1e-12)
    return scale[:, None, None] * np.einsum("nik,njk->nji", rotation, p) + truth_mean


def pa_mpjpe_m(pred_m: np.ndarray, truth_m: np.ndarray) -> np.ndarray:
    """(N,) mean per-joint error after similarity Procrustes alignment (PA-MPJPE)."""
    aligned = procrustes_aligned(pred_m, truth_m)
    return np.linalg.norm(aligned - np.asarray(truth_m, np.float64), axis=-1).mean(axis=-1)


def root_error_m(pred_m: np.ndarray, truth_m: np.ndarray, root_index: int) -> np.ndarray:
    """(N,) distance between predicted and true root: the absolute placement error."""
    pred_m = np.asarray(pred_m, np.float64)
    truth_m = np.asarray(truth_m, np.float64)
    return np.linalg.norm(pred_m[:, root_index] - truth_m[:, root_index], axis=-1)


def bone_lengths_m(joints_m: np.ndarray, bones: np.ndarray) -> np.ndarray:
    """(N, B) lengths of (B, 2) joint-index pairs."""
    joints_m = np.asarray(joints_m, np.float64)
    bones = np.asarray(bones).reshape(-1, 2)
    return np.linalg.norm(joints_m[:, bones[:, 0]] - joints_m[:, bones[:, 1]], axis=-1)


def scale_ratio(pred_m: np.ndarray, truth_m: np.ndarray, bones: np.ndarray) -> np.ndarray:
    """(N,) summed length of the (B, 2) bones, prediction over truth (1: right size; a
    monocular placement's depth error follows it)."""
    return bone_lengths_m(pred_m, bones).sum(axis=1) / bone_lengths_m(truth_m, bones).sum(axis=1)
