"""Reading the 3DPW layout: sequence files, image paths, errors."""

from __future__ import annotations

import pickle
from pathlib import Path

import cv2
import numpy as np
import pytest

from posecast.clients.threedpw.layout import (
    list_sequences,
    load_pickle,
    load_sequence,
    world_to_camera,
)
from posecast.errors import InvalidInputError
from synthetic.threedpw import make_walking_scene, write_sequence


def test_list_sequences_sorted(threedpw_root: Path) -> None:
    assert list_sequences(threedpw_root, "test") == ["seq_a", "seq_b"]


def test_load_sequence_fields(threedpw_root: Path, scenes) -> None:
    sequence = load_sequence(threedpw_root, "test", "seq_a")
    scene = scenes["seq_a"]
    assert (sequence.name, sequence.split) == ("seq_a", "test")
    assert (sequence.num_persons, sequence.num_frames) == (2, 12)
    assert sequence.intrinsics.shape == (3, 3)
    assert sequence.cam_poses.shape == (12, 4, 4)
    assert sequence.poses2d_px.shape == (2, 12, 18, 3)
    assert sequence.campose_valid.dtype == bool
    assert not sequence.campose_valid[0, 2] and sequence.campose_valid.sum() == 23
    assert sequence.genders == ("m", "f")
    np.testing.assert_array_equal(sequence.joints_world_m, scene.joints_world_m)
    np.testing.assert_allclose(sequence.joints_cam_m, scene.joints_cam_m)
    assert sequence.image_paths[7] == threedpw_root / "imageFiles" / "seq_a" / "image_00007.jpg"


def test_poses2d_transposed_from_stored_layout(threedpw_root: Path) -> None:
    path = threedpw_root / "sequenceFiles" / "test" / "seq_a.pkl"
    with path.open("rb") as file:
        stored = pickle.load(file, encoding="latin1")["poses2d"]
    assert stored[0].shape == (12, 3, 18)  # as in 3DPW: (N, 3, 18) per person
    sequence = load_sequence(threedpw_root, "test", "seq_a")
    # (x, y, confidence) of keypoint 4 (right wrist) of person 0 in frame 3
    np.testing.assert_array_equal(sequence.poses2d_px[0, 3, 4], stored[0][3, :, 4])
    assert np.all(sequence.poses2d_px[1, 5] == 0)  # not detected: zeros


def test_world_to_camera_applies_rotation_and_translation() -> None:
    angle = np.pi / 2
    cam_pose = np.eye(4)
    cam_pose[:3, :3] = [
        [np.cos(angle), -np.sin(angle), 0],
        [np.sin(angle), np.cos(angle), 0],
        [0, 0, 1],
    ]
    cam_pose[:3, 3] = [0.0, 0.0, 5.0]
    points = np.array([[[[1.0, 0.0, 0.0]]]])  # (P=1, N=1, J=1, 3)
    np.testing.assert_allclose(
        world_to_camera(points, cam_pose[None]), [[[[0.0, 1.0, 5.0]]]], atol=1e-12
    )


def test_synthetic_images_show_the_persons(tmp_path: Path) -> None:
    scene = make_walking_scene(num_persons=2, num_frames=3, seed=0)
    write_sequence(tmp_path, "test", "walk", scene, write_images=True)
    sequence = load_sequence(tmp_path, "test", "walk")
    image = cv2.imread(str(sequence.image_paths[2]))
    assert image.shape == (240, 320, 3)
    # every projected pelvis lands on a drawn (non-background) pixel
    for person in range(2):
        x_px, y_px = sequence.poses2d_px[person, 2, 8, :2]  # keypoint 8: right hip
        patch = image[int(y_px) - 2 : int(y_px) + 3, int(x_px) - 2 : int(x_px) + 3].astype(int)
        assert np.abs(patch - 96).max() > 40


