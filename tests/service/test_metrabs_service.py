"""The service with the MeTRAbs engine (the committed stand-in model): settings, batched
crop model runs shared by streams with the direct results, the model's skeletons served."""

from __future__ import annotations

import asyncio
from typing import Any

import cv2
import numpy as np
import pytest

from posecast.clients.client import PosecastClient
from posecast.engines.batcher import BatcherConfig
from posecast.engines.metrabs.estimator import (
    MetrabsConfig,
    MetrabsEstimator,
    load_metrabs_crop_model,
)
from posecast.engines.runtimes import RuntimeOptions
from posecast.errors import InvalidInputError
from posecast.pipeline.stream import StreamConfig, StreamPipeline, TrackedFrame
from posecast.service.engines import PoseEngines
from posecast.service.engines_factory import build_pose_engines
from posecast.service.settings import load_settings
from posecast.wire.messages import FrameMessage
from posecast.wire.protocol import ConfigMessage
from testdata import DATA_DIR, read_clip_frames

STANDIN_DIR = DATA_DIR / "metrabs" / "standin"


class RecordingObserver:
    def __init__(self) -> None:
        self.batch_sizes: dict[str, list[int]] = {}

    def on_batch(self, name: str, batch_size: int, queue_wait_s: list[float], run_s: float):
        self.batch_sizes.setdefault(name, []).append(batch_size)

    def on_reject(self, name: str, reason: str) -> None:
        raise AssertionError(f"{name} rejected an item: {reason}")


def clip_jpegs(count: int) -> list[bytes]:
    frames = read_clip_frames(count)
    return [cv2.imencode(".jpg", frame[..., ::-1])[1].tobytes() for frame in frames]


def _track(estimator: Any, frames: list[np.ndarray]) -> list[TrackedFrame]:
    pipeline = StreamPipeline(estimator, StreamConfig(skeleton="smpl_24"))
    return [pipeline.process(frame, index / 10) for index, frame in enumerate(frames)]


def test_batched_streams_give_bitwise_the_direct_poses(detector) -> None:
    """Two streams' crops share crop model runs; every person's pose is bitwise the one of
    the unbatched engine (the crop model and the decoding treat each crop on its own)."""
    crop_model = load_metrabs_crop_model(STANDIN_DIR, RuntimeOptions(intra_op_threads=2))
    estimator = MetrabsEstimator(detector, crop_model, MetrabsConfig(num_augmentations=2))
    first, second = read_clip_frames(3, 0), read_clip_frames(3, 60)
    expected = [_track(estimator, frames) for frames in (first, second)]
    observer = RecordingObserver()
    engines = PoseEngines(estimator, BatcherConfig(max_batch_size=8, max_delay_s=0.005), observer)

    async def two_streams():
        async with engines:
            assert isinstance(engines.estimator, MetrabsEstimator)
            return await asyncio.gather(
                asyncio.to_thread(_track, engines.estimator, first),
                asyncio.to_thread(_track, engines.estimator, second),
            )

    results = asyncio.run(two_streams())
    for stream_expected, stream_results in zip(expected, results, strict=True):
        for want, got in zip(stream_expected, stream_results, strict=True):
            np.testing.assert_array_equal(got.poses.track_ids, want.poses.track_ids)
            np.testing.assert_array_equal(got.poses.joints_cam_m, want.poses.joints_cam_m)
    assert set(observer.batch_sizes) == {"detector", "metrabs"}
    assert max(observer.batch_sizes["metrabs"]) > 1
    assert engines.estimator is estimator


class NullObserver:
    def on_batch(self, *args: object) -> None: ...

    def on_reject(self, *args: object) -> None: ...


def test_settings_build_the_metrabs_engine() -> None:
    settings = load_settings(engine="metrabs", model_dir=STANDIN_DIR, threads=1)
    assert settings.default_skeleton == "smpl_24"
    engines = build_pose_engines(settings, NullObserver())
    assert isinstance(engines.estimator, MetrabsEstimator)
    assert engines.estimator.skeleton == "metrabs_42"


def test_a_default_skeleton_the_model_does_not_offer_stops_the_start() -> None:
    settings = load_settings(
        engine="metrabs", model_dir=STANDIN_DIR, threads=1, default_skeleton="blazepose_33"
    )
    with pytest.raises(InvalidInputError, match="no conversion"):
        build_pose_engines(settings, NullObserver())


@pytest.mark.slow
def test_the_server_serves_the_models_skeletons(serve_settings: Any) -> None:
    settings = load_settings(engine="metrabs", model_dir=STANDIN_DIR, threads=2, port=0)
    jpegs = clip_jpegs(2)
    config = ConfigMessage(type="config", stream="cam", skeleton="metrabs_smpl+head_30")
    with serve_settings(settings) as server, PosecastClient(server.http_url) as client:
        skeletons = client.skeletons()
        single = client.poses(jpegs[0], skeleton="metrabs_coco_19")
        default = client.poses(jpegs[0])
        with client.stream(config) as stream:
            stream.send(jpegs[1], frame_id=0, timestamp_s=0.0)
            streamed = stream.recv(60)
    names = getattr(skeletons, "skeletons", skeletons)
    assert {"metrabs_42", "metrabs_coco_19", "metrabs_smpl+head_30", "smpl_24"} <= set(names)
    assert single.skeleton == "metrabs_coco_19" and len(single.persons) > 0
    assert len(single.persons[0].joints3d) == 19
    assert default.skeleton == "smpl_24"
    assert isinstance(streamed, FrameMessage) and streamed.skeleton == "metrabs_smpl+head_30"
