"""The built images for real (marked ``docker``; ``deploy/test-images.sh`` builds the images
and runs these: about 5 minutes with warm layers, 2 of them these tests): docker-compose
brings the CPU image up to healthy, the sample clip streamed through the container on
loopback gives the in-process pipeline's skeletons; the images run as non-root with the
models baked in; the CPU image serves on a read-only root; the GPU image's CUDA libraries
all resolve and, without a GPU, it refuses the cuda provider clearly and serves on its CPU
provider.

Skipped unless ``POSECAST_DOCKER_TESTS=1`` (the script sets it): they need a Docker engine,
docker-compose and minutes, so they are not part of the default test run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator

import httpx
import pytest
from deploy_clip import assert_same_messages, clip_jpegs, in_process_messages, streamed_messages
from deploy_helpers import DEPLOY
from serve_process import free_port

pytestmark = [
    pytest.mark.docker,
    pytest.mark.slow,
    pytest.mark.skipif(
        os.environ.get("POSECAST_DOCKER_TESTS") != "1",
        reason="image tests run through deploy/test-images.sh (Docker engine, minutes)",
    ),
]

CPU_IMAGE = os.environ.get("POSECAST_IMAGE", "posecast:cpu")
GPU_IMAGE = os.environ.get("POSECAST_GPU_IMAGE", "posecast:gpu")
HEALTHY_TIMEOUT_S = 240.0
PROJECT = "posecast-test"


def docker(*args: str, timeout_s: float = 120.0) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout_s, check=False
    )


def image_exists(image: str) -> bool:
    return docker("image", "inspect", image).returncode == 0


def image_size_gb(image: str) -> float:
    return int(docker("image", "inspect", "--format", "{{.Size}}", image).stdout) / 1e9


def wait_healthy(container: str) -> float:
    """Seconds until Docker reports ``container`` healthy (its HEALTHCHECK on
    /v2/health/ready); fails with its logs if it stops or takes too long."""
    start = time.monotonic()
    while True:
        state = json.loads(docker("inspect", "--format", "{{json .State}}", container).stdout)
        if state["Health"]["Status"] == "healthy":
            return time.monotonic() - start
        logs = docker("logs", container)
        assert state["Running"], logs.stdout + logs.stderr
        assert time.monotonic() - start < HEALTHY_TIMEOUT_S, logs.stdout + logs.stderr
        time.sleep(1)


@pytest.fixture(scope="module")
def compose_stack() -> Iterator[int]:
    """``docker-compose up`` of deploy/docker-compose.yml on a free loopback port; the port
    once the container is healthy (its HEALTHCHECK on /v2/health/ready)."""
    if shutil.which("docker-compose") is None or not image_exists(CPU_IMAGE):
        pytest.fail(f"needs docker-compose and the image {CPU_IMAGE} (deploy/test-images.sh)")
    port = free_port()
    env = {
        **os.environ,
        "POSECAST_IMAGE": CPU_IMAGE,
        "POSECAST_PUBLISH_PORT": str(port),
        "POSECAST_THREADS": "2",
    }
    compose = ["docker-compose", "-p", PROJECT, "-f", str(DEPLOY / "docker-compose.yml")]
    subprocess.run([*compose, "up", "-d", "--no-build"], env=env, check=True, timeout=120)
    try:
        container = subprocess.run(
            [*compose, "ps", "-q", "posecast"], env=env, capture_output=True, text=True
        ).stdout.strip()
        print(f"docker-compose up: healthy after {wait_healthy(container):.0f} s")
        yield port
    finally:
        subprocess.run([*compose, "down", "-v", "--timeout", "30"], env=env, timeout=120)


def test_compose_stack_streams_the_clip_like_the_in_process_pipeline(compose_stack: int) -> None:
    http_url = f"http://127.0.0.1:{compose_stack}"
    assert httpx.get(http_url + "/v2/health/ready").json() == {"status": "ready"}
    jpegs = clip_jpegs()  # the whole clip: 150 frames
    start = time.monotonic()
    streamed = streamed_messages(http_url, jpegs)
    print(f"{len(jpegs)} frames through the container in {time.monotonic() - start:.1f} s")
    expected = in_process_messages(jpegs, threads=2)
    persons = sum(len(message.persons) for message in expected)
    assert persons > len(jpegs)  # people found
    largest = assert_same_messages(streamed, expected)
    print(f"{len(jpegs)} frames, {persons} persons: same tracks, largest difference {largest:.1g}")
    metrics = httpx.get(http_url + "/metrics").text
    assert f'posecast_frames_processed_total{{source="stream"}} {len(jpegs)}.0' in metrics


@pytest.mark.parametrize("image", [CPU_IMAGE, GPU_IMAGE])
def test_image_runs_as_non_root_with_the_models_baked_in(image: str) -> None:
    if not image_exists(image):
        pytest.skip(f"{image} not built")
    check = (
        "import os; from posecast.engines.assets import model_path, read_manifest; "
        "[model_path(name) for name in read_manifest()]; print(os.getuid())"
    )
    result = docker("run", "--rm", "--network", "none", image, "python3", "-c", check)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "10001"
    print(f"{image}: {image_size_gb(image):.2f} GB")


def test_gpu_image_libraries_resolve_but_the_driver() -> None:
    if not image_exists(GPU_IMAGE):
        pytest.skip(f"{GPU_IMAGE} not built")
    result = docker(
        "run", "--rm", "--network", "none", GPU_IMAGE,
        "python3", "/opt/posecast/bin/gpu_libraries.py", "check",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "libonnxruntime_providers_cuda.so: all libraries resolve" in result.stdout


def test_gpu_image_without_a_gpu_refuses_cuda_clearly() -> None:
    if not image_exists(GPU_IMAGE):
        pytest.skip(f"{GPU_IMAGE} not built")
    result = docker("run", "--rm", "--network", "none", GPU_IMAGE, timeout_s=180)
    assert result.returncode != 0
    assert "asked for CUDAExecutionProvider" in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("image", "options"),
    [
        # As the Kubernetes manifests run it: read-only root, a writable /tmp, no capability.
        (CPU_IMAGE, ("--read-only", "--tmpfs", "/tmp", "--cap-drop", "ALL")),
        # Everything of the GPU image but the GPU.
        (GPU_IMAGE, ("-e", "POSECAST_PROVIDER=cpu")),
    ],
)
def test_image_serves_the_clip(image: str, options: tuple[str, ...]) -> None:
    if not image_exists(image):
        pytest.skip(f"{image} not built")
    port = free_port()
    name = f"posecast-test-{port}"
    started = docker(
        "run", "-d", "--name", name, "-p", f"127.0.0.1:{port}:8000",
        "-e", "POSECAST_THREADS=2", *options, image,
    )  # fmt: skip
    assert started.returncode == 0, started.stderr
    try:
        print(f"{image} {' '.join(options)}: healthy after {wait_healthy(name):.0f} s")
        jpegs = clip_jpegs(3)
        assert len(streamed_messages(f"http://127.0.0.1:{port}", jpegs)) == 3
    finally:
        docker("rm", "-f", name)