@pytest.mark.parametrize(
    ("root_suffix", "split", "message"),
    [
        ("missing", "test", "is not a directory"),  # no root
        ("", "val", "unknown 3DPW split"),  # not a 3DPW split name
        ("", "train", "no split directory"),  # split not present
    ],
)
def test_list_sequences_errors(
    threedpw_root: Path, root_suffix: str, split: str, message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message):
        list_sequences(threedpw_root / root_suffix, split)


def test_missing_sequence_is_named(threedpw_root: Path) -> None:
    with pytest.raises(InvalidInputError, match="'seq_z' not found in split test"):
        load_sequence(threedpw_root, "test", "seq_z")


def _rewrite(root: Path, name: str, change) -> None:
    path = root / "sequenceFiles" / "test" / f"{name}.pkl"
    with path.open("rb") as file:
        data = pickle.load(file, encoding="latin1")
    change(data)
    with path.open("wb") as file:
        pickle.dump(data, file, protocol=2)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda data: data.pop("jointPositions"), "missing key 'jointPositions'"),
        (lambda data: data.pop("campose_valid"), "missing key 'campose_valid'"),
        (
            lambda data: data.update(cam_poses=data["cam_poses"][:-1]),
            r"key 'poses2d' person 0: expected shape \(11, 3, 18\)",
        ),
        (
            lambda data: data.update(cam_intrinsics=np.eye(4)),
            r"'cam_intrinsics' expected shape \(3, 3\)",
        ),
        (
            lambda data: data["jointPositions"].pop(),
            "key 'poses2d' has 2 persons, expected 1",
        ),
        (lambda data: data.update(cam_poses="abc"), "key 'cam_poses' is not a numeric array"),
        (
            lambda data: data.update(cam_intrinsics=np.full((3, 3), np.nan)),
            "key 'cam_intrinsics' has non-finite values",
        ),
    ],
    ids=[
        "no-joint-positions",
        "no-campose-valid",
        "frame-count-mismatch",
        "intrinsics-shape",
        "person-count-mismatch",
        "cam-poses-not-numeric",
        "intrinsics-nan",
    ],
)
def test_malformed_sequence_names_file_and_key(threedpw_root: Path, change, message: str) -> None:
    _rewrite(threedpw_root, "seq_a", change)
    with pytest.raises(InvalidInputError, match=message) as error:
        load_sequence(threedpw_root, "test", "seq_a")
    assert "seq_a.pkl" in str(error.value)


def test_not_a_pickle(tmp_path: Path) -> None:
    path = tmp_path / "bad.pkl"
    path.write_bytes(b"not a pickle")
    with pytest.raises(InvalidInputError, match=r"bad\.pkl: not a readable 3DPW pickle"):
        load_pickle(path)


def test_pickle_with_foreign_global_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"x": Path("/")}, protocol=2))
    with pytest.raises(InvalidInputError, match="refusing to load global pathlib"):
        load_pickle(path)


def _short_binstring(data: bytes) -> bytes:
    return b"U" + bytes([len(data)]) + data


def test_python2_pickle_loads(tmp_path: Path) -> None:
    # What Python 2 + numpy 1 write with protocol 2 (as the 3DPW files): str as byte strings,
    # arrays via numpy.core.multiarray._reconstruct with their raw data as a byte string.
    raw = np.array([0.0, 1.5, 2.0], "<f8").tobytes()
    dtype_f8 = (
        b"cnumpy\ndtype\n" + _short_binstring(b"f8") + b"K\x00K\x01\x87R"
        b"(K\x03" + _short_binstring(b"<") + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb"
    )
    array = (
        b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85"
        + _short_binstring(b"b")
        + b"\x87R(K\x01K\x03\x85"
        + dtype_f8
        + b"\x89"
        + _short_binstring(raw)
        + b"tb"
    )
    path = tmp_path / "py2.pkl"
    path.write_bytes(
        b"\x80\x02}"
        + _short_binstring(b"sequence")
        + _short_binstring(b"caf\xe9")
        + b"s"
        + _short_binstring(b"a")
        + array
        + b"s."
    )
    data = load_pickle(path)
    assert data["sequence"] == "caf\xe9"
    np.testing.assert_array_equal(data["a"], [0.0, 1.5, 2.0])
