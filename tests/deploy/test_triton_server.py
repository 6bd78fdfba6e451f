"""The ``triton`` runtime against a real Triton server (PyTriton's bundled tritonserver on the
CPU, serving a repository from ``deploy/triton/make_repository.py``): the same outputs as
onnxruntime for every shipped model, Triton's dynamic batching visible in its own metrics, a
front end streaming through Triton like the in-process pipeline, and a dead or stalled
server as a clear error and a not-ready front end within bounded time, never a hang."""

from __future__ import annotations

import concurrent.futures
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from deploy_clip import assert_same_messages, clip_jpegs, in_process_messages, streamed_messages
from deploy_helpers import triton_server
from serve_process import free_port, server_process

from posecast.clients.client import PosecastClient
from posecast.engines.assets import model_path, read_manifest
from posecast.engines.runtimes import RuntimeOptions, create_runtime
from posecast.engines.runtimes.base import TritonOptions
from posecast.errors import ModelError, ProviderUnavailableError
from posecast.wire.messages import ErrorMessage, FrameMessage

pytestmark = [pytest.mark.triton, pytest.mark.slow]

SHIPPED_MODELS = sorted(read_manifest())
ITEM_SHAPES = {
    "nanodet_416": (320, 416, 3),
    "pose_detection": (224, 224, 3),
    "pose_landmark_full": (256, 256, 3),
    "pose_landmark_lite": (256, 256, 3),
}


def triton_options(url: str, **overrides: float) -> RuntimeOptions:
    return RuntimeOptions(provider="triton", triton=TritonOptions(url=url, **overrides))


@pytest.mark.parametrize("model", SHIPPED_MODELS)
def test_same_outputs_as_onnxruntime(triton, model: str) -> None:
    local = create_runtime(model_path(model), RuntimeOptions(intra_op_threads=1))
    with create_runtime(model_path(model), triton_options(triton.url)) as remote:
        assert [spec.name for spec in remote.inputs] == [spec.name for spec in local.inputs]
        assert [spec.name for spec in remote.outputs] == [spec.name for spec in local.outputs]
        rng = np.random.default_rng(7)
        # 1: one request; 5: one batch; 17: more than max_batch_size 8, three requests.
        for batch_size in (1, 5, 17):
            feeds = {"image": rng.random((batch_size, *ITEM_SHAPES[model]), dtype=np.float32)}
            got, want = remote.infer(feeds), local.infer(feeds)
            assert got.keys() == want.keys()
            for name in want:
                assert got[name].shape == want[name].shape
                np.testing.assert_allclose(got[name], want[name], rtol=1e-5, atol=1e-5)
            worst = max(float(np.max(np.abs(got[name] - want[name]))) for name in want)
            print(f"{model} batch {batch_size}: largest difference {worst:.2g}")


def test_dynamic_batching_shows_in_triton_metrics(triton) -> None:
    """Concurrent single-item requests from several clients run in fewer executions."""
    model = "pose_landmark_lite"
    runtimes = [create_runtime(model_path(model), triton_options(triton.url)) for _ in range(8)]
    crop = {"image": np.zeros((1, 256, 256, 3), np.float32)}
    before = triton.metrics()

    def client(runtime) -> None:
        for _ in range(6):
            runtime.infer(crop)

    with concurrent.futures.ThreadPoolExecutor(len(runtimes)) as pool:
        list(pool.map(client, runtimes))
    after = triton.metrics()
    for runtime in runtimes:
        runtime.close()

    def delta(metric: str) -> float:
        return after[(metric, model)] - before.get((metric, model), 0.0)

    requests, executions = delta("nv_inference_request_success"), delta("nv_inference_exec_count")
    print(f"{requests:g} requests from 8 clients ran in {executions:g} Triton executions")
    assert requests == 48
    assert delta("nv_inference_count") == 48  # items
    # Batches of more than one request: fewer executions than requests.
    assert executions < requests * 0.75, (requests, executions)


