"""``posecast pose`` and ``posecast track`` end to end on committed real media."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest

from posecast.clients.cli import main
from posecast.clients.jsonl import read_frame_messages
from posecast.wire.messages import FrameMessage
from testdata import IMAGES_DIR, REPO_DIR, SAMPLE_CLIP


def test_pose_writes_one_message_with_every_person(tmp_path) -> None:
    out = tmp_path / "frame.json"
    code = main(["pose", str(IMAGES_DIR / "vtest_frame300.jpg"), "-o", str(out), "--threads", "2"])
    assert code == 0
    message = FrameMessage.model_validate_json(out.read_text())
    assert len(message.persons) == 6
    assert message.skeleton == "blazepose_33"
    assert all(person.track_id is None for person in message.persons)
    assert (message.width, message.height) == (768, 576)


def test_pose_converts_skeleton_and_uses_intrinsics(tmp_path) -> None:
    camera = tmp_path / "camera.json"
    camera.write_text(json.dumps({"K": [[1500, 0, 384], [0, 1500, 288], [0, 0, 1]]}))
    out = tmp_path / "frame.json"
    args = ["pose", str(IMAGES_DIR / "vtest_frame000.jpg"), "-o", str(out), "--skeleton"]
    assert main([*args, "smpl_24", "--intrinsics", str(camera)]) == 0
    message = FrameMessage.model_validate_json(out.read_text())
    assert message.skeleton == "smpl_24"
    depths = [np.mean([joint[2] for joint in p.joints3d]) for p in message.persons]
    # f = 1500 px is twice the default 737 px: people twice as far (about 30 m instead of 15 m).
    assert all(25.0 < depth < 45.0 for depth in depths), depths


@pytest.mark.parametrize(
    "content, message",
    [(b"plain text", "could not be decoded"), (None, "no such file")],
)
def test_pose_on_bad_input_exits_2_with_a_clear_error(tmp_path, capsys, content, message) -> None:
    path = tmp_path / "input.jpg"
    if content is not None:
        path.write_bytes(content)
    assert main(["pose", str(path)]) == 2
    assert message in capsys.readouterr().err


def test_bad_intrinsics_file_exits_2(tmp_path, capsys) -> None:
    camera = tmp_path / "camera.json"
    camera.write_text(json.dumps({"K": [[-10, 0, 1], [0, 10, 1], [0, 0, 1]]}))
    code = main(["pose", str(IMAGES_DIR / "messi5.jpg"), "--intrinsics", str(camera)])
    assert code == 2
    assert "focal" in capsys.readouterr().err


def test_track_clip_output_is_accepted_by_retrack(tmp_path) -> None:
    tracks = tmp_path / "tracks.jsonl"
    plot, render = tmp_path / "tracks.png", tmp_path / "tracks.mp4"
    args = ["track", str(SAMPLE_CLIP), "-o", str(tracks), "--max-frames", "12", "--threads", "2"]
    assert main([*args, "--plot", str(plot), "--render", str(render), "--model", "lite"]) == 0
    messages = [message for _, message in read_frame_messages(tracks)]
    assert [m.frame for m in messages] == list(range(12))
    assert np.allclose([m.timestamp for m in messages], np.arange(12) / 10)
    assert any(p.state == "confirmed" for p in messages[-1].persons)
    assert cv2.imread(str(plot)) is not None
    assert cv2.VideoCapture(str(render)).get(cv2.CAP_PROP_FRAME_COUNT) == 12

    retracked = tmp_path / "retracked.jsonl"
    assert main(["retrack", str(tracks), "-o", str(retracked)]) == 0
    assert len(list(read_frame_messages(retracked))) == 12


def test_track_unreadable_input_exits_2(tmp_path, capsys) -> None:
    bogus = tmp_path / "clip.mp4"
    bogus.write_bytes(b"not a video at all")
    assert main(["track", str(bogus), "-o", str(tmp_path / "out.jsonl")]) == 2
    assert "clip.mp4" in capsys.readouterr().err


def test_interrupted_track_leaves_valid_output(tmp_path) -> None:
    """Ctrl-C (SIGINT) in the middle of a run: exit code 130, every written line is valid."""
    tracks = tmp_path / "tracks.jsonl"
    command = [
        sys.executable,
        "-m",
        "posecast.clients.cli",
        "track",
        str(SAMPLE_CLIP),
        "-o",
        str(tracks),
    ]
    process = subprocess.Popen(
        [*command, "--threads", "2", "--model", "lite"],
        cwd=REPO_DIR,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (not tracks.exists() or tracks.stat().st_size < 2000):
        time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    messages = [message for _, message in read_frame_messages(tracks)]
    assert 0 < len(messages) < 150
    assert [m.frame for m in messages] == list(range(len(messages)))


def test_track_without_tracking_writes_detections_for_retrack(tmp_path) -> None:
    detections, tracks = tmp_path / "detections.jsonl", tmp_path / "tracks.jsonl"
    args = ["track", str(SAMPLE_CLIP), "-o", str(detections), "--max-frames", "5"]
    assert main([*args, "--no-tracking", "--model", "lite", "--threads", "2"]) == 0
    messages = [message for _, message in read_frame_messages(detections)]
    assert all(p.track_id is None and p.state is None for m in messages for p in m.persons)
    assert sum(len(m.persons) for m in messages) >= 5 * 3
    assert main(["retrack", str(detections), "-o", str(tracks)]) == 0
    retracked = [message for _, message in read_frame_messages(tracks)]
    assert all(p.track_id is not None for p in retracked[-1].persons if p.score > 0)
