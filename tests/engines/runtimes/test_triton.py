"""The triton runtime's parts that need no server: model names, metadata to specs, the
sha256 check, options, and the lazy import (the server tests are in tests/deploy)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from posecast.engines.assets import file_sha256, model_path
from posecast.engines.runtimes import RuntimeOptions, create_runtime
from posecast.engines.runtimes.base import BACKENDS, PROVIDERS, TritonOptions
from posecast.engines.runtimes.triton import (
    SHA256_PARAMETER,
    check_model_sha256,
    tensor_specs,
    triton_model_name,
)
from posecast.errors import InvalidInputError, ModelError, ProviderUnavailableError


def test_triton_is_a_provider_imported_only_when_chosen() -> None:
    assert "triton" in PROVIDERS
    assert BACKENDS["triton"] == "posecast.engines.runtimes.triton:TritonRuntime"


def test_model_name_is_the_file_stem() -> None:
    assert triton_model_name(Path("/models/pose_landmark_full.onnx")) == "pose_landmark_full"


def test_metadata_to_specs() -> None:
    metadata = [
        {"name": "image", "datatype": "FP32", "shape": ["-1", "-1", "-1", "3"]},
        {"name": "mask", "datatype": "UINT8", "shape": [-1, 256, 256]},
    ]
    image, mask = tensor_specs(metadata, "m")
    assert (image.name, image.shape, image.dtype) == ("image", (None, None, None, 3), np.float32)
    assert (mask.shape, mask.dtype) == ((None, 256, 256), np.uint8)
    with pytest.raises(ModelError, match="BYTES"):
        tensor_specs([{"name": "text", "datatype": "BYTES", "shape": [-1]}], "m")


@pytest.mark.parametrize(
    ("parameters", "is_accepted"),
    [
        ({}, True),  # a repository not written by posecast's generator: nothing to compare
        ({SHA256_PARAMETER: {"string_value": "same"}}, True),
        ({SHA256_PARAMETER: {"string_value": "0" * 64}}, False),  # other weights
    ],
)
def test_sha256_check(parameters: dict, is_accepted: bool) -> None:
    path = model_path("pose_detection")
    if parameters.get(SHA256_PARAMETER, {}).get("string_value") == "same":
        parameters = {SHA256_PARAMETER: {"string_value": file_sha256(path)}}
    config = {"name": "pose_detection", "parameters": parameters}
    if is_accepted:
        check_model_sha256(config, path, "host:8001")
    else:
        with pytest.raises(ModelError, match="regenerate the model repository"):
            check_model_sha256(config, path, "host:8001")


def test_options_are_checked() -> None:
    assert RuntimeOptions(provider="triton").triton == TritonOptions()
    with pytest.raises(InvalidInputError):
        TritonOptions(timeout_s=0)


def test_missing_client_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tritonclient.grpc", None)  # import fails
    with pytest.raises(ProviderUnavailableError, match=r"posecast\[triton\]"):
        create_runtime(model_path("pose_detection"), RuntimeOptions(provider="triton"))
