"""``posecast calibrate`` and the scene file in ``posecast pose``, on committed real media."""

from __future__ import annotations

import json

import numpy as np
import pytest

from posecast.clients.cli import main
from posecast.wire.messages import FrameMessage
from testdata import IMAGES_DIR, SAMPLE_CLIP

# The scene of the sample clip's camera as `posecast calibrate` found it (docs/scene.md).
SCENE = {
    "K": [[1319.5, 0.0, 383.5], [0.0, 1319.5, 287.5], [0.0, 0.0, 1.0]],
    "image_size": [768, 576],
    "ground": {"camera_height_m": 6.93, "pitch_deg": 14.0, "roll_deg": -2.1},
}


def test_pose_with_a_scene_places_people_on_the_ground(tmp_path) -> None:
    scene = tmp_path / "camera.json"
    scene.write_text(json.dumps(SCENE))
    out = tmp_path / "frame.json"
    image = str(IMAGES_DIR / "vtest_frame300.jpg")
    assert main(["pose", image, "-o", str(out), "--camera", str(scene), "--threads", "2"]) == 0
    message = FrameMessage.model_validate_json(out.read_text())
    assert message.scene.state == "given" and message.scene.camera_height_m == 6.93
    placements = [person.placement for person in message.persons]
    assert placements.count("ground") >= len(placements) - 1
    for person in message.persons:
        if person.placement == "ground":
            world = np.array(person.joints_world)
            assert abs(world[29:33, 2].min()) < 1e-3  # the lowest heel or toe on the ground
            assert 1.4 < world[:, 2].max() < 2.1  # standing people, metric


def test_pose_refuses_a_scene_for_another_image_size(tmp_path, capsys) -> None:
    scene = tmp_path / "camera.json"
    scene.write_text(json.dumps({**SCENE, "image_size": [1920, 1080]}))
    image = str(IMAGES_DIR / "vtest_frame300.jpg")
    assert main(["pose", image, "--camera", str(scene)]) == 2
    assert "1920 x 1080" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--every", "0"], "--every"),
        (["--camera", "GIVEN"], "nothing to calibrate"),
    ],
)
def test_calibrate_refuses_bad_requests(tmp_path, capsys, extra, message) -> None:
    scene = tmp_path / "given.json"
    scene.write_text(json.dumps(SCENE))
    extra = [str(scene) if value == "GIVEN" else value for value in extra]
    out = tmp_path / "camera.json"
    assert main(["calibrate", str(SAMPLE_CLIP), "-o", str(out), *extra]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.slow
def test_calibrate_says_when_a_few_frames_are_not_enough(tmp_path, capsys) -> None:
    out = tmp_path / "camera.json"
    code = main(
        ["calibrate", str(SAMPLE_CLIP), "-o", str(out), "--max-frames", "3", "--threads", "2"]
    )
    assert code == 2
    assert "not enough evidence" in capsys.readouterr().err
    assert not out.exists()
