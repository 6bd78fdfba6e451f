"""From settings to engines: the batch profile every model is built for is the batch the
batchers send, and the provider settings reach every runtime."""

from __future__ import annotations

from dataclasses import replace

import pytest

import posecast.engines.detectors.loading as detector_loading
import posecast.engines.estimator as estimator_module
from posecast.engines.runtimes import BatchProfile, RuntimeOptions
from posecast.engines.runtimes import create_runtime as real_create_runtime
from posecast.service.engines_factory import batcher_config, build_pose_engines, runtime_options
from posecast.service.settings import load_settings


class NullObserver:
    def on_batch(self, *args: object) -> None: ...

    def on_reject(self, *args: object) -> None: ...


@pytest.mark.parametrize("max_batch_size", [1, 8, 17, 64, 1024])
def test_profile_is_the_batchers_largest_batch(max_batch_size) -> None:
    settings = load_settings(max_batch_size=max_batch_size)
    profile = runtime_options(settings).profile
    batching = batcher_config(settings)
    assert profile == BatchProfile(1, max_batch_size, max_batch_size)
    assert batching.max_run_size == profile.max_batch
    assert max(batching.run_batch_sizes) <= profile.max_batch  # every warmed-up size fits
    assert min(batching.run_batch_sizes) >= profile.min_batch


def test_environment_reaches_the_runtime_options(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("POSECAST_MAX_BATCH_SIZE", "64")
    monkeypatch.setenv("POSECAST_PROVIDER", "torch")
    monkeypatch.setenv("POSECAST_FP16", "true")
    monkeypatch.setenv("POSECAST_CUDA_GRAPHS", "true")
    monkeypatch.setenv("POSECAST_ENGINE_CACHE_DIR", str(tmp_path))
    options = runtime_options(load_settings())
    assert options.profile.max_batch == 64
    assert (options.provider, options.fp16, options.cuda_graphs) == ("torch", True, True)
    assert options.engine_cache_dir == tmp_path


def test_every_model_is_loaded_with_the_settings_profile(monkeypatch) -> None:
    """A TensorRT service with batches of 32 and a 384 x 288 detector input: every model's
    runtime is asked for the profile 1..32, the detector also for its input shape. (The
    runtimes are then made on the CPU, where the models run the same.)"""
    asked: list[RuntimeOptions] = []

    def recording_create_runtime(path, options=None):
        asked.append(options)
        return real_create_runtime(path, replace(options, provider="cpu", intra_op_threads=1))

    monkeypatch.setattr(estimator_module, "create_runtime", recording_create_runtime)
    monkeypatch.setattr(detector_loading, "create_runtime", recording_create_runtime)
    settings = load_settings(provider="tensorrt", max_batch_size=32, detector_input="384x288")
    engines = build_pose_engines(settings, NullObserver())
    assert len(asked) == 3  # detector, landmark model, alignment detector
    assert all(options.profile == BatchProfile(1, 32, 32) for options in asked)
    assert all(options.provider == "tensorrt" for options in asked)
    detector_options = asked[0]
    assert detector_options.item_shapes == (("image", (288, 384, 3)),)
    assert engines._batching.max_batch_size == 32
