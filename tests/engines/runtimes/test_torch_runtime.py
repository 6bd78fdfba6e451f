"""The torch provider on the CPU against onnxruntime CPU: every shipped model, and each
translated operator on small synthetic graphs.

Tolerances (max |torch - onnxruntime| on the reference inputs, FP32; both run float32
kernels that differ only in summation order), with what was measured on the four reference
inputs (torch 2.13 CPU, onnxruntime 1.32, this repository's CPU machine):

| model | output | tolerance | measured |
|---|---|---|---|
| landmark full / lite | landmarks (crop px of 256; z; logits) | 0.05 | 7.8e-4 / 5.6e-4 |
| landmark full / lite | world_landmarks (m) | 5e-4 (0.5 mm) | 2.9e-6 / 2.9e-6 |
| landmark full / lite | heatmap (logits) | 0.01 | 1.7e-4 / 3.8e-4 |
| landmark full / lite | presence (probability) | 1e-4 | 0 / 2.2e-6 |
| pose_detection | box_regressors (px of 224) / scores (logits) | 0.01 / 0.01 | 1.5e-3 / 2.4e-4 |
| nanodet_416 | scores (probabilities) / box_dist (logits) | 1e-4 / 1e-3 | 5.4e-7 / 1.1e-5 |

FP16 (weights and activations in half precision, on the CPU here) is checked on the landmark
models' metric skeleton: within 20 mm of FP32 per joint (measured: full 12.0 mm max, 4.1 mm
mean; lite 7.6 / 2.1 mm; BlazePose's own error is ~50 mm).
"""

from __future__ import annotations

import numpy as np
import pytest

from posecast.engines.assets import model_path
from posecast.engines.runtimes import BatchProfile, RuntimeOptions, create_runtime
from posecast.errors import ModelError, ProviderUnavailableError

torch = pytest.importorskip("torch")
from gpu_check import LANDMARK_MODELS, REFERENCE, model_inputs, skeleton_error_mm  # noqa: E402

CPU = RuntimeOptions(provider="cpu", intra_op_threads=2)
TORCH_CPU = RuntimeOptions(provider="torch-cpu", intra_op_threads=1)

TOLERANCES = {
    "landmarks": 0.05,
    "world_landmarks": 5e-4,
    "heatmap": 0.01,
    "presence": 1e-4,
    "box_regressors": 0.01,
    "scores": 0.01,
    "scores_8": 1e-4,
    "scores_16": 1e-4,
    "scores_32": 1e-4,
    "box_dist_8": 1e-3,
    "box_dist_16": 1e-3,
    "box_dist_32": 1e-3,
}


@pytest.fixture(scope="module")
def reference() -> dict[str, np.ndarray]:
    with np.load(REFERENCE) as stored:
        return dict(stored)


@pytest.mark.parametrize(
    "model", ["pose_landmark_full", "pose_landmark_lite", "pose_detection", "nanodet_416"]
)
def test_torch_matches_onnxruntime_on_every_shipped_model(model, reference) -> None:
    """Real inputs: person crops and a frame of the sample clip (gpu_check's reference)."""
    inputs = {"image": model_inputs(reference, model)[:2]}
    with create_runtime(model_path(model), CPU) as ort_runtime:
        want = ort_runtime.infer(inputs)
    with create_runtime(model_path(model), TORCH_CPU) as torch_runtime:
        assert [spec.name for spec in torch_runtime.outputs] == list(want)
        got = torch_runtime.infer(inputs)
    for name, value in want.items():
        assert got[name].shape == value.shape and got[name].dtype == np.float32
        difference = float(np.abs(got[name] - value).max())
        assert difference <= TOLERANCES[name], f"{model}/{name}: {difference}"


def test_torch_specs_are_the_models(reference) -> None:
    with create_runtime(model_path("nanodet_416"), TORCH_CPU) as runtime:
        (image,) = runtime.inputs
        assert (image.name, image.shape, image.dtype) == (
            "image",
            (None, None, None, 3),
            np.float32,
        )
        assert runtime.outputs[0].shape == (None, None, 80)