def test_front_end_through_triton_equals_in_process(triton) -> None:
    jpegs = clip_jpegs(8)
    # dns:///: the form of the Kubernetes manifests (round-robin over a headless Service).
    env = {"POSECAST_PROVIDER": "triton", "POSECAST_TRITON_URL": f"dns:///{triton.url}"}
    with server_process(env, ready_timeout_s=120) as serve:
        streamed = streamed_messages(serve.http_url, jpegs)
    expected = in_process_messages(jpegs)
    persons = sum(len(message.persons) for message in expected)
    assert persons >= len(jpegs)  # people found
    largest = assert_same_messages(streamed, expected)
    print(f"{len(jpegs)} frames, {persons} persons: same tracks, largest difference {largest:.1g}")


def test_no_server_is_a_clear_error_in_bounded_time() -> None:
    url = f"127.0.0.1:{free_port()}"  # nothing listens
    start = time.monotonic()
    with pytest.raises(ProviderUnavailableError, match=f"not available at {url}"):
        create_runtime(model_path("pose_landmark_lite"), triton_options(url, startup_timeout_s=2))
    assert time.monotonic() - start < 10


def test_front_end_without_triton_exits_with_a_clear_error() -> None:
    """Never ready: startup waits ``triton_startup_timeout_s``, then exits naming the server."""
    url = f"127.0.0.1:{free_port()}"
    env = {
        "POSECAST_PROVIDER": "triton",
        "POSECAST_TRITON_URL": url,
        "POSECAST_TRITON_STARTUP_TIMEOUT_S": "2",
    }
    command = [sys.executable, "-m", "posecast.clients.cli", "serve", "--port", str(free_port())]
    start = time.monotonic()
    result = subprocess.run(
        command, env={**os.environ, **env}, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert f"not available at {url}" in result.stdout + result.stderr
    assert time.monotonic() - start < 60


def test_dead_triton_makes_the_front_end_not_ready_without_hanging(
    pytriton_python: Path, triton_repository: Path
) -> None:
    jpegs = clip_jpegs(3)
    with triton_server(pytriton_python, triton_repository) as server:
        env = {"POSECAST_PROVIDER": "triton", "POSECAST_TRITON_URL": server.url}
        with (
            server_process(env, ready_timeout_s=120) as serve,
            PosecastClient(serve.http_url) as client,
        ):
            with client.stream(stream="cam", skeleton="smpl_24") as stream:
                stream.send(jpegs[0], frame_id=0, timestamp_s=0.0)
                assert isinstance(stream.recv(60), FrameMessage)

                server.kill()  # the Triton host is gone
                start = time.monotonic()
                status, body = serve.ready_status()
                assert (status, body["status"]) == (503, "backend_unavailable")
                assert server.url in body["detail"]
                stream.send(jpegs[1], frame_id=1, timestamp_s=0.1)
                reply = stream.recv(30)
                assert isinstance(reply, ErrorMessage), reply
                assert reply.code == "model_error" and not reply.is_fatal
                assert server.url in reply.message
                print(
                    f"Triton killed: not ready and a model_error frame after "
                    f"{time.monotonic() - start:.1f} s"
                )
                assert time.monotonic() - start < 15
            live = httpx.get(serve.http_url + "/v2/health/live", timeout=10)
            assert live.status_code == 200  # the process serves on: not ready, not dead


def test_stalled_triton_fails_requests_at_the_deadline_then_recovers(
    pytriton_python: Path, triton_repository: Path
) -> None:
    with triton_server(pytriton_python, triton_repository, models="pose_landmark_lite") as server:
        options = triton_options(server.url, timeout_s=2)
        with create_runtime(model_path("pose_landmark_lite"), options) as runtime:
            crop = {"image": np.zeros((1, 256, 256, 3), np.float32)}
            runtime.infer(crop)
            server.signal(signal.SIGSTOP)  # alive but answering nothing
            try:
                start = time.monotonic()
                with pytest.raises(ModelError, match=server.url):
                    runtime.infer(crop)
                waited_s = time.monotonic() - start
                print(f"stalled Triton: ModelError after {waited_s:.1f} s (deadline 2 s)")
                assert 1.5 < waited_s < 10
                assert runtime.health_problem() is not None
            finally:
                server.signal(signal.SIGCONT)
            # The server answers again: so do the runtime and its health check.
            assert runtime.infer(crop).keys() == {spec.name for spec in runtime.outputs}
            assert runtime.health_problem() is None
