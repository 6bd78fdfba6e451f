"""With the real models: what the WebSocket stream returns equals what the pipeline driven
in-process returns, on the first frames of the committed clip, and /v1/poses agrees."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from posecast.clients.client import PosecastClient
from posecast.engines.estimator import EstimatorConfig, PoseEstimator
from posecast.engines.images import decode_image
from posecast.engines.runtimes import RuntimeOptions
from posecast.pipeline.stream import StreamPipeline
from posecast.pipeline.wire import frame_message, stream_config_from_message
from posecast.service.settings import load_settings
from posecast.wire.messages import FrameMessage
from posecast.wire.protocol import ConfigMessage

CLIP = Path(__file__).parents[2] / "samples" / "vtest_excerpt.mp4"
NUM_FRAMES = 5
CLIP_FPS = 10.0


def clip_jpegs(count: int) -> list[bytes]:
    capture = cv2.VideoCapture(str(CLIP))
    frames = []
    for _ in range(count):
        ok, image = capture.read()
        assert ok, "cannot read the sample clip"
        frames.append(cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes())
    capture.release()
    return frames


def comparable(message: FrameMessage) -> dict[str, Any]:
    data = message.model_dump()
    data.pop("timing_ms")
    return data


def assert_same_messages(got: list[FrameMessage], expected: list[FrameMessage]) -> None:
    assert len(got) == len(expected)
    for a, b in zip(got, expected, strict=True):
        a_data, b_data = comparable(a), comparable(b)
        a_persons, b_persons = a_data.pop("persons"), b_data.pop("persons")
        assert a_data == b_data
        assert [(p["track_id"], p["state"]) for p in a_persons] == [
            (p["track_id"], p["state"]) for p in b_persons
        ]
        for p, q in zip(a_persons, b_persons, strict=True):
            for key in ("box", "joints3d", "joints2d", "confidence", "score"):
                got, want = np.asarray(p[key]), np.asarray(q[key])
                np.testing.assert_allclose(got, want, atol=2e-3, err_msg=key)


@pytest.mark.slow
def test_stream_equals_in_process_pipeline(serve_settings: Any) -> None:
    settings = load_settings(pose_model="lite", threads=2, port=0)
    config = ConfigMessage(type="config", stream="vtest", skeleton="smpl_24")
    jpegs = clip_jpegs(NUM_FRAMES)
    with serve_settings(settings) as server, PosecastClient(server.http_url) as client:
        with client.stream(config) as stream:
            streamed = []
            for i, data in enumerate(jpegs):  # one frame in flight: nothing is dropped
                stream.send(data, frame_id=i, timestamp_s=i / CLIP_FPS)
                message = stream.recv(60)
                assert isinstance(message, FrameMessage), message
                streamed.append(message)
        single = client.poses(jpegs[0], skeleton="smpl_24")
    expected = _in_process(settings, config, jpegs)
    assert sum(len(m.persons) for m in expected) >= NUM_FRAMES  # people were found
    assert_same_messages(streamed, expected)
    assert [m.dropped_frames for m in streamed] == [0] * NUM_FRAMES
    # /v1/poses is untracked; its persons are the first frame's detections.
    detections = [p for p in expected[0].persons if p.state != "searching"]
    assert len(single.persons) == len(detections)
    assert all(p.track_id is None for p in single.persons)


def _in_process(settings: Any, config: ConfigMessage, jpegs: list[bytes]) -> list[FrameMessage]:
    estimator = PoseEstimator.from_config(
        EstimatorConfig(pose_model=settings.pose_model),
        RuntimeOptions(intra_op_threads=settings.threads),
    )
    pipeline = StreamPipeline(
        estimator, stream_config_from_message(config, settings.default_skeleton)
    )
    return [
        frame_message(pipeline.process(decode_image(data), i / CLIP_FPS), config.stream, i)
        for i, data in enumerate(jpegs)
    ]
