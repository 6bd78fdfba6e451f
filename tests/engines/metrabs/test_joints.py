"""MeTRAbs joint names in posecast terms, and the formats a model registers."""

from __future__ import annotations

import numpy as np
import pytest

from posecast.engines.geometry.skeletons import (
    SKELETONS,
    SkeletonFormat,
    conversion_matrix,
    register_conversion,
    register_skeleton,
)
from posecast.engines.metrabs.joints import (
    ModelSkeleton,
    metrabs_formats,
    mirror_permutation,
    parse_joint_name,
    posecast_joint_names,
)
from posecast.errors import InvalidInputError


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("lsho_smpl", ("left", "shoulder", "smpl")),  # sided joint with a dataset suffix
        ("rank", ("right", "ankle", "")),  # "rank" is the right ankle, not a rank
        ("htop_mpi_inf_3dhp", ("", "head_top", "mpi_inf_3dhp")),  # suffix with underscores
        ("nose_coco", ("", "nose", "coco")),
        ("learcoco", ("left", "ear", "coco")),  # suffix written without its underscore
        ("spi4", ("", "spine4", "")),
        ("backneck", ("", "backneck", "")),  # unknown code: kept
    ],
)
def test_parse_joint_name(name: str, expected: tuple[str, str, str]) -> None:
    parsed = parse_joint_name(name)
    assert (parsed.side, parsed.stem, parsed.suffix) == expected


def test_unknown_sided_codes_pair_only_with_their_mirror() -> None:
    # MeTRAbs' mirror rule: first letter l <-> r when the mirrored name exists
    assert parse_joint_name("lfinger", ["lfinger", "rfinger"]).side == "left"
    assert parse_joint_name("lowback", ["lowback"]).side == ""


def test_posecast_names_give_the_plain_name_to_the_preferred_dataset() -> None:
    names = posecast_joint_names(["lsho_coco", "lsho_smpl", "rsho_coco", "rsho_smpl", "neck"])
    assert names == (
        "left_shoulder_coco",
        "left_shoulder",
        "right_shoulder_coco",
        "right_shoulder",
        "neck",
    )


def test_posecast_names_fall_back_to_raw_names_on_a_collision() -> None:
    # "nose" and "nose_" parse to the same plain and suffixed name
    assert posecast_joint_names(["nose", "nose_"]) == ("nose", "nose_")


def test_mirror_permutation_pairs_left_and_right() -> None:
    names = ("pelvis", "left_hip", "right_hip", "left_toe")  # an unpaired sided joint
    assert mirror_permutation(names).tolist() == [0, 2, 1, 3]


def _model_skeletons() -> tuple[list[str], np.ndarray, list[ModelSkeleton]]:
    names = [f"{joint}_smpl" for joint in ("pelv", "lhip", "rhip", "lkne", "rkne")]
    coco = ["nose", "leye", "reye", "lear", "rear", "lsho", "rsho", "lelb", "relb"]
    coco += ["lwri", "rwri", "lhip", "rhip", "lkne", "rkne", "lank", "rank"]
    names += [f"{joint}_coco" for joint in coco]
    edges = np.array([[0, 1], [0, 2], [1, 3], [2, 4]])
    coco_19 = ModelSkeleton("coco_19", np.array([0, *range(5, 22), 0]), np.array([[0, 1]]))
    legs = ModelSkeleton("legs_5", np.arange(5), edges)
    return names, edges, [coco_19, legs]


def test_formats_select_joints_exactly() -> None:
    names, edges, skeletons = _model_skeletons()
    formats = metrabs_formats(names, edges, skeletons)
    assert formats.native.name == "metrabs_22"
    assert formats.native.joint_names[:3] == ("pelvis", "left_hip", "right_hip")
    legs = next(f for f in formats.formats if f.name == "metrabs_legs_5")
    assert legs.mirror_permutation.tolist() == [0, 2, 1, 4, 3]
    # coco_17 by name from the model's coco_19: nose first, ankles last
    coco = formats.selections["coco_17"]
    assert [names[i] for i in coco[[0, -1]]] == ["nose_coco", "rank_coco"]
    assert set(formats.selections) == {"metrabs_coco_19", "metrabs_legs_5", "coco_17"}


def test_registration_is_idempotent_and_refuses_redefinitions() -> None:
    names, edges, skeletons = _model_skeletons()
    formats = metrabs_formats(names, edges, skeletons)
    formats.register()
    formats.register()  # the same model loaded twice
    assert "metrabs_legs_5" in SKELETONS
    matrix = conversion_matrix("metrabs_22", "coco_17")
    assert matrix.shape == (17, 22) and np.all(matrix.sum(axis=1) == 1)
    other = SkeletonFormat.from_names("metrabs_legs_5", ("a", "b", "c", "d", "e"), [])
    with pytest.raises(InvalidInputError, match="already defined"):
        register_skeleton(other)
    with pytest.raises(InvalidInputError, match="already defined"):
        register_conversion("metrabs_22", "coco_17", np.full((17, 22), 1 / 22))
    with pytest.raises(InvalidInputError, match="rows summing to 1"):
        register_conversion("metrabs_22", "metrabs_legs_5", np.zeros((5, 22)))


def test_builtin_formats_cannot_be_replaced() -> None:
    with pytest.raises(InvalidInputError, match="already defined"):
        register_skeleton(SkeletonFormat.from_names("smpl_24", ("pelvis",), []))
