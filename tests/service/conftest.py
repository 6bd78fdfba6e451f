"""Service test helpers: a real uvicorn server on loopback in a thread, and fake engines.

Fakes stand in for the models where the model is beside the point: ``FakeEngines`` returns
one synthetic person per image (the same pose every frame, so the tracker confirms it), can
be slowed down, and fails on images whose top-left pixel is pure red (an inference error).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import cv2
import numpy as np
import pytest
from serve_process import LoopbackUrls, server_process

from posecast.engines.batcher import BatcherObserver
from posecast.engines.estimator import FrameEstimate
from posecast.engines.frames import FramePoses
from posecast.engines.geometry.camera import Camera
from posecast.engines.geometry.rois import Roi
from posecast.engines.geometry.skeletons import get_skeleton
from posecast.service.app import create_app
from posecast.service.engines import PoseEngines
from posecast.service.server import PosecastServer, uvicorn_config
from posecast.service.settings import ServiceSettings, load_settings

NUM_JOINTS = get_skeleton("blazepose_33").num_joints
FAIL_COLOR = (255, 0, 0)
NO_ROIS = Roi(np.zeros((0, 2)), np.zeros(0), np.zeros(0))
SERVER_START_TIMEOUT_S = 30.0


class FakeEstimator:
    """``num_persons`` synthetic persons per image, after ``delay_s`` (the worker thread sleeps,
    like a model run); raises on images whose top-left pixel is ``FAIL_COLOR``."""

    def __init__(self, delay_s: float = 0.0, num_persons: int = 1) -> None:
        self.delay_s = delay_s
        self.num_persons = num_persons
        self.calls = 0

    def estimate(
        self,
        image_rgb: np.ndarray,
        camera: Camera | None = None,
        followed_rois: Roi | None = None,
        detect: bool = True,
    ) -> FrameEstimate:
        self.calls += 1
        if self.delay_s:
            time.sleep(self.delay_s)
        if tuple(int(v) for v in image_rgb[0, 0]) == FAIL_COLOR:
            raise RuntimeError("fake inference failure")
        timing_ms = {"detect": 1.0, "pose": 1.0, "total": 2.0}
        camera = camera or Camera.from_fov(image_rgb.shape[1], image_rgb.shape[0])
        poses = fake_persons(camera, self.num_persons)
        return FrameEstimate(poses, timing_ms, {}, next_rois=NO_ROIS)

    def with_min_person_height(self, min_person_height_px: float) -> FakeEstimator:
        return self


class FakeEngines(PoseEngines):
    """Engines whose estimator is a ``FakeEstimator``: nothing to load, batch or warm up."""

    def __init__(self, delay_s: float = 0.0, num_persons: int = 1) -> None:
        self.estimator = self.fake = FakeEstimator(delay_s, num_persons)

    @property
    def calls(self) -> int:
        return self.fake.calls

    async def start(self) -> None:
        """Nothing to load or warm up."""

    async def stop(self, drain_timeout_s: float = 5.0) -> None:
        """Nothing to release."""


def fake_persons(camera: Camera, num_persons: int = 1) -> FramePoses:
    """Persons 3 m in front of the camera, 1 m apart, joints on a 1.5 m tall line."""
    offsets = np.stack(
        [np.linspace(-0.3, 0.3, NUM_JOINTS), np.linspace(-0.75, 0.75, NUM_JOINTS)], axis=1
    )
    joints = np.concatenate([offsets, np.full((NUM_JOINTS, 1), 3.0)], axis=1)
    shifts = np.zeros((num_persons, 1, 3))
    shifts[:, 0, 0] = np.arange(num_persons) - (num_persons - 1) / 2
    joints_cam_m = joints[None] + shifts  # (N, J, 3)
    joints2d_px = camera.project(joints_cam_m)
    boxes_xyxy = np.concatenate([joints2d_px.min(1), joints2d_px.max(1)], axis=1)
    return FramePoses(
        skeleton="blazepose_33",
        boxes_xyxy=boxes_xyxy.astype(np.float32),
        scores=np.full(num_persons, 0.9, np.float32),
        joints2d_px=joints2d_px.astype(np.float32),
        joints_cam_m=joints_cam_m.astype(np.float32),
        joint_scores=np.full((num_persons, NUM_JOINTS), 0.9, np.float32),
    )


def png_bytes(
    width: int = 64, height: int = 48, color: tuple[int, int, int] = (0, 128, 0)
) -> bytes:
    image = np.zeros((height, width, 3), np.uint8)
    image[:] = color[::-1]  # BGR
    ok, encoded = cv2.imencode(".png", image)
    assert ok
    return encoded.tobytes()


def noise_png(width: int, height: int) -> bytes:
    """A PNG that does not compress (random pixels): about 3 bytes per pixel."""
    image = np.random.default_rng(1).integers(0, 255, (height, width, 3), dtype=np.uint8)
    ok, encoded = cv2.imencode(".png", image)
    assert ok
    return encoded.tobytes()


def jpeg_bytes(width: int = 64, height: int = 48) -> bytes:
    image = np.random.default_rng(0).integers(0, 255, (height, width, 3), dtype=np.uint8)
    ok, encoded = cv2.imencode(".jpg", image)
    assert ok
    return encoded.tobytes()


@dataclass
class RunningServer(LoopbackUrls):
    """A started server in this process: its URLs, app state and uvicorn server."""

    server: PosecastServer
    thread: threading.Thread
    port: int
    app: Any
    engines: Any = None

    @property
    def state(self) -> Any:
        return self.app.state.service

    def stop(self, timeout_s: float = 30.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout_s)
        assert not self.thread.is_alive(), "server did not stop"


@contextmanager
def running_server(
    settings: ServiceSettings,
    engines_builder: Callable[[ServiceSettings, BatcherObserver], PoseEngines] | None = None,
    port: int = 0,
) -> Iterator[RunningServer]:
    """Serve ``create_app(settings)`` on a loopback port (``port``, 0: a free one) in a
    thread."""
    app = create_app(settings) if engines_builder is None else create_app(settings, engines_builder)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    port = sock.getsockname()[1]
    server = PosecastServer(uvicorn_config(app, settings, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while not server.started:
        assert thread.is_alive(), "server failed to start"
        assert time.monotonic() < deadline, "server did not start in time"
        time.sleep(0.02)
    running = RunningServer(server, thread, port, app)
    try:
        yield running
    finally:
        if thread.is_alive():
            running.stop()
        sock.close()


def fake_settings(**overrides: Any) -> ServiceSettings:
    defaults: dict[str, Any] = {"drain_timeout_s": 5.0}
    return load_settings(**{**defaults, **overrides})


@contextmanager
def fake_server(
    engines: FakeEngines | None = None, port: int = 0, **overrides: Any
) -> Iterator[RunningServer]:
    """A server on ``engines`` (default: a fast ``FakeEngines``) with settings ``overrides``,
    on loopback ``port`` (0: a free one; a fixed one lets a test restart the server)."""
    engines = engines or FakeEngines()
    builder = lambda settings, observer: engines  # noqa: E731
    with running_server(fake_settings(**overrides), builder, port) as server:
        server.engines = engines
        yield server


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    """A fake-engine server without auth, shared by a test module."""
    with fake_server(max_streams=4) as running:
        yield running


@pytest.fixture(scope="session")
def serve() -> Callable[..., Any]:
    """``serve(engines=None, **settings)``: context manager of a fresh fake-engine server."""
    return fake_server


@pytest.fixture(scope="session")
def serve_settings() -> Callable[..., Any]:
    """``serve_settings(settings, engines_builder=None)``: context manager of a server on the
    given settings, with the real engines unless a builder is given."""
    return running_server


@pytest.fixture(scope="session")
def serve_process() -> Callable[..., Any]:
    """``serve_process(env=None, *args)``: context manager of a real ``posecast serve``
    process (real models) on loopback."""
    return server_process


@pytest.fixture(scope="session")
def fake_engines() -> type[FakeEngines]:
    return FakeEngines


@pytest.fixture(scope="session")
def images() -> SimpleNamespace:
    """Image makers: png(width, height, color), jpeg(width, height), noise_png(width, height);
    fail_color: the colour on which FakeEngines fails."""
    return SimpleNamespace(
        png=png_bytes, jpeg=jpeg_bytes, noise_png=noise_png, fail_color=FAIL_COLOR
    )
