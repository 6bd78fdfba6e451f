"""``--engine metrabs --model-dir DIR`` on the command line, with the committed stand-in."""

from __future__ import annotations

from posecast.clients.cli import main
from posecast.clients.jsonl import read_frame_messages
from posecast.wire.messages import FrameMessage
from testdata import DATA_DIR, IMAGES_DIR, SAMPLE_CLIP

METRABS = ["--engine", "metrabs", "--model-dir", str(DATA_DIR / "metrabs" / "standin")]


def test_pose_with_metrabs_defaults_to_smpl_24(tmp_path) -> None:
    out = tmp_path / "frame.json"
    image = str(IMAGES_DIR / "vtest_frame300.jpg")
    assert main(["pose", image, "-o", str(out), "--threads", "2", *METRABS]) == 0
    message = FrameMessage.model_validate_json(out.read_text())
    assert message.skeleton == "smpl_24" and len(message.persons) >= 5
    assert all(len(person.joints3d) == 24 for person in message.persons)


def test_pose_with_a_model_skeleton_and_augmentation(tmp_path) -> None:
    out = tmp_path / "frame.json"
    image = str(IMAGES_DIR / "vtest_frame300.jpg")
    args = ["pose", image, "-o", str(out), "--skeleton", "metrabs_smpl+head_30", "--tta", "3"]
    assert main([*args, "--threads", "2", *METRABS]) == 0
    message = FrameMessage.model_validate_json(out.read_text())
    assert message.skeleton == "metrabs_smpl+head_30"
    assert len(message.persons[0].joints3d) == 30


def test_track_with_metrabs(tmp_path) -> None:
    out = tmp_path / "tracks.jsonl"
    args = ["track", str(SAMPLE_CLIP), "-o", str(out), "--max-frames", "3", "--threads", "2"]
    assert main([*args, "--skeleton", "h36m_17", *METRABS]) == 0
    messages = [message for _, message in read_frame_messages(out)]
    assert len(messages) == 3 and {m.skeleton for m in messages} == {"h36m_17"}
    assert any(person.track_id is not None for person in messages[-1].persons)


def test_errors_name_what_to_do(tmp_path, capsys) -> None:
    image = str(IMAGES_DIR / "vtest_frame300.jpg")
    assert main(["pose", image, "--engine", "metrabs", "--model-dir", str(tmp_path)]) == 2
    assert "tools/convert_metrabs.py" in capsys.readouterr().err
    assert main(["pose", image, "--skeleton", "metrabs_42", *METRABS[:2]]) == 2
    assert main(["pose", image, "--skeleton", "blazepose_33", *METRABS]) == 2
    assert "no conversion" in capsys.readouterr().err
    assert main(["calibrate", str(SAMPLE_CLIP), "-o", str(tmp_path / "s.json"), *METRABS]) == 2
    assert "--engine blazepose" in capsys.readouterr().err