def test_torch_chunks_to_the_profile(reference) -> None:
    """Batches over the profile's max run in chunks: the same outputs as onnxruntime's one
    call (here a profile of 2 and batches of 1, 2, 3, 5 crops)."""
    crops = np.resize(model_inputs(reference, "pose_detection"), (5, 224, 224, 3))
    options = RuntimeOptions(provider="torch-cpu", profile=BatchProfile(1, 2, 2))
    with (
        create_runtime(model_path("pose_detection"), CPU) as ort_runtime,
        create_runtime(model_path("pose_detection"), options) as torch_runtime,
    ):
        seen: list[int] = []
        module = torch_runtime._module
        torch_runtime._module = lambda *inputs: seen.append(len(inputs[0])) or module(*inputs)
        for size in (1, 2, 3, 5):
            got = torch_runtime.infer({"image": crops[:size]})
            want = ort_runtime.infer({"image": crops[:size]})
            for name, value in want.items():
                np.testing.assert_allclose(got[name], value, rtol=0, atol=TOLERANCES[name])
        assert max(seen) == 2


def test_an_empty_batch_gives_empty_outputs() -> None:
    with create_runtime(model_path("pose_landmark_lite"), TORCH_CPU) as runtime:
        outputs = runtime.infer({"image": np.zeros((0, 256, 256, 3), np.float32)})
    assert outputs["heatmap"].shape == (0, 64, 64, 39)
    assert outputs["landmarks"].shape == (0, 195)


@pytest.mark.slow
@pytest.mark.parametrize("model", LANDMARK_MODELS)
def test_fp16_skeleton_stays_within_20_mm_of_fp32(model, reference) -> None:
    crops = {"image": model_inputs(reference, model)[:2]}
    with create_runtime(model_path(model), TORCH_CPU) as fp32:
        want = fp32.infer(crops)
    fp16_options = RuntimeOptions(provider="torch-cpu", fp16=True)
    with create_runtime(model_path(model), fp16_options) as fp16:
        got = fp16.infer(crops)
    assert got["world_landmarks"].dtype == np.float32
    assert skeleton_error_mm(got["world_landmarks"], want["world_landmarks"])["max"] < 20.0
    assert np.abs(got["presence"] - want["presence"]).max() < 0.01


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")
def test_torch_without_cuda_is_a_clear_error() -> None:
    with pytest.raises(ProviderUnavailableError, match="torch-cpu"):
        create_runtime(model_path("pose_landmark_lite"), RuntimeOptions(provider="torch"))


def test_cuda_graphs_need_cuda() -> None:
    options = RuntimeOptions(provider="torch-cpu", cuda_graphs=True)
    with pytest.raises(ModelError, match="cuda_graphs"):
        create_runtime(model_path("pose_landmark_lite"), options)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("cuda_graphs", [False, True])
def test_torch_cuda_matches_onnxruntime(reference, cuda_graphs) -> None:
    """Not executed yet (no CUDA host so far): FP32 on the GPU (TF32 convolutions allowed, as
    torch's default) against onnxruntime CPU, batches 1, 3 (padded to 4 with graphs), 4."""
    crops = model_inputs(reference, "pose_landmark_full")
    options = RuntimeOptions(provider="torch", cuda_graphs=cuda_graphs)
    with (
        create_runtime(model_path("pose_landmark_full"), CPU) as ort_runtime,
        create_runtime(model_path("pose_landmark_full"), options) as gpu_runtime,
    ):
        for size in (1, 3, 4, 3):
            got = gpu_runtime.infer({"image": crops[:size]})
            want = ort_runtime.infer({"image": crops[:size]})
            error = skeleton_error_mm(got["world_landmarks"], want["world_landmarks"])
            assert error["max"] < 2.0
            assert np.abs(got["landmarks"] - want["landmarks"]).max() < 0.5


# -- operators on synthetic graphs -----------------------------------------------------------

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402


