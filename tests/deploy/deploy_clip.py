"""The sample clip through a deployed front end vs the in-process pipeline (shared by the
Triton and the image tests): same frames as JPEG, one frame in flight so nothing is dropped,
same skeletons and track ids within a float tolerance."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np

from posecast.clients.client import PosecastClient
from posecast.engines.estimator import EstimatorConfig, PoseEstimator
from posecast.engines.images import decode_image
from posecast.engines.runtimes import RuntimeOptions
from posecast.pipeline.stream import StreamPipeline
from posecast.pipeline.wire import frame_message, stream_config_from_message
from posecast.wire.messages import FrameMessage
from posecast.wire.protocol import ConfigMessage

CLIP = Path(__file__).resolve().parents[2] / "samples" / "vtest_excerpt.mp4"
CLIP_FPS = 10.0
CONFIG = ConfigMessage(type="config", stream="vtest", skeleton="smpl_24")


def clip_jpegs(count: int | None = None) -> list[bytes]:
    """The clip's first ``count`` frames (all with None) as JPEG, quality 90."""
    capture = cv2.VideoCapture(str(CLIP))
    frames = []
    while count is None or len(frames) < count:
        ok, image = capture.read()
        if not ok:
            break
        frames.append(cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes())
    capture.release()
    assert frames, "cannot read the sample clip"
    return frames


def streamed_messages(
    http_url: str, jpegs: list[bytes], timeout_s: float = 120.0
) -> list[FrameMessage]:
    """Every frame through ``/v1/stream``, one in flight."""
    messages = []
    with PosecastClient(http_url) as client, client.stream(CONFIG) as stream:
        for index, data in enumerate(jpegs):
            stream.send(data, frame_id=index, timestamp_s=index / CLIP_FPS)
            message = stream.recv(timeout_s)
            assert isinstance(message, FrameMessage), message
            messages.append(message)
    return messages


def in_process_messages(
    jpegs: list[bytes], pose_model: str = "full", threads: int = 2
) -> list[FrameMessage]:
    """The same frames through ``StreamPipeline`` in this process (onnxruntime, CPU)."""
    estimator = PoseEstimator.from_config(
        EstimatorConfig(pose_model=pose_model), RuntimeOptions(intra_op_threads=threads)
    )
    pipeline = StreamPipeline(estimator, stream_config_from_message(CONFIG, "blazepose_33"))
    return [
        frame_message(pipeline.process(decode_image(data), i / CLIP_FPS), CONFIG.stream, i)
        for i, data in enumerate(jpegs)
    ]


def _comparable(message: FrameMessage) -> dict[str, Any]:
    data = message.model_dump()
    data.pop("timing_ms")
    data.pop("client_frame_id", None)
    return data


def assert_same_messages(
    got: list[FrameMessage], expected: list[FrameMessage], atol: float = 2e-3
) -> float:
    """Same frames, persons, track ids and states; joints, boxes, scores within ``atol``
    (metres, pixels: different thread counts reorder float sums). Returns the largest
    difference found, for the record."""
    assert len(got) == len(expected)
    largest = 0.0
    for index, (a, b) in enumerate(zip(got, expected, strict=True)):
        a_data, b_data = _comparable(a), _comparable(b)
        a_persons, b_persons = a_data.pop("persons"), b_data.pop("persons")
        assert a_data == b_data, f"frame {index}"
        assert [(p["track_id"], p["state"]) for p in a_persons] == [
            (p["track_id"], p["state"]) for p in b_persons
        ], f"frame {index}"
        for p, q in zip(a_persons, b_persons, strict=True):
            for key in ("box", "joints3d", "joints2d", "confidence", "score"):
                p_value, q_value = np.asarray(p[key]), np.asarray(q[key])
                np.testing.assert_allclose(p_value, q_value, atol=atol, err_msg=f"{index} {key}")
                largest = max(largest, float(np.max(np.abs(p_value - q_value), initial=0.0)))
    return largest
