"""The scene file: camera + ground plane + calibration record; bad files give clear errors."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from posecast.engines.geometry.camera import Camera, intrinsics_from_fov
from posecast.engines.geometry.ground import GroundPlane, world_from_ground_plane
from posecast.engines.geometry.scene import Scene, SceneState, SceneUncertainty
from posecast.errors import InvalidInputError

K = intrinsics_from_fov(768, 576, 36.0).tolist()
GROUND = {"camera_height_m": 7.2, "pitch_deg": 14.9, "roll_deg": -2.2}


def calibrated_scene() -> Scene:
    return Scene(
        camera=Camera(K=np.array(K), distortion=np.array([-0.1, 0.01, 0.0, 0.0, 0.0])),
        ground=GroundPlane.from_angles(math.radians(14.9), math.radians(-2.2), 7.2),
        state=SceneState.CALIBRATED,
        uncertainty=SceneUncertainty(160.0, 0.2, 1.6, 0.8, people=43, observations=1700),
        image_size_wh=(768, 576),
        source="posecast calibrate vtest.avi",
    )


def test_round_trip_through_a_file(tmp_path: Path) -> None:
    scene = calibrated_scene()
    path = tmp_path / "camera.json"
    scene.to_json(path)
    loaded = Scene.from_json(path)
    np.testing.assert_allclose(loaded.camera.K, scene.camera.K)
    np.testing.assert_allclose(loaded.camera.distortion, scene.camera.distortion)
    np.testing.assert_allclose(loaded.ground.normal_cam, scene.ground.normal_cam, atol=1e-8)
    assert loaded.ground.camera_height_m == pytest.approx(7.2)
    assert loaded.image_size_wh == (768, 576)
    assert loaded.uncertainty == scene.uncertainty
    assert loaded.source == scene.source
    # A loaded file's values are used as given, never re-estimated.
    assert loaded.state is SceneState.GIVEN
    data = json.loads(path.read_text())
    assert data["calibration"]["state"] == "calibrated"
    assert set(data["ground"]) == {"camera_height_m", "pitch_deg", "roll_deg"}


def test_a_camera_file_is_a_scene_file() -> None:
    scene = Scene.from_dict({"K": K})
    assert scene.state is SceneState.UNCALIBRATED and scene.ground is None
    assert scene.world_from_camera is None


def test_extrinsics_imply_the_ground_and_define_the_world() -> None:
    world_from_camera = np.eye(4)
    world_from_camera[:3, :3] = [[1, 0, 0], [0, 0, 1], [0, -1, 0]]  # looks along world y
    world_from_camera[:3, 3] = [1.0, 2.0, 3.0]
    scene = Scene.from_dict({"K": K, "world_from_camera": world_from_camera.tolist()})
    assert scene.state is SceneState.GIVEN
    assert scene.ground.camera_height_m == pytest.approx(3.0)
    np.testing.assert_allclose(scene.ground.normal_cam, [0, -1, 0], atol=1e-12)
    np.testing.assert_array_equal(scene.world_from_camera, world_from_camera)
    # "ground": null: extrinsics for the world frame only, no plane.
    scene = Scene.from_dict(
        {"K": K, "world_from_camera": world_from_camera.tolist(), "ground": None}
    )
    assert scene.ground is None and scene.state is SceneState.GIVEN


def test_a_ground_alone_defines_the_world_frame() -> None:
    scene = Scene.from_dict({"K": K, "ground": GROUND})
    np.testing.assert_allclose(scene.world_from_camera, world_from_ground_plane(scene.ground))
    assert scene.state is SceneState.GIVEN


def test_image_size_is_checked() -> None:
    scene = Scene.from_dict({"K": K, "image_size": [768, 576]})
    scene.check_image_size(768, 576)
    with pytest.raises(InvalidInputError, match="768 x 576"):
        scene.check_image_size(1280, 720)


def below_ground() -> list[list[float]]:
    matrix = np.eye(4)
    matrix[:3, 3] = [0.0, 0.0, -1.0]
    return matrix.tolist()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([1, 2, 3], "JSON object"),  # not an object
        ({"ground": GROUND}, "missing key 'K'"),  # no intrinsics
        ({"K": K, "focal": 3}, "unknown keys"),  # a typo
        ({"K": K, "ground": {"camera_height_m": 2.0}}, "missing"),  # incomplete plane
        ({"K": K, "ground": {**GROUND, "yaw_deg": 3.0}}, "unknown"),  # yaw means nothing
        ({"K": K, "ground": {**GROUND, "camera_height_m": -1}}, "positive"),
        ({"K": K, "ground": {**GROUND, "pitch_deg": 120}}, r"\[-90, 90\]"),
        ({"K": K, "ground": {**GROUND, "roll_deg": "x"}}, "finite number"),
        ({"K": K, "ground": [1, 2]}, "expected an object"),
        ({"K": K, "image_size": [768]}, "width, height"),
        ({"K": K, "image_size": [768, -1]}, "width, height"),
        ({"K": K, "calibration": {"state": "sure"}}, "calibration.state"),
        ({"K": K, "calibration": {"focal_px_sd": -1}}, "negative"),
        ({"K": K, "calibration": {"people": 2.5}}, "count"),
        ({"K": K, "calibration": {"when": "now"}}, "unknown keys"),
        ({"K": K, "world_from_camera": below_ground()}, "not above the ground"),
        ({"K": [[0, 0, 1], [0, 1, 1], [0, 0, 1]]}, "focal"),  # the camera's own checks
    ],
)
def test_bad_scenes_are_refused_clearly(data: object, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        Scene.from_dict(data)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "Expecting"),
        ('{"K": 1}', "shape"),
        (b"\xff\xfe\x00", "scene file"),
    ],
)
def test_bad_files_name_the_file(tmp_path: Path, content: str | bytes, message: str) -> None:
    path = tmp_path / "broken.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    with pytest.raises(InvalidInputError, match=message) as caught:
        Scene.from_json(path)
    assert "broken.json" in str(caught.value)


def test_missing_file() -> None:
    with pytest.raises(InvalidInputError, match="scene file"):
        Scene.from_json("/nonexistent/camera.json")


def test_undetermined_uncertainties_are_written_as_null() -> None:
    scene = Scene(
        camera=Camera(K=np.array(K)),
        ground=GroundPlane.from_angles(0.0, 0.0, 2.0),
        state=SceneState.CALIBRATING,
        uncertainty=SceneUncertainty(focal_px_sd=math.inf),
    )
    data = scene.to_dict()
    assert data["calibration"]["focal_px_sd"] is None
    assert json.loads(json.dumps(data)) == data
    assert Scene.from_dict(data).uncertainty.focal_px_sd == math.inf