def _run_both(tmp_path, nodes, input_shape, output_name, initializers=(), x=None):
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", *input_shape[1:]])],
        [helper.make_tensor_value_info(output_name, TensorProto.FLOAT, None)],
        initializer=[numpy_helper.from_array(value, name) for name, value in initializers],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path = tmp_path / "m.onnx"
    onnx.save(model, str(path))
    if x is None:
        x = np.random.default_rng(0).standard_normal(input_shape).astype(np.float32)
    with create_runtime(path, CPU) as ort_runtime, create_runtime(path, TORCH_CPU) as runtime:
        return runtime.infer({"x": x})[output_name], ort_runtime.infer({"x": x})[output_name]


I64 = np.int64
F32 = np.float32


@pytest.mark.parametrize(
    "node, initializers, shape",
    [
        # DepthToSpace: both channel orders
        (helper.make_node("DepthToSpace", ["x"], ["y"], blocksize=2), (), (2, 8, 3, 4)),
        (
            helper.make_node("DepthToSpace", ["x"], ["y"], blocksize=2, mode="CRD"),
            (),
            (2, 8, 3, 4),
        ),
        # Resize: bilinear up and down (half_pixel), align_corners, nearest asymmetric floor
        (
            helper.make_node(
                "Resize",
                ["x", "", "s"],
                ["y"],
                mode="linear",
                coordinate_transformation_mode="half_pixel",
            ),
            [("s", np.array([1, 1, 2, 2], F32))],
            (1, 3, 5, 7),
        ),
        (
            helper.make_node("Resize", ["x", "", "s"], ["y"], mode="linear"),
            [("s", np.array([1, 1, 0.5, 0.5], F32))],
            (1, 3, 8, 6),
        ),
        (
            helper.make_node(
                "Resize",
                ["x", "", "", "z"],
                ["y"],
                mode="linear",
                coordinate_transformation_mode="align_corners",
            ),
            [("z", np.array([1, 3, 9, 5], I64))],
            (1, 3, 4, 3),
        ),
        (
            helper.make_node(
                "Resize",
                ["x", "", "s"],
                ["y"],
                mode="nearest",
                coordinate_transformation_mode="asymmetric",
                nearest_mode="floor",
            ),
            [("s", np.array([1, 1, 2, 3], F32))],
            (1, 2, 3, 3),
        ),
        # Pad: constant with a value, edge, reflect; pads on H and W of NHWC
        (
            helper.make_node("Pad", ["x", "p", "v"], ["y"]),
            [("p", np.array([0, 1, 2, 0, 0, 2, 1, 0], I64)), ("v", np.array(-np.inf, F32))],
            (1, 4, 5, 3),
        ),
        (
            helper.make_node("Pad", ["x", "p"], ["y"], mode="edge"),
            [("p", np.array([0, 0, 1, 2, 0, 0, 2, 1], I64))],
            (1, 2, 4, 5),
        ),
        (
            helper.make_node("Pad", ["x", "p"], ["y"], mode="reflect"),
            [("p", np.array([0, 0, 1, 2, 0, 0, 2, 1], I64))],
            (1, 2, 4, 5),
        ),
        # MaxPool with pads, strides and ceil mode
        (
            helper.make_node(
                "MaxPool", ["x"], ["y"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]
            ),
            (),
            (2, 3, 7, 8),
        ),
        (
            helper.make_node(
                "MaxPool", ["x"], ["y"], kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1
            ),
            (),
            (1, 2, 5, 5),
        ),
        # Reshape with 0 (copy) and -1, Transpose, Clip, LeakyRelu, Sigmoid
        (
            helper.make_node("Reshape", ["x", "s"], ["y"]),
            [("s", np.array([0, -1, 6], I64))],
            (3, 4, 3, 2),
        ),
        (helper.make_node("Transpose", ["x"], ["y"], perm=[0, 2, 3, 1]), (), (2, 3, 4, 5)),
        (
            helper.make_node("Clip", ["x", "lo", "hi"], ["y"]),
            [("lo", np.array(0.0, F32)), ("hi", np.array(6.0, F32))],
            (2, 10),
        ),
        (helper.make_node("Clip", ["x", "", "hi"], ["y"]), [("hi", np.array(0.5, F32))], (2, 10)),
        (helper.make_node("LeakyRelu", ["x"], ["y"], alpha=0.1), (), (2, 10)),
        (helper.make_node("Sigmoid", ["x"], ["y"]), (), (2, 10)),
        (helper.make_node("Relu", ["x"], ["y"]), (), (2, 10)),
        # Binary ops with a broadcast constant
        (helper.make_node("Add", ["x", "c"], ["y"]), [("c", np.arange(5, dtype=F32))], (2, 5)),
        (helper.make_node("Mul", ["c", "x"], ["y"]), [("c", np.arange(5, dtype=F32))], (2, 5)),
    ],
)
def test_each_operator_matches_onnxruntime(tmp_path, node, initializers, shape) -> None:
    got, want = _run_both(tmp_path, [node], shape, "y", initializers)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "pads, conv_pads",
    [
        ([0, 0, 1, 1, 0, 0, 1, 1], None),  # symmetric: folded into the Conv
        ([0, 0, 0, 0, 0, 0, 1, 1], None),  # asymmetric (TF "SAME" with stride 2): folded too
        ([0, 0, 1, 1, 0, 0, 1, 1], [1, 1, 1, 1]),  # the Conv pads itself: not folded
    ],
)
def test_pad_conv_pairs_match_onnxruntime(tmp_path, pads, conv_pads) -> None:
    rng = np.random.default_rng(1)
    conv_attributes = {"kernel_shape": [3, 3], "strides": [2, 2], "group": 2}
    if conv_pads is not None:
        conv_attributes["pads"] = conv_pads
    nodes = [
        helper.make_node("Pad", ["x", "p"], ["padded"]),
        helper.make_node("Conv", ["padded", "w", "b"], ["y"], **conv_attributes),
    ]
    initializers = [
        ("p", np.array(pads, I64)),
        ("w", rng.standard_normal((4, 2, 3, 3)).astype(F32)),
        ("b", rng.standard_normal(4).astype(F32)),
    ]
    got, want = _run_both(tmp_path, nodes, (2, 4, 9, 8), "y", initializers)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_split_and_concat_match_onnxruntime(tmp_path) -> None:
    nodes = [
        helper.make_node("Split", ["x", "sizes"], ["a", "b"], axis=1),
        helper.make_node("Concat", ["b", "a"], ["y"], axis=1),
    ]
    got, want = _run_both(tmp_path, nodes, (2, 7, 3), "y", [("sizes", np.array([3, 4], I64))])
    np.testing.assert_array_equal(got, want)


