"""Loaders, on small synthetic files written like the real ones (the real data is never read
by tests)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from realdata.images import (
    IMAGE_SETS,
    canonical_name,
    load_coco_style,
    load_mpii,
    points_in_polygons,
)
from realdata.mot import load_mot17, load_pets09
from realdata.panoptic import load_panoptic
from realdata.threedhp import (
    H36M_17_NAMES,
    THREEDHP_TO_H36M,
    bone_indices,
    h36m_indices,
    load_3dhp,
)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_mot17(tmp_path: Path) -> None:
    folder = tmp_path / "mot17" / "MOT17-09-FRCNN"
    write(
        folder / "seqinfo.ini",
        "[Sequence]\nname=MOT17-09-FRCNN\nimDir=img1\nframeRate=30\nseqLength=525\n"
        "imWidth=1920\nimHeight=1080\nimExt=.jpg\n",
    )
    for frame in (1, 2):
        write(folder / "img1" / f"{frame:06d}.jpg", "")
    write(
        folder / "gt" / "gt.txt",
        "1,1,10,20,30,40,1,1,0.9\n"  # target, visible
        "1,2,100,20,30,40,1,1,0.2\n"  # target, mostly hidden
        "1,3,200,20,30,40,0,7,1.0\n"  # static person: don't care
        "1,4,300,20,30,40,0,3,1.0\n"  # car: neither
        "3,1,10,20,30,40,1,1,1.0\n",  # frame without an image: dropped
    )
    write(folder / "det" / "det.txt", "1,-1,11,21,30,40,0.8\n2,-1,12,22,30,40,0.6\n")
    (sequence,) = load_mot17(tmp_path)
    assert sequence.frames == (1, 2)
    assert sequence.frame_rate_hz == 30 and sequence.image_size_wh == (1920, 1080)
    truth = sequence.truth[1]
    assert truth.target_ids.tolist() == [1, 2]
    np.testing.assert_allclose(truth.target_xyxy[0], [10, 20, 40, 60])
    assert truth.is_visible.tolist() == [True, False]
    np.testing.assert_allclose(truth.dont_care_xyxy, [[200, 20, 230, 60]])
    assert len(sequence.truth[2].target_ids) == 0
    assert sequence.detections is not None
    np.testing.assert_allclose(sequence.detections[2].scores, [0.6])


def test_pets09(tmp_path: Path) -> None:
    write(
        tmp_path / "real" / "pets09-dev" / "gt.txt",
        "1,9,499,158,31,75,1,-1,-1,-1\n1,20,700,100,10,20,0,-1,-1,-1\n3,9,497,158,31,75,1,-1,-1,-1\n",
    )
    sequence = load_pets09(tmp_path / "real")
    assert sequence.frames == (1, 2, 3)  # frame 2 has no rows but is part of the sequence
    assert sequence.video_path == tmp_path / "vtest.avi"
    assert sequence.video_frame_offset == -1 and sequence.frame_rate_hz == 7
    assert sequence.truth[1].target_ids.tolist() == [9]
    assert len(sequence.truth[1].dont_care_xyxy) == 1
    assert not sequence.truth[1].is_visible.any()  # visibility not labelled


@pytest.mark.parametrize(
    ("name", "aliases", "expected"),
    [
        ("Right Shoulder", None, "right_shoulder"),  # AIC
        ("Right-ankle", None, "right_ankle"),  # MHP
        ("r_shoulder", None, "right_shoulder"),  # 3DHP style
        ("Head top", None, "head_top"),
        ("head", {"head": "head_top"}, "head_top"),  # CrowdPose's head is the top of the head
    ],
)
def test_canonical_names(name: str, aliases: dict[str, str] | None, expected: str) -> None:
    assert canonical_name(name, aliases) == expected


def coco_json(keypoint_names: list[str], annotations: list[dict], file_name: str) -> str:
    return json.dumps(
        {
            "categories": [{"id": 1, "name": "person", "keypoints": keypoint_names}],
            "images": [
                {"id": 5, "file_name": file_name, "width": 640, "height": 480},
                {"id": 6, "file_name": "missing.jpg", "width": 640, "height": 480},
            ],
            "annotations": annotations,
        }
    )


def test_coco_style(tmp_path: Path) -> None:
    folder = tmp_path / "images" / "crowdpose"
    write(folder / "a.jpg", "")
    annotations = [
        {"image_id": 5, "bbox": [10, 20, 30, 40], "iscrowd": 0, "keypoints": [1, 2, 2, 0, 0, 0]},
        {"image_id": 5, "bbox": [100, 20, 30, 40], "iscrowd": 1, "keypoints": [0] * 6},
    ]
    write(folder / "test_crowdpose.json", coco_json(["head", "neck"], annotations, "a.jpg"))
    (image,) = load_coco_style(tmp_path, "crowdpose", IMAGE_SETS["crowdpose"])  # missing skipped
    assert image.keypoint_names == ("head_top", "neck")
    np.testing.assert_allclose(image.boxes_xyxy, [[10, 20, 40, 60]])
    assert image.is_labelled.tolist() == [[True, False]]
    np.testing.assert_allclose(image.dont_care_xyxy, [[100, 20, 130, 60]])
    assert image.detections is None and image.normalizer == "torso"


def test_coco_style_with_fewer_keypoints_than_names(tmp_path: Path) -> None:
    # Human-Art: 21 names in the category, the 17 COCO ones in "keypoints".
    folder = tmp_path / "images" / "humanart"
    write(folder / "real_human" / "b.jpg", "")
    annotations = [{"image_id": 5, "bbox": [0, 0, 5, 5], "keypoints": [3, 4, 2]}]
    text = coco_json(["nose", "left_finger"], annotations, "HumanArt/images/real_human/b.jpg")
    write(folder / "test_humanart.json", text)
    (image,) = load_coco_style(tmp_path, "humanart", IMAGE_SETS["humanart"])
    assert image.keypoint_names == ("nose",)
    np.testing.assert_allclose(image.keypoints_px, [[[3, 4]]])


def test_mpii(tmp_path: Path) -> None:
    joints = [[float(i), 2.0 * i] for i in range(16)]
    person = {"image": "c.jpg", "joints": joints, "joints_vis": [1] * 15 + [0]}
    write(tmp_path / "images" / "mpii" / "test_mpii.json", json.dumps([person]))
    (image,) = load_mpii(tmp_path)
    assert not image.has_boxes and image.normalizer == "head"
    assert image.is_labelled.sum() == 15
    # head top is joint 9, upper neck joint 8: (9, 18) - (8, 16)
    assert image.head_size_px[0] == pytest.approx(np.hypot(1, 2))
    np.testing.assert_allclose(image.boxes_xyxy, [[0, 0, 14, 28]])  # labelled extents


def test_points_in_polygons() -> None:
    square = np.array([[0, 0], [10, 0], [10, 10], [0, 10]], float)
    inside = points_in_polygons(np.array([[5, 5], [15, 5], [-1, -1]]), (square,))
    assert inside.tolist() == [True, False, False]
    assert points_in_polygons(np.array([[5, 5]]), ()).tolist() == [False]


def test_3dhp(tmp_path: Path) -> None:
    frame = {
        "image": "x.jpg",
        "K": [[1500, 0, 1000], [0, 1500, 1000], [0, 0, 1]],
        "joints3d": [[0.0, 0.0, 3.0]] * 2,
        "joints2d": [[1000.0, 1000.0]] * 2,
    }
    data = {"joint_names": ["head_top", "pelvis"], "units": "m", "frames": [frame]}
    write(tmp_path / "3dhp" / "ground_truth.json", json.dumps(data))
    names, (loaded,) = load_3dhp(tmp_path)
    assert names == ("head_top", "pelvis")
    assert loaded.K.shape == (3, 3) and loaded.joints_cam_m.shape == (2, 3)
    assert loaded.image_path == tmp_path / "3dhp" / "x.jpg"


def test_panoptic(tmp_path: Path) -> None:
    rotation = [[0, 0, 1], [0, 1, 0], [-1, 0, 0]]  # camera from world
    camera = {
        "name": "00_03",
        "K": [[1400, 0, 960], [0, 1400, 540], [0, 0, 1]],
        "distCoef": [-0.2, 0.1, 0, 0, 0],
        "R": rotation,
        "t": [[100.0], [0.0], [0.0]],  # cm
    }
    write(tmp_path / "panoptic" / "camera_parameters.json", json.dumps({"cameras": [camera]}))
    for frame in ("00004500", "00005514"):
        write(tmp_path / "panoptic" / "00_03" / f"00_03_{frame}.jpg", "")
    moments = load_panoptic(tmp_path)
    assert list(moments) == [4500, 5514]
    loaded = moments[4500][0].camera
    # A world point X is seen at R X + t: the camera centre is -R^T t, in metres.
    np.testing.assert_allclose(loaded.world_from_camera[:3, 3], [0, 0, -1.0], atol=1e-12)
    world = np.array([0.2, 0.3, 0.4])
    in_camera = np.array(rotation) @ (world * 100) / 100 + [1.0, 0, 0]
    back = loaded.world_from_camera[:3, :3] @ in_camera + loaded.world_from_camera[:3, 3]
    np.testing.assert_allclose(back, world, atol=1e-12)


def test_3dhp_joint_correspondence() -> None:
    names = ("head_top", "neck", "r_shoulder", "pelvis", "head", "l_ankle")
    indices = h36m_indices(names)
    assert [H36M_17_NAMES[i] for i in indices] == [
        "head_top",
        "thorax",
        "right_shoulder",
        "pelvis",
        "neck",
        "left_ankle",
    ]
    all_names = tuple(THREEDHP_TO_H36M)
    assert len(set(h36m_indices(all_names))) == 17  # one to one
    assert bone_indices(all_names).shape == (8, 2)
