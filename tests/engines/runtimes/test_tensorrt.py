"""TensorRT: the parts that run without a GPU, and GPU tests that skip cleanly here."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from posecast.engines.assets import model_path
from posecast.engines.runtimes import BatchProfile, RuntimeOptions, TensorSpec, create_runtime
from posecast.engines.runtimes.engine_cache import EngineCacheKey, timing_cache_path
from posecast.engines.runtimes.onnx import tensorrt_ep_options
from posecast.errors import InvalidInputError, ProviderUnavailableError


def _has_cuda_tensorrt() -> bool:
    if importlib.util.find_spec("tensorrt") is None or importlib.util.find_spec("torch") is None:
        return False
    import torch

    return bool(torch.cuda.is_available())


requires_gpu = pytest.mark.skipif(
    not _has_cuda_tensorrt(), reason="needs a CUDA GPU with tensorrt and torch installed"
)

KEY = EngineCacheKey(
    model_sha256="ab" * 32,
    tensorrt_version="10.3.0",
    gpu_name="NVIDIA GeForce RTX 3090",
    compute_capability=(8, 6),
    precision="fp16",
    profile=BatchProfile(1, 8, 16),
)


@pytest.mark.parametrize(
    "field, value",
    [
        ("model_sha256", "cd" * 32),  # another model
        ("tensorrt_version", "10.4.0"),  # engines do not carry over TensorRT versions
        ("gpu_name", "NVIDIA A100"),  # nor GPU models
        ("compute_capability", (8, 0)),
        ("precision", "fp32"),
        ("profile", BatchProfile(1, 8, 32)),  # a wider profile is another engine
    ],
)
def test_every_key_field_changes_the_engine_path(field, value, tmp_path) -> None:
    other = EngineCacheKey(**{**KEY.__dict__, field: value})
    assert other.engine_path(tmp_path, "m") != KEY.engine_path(tmp_path, "m")


def test_equal_keys_give_equal_paths(tmp_path) -> None:
    twin = EngineCacheKey(**KEY.__dict__)
    assert twin.engine_path(tmp_path, "pose") == KEY.engine_path(tmp_path, "pose")
    assert KEY.engine_path(tmp_path, "pose").name.startswith("pose-fp16-")


def test_sidecar_describes_the_engine(tmp_path) -> None:
    engine = KEY.engine_path(tmp_path, "pose")
    KEY.write_sidecar(engine)
    text = engine.with_suffix(".json").read_text()
    assert "RTX 3090" in text and "10.3.0" in text


def test_timing_cache_is_per_version_and_gpu(tmp_path) -> None:
    first = timing_cache_path(tmp_path, "10.3.0", "NVIDIA GeForce RTX 3090")
    assert first != timing_cache_path(tmp_path, "10.3.0", "NVIDIA A100")
    assert first != timing_cache_path(tmp_path, "10.4.0", "NVIDIA GeForce RTX 3090")
    assert " " not in first.name


@pytest.mark.parametrize(
    "profile, batch, fits",
    [
        (BatchProfile(1, 8, 16), 1, True),
        (BatchProfile(1, 8, 16), 16, True),
        (BatchProfile(1, 8, 16), 17, False),  # above max: must be split by the batcher
        (BatchProfile(2, 8, 16), 1, False),  # below min
    ],
)
def test_profile_batch_check(profile, batch, fits) -> None:
    if fits:
        profile.check_batch(batch)
    else:
        with pytest.raises(InvalidInputError, match="outside the engine profile"):
            profile.check_batch(batch)


@pytest.mark.parametrize("sizes", [(0, 1, 2), (4, 2, 8), (1, 9, 8)])
def test_invalid_profiles_are_rejected(sizes) -> None:
    with pytest.raises(ValueError, match="min <= opt <= max"):
        BatchProfile(*sizes)


def test_tensor_spec_shape_check() -> None:
    spec = TensorSpec("image", (None, 256, 256, 3), np.dtype(np.float32))
    spec.check(np.zeros((5, 256, 256, 3), np.float32))
    with pytest.raises(InvalidInputError, match=r"\(None, 256, 256, 3\)"):
        spec.check(np.zeros((5, 256, 255, 3), np.float32))


def test_tensorrt_ep_profile_covers_the_batch_range(tmp_path) -> None:
    options = RuntimeOptions(
        provider="tensorrt-ep", fp16=True, engine_cache_dir=tmp_path, profile=BatchProfile(1, 4, 8)
    )
    specs = (TensorSpec("image", (None, 256, 256, 3), np.dtype(np.float32)),)
    settings = tensorrt_ep_options(options, specs)
    assert settings["trt_profile_min_shapes"] == "image:1x256x256x3"
    assert settings["trt_profile_opt_shapes"] == "image:4x256x256x3"
    assert settings["trt_profile_max_shapes"] == "image:8x256x256x3"
    assert settings["trt_fp16_enable"] == "true"
    assert settings["trt_engine_cache_path"] == str(tmp_path)


@pytest.mark.skipif(_has_cuda_tensorrt(), reason="this machine has the GPU stack")
def test_native_tensorrt_without_gpu_stack_is_a_clear_error() -> None:
    with pytest.raises(ProviderUnavailableError, match="tensorrt"):
        create_runtime(model_path("pose_landmark_lite"), RuntimeOptions(provider="tensorrt"))


@pytest.mark.gpu
@requires_gpu
@pytest.mark.parametrize("fp16", [False, True])
def test_native_tensorrt_matches_onnxruntime(tmp_path: Path, fp16: bool) -> None:
    path = model_path("pose_landmark_lite")
    options = RuntimeOptions(
        provider="tensorrt", fp16=fp16, engine_cache_dir=tmp_path, profile=BatchProfile(1, 4, 8)
    )
    crops = np.random.default_rng(0).random((4, 256, 256, 3), dtype=np.float32)
    with create_runtime(path, options) as trt_runtime, create_runtime(path) as cpu_runtime:
        got = trt_runtime.infer({"image": crops})["landmarks"]
        want = cpu_runtime.infer({"image": crops})["landmarks"]
    tolerance_px = 1.0 if fp16 else 0.05
    assert np.abs(got - want).max() < tolerance_px
    assert list(tmp_path.glob("*.engine")), "the engine was not cached"