def test_an_untranslated_operator_is_refused_at_load(tmp_path) -> None:
    node = helper.make_node("Softplus", ["x"], ["y"])
    with pytest.raises(ModelError, match="Softplus"):
        _run_both(tmp_path, [node], (1, 3), "y")


def test_a_non_constant_shape_is_refused_at_load(tmp_path) -> None:
    nodes = [
        helper.make_node("Shape", ["x"], ["s"]),
        helper.make_node("Reshape", ["x", "s"], ["y"]),
    ]
    with pytest.raises(ModelError, match="Shape"):
        _run_both(tmp_path, nodes, (1, 3), "y")


def test_concurrent_calls_from_stream_threads_give_each_its_own_result(reference) -> None:
    """Direct mode: one runtime shared by several stream threads (the runtime locks)."""
    from concurrent.futures import ThreadPoolExecutor

    crops = model_inputs(reference, "pose_detection")
    with create_runtime(model_path("pose_detection"), TORCH_CPU) as runtime:
        alone = [runtime.infer({"image": crops[i : i + 1]})["scores"] for i in range(4)]
        with ThreadPoolExecutor(4) as pool:
            together = list(
                pool.map(lambda i: runtime.infer({"image": crops[i : i + 1]})["scores"], range(4))
            )
    for want, got in zip(alone, together, strict=True):
        np.testing.assert_array_equal(got, want)
