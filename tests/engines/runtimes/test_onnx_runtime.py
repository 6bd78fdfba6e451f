"""onnxruntime backend on the real shipped models."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

from posecast.engines.assets import model_path
from posecast.engines.runtimes import RuntimeOptions, create_runtime, warm_up
from posecast.errors import InvalidInputError, ModelError, ProviderUnavailableError


@pytest.fixture(scope="module")
def lite_runtime():
    with create_runtime(model_path("pose_landmark_lite"), RuntimeOptions(intra_op_threads=2)) as rt:
        yield rt


def test_specs_have_dynamic_batch_and_named_tensors(lite_runtime) -> None:
    (image,) = lite_runtime.inputs
    assert image.name == "image"
    assert image.shape == (None, 256, 256, 3)
    assert image.dtype == np.float32
    names = {spec.name for spec in lite_runtime.outputs}
    assert names == {"landmarks", "presence", "heatmap", "world_landmarks"}
    assert all(spec.shape[0] is None for spec in lite_runtime.outputs)


def test_batch_equals_single_runs(lite_runtime) -> None:
    rng = np.random.default_rng(0)
    batch = rng.random((3, 256, 256, 3), dtype=np.float32)
    together = lite_runtime.infer({"image": batch})
    for index in range(3):
        alone = lite_runtime.infer({"image": batch[index : index + 1]})
        for name, value in alone.items():
            np.testing.assert_allclose(together[name][index : index + 1], value, atol=1e-4)


@pytest.mark.parametrize(
    "bad_input",
    [
        np.zeros((1, 256, 256, 3), np.float64),  # wrong dtype
        np.zeros((1, 128, 128, 3), np.float32),  # wrong crop size
        np.zeros((256, 256, 3), np.float32),  # missing batch axis
    ],
)
def test_bad_inputs_are_clear_errors(lite_runtime, bad_input) -> None:
    with pytest.raises(InvalidInputError, match="image"):
        lite_runtime.infer({"image": bad_input})


def test_missing_input_is_an_error(lite_runtime) -> None:
    with pytest.raises(ModelError, match="missing input"):
        lite_runtime.infer({})


def test_warm_up_runs_every_batch_size(lite_runtime, monkeypatch) -> None:
    seen = []
    original = lite_runtime.infer
    monkeypatch.setattr(
        lite_runtime, "infer", lambda feeds: seen.append(len(feeds["image"])) or original(feeds)
    )
    warm_up(lite_runtime, [1, 2, 4])
    assert seen == [1, 2, 4]


@pytest.mark.parametrize("provider", ["cuda", "tensorrt-ep"])
def test_unavailable_provider_is_an_error_not_a_cpu_fallback(provider) -> None:
    if provider == "cuda" and "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("CUDA is available here")
    with pytest.raises(ProviderUnavailableError, match="not available"):
        create_runtime(model_path("pose_landmark_lite"), RuntimeOptions(provider=provider))


def test_unknown_provider_is_rejected() -> None:
    with pytest.raises(InvalidInputError, match="unknown provider"):
        RuntimeOptions(provider="tpu")  # type: ignore[arg-type]


def test_missing_model_file_is_a_model_error(tmp_path) -> None:
    with pytest.raises(ModelError, match="not found"):
        create_runtime(tmp_path / "absent.onnx")
