"""The challenge metrics on hand-built cases with known answers."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate

from posecast.clients.threedpw.metrics import (
    AUC_THRESHOLDS_MM,
    PCK_JOINTS,
    auc,
    joint_errors,
    pck,
    pose_metrics,
    procrustes_align,
)
from synthetic.threedpw import make_walking_scene


@pytest.fixture
def gt_m() -> np.ndarray:
    """(F, 24, 3) camera-frame ground truth, metres: 2 persons x 6 frames."""
    return make_walking_scene(num_persons=2, num_frames=6, seed=3).joints_cam_m.reshape(-1, 24, 3)


def _rotation(axis: np.ndarray, angle_rad: float) -> np.ndarray:
    axis = axis / np.linalg.norm(axis)
    skew = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(angle_rad) * skew + (1 - np.cos(angle_rad)) * skew @ skew


def test_perfect_prediction(gt_m: np.ndarray) -> None:
    metrics = pose_metrics(gt_m, gt_m)
    assert metrics.mpjpe_mm == pytest.approx(0.0, abs=1e-9)
    assert metrics.pa_mpjpe_mm == pytest.approx(0.0, abs=1e-6)
    assert metrics.pck_percent == 100.0
    assert metrics.auc == 1.0
    assert metrics.num_person_frames == 12


def test_similarity_transform_is_undone_by_procrustes_only(gt_m: np.ndarray) -> None:
    # each frame rotated about its own axis, scaled and moved: PA-MPJPE 0, MPJPE not
    rng = np.random.default_rng(0)
    predicted = np.stack(
        [
            1.3 * pose @ _rotation(rng.normal(size=3), rng.uniform(0.3, 2.5)).T + rng.normal(size=3)
            for pose in gt_m
        ]
    )
    metrics = pose_metrics(predicted, gt_m)
    assert metrics.pa_mpjpe_mm == pytest.approx(0.0, abs=1e-6)
    assert metrics.mpjpe_mm > 100.0


def test_constant_offset_vanishes_after_pelvis_alignment(gt_m: np.ndarray) -> None:
    metrics = pose_metrics(gt_m + np.array([0.5, -0.2, 3.0]), gt_m)
    assert metrics.mpjpe_mm == pytest.approx(0.0, abs=1e-9)
    assert metrics.pck_percent == 100.0


def test_offset_on_non_root_joints_gives_known_mpjpe(gt_m: np.ndarray) -> None:
    predicted = gt_m.copy()
    predicted[:, 1:] += [0.0, 0.03, 0.0399999]  # just under 50 mm on the 23 non-root joints
    metrics = pose_metrics(predicted, gt_m)
    expected_mm = np.hypot(30.0, 39.9999) * 23 / 24
    assert metrics.mpjpe_mm == pytest.approx(expected_mm, abs=1e-9)
    assert metrics.pck_percent == 100.0  # error <= 50 mm counts as correct (up to rounding)


def _handedness(poses: np.ndarray) -> np.ndarray:
    """(F,) sign of the frame spanned by left hip, spine and left shoulder (from the pelvis)."""
    axes = poses[:, [1, 3, 16]] - poses[:, :1]
    return np.sign(np.linalg.det(axes))


def test_reflection_is_not_undone(gt_m: np.ndarray) -> None:
    mirrored = gt_m * np.array([-1.0, 1.0, 1.0])  # mirror x: left and right swap sides
    metrics = pose_metrics(mirrored, gt_m)
    assert metrics.pa_mpjpe_mm > 20.0
    # the alignment used a proper rotation: the aligned pose is still a mirror image
    aligned = procrustes_align(mirrored * 1000, gt_m * 1000)
    np.testing.assert_array_equal(_handedness(aligned), -_handedness(gt_m))


def test_pck_and_auc_use_root_aligned_errors(gt_m: np.ndarray) -> None:
    # scaling about the pelvis: Procrustes undoes it, but PCK/AUC (root-aligned, as in the
    # official script) see the full error
    predicted = gt_m[:, :1] + 1.5 * (gt_m - gt_m[:, :1])
    metrics = pose_metrics(predicted, gt_m)
    assert metrics.pa_mpjpe_mm == pytest.approx(0.0, abs=1e-6)
    assert metrics.pck_percent < 50.0
    assert metrics.auc < 0.9


def test_all_zero_prediction_lands_on_the_gt_centroid(gt_m: np.ndarray) -> None:
    errors = joint_errors(np.zeros_like(gt_m), gt_m)
    gt_mm = (gt_m - gt_m[:, :1]) * 1000
    expected = np.linalg.norm(gt_mm - gt_mm.mean(axis=1, keepdims=True), axis=-1)
    np.testing.assert_allclose(errors.procrustes_mm, expected)


def _with_pck_errors(gt_m: np.ndarray, errors_mm: list[float]) -> np.ndarray:
    """Move the 12 PCK joints of every pose along x by the given errors (root untouched)."""
    predicted = gt_m.copy()
    predicted[:, list(PCK_JOINTS), 0] += np.array(errors_mm) / 1000.0
    return predicted


def test_pck_and_auc_hand_computed(gt_m: np.ndarray) -> None:
    # half-millimetre errors, so that no error sits on an integer threshold
    errors = [0.5, 10.5, 20.5, 30.5, 40.5, 49.5, 60.5, 70.5, 80.5, 120.5, 150.5, 210.5]
    metrics = pose_metrics(_with_pck_errors(gt_m, errors), gt_m)
    assert metrics.pck_percent == pytest.approx(50.0)  # <= 50 mm: 6 of 12
    # PCK(t) = (number of errors <= t) / 12 at t = 0..199; trapezoids of width 1/199
    curve = [sum(e <= t for e in errors) / 12 for t in range(200)]
    expected = sum((curve[t] + curve[t + 1]) / 2 for t in range(199)) / 199
    assert metrics.auc == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize(
    ("error_mm", "expected_pck", "expected_auc"),
    [
        (0.0, 1.0, 1.0),  # every threshold passes
        (100.0, 0.0, 99.5 / 199),  # half a trapezoid on [99, 100], then 99 full units
        (250.0, 0.0, 0.0),  # beyond the last threshold
    ],
)
def test_pck_and_auc_of_a_single_error(
    error_mm: float, expected_pck: float, expected_auc: float
) -> None:
    errors = np.full((4, 12), error_mm)
    assert pck(errors) == expected_pck
    assert auc(errors) == pytest.approx(expected_auc, abs=1e-12)


@pytest.mark.filterwarnings("ignore::scipy.integrate.IntegrationWarning")
def test_auc_matches_the_official_integration() -> None:
    # the official script: quad over np.interp of the PCK curve at x = t / 199; the
    # trapezoidal rule is that integral exactly, quad approximates it (to ~1e-5 here)
    errors = np.random.default_rng(1).gamma(3.0, 25.0, size=(200, 12))
    x = AUC_THRESHOLDS_MM / AUC_THRESHOLDS_MM.max()
    curve = [np.mean(errors <= t) for t in AUC_THRESHOLDS_MM]
    official = integrate.quad(lambda value: np.interp(value, x, curve), 0.0, 1.0)[0]
    assert auc(errors) == pytest.approx(official, abs=1e-4)


def test_empty_input_gives_nan() -> None:
    metrics = pose_metrics(np.zeros((0, 24, 3)), np.zeros((0, 24, 3)))
    assert metrics.num_person_frames == 0
    assert np.isnan(metrics.mpjpe_mm) and metrics.to_dict()["mpjpe_mm"] is None


def test_mismatched_shapes_are_an_error(gt_m: np.ndarray) -> None:
    with pytest.raises(ValueError, match="one shape"):
        joint_errors(gt_m[:, :17], gt_m)
