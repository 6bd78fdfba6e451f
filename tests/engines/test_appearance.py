"""Appearance descriptors on generated images of differently dressed people."""

import numpy as np
import pytest

from posecast.engines.appearance import AppearanceConfig, appearance_descriptors
from posecast.engines.geometry.skeletons import BLAZEPOSE_33, convert_joints
from posecast.errors import InvalidInputError
from posecast.tracker.appearance import cosine_distance_matrix
from synthetic.people import (
    GREEN_ON_GREY,
    RED_ON_BLUE,
    YELLOW_ON_BLACK,
    draw_people,
    intrinsics,
    project,
    standing_person_m,
)

SIZE_WH = (640, 480)
K = intrinsics(SIZE_WH)


def _person_px(x_m: float, z_m: float) -> np.ndarray:
    return project(standing_person_m(x_m, z_m), K)


def _descriptors(people: list[np.ndarray], outfits, seed: int = 0, **kwargs) -> np.ndarray:
    image = draw_people(SIZE_WH, people, outfits, seed)
    scores = np.ones((len(people), BLAZEPOSE_33.num_joints))
    return appearance_descriptors(
        image, np.array(people), scores, BLAZEPOSE_33.name, AppearanceConfig(**kwargs)
    )


def test_same_outfit_elsewhere_is_close_and_other_outfits_are_far() -> None:
    near = _descriptors([_person_px(-1.0, 6.0), _person_px(1.0, 6.0)], [RED_ON_BLUE, GREEN_ON_GREY])
    # the red/blue person again, farther away and on another side, another background
    far = _descriptors([_person_px(0.5, 10.0)], [RED_ON_BLUE], seed=1)
    distances = cosine_distance_matrix(far, near)[0]
    assert distances[0] < 0.05  # the same clothes at another size and place
    assert distances[1] > 0.5  # green/grey
    other = _descriptors([_person_px(0.0, 8.0)], [YELLOW_ON_BLACK])
    assert cosine_distance_matrix(other, near).min() > 0.5


def test_same_shirt_other_trousers_differ_less_than_all_different() -> None:
    shirt_only = _descriptors(
        [_person_px(0.0, 6.0)], [type(RED_ON_BLUE)((200, 30, 30), (25, 25, 25))]
    )
    reference = _descriptors([_person_px(0.0, 6.0)], [RED_ON_BLUE])
    different = _descriptors([_person_px(0.0, 6.0)], [GREEN_ON_GREY])
    assert cosine_distance_matrix(shirt_only, reference)[0, 0] > 0.1
    assert (
        cosine_distance_matrix(shirt_only, reference)[0, 0]
        < cosine_distance_matrix(different, reference)[0, 0]
    )


@pytest.mark.parametrize(
    ("config", "size"),
    [
        ({}, 3 * (8 * 3 + 4)),  # default: colour only
        ({"orientation_bins": 6}, 3 * (8 * 3 + 4 + 6)),  # with the texture histogram
        ({"hue_bins": 12, "value_bins": 2}, 3 * (12 * 3 + 2)),
    ],
)
def test_descriptor_size_and_unit_region_blocks(config: dict, size: int) -> None:
    descriptors = _descriptors([_person_px(0.0, 6.0)], [RED_ON_BLUE], **config)
    assert descriptors.shape == (1, size) and descriptors.dtype == np.float32
    assert AppearanceConfig(**config).size == size
    # three visible regions, each of unit length: the whole vector has length sqrt(3)
    assert np.linalg.norm(descriptors[0]) == pytest.approx(np.sqrt(3), rel=1e-5)


def test_invisible_people_get_zero_rows() -> None:
    people = [_person_px(0.0, 6.0), _person_px(0.0, 6.0) + 5000.0, _person_px(1.0, 6.0)]
    image = draw_people(SIZE_WH, [people[0]], [RED_ON_BLUE])
    scores = np.ones((3, BLAZEPOSE_33.num_joints))
    scores[2, BLAZEPOSE_33.index("left_hip")] = 0.1  # torso not outlined
    descriptors = appearance_descriptors(image, np.array(people), scores, BLAZEPOSE_33.name)
    assert np.abs(descriptors[0]).sum() > 0
    assert not descriptors[1].any()  # outside the image
    assert not descriptors[2].any()  # a torso joint not confident


def test_other_skeletons_with_the_named_joints_work() -> None:
    people = [_person_px(0.0, 6.0)]
    image = draw_people(SIZE_WH, people, [RED_ON_BLUE])
    coco = convert_joints(np.array(people), "blazepose_33", "coco_17")
    native = appearance_descriptors(image, np.array(people), np.ones((1, 33)), "blazepose_33")
    converted = appearance_descriptors(image, coco, np.ones((1, 17)), "coco_17")
    assert cosine_distance_matrix(native, converted)[0, 0] < 0.02


@pytest.mark.parametrize(
    ("joints_shape", "scores_shape", "skeleton", "message"),
    [
        ((1, 33, 3), (1, 33), "blazepose_33", "joints2d_px"),  # 3D joints
        ((1, 33, 2), (1, 17), "blazepose_33", "joint_scores"),  # scores of another shape
        ((1, 17, 2), (1, 17), "openpose_18", "unknown skeleton"),
    ],
)
def test_bad_input_is_refused(joints_shape, scores_shape, skeleton, message) -> None:
    image = np.zeros((48, 64, 3), np.uint8)
    with pytest.raises(InvalidInputError, match=message):
        appearance_descriptors(image, np.zeros(joints_shape), np.ones(scores_shape), skeleton)


def test_a_non_rgb_image_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="uint8"):
        appearance_descriptors(
            np.zeros((48, 64, 3)), np.zeros((0, 33, 2)), np.zeros((0, 33)), "blazepose_33"
        )


def test_no_people() -> None:
    image = np.zeros((48, 64, 3), np.uint8)
    descriptors = appearance_descriptors(
        image, np.zeros((0, 33, 2)), np.zeros((0, 33)), "blazepose_33"
    )
    assert descriptors.shape == (0, AppearanceConfig().size)
