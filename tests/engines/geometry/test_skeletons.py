import numpy as np
import pytest

from posecast.engines.geometry.skeletons import (
    CONVERSIONS,
    SKELETONS,
    conversion_matrix,
    convert_confidences,
    convert_joints,
    get_skeleton,
    mirror_joints,
)
from posecast.errors import InvalidInputError

CONVERSION_KEYS = sorted(CONVERSIONS)


@pytest.mark.parametrize("name", sorted(SKELETONS))
def test_formats_are_consistent(name: str) -> None:
    skeleton = get_skeleton(name)
    assert len(set(skeleton.joint_names)) == skeleton.num_joints
    assert skeleton.edges.min() >= 0 and skeleton.edges.max() < skeleton.num_joints
    permutation = skeleton.mirror_permutation
    np.testing.assert_array_equal(permutation[permutation], np.arange(skeleton.num_joints))
    for i, joint in enumerate(skeleton.joint_names):
        mirrored = skeleton.joint_names[permutation[i]]
        assert mirrored == joint.replace("left", "#").replace("right", "left").replace("#", "right")
    # Edges are mirror-symmetric as a set.
    edges = {tuple(sorted(edge)) for edge in skeleton.edges.tolist()}
    assert {tuple(sorted(permutation[list(edge)].tolist())) for edge in edges} == edges


def test_expected_joint_counts_and_orders() -> None:
    assert get_skeleton("blazepose_33").num_joints == 33
    assert get_skeleton("coco_17").num_joints == 17
    assert get_skeleton("h36m_17").num_joints == 17
    smpl = get_skeleton("smpl_24")
    assert smpl.joint_names[:4] == ("pelvis", "left_hip", "right_hip", "spine1")
    assert smpl.joint_names[-2:] == ("left_hand", "right_hand")
    assert len(get_skeleton("blazepose_33").edges) == 35


def test_unknown_skeleton_lists_the_valid_names() -> None:
    with pytest.raises(InvalidInputError, match="blazepose_33, coco_17, h36m_17, smpl_24"):
        get_skeleton("openpose_25")
    with pytest.raises(InvalidInputError, match="no conversion"):
        conversion_matrix("smpl_24", "coco_17")


@pytest.mark.parametrize("key", CONVERSION_KEYS)
def test_conversion_rows_sum_to_one(key: tuple[str, str]) -> None:
    matrix = CONVERSIONS[key]
    np.testing.assert_allclose(matrix.sum(axis=1), 1.0, atol=1e-12)
    assert matrix.shape == (get_skeleton(key[1]).num_joints, get_skeleton(key[0]).num_joints)


@pytest.mark.parametrize("key", CONVERSION_KEYS)
def test_conversions_are_left_right_symmetric(
    key: tuple[str, str], blazepose_poses: np.ndarray
) -> None:
    src, dst = key
    mirrored_then_converted = convert_joints(mirror_joints(blazepose_poses, src), src, dst)
    converted_then_mirrored = mirror_joints(convert_joints(blazepose_poses, src, dst), dst)
    np.testing.assert_allclose(mirrored_then_converted, converted_then_mirrored, atol=1e-12)


@pytest.mark.parametrize("key", CONVERSION_KEYS)
def test_conversions_commute_with_rigid_motion(
    key: tuple[str, str], blazepose_poses: np.ndarray
) -> None:
    angle = 0.7
    rotation = np.array(
        [[np.cos(angle), 0, np.sin(angle)], [0, 1, 0], [-np.sin(angle), 0, np.cos(angle)]]
    )
    moved = blazepose_poses @ rotation.T + np.array([1.0, -2.0, 5.0])
    np.testing.assert_allclose(
        convert_joints(moved, *key),
        convert_joints(blazepose_poses, *key) @ rotation.T + np.array([1.0, -2.0, 5.0]),
        atol=1e-12,
    )


def _bone(joints: np.ndarray, skeleton: str, a: str, b: str) -> np.ndarray:
    fmt = get_skeleton(skeleton)
    return np.linalg.norm(joints[:, fmt.index(a)] - joints[:, fmt.index(b)], axis=-1)


