"""``posecast retrack`` end to end on files."""

import json
from pathlib import Path

import pytest

import posecast.clients.cli
from posecast.pipeline.wire import persons_from_poses
from posecast.wire.messages import FrameMessage
from synthetic.scenes import SceneConfig, generate_scene


@pytest.fixture(autouse=True)
def _only_retrack(monkeypatch: pytest.MonkeyPatch) -> None:
    # Other subcommands are beside the point (and may be work in progress).
    monkeypatch.setattr(posecast.clients.cli, "SUBCOMMAND_MODULES", ("retrack",))


@pytest.fixture(scope="module")
def scene():
    return generate_scene(SceneConfig(num_people=3, duration_s=3.0, seed=21))


def _write_detections(scene, path: Path) -> list[str]:
    lines = []
    for frame in scene.frames:
        message = FrameMessage(
            frame=frame.frame_index,
            timestamp=frame.timestamp_s,
            width=1280,
            height=720,
            skeleton=frame.detections.skeleton,
            persons=persons_from_poses(frame.detections),
        )
        lines.append(message.model_dump_json())
    path.write_text("\n".join(lines) + "\n")
    return lines


def _read(path: Path) -> list[FrameMessage]:
    return [FrameMessage.model_validate_json(line) for line in path.read_text().splitlines()]


def test_retrack_writes_tracked_messages(scene, tmp_path: Path) -> None:
    detections, tracks = tmp_path / "detections.jsonl", tmp_path / "tracks.jsonl"
    _write_detections(scene, detections)
    assert posecast.clients.cli.main(["retrack", str(detections), "-o", str(tracks)]) == 0
    messages = _read(tracks)
    assert [m.frame for m in messages] == [f.frame_index for f in scene.frames]
    states = {p.state for m in messages for p in m.persons}
    assert {"tentative", "confirmed"} <= states
    confirmed = {p.track_id for m in messages for p in m.persons if p.state == "confirmed"}
    assert 1 <= len(confirmed) <= 5


@pytest.mark.parametrize("include_predicted", [False, True])
def test_retrack_output_policy(scene, tmp_path: Path, include_predicted: bool) -> None:
    detections, tracks = tmp_path / "detections.jsonl", tmp_path / "tracks.jsonl"
    _write_detections(scene, detections)
    argv = ["retrack", str(detections), "-o", str(tracks)]
    assert posecast.clients.cli.main(argv + ["--include-predicted"] * include_predicted) == 0
    persons = [p for m in _read(tracks) for p in m.persons]
    predicted = [p for p in persons if p.predicted]
    # the scene's misses and occlusions leave tracks searched for: reported only when asked
    assert bool(predicted) == include_predicted
    assert all(p.state in ("searching", "terminated") and p.score == 0 for p in predicted)
    assert all(p.state not in ("searching", "terminated") for p in persons if not p.predicted)


def test_retrack_with_first_frame_references_uses_their_ids(scene, tmp_path: Path) -> None:
    detections, tracks = tmp_path / "detections.jsonl", tmp_path / "tracks.jsonl"
    references = tmp_path / "references.jsonl"
    _write_detections(scene, detections)
    first = scene.frames[0].references()
    entries = [
        {"id": int(i), "joints2d": j.tolist(), "confidence": c.tolist()}
        for i, j, c in zip(first.ids, first.joints2d_px, first.joint_scores, strict=True)
    ]
    references.write_text(json.dumps({"frame": 0, "references": entries}) + "\n")
    argv = ["retrack", str(detections), "-o", str(tracks), "--reference", str(references)]
    assert posecast.clients.cli.main(argv) == 0
    ids = {p.track_id for m in _read(tracks) for p in m.persons} - {None}
    assert ids and ids <= set(first.ids.tolist())


def test_empty_input_gives_empty_output(tmp_path: Path) -> None:
    detections, tracks = tmp_path / "detections.jsonl", tmp_path / "tracks.jsonl"
    detections.write_text("")
    assert posecast.clients.cli.main(["retrack", str(detections), "-o", str(tracks)]) == 0
    assert tracks.read_text() == ""


def test_malformed_line_exits_2_naming_file_and_line(
    scene, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    detections, tracks = tmp_path / "detections.jsonl", tmp_path / "tracks.jsonl"
    lines = _write_detections(scene, detections)
    lines.insert(3, '{"frame": 3, "timestamp": "soon"}')
    detections.write_text("\n".join(lines) + "\n")
    assert posecast.clients.cli.main(["retrack", str(detections), "-o", str(tracks)]) == 2
    error = capsys.readouterr().err
    assert f"{detections}:4:" in error
    assert len(_read(tracks)) == 3  # the lines before it were written, each a valid message


def test_non_increasing_timestamp_names_the_line(scene, tmp_path: Path, capsys) -> None:
    detections, tracks = tmp_path / "detections.jsonl", tmp_path / "tracks.jsonl"
    lines = _write_detections(scene, detections)
    detections.write_text("\n".join([*lines[:5], lines[2]]) + "\n")
    assert posecast.clients.cli.main(["retrack", str(detections), "-o", str(tracks)]) == 2
    assert f"{detections}:6: timestamps must increase" in capsys.readouterr().err
