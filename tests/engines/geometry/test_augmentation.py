import numpy as np
import pytest

from posecast.engines.geometry.augmentation import (
    augment_rois,
    average_augmentations,
    make_augmentations,
    unflip_joints,
    unflip_scores,
)
from posecast.engines.geometry.camera import intrinsics_from_fov, project_points
from posecast.engines.geometry.perspective_crops import (
    camera_to_perspective_crop,
    image_to_perspective_crop_points,
    perspective_crop_to_camera,
    perspective_crops,
)
from posecast.engines.geometry.rois import Roi, roi_world_to_camera
from posecast.engines.geometry.rotations import rotations_about_z
from posecast.engines.geometry.skeletons import get_skeleton
from posecast.engines.geometry.warps import crop_to_image_points, image_to_crop_points
from posecast.errors import InvalidInputError

PERMUTATION = get_skeleton("blazepose_33").mirror_permutation


def test_single_augmentation_is_the_identity() -> None:
    augs = make_augmentations(1)
    assert augs.rotations_rad.tolist() == [0.0]
    assert augs.scales.tolist() == [1.0]
    assert augs.is_flipped.tolist() == [False]


def test_augmentations_spread_evenly_and_deterministically() -> None:
    augs = make_augmentations(5)
    np.testing.assert_allclose(np.rad2deg(augs.rotations_rad), [-25, -12.5, 0, 12.5, 25])
    np.testing.assert_allclose(np.sort(augs.scales), np.linspace(0.8, 1.1, 5))
    assert not np.all(np.diff(augs.scales) > 0)  # shuffled, not tied to rotation
    assert augs.is_flipped.tolist() == [False, True, False, True, False]
    again = make_augmentations(5)
    np.testing.assert_array_equal(again.scales, augs.scales)


@pytest.mark.parametrize("num_aug", [0, -1])
def test_invalid_augmentation_count(num_aug: int) -> None:
    with pytest.raises(InvalidInputError):
        make_augmentations(num_aug)


def _rois(count: int) -> Roi:
    rng = np.random.default_rng(11)
    return Roi(
        centers_px=rng.uniform(100, 500, (count, 2)),
        sides_px=rng.uniform(100, 400, count),
        rotations_rad=rng.uniform(-0.5, 0.5, count),
    )


def test_augment_rois_is_person_major() -> None:
    roi = _rois(3)
    augs = make_augmentations(4)
    augmented = augment_rois(roi, augs)
    assert len(augmented) == 12
    np.testing.assert_allclose(augmented.centers_px[4:8], np.repeat(roi.centers_px[1:2], 4, 0))
    np.testing.assert_allclose(augmented.sides_px[4:8], roi.sides_px[1] / augs.scales)
    np.testing.assert_allclose(
        augmented.rotations_rad[4:8], roi.rotations_rad[1] + augs.rotations_rad
    )
    np.testing.assert_array_equal(augmented.is_flipped[4:8], augs.is_flipped)


def test_2d_predictions_map_back_through_flips_and_rotations(rng: np.random.Generator) -> None:
    """Simulate a perfect model on every augmented crop; the mapped-back mean is the truth."""
    num_persons, num_aug = 3, 6
    truth_px = rng.uniform(100, 500, (num_persons, 33, 2))
    augs = make_augmentations(num_aug)
    rois = augment_rois(_rois(num_persons), augs)
    truth_per_crop = np.repeat(truth_px, num_aug, axis=0)
    seen = image_to_crop_points(truth_per_crop, rois)
    # On a mirrored crop the model names the subject's right wrist "left wrist".
    predicted = np.where(rois.is_flipped[:, None, None], seen[:, PERMUTATION], seen)
    back = unflip_joints(
        crop_to_image_points(predicted, rois), rois.is_flipped, "blazepose_33", mirror_x=False
    )
    np.testing.assert_allclose(average_augmentations(back, num_aug), truth_px, atol=1e-9)


def test_3d_predictions_map_back_through_flips_and_rotations(blazepose_poses: np.ndarray) -> None:
    num_persons, num_aug = 2, 4
    truth = blazepose_poses[:num_persons]
    augs = make_augmentations(num_aug)
    rois = augment_rois(_rois(num_persons), augs)
    in_crop = np.repeat(truth, num_aug, 0) @ rotations_about_z(rois.rotations_rad)  # Rz^T X
    predicted = np.where(
        rois.is_flipped[:, None, None], in_crop[:, PERMUTATION] * [-1, 1, 1], in_crop
    )
    unflipped = unflip_joints(predicted, rois.is_flipped, "blazepose_33", mirror_x=True)
    back = roi_world_to_camera(unflipped, rois, perspective_correction=False)
    np.testing.assert_allclose(average_augmentations(back, num_aug), truth, atol=1e-12)


def test_perspective_crop_augmentations_map_back(blazepose_poses: np.ndarray) -> None:
    num_aug = 4
    K = intrinsics_from_fov(1280, 720)
    truth = blazepose_poses[:2] + np.array([[[0.5, 0.2, 5.0]], [[-1.0, 0.0, 8.0]]])
    boxes = np.array([[600.0, 200.0, 800.0, 600.0], [300.0, 250.0, 420.0, 500.0]])
    augs = make_augmentations(num_aug)
    crops = perspective_crops(np.repeat(boxes, num_aug, 0), K, 256, **augs.per_crop(2))
    in_crop = camera_to_perspective_crop(np.repeat(truth, num_aug, 0), crops)
    predicted = np.where(
        crops.is_flipped[:, None, None], in_crop[:, PERMUTATION] * [-1, 1, 1], in_crop
    )
    back = perspective_crop_to_camera(
        unflip_joints(predicted, crops.is_flipped, "blazepose_33", mirror_x=True), crops
    )
    np.testing.assert_allclose(average_augmentations(back, num_aug), truth, atol=1e-12)
    # The flipped crop's 2D is the mirror image of the crop camera's projection.
    projected = project_points(in_crop, crops.K_crop)
    flipped = crops.is_flipped
    via_image = image_to_perspective_crop_points(
        project_points(np.repeat(truth, num_aug, 0), K), crops
    )
    np.testing.assert_allclose(via_image[flipped, :, 0], 256 - projected[flipped, :, 0], atol=1e-8)


def test_weighted_average_and_scores() -> None:
    values = np.array([[[0.0]], [[10.0]]])  # one person, two augmentations, one joint
    np.testing.assert_allclose(
        average_augmentations(values, 2, np.array([[1.0], [3.0]])), [[[7.5]]]
    )
    np.testing.assert_allclose(average_augmentations(values, 2, np.zeros((2, 1))), [[[5.0]]])
    scores = np.arange(33.0)[None].repeat(2, 0)
    unflipped = unflip_scores(scores, np.array([False, True]), "blazepose_33")
    np.testing.assert_array_equal(unflipped[0], scores[0])
    assert unflipped[1, 11] == 12.0 and unflipped[1, 12] == 11.0
    with pytest.raises(InvalidInputError):
        average_augmentations(np.zeros((3, 33, 3)), 2)
