"""Scene self-calibration on synthetic scenes with known cameras (mocap people on a plane)."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from posecast.engines.geometry.scene_calibration import (
    GroundObservations,
    NotEnoughEvidence,
    SceneEstimate,
    calibrate_scene,
    is_upright,
    observations_from_poses,
)
from posecast.engines.geometry.scene_config import CalibrationConfig
from posecast.errors import InvalidInputError
from synthetic.ground_scenes import (
    GroundScene,
    GroundSceneConfig,
    generate_ground_scene,
    mocap_poses_world,
    sitting_pose,
)


def observations_of(scene: GroundScene, config: GroundSceneConfig) -> GroundObservations:
    return observations_from_poses(
        scene.joints2d_px,
        scene.joints_cam_m,
        scene.joint_scores,
        scene.person_ids,
        0,
        config.image_size_wh,
    )


def calibrate(config: GroundSceneConfig, K: np.ndarray | None = None) -> SceneEstimate:
    scene = generate_ground_scene(config)
    estimate = calibrate_scene(observations_of(scene, config), config.image_size_wh, K=K)
    assert isinstance(estimate, SceneEstimate), estimate
    return estimate


def errors(estimate: SceneEstimate, config: GroundSceneConfig) -> dict[str, float]:
    truth = generate_ground_scene(config)
    return {
        "focal": estimate.focal_px / truth.K[0, 0] - 1.0,
        "pitch_deg": math.degrees(estimate.ground.pitch_rad) - config.pitch_deg,
        "roll_deg": math.degrees(estimate.ground.roll_rad) - config.roll_deg,
        "height": estimate.ground.camera_height_m / config.camera_height_m - 1.0,
    }


@pytest.mark.parametrize(
    "config",
    [
        # a street camera: 4 m up, 15 deg down, slight roll, 1 % landmark noise
        GroundSceneConfig(seed=1),
        # noisier, with sitting people and false detections among the walkers
        GroundSceneConfig(seed=2, noise_fraction=0.02, sitting_fraction=0.15, false_fraction=0.1),
        # high, steep, wide, rolled the other way
        GroundSceneConfig(seed=3, camera_height_m=8.0, pitch_deg=35.0, roll_deg=-5.0, fov_deg=70.0),
    ],
)
def test_recovers_a_known_camera(config: GroundSceneConfig) -> None:
    estimate = calibrate(config)
    error = errors(estimate, config)
    # Tolerances (docs/scene.md): focal 8 %, pitch 1.5 deg, roll 1 deg, height 6 %.
    assert abs(error["focal"]) < 0.08, error
    assert abs(error["pitch_deg"]) < 1.5, error
    assert abs(error["roll_deg"]) < 1.0, error
    assert abs(error["height"]) < 0.06, error
    # The stated uncertainty covers the error.
    truth = generate_ground_scene(config)
    assert abs(estimate.focal_px - truth.K[0, 0]) < 3 * estimate.focal_px_sd
    assert abs(error["pitch_deg"]) < 3 * estimate.pitch_deg_sd
    assert estimate.is_converged


def test_known_intrinsics_are_used_not_estimated() -> None:
    config = GroundSceneConfig(seed=4)
    K = generate_ground_scene(config).K
    estimate = calibrate(config, K=K)
    np.testing.assert_array_equal(estimate.K, K)
    assert not estimate.is_focal_estimated and estimate.focal_px_sd == 0.0
    error = errors(estimate, config)
    assert abs(error["pitch_deg"]) < 1.0 and abs(error["height"]) < 0.06, error


def test_a_level_camera_leaves_the_focal_length_open() -> None:
    # Level cameras see every upright person as a vertical segment: nothing fixes the focal
    # length, and the estimate must say so rather than guess.
    config = GroundSceneConfig(seed=5, pitch_deg=0.0, roll_deg=0.0)
    estimate = calibrate(config)
    assert not estimate.is_converged
    assert estimate.focal_px_sd > 0.15 * estimate.focal_px


def test_sitting_and_false_people_are_outliers_not_errors() -> None:
    clean = GroundSceneConfig(seed=6, noise_fraction=0.01)
    dirty = replace(clean, sitting_fraction=0.3, false_fraction=0.2)
    error = errors(calibrate(dirty), dirty)
    assert abs(error["height"]) < 0.08 and abs(error["pitch_deg"]) < 2.0, error


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        # a single person: the scale rests on one height
        (lambda c: replace(c, num_people=1, frames_per_person=80), "distinct people"),
        # everyone at one depth: neither horizon nor focal length is fixed
        (lambda c: replace(c, range_m=(12.0, 12.3), speed_m_s=(0.0, 0.0), roll_deg=0.0), "height"),
        # a few glimpses only
        (lambda c: replace(c, num_people=3, frames_per_person=4), "observations"),
    ],
)
def test_not_enough_evidence(change, reason: str) -> None:
    config = change(GroundSceneConfig(seed=7))
    scene = generate_ground_scene(config)
    result = calibrate_scene(observations_of(scene, config), config.image_size_wh)
    assert isinstance(result, NotEnoughEvidence)
    assert reason in result.reason


def test_no_feet_seen_is_not_enough_evidence() -> None:
    config = GroundSceneConfig(seed=8)
    scene = generate_ground_scene(config)
    hidden = scene.joint_scores.copy()
    hidden[:, 29:33] = 0.0  # heels and toes
    observations = observations_from_poses(
        scene.joints2d_px, scene.joints_cam_m, hidden, scene.person_ids, 0, config.image_size_wh
    )
    assert len(observations) == 0
    result = calibrate_scene(observations, config.image_size_wh)
    assert isinstance(result, NotEnoughEvidence) and "no upright person" in result.reason


def test_empty_frames_give_no_observations() -> None:
    observations = observations_from_poses(
        np.zeros((0, 33, 2)), np.zeros((0, 33, 3)), np.zeros((0, 33)), [], 0, (640, 480)
    )
    assert len(observations) == 0


def test_upright_people_pass_sitting_people_do_not() -> None:
    standing = mocap_poses_world() * 1.7
    sitting = np.stack([sitting_pose(pose) for pose in standing])
    assert is_upright(standing).all()
    assert not is_upright(sitting).any()


def test_observations_describe_the_feet_and_the_head() -> None:
    config = GroundSceneConfig(seed=9, noise_fraction=0.0)
    scene = generate_ground_scene(config)
    observations = observations_of(scene, config)
    assert len(observations) == len(scene.person_ids)
    # The skeleton's stature: head point + head_below_top above the lowest foot landmark.
    expected = np.array([scene.statures_m[int(i)] for i in observations.person_ids])
    np.testing.assert_allclose(observations.statures_m, expected, atol=0.06)
    assert (observations.foot_heights_m > 0).all() and (observations.foot_heights_m < 0.3).all()


def test_observation_arrays_are_checked() -> None:
    with pytest.raises(InvalidInputError, match="foot_px"):
        GroundObservations(
            np.zeros((2, 3)),
            np.zeros((2, 2)),
            np.zeros(2, int),
            np.ones(2),
            np.ones(2),
            np.zeros(2, int),
        )
    with pytest.raises(InvalidInputError, match="non-finite"):
        GroundObservations(
            np.full((1, 2), np.nan),
            np.zeros((1, 2)),
            np.zeros(1, int),
            np.ones(1),
            np.ones(1),
            np.zeros(1, int),
        )
    with pytest.raises(InvalidInputError, match="joints2d_px"):
        observations_from_poses(
            np.zeros((1, 17, 2)), np.zeros((1, 33, 3)), np.zeros((1, 33)), [0], 0, (9, 9)
        )


def test_config_bounds() -> None:
    with pytest.raises(InvalidInputError, match="stature_prior_m"):
        CalibrationConfig(stature_prior_m=5.0)
    with pytest.raises(InvalidInputError, match="head_below_top_m"):
        CalibrationConfig(stature_prior_m=0.5, head_below_top_m=0.5)