# (format, joint a, joint b, min m, max m). CMU subject 131's skeleton has a 0.24 m upper
# arm and 0.18 m forearm, hence the lower bounds on arms.
BONE_RANGES = [
    ("smpl_24", "left_hip", "left_knee", 0.35, 0.5),
    ("smpl_24", "right_knee", "right_ankle", 0.35, 0.5),
    ("smpl_24", "left_shoulder", "left_elbow", 0.2, 0.35),
    ("smpl_24", "right_elbow", "right_wrist", 0.15, 0.3),
    ("smpl_24", "left_hip", "right_hip", 0.1, 0.2),
    ("smpl_24", "pelvis", "spine1", 0.05, 0.2),
    ("smpl_24", "spine1", "spine2", 0.05, 0.2),
    ("smpl_24", "spine2", "spine3", 0.02, 0.1),
    ("smpl_24", "spine3", "neck", 0.1, 0.3),
    ("smpl_24", "neck", "head", 0.05, 0.2),
    ("smpl_24", "left_collar", "left_shoulder", 0.05, 0.15),
    ("smpl_24", "left_ankle", "left_foot", 0.08, 0.2),
    ("smpl_24", "left_wrist", "left_hand", 0.03, 0.12),
    ("h36m_17", "left_hip", "left_knee", 0.35, 0.5),
    ("h36m_17", "pelvis", "spine", 0.15, 0.3),
    ("h36m_17", "thorax", "head_top", 0.2, 0.4),
    ("h36m_17", "thorax", "neck", 0.05, 0.25),
    ("coco_17", "left_knee", "left_ankle", 0.35, 0.5),
]


@pytest.mark.parametrize(("skeleton", "a", "b", "low", "high"), BONE_RANGES)
def test_converted_mocap_bones_are_plausible(
    blazepose_poses: np.ndarray, skeleton: str, a: str, b: str, low: float, high: float
) -> None:
    converted = convert_joints(blazepose_poses, "blazepose_33", skeleton)
    lengths = _bone(converted, skeleton, a, b)
    assert low <= lengths.min() and lengths.max() <= high, (lengths.min(), lengths.max())


def test_smpl_spine_runs_upwards_from_pelvis_to_head(blazepose_poses: np.ndarray) -> None:
    converted = convert_joints(blazepose_poses, "blazepose_33", "smpl_24")
    smpl = get_skeleton("smpl_24")
    chain = ["pelvis", "spine1", "spine2", "spine3", "neck", "head"]
    # Project on the body's up axis (hip midpoint -> shoulder midpoint), y down in camera axes.
    up = (
        blazepose_poses[:, 11]
        + blazepose_poses[:, 12]
        - blazepose_poses[:, 23]
        - blazepose_poses[:, 24]
    ) / 2
    heights = np.stack([np.einsum("nd,nd->n", converted[:, smpl.index(j)], up) for j in chain], 1)
    assert np.all(np.diff(heights, axis=1) > 0)
    # SMPL hips sit lower than the pelvis.
    for side in ("left_hip", "right_hip"):
        assert np.all(np.einsum("nd,nd->n", converted[:, smpl.index(side)], up) < heights[:, 0])


def test_convert_shapes_and_identity(blazepose_poses: np.ndarray) -> None:
    pixels = blazepose_poses[..., :2] * 100
    assert convert_joints(pixels, "blazepose_33", "coco_17").shape == (len(pixels), 17, 2)
    np.testing.assert_array_equal(convert_joints(pixels, "blazepose_33", "blazepose_33"), pixels)
    coco = convert_joints(pixels, "blazepose_33", "coco_17")
    np.testing.assert_array_equal(coco[:, 0], pixels[:, 0])  # nose
    np.testing.assert_array_equal(coco[:, 16], pixels[:, 28])  # right ankle
    with pytest.raises(InvalidInputError, match="expected"):
        convert_joints(pixels[:, :20], "blazepose_33", "coco_17")
    assert convert_joints(np.zeros((0, 33, 3)), "blazepose_33", "smpl_24").shape == (0, 24, 3)


def test_confidence_conversion() -> None:
    confidences = np.random.default_rng(3).uniform(0, 1, (5, 33))
    for _, dst in CONVERSION_KEYS:
        converted = convert_confidences(confidences, "blazepose_33", dst)
        assert converted.shape == (5, get_skeleton(dst).num_joints)
        assert converted.min() >= confidences.min() - 1e-12
        assert converted.max() <= confidences.max() + 1e-12
    smpl = convert_confidences(confidences, "blazepose_33", "smpl_24")
    np.testing.assert_allclose(smpl[:, 18], confidences[:, 13])  # left elbow is copied
    np.testing.assert_allclose(
        convert_confidences(np.ones((2, 33)), "blazepose_33", "smpl_24"), 1.0
    )
