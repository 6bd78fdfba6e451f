"""Fixed input shapes for engines that build for one shape (TensorRT): models whose height and
width are dynamic (the detectors) get them from ``RuntimeOptions.item_shapes``. Pure parts
only; the engines themselves need a GPU (test_tensorrt.py)."""

from __future__ import annotations

import numpy as np
import pytest

from posecast.engines.detectors.base import DetectorConfig
from posecast.engines.detectors.nanodet import NanoDetPersonDetector
from posecast.engines.detectors.yolox import YoloxPersonDetector
from posecast.engines.runtimes import BatchProfile, RuntimeOptions, TensorSpec
from posecast.engines.runtimes.base import fixed_item_shape
from posecast.engines.runtimes.engine_cache import EngineCacheKey
from posecast.engines.runtimes.onnx import tensorrt_ep_options
from posecast.errors import InvalidInputError, ModelError

TRT = RuntimeOptions(provider="tensorrt-ep", item_shapes=(("image", (384, 640, 3)),))


@pytest.mark.parametrize(
    "model_item_shape, options, expected",
    [
        ((256, 256, 3), RuntimeOptions(provider="tensorrt"), (256, 256, 3)),  # fixed model
        ((None, None, 3), TRT, (384, 640, 3)),  # onnxruntime's dynamic dims
        ((-1, -1, 3), TRT, (384, 640, 3)),  # TensorRT's dynamic dims
        ((384, 640, 3), TRT, (384, 640, 3)),  # given and fixed agree
    ],
)
def test_fixed_item_shape(model_item_shape, options, expected) -> None:
    assert fixed_item_shape("image", model_item_shape, options) == expected


@pytest.mark.parametrize(
    "model_item_shape, options, match",
    [
        ((None, None, 3), RuntimeOptions(provider="tensorrt"), "input_size_wh"),  # none given
        ((416, 416, 3), TRT, "the model has"),  # contradicts the model
        ((None, None), TRT, "the model has"),  # another rank
    ],
)
def test_fixed_item_shape_errors(model_item_shape, options, match) -> None:
    with pytest.raises(ModelError, match=match):
        fixed_item_shape("image", model_item_shape, options)


def test_tensorrt_ep_profile_fixes_the_dynamic_dims() -> None:
    options = RuntimeOptions(
        provider="tensorrt-ep", profile=BatchProfile(1, 4, 8), item_shapes=TRT.item_shapes
    )
    specs = (TensorSpec("image", (None, None, None, 3), np.dtype(np.float32)),)
    settings = tensorrt_ep_options(options, specs)
    assert settings["trt_profile_min_shapes"] == "image:1x384x640x3"
    assert settings["trt_profile_max_shapes"] == "image:8x384x640x3"


def test_item_shapes_are_part_of_the_engine_cache_key(tmp_path) -> None:
    key = EngineCacheKey(
        "ab" * 32, "10.3.0", "NVIDIA GeForce RTX 3090", (8, 6), "fp16", BatchProfile(1, 8, 16)
    )
    # Engines cached before the key held the build settings and the code version (and the
    # engine's hash in the sidecar) are not reused: the new key differs, so they are rebuilt.
    sized = EngineCacheKey(**{**key.__dict__, "item_shapes": TRT.item_shapes})
    assert sized.engine_path(tmp_path, "m") != key.engine_path(tmp_path, "m")


@pytest.mark.parametrize(
    "detector, item_shapes",
    [
        (NanoDetPersonDetector, (("image", (384, 640, 3)),)),  # NHWC
        (YoloxPersonDetector, (("images", (3, 384, 640)),)),  # NCHW
    ],
)
def test_detectors_give_tensorrt_their_input_size(detector, item_shapes) -> None:
    config = DetectorConfig(input_size_wh=(640, 384))
    cpu = RuntimeOptions(provider="cpu")
    assert detector.runtime_options(cpu, config) is cpu
    for provider in ("tensorrt", "tensorrt-ep"):
        options = detector.runtime_options(RuntimeOptions(provider=provider), config)
        assert options.item_shapes == item_shapes
        with pytest.raises(InvalidInputError, match="input_size_wh"):
            detector.runtime_options(RuntimeOptions(provider=provider), DetectorConfig())
