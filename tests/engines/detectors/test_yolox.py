"""YOLOX-Nano as a user-supplied detector: decoding, and the checks on the user's file (tiny
synthetic ONNX models with the official export's structure and with wrong signatures; the
real file is not in the repository)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from posecast.engines.assets import file_sha256
from posecast.engines.detectors import yolox
from posecast.engines.detectors.base import DetectorConfig
from posecast.engines.detectors.loading import load_detector
from posecast.engines.detectors.yolox import (
    DYNAMIC_FILE,
    SOURCE_FILE,
    YoloxPersonDetector,
    decode_yolox,
    load_yolox_nano,
    make_yolox_dynamic,
    prepare_yolox_nano,
)
from posecast.engines.estimator import EstimatorConfig
from posecast.engines.runtimes import RuntimeOptions, create_runtime
from posecast.errors import InvalidInputError, ModelError
from testdata import read_rgb

ONE_THREAD = RuntimeOptions(provider="cpu", intra_op_threads=1)


def yolox_output(canvas_hw: tuple[int, int]) -> np.ndarray:
    cells = sum((canvas_hw[0] // s) * (canvas_hw[1] // s) for s in (8, 16, 32))
    return np.zeros((cells, 85), np.float32)


@pytest.mark.parametrize(
    "canvas_hw, level, row, col",
    [
        ((416, 416), 0, 10, 20),  # stride 8, the export's own size
        ((544, 960), 1, 33, 59),  # stride 16, last cell of its grid
        ((384, 640), 2, 0, 0),  # stride 32, first cell of its grid
        ((32, 64), 2, 0, 1),  # a tiny canvas
    ],
)
def test_decoding_follows_the_grid_of_each_stride(canvas_hw, level, row, col) -> None:
    output = yolox_output(canvas_hw)
    strides = (8, 16, 32)
    start = sum((canvas_hw[0] // s) * (canvas_hw[1] // s) for s in strides[:level])
    stride = strides[level]
    index = start + row * (canvas_hw[1] // stride) + col
    output[index, :5] = [0.25, 0.5, np.log(4.0), np.log(8.0), 0.9]
    output[index, 5] = 0.8  # person
    output[index, 6] = 0.99  # another class: not a person
    boxes, scores = decode_yolox(output, canvas_hw, 0.5)
    centre = ((col + 0.25) * stride, (row + 0.5) * stride)
    half = (2.0 * stride, 4.0 * stride)
    expected = [centre[0] - half[0], centre[1] - half[1], centre[0] + half[0], centre[1] + half[1]]
    np.testing.assert_allclose(boxes, [expected], rtol=1e-5)
    np.testing.assert_allclose(scores, [0.72], rtol=1e-5)  # objectness x person score


def test_decoding_outputs_of_another_canvas_is_a_model_error() -> None:
    with pytest.raises(ModelError, match="cells"):
        decode_yolox(yolox_output((416, 416)), (416, 448), 0.5)


# -- synthetic models ------------------------------------------------------------------------


def synthetic_export(
    path: Path,
    input_name: str = "images",
    input_shape: tuple[int, ...] = (1, 3, 416, 416),
    values_per_cell: int = 85,
) -> Path:
    """An ONNX model built like the official export: per stride a pooled 1 x 1 conv to 85
    channels, Reshape to [1, 85, -1], concatenated and transposed to (1, cells, 85). All
    weights zero: every score is 0."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    is_channels_first = input_shape[1] == 3
    nodes, initializers, levels = [], [], []
    source = input_name
    if not is_channels_first:  # an NHWC model (wrong signature)
        nodes.append(helper.make_node("Transpose", [input_name], ["nchw"], perm=[0, 3, 1, 2]))
        source = "nchw"
    weight = np.zeros((values_per_cell, 3, 1, 1), np.float32)
    initializers.append(numpy_helper.from_array(weight, "weight"))
    initializers.append(numpy_helper.from_array(np.zeros(values_per_cell, np.float32), "bias"))
    for stride in (8, 16, 32):
        shape = np.array([1, values_per_cell, -1], np.int64)
        initializers.append(numpy_helper.from_array(shape, f"shape_{stride}"))
        nodes += [
            helper.make_node(
                "AveragePool",
                [source],
                [f"pool_{stride}"],
                kernel_shape=[stride, stride],
                strides=[stride, stride],
            ),
            helper.make_node("Conv", [f"pool_{stride}", "weight", "bias"], [f"conv_{stride}"]),
            helper.make_node("Reshape", [f"conv_{stride}", f"shape_{stride}"], [f"flat_{stride}"]),
        ]
        levels.append(f"flat_{stride}")
    nodes += [
        helper.make_node("Concat", levels, ["cells"], axis=2),
        helper.make_node("Transpose", ["cells"], ["output"], perm=[0, 2, 1]),
    ]
    height, width = input_shape[2:4] if is_channels_first else input_shape[1:3]
    cells = sum((height // s) * (width // s) for s in (8, 16, 32))
    graph = helper.make_graph(
        nodes,
        "synthetic_yolox",
        [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, list(input_shape))],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, cells, values_per_cell])],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)])
    model.ir_version = 7
    onnx.checker.check_model(model)
    onnx.save_model(model, str(path))
    return path


@pytest.fixture
def model_dir(tmp_path) -> Path:
    """A user's model directory holding a synthetic 'official' export."""
    synthetic_export(tmp_path / SOURCE_FILE)
    return tmp_path


@pytest.fixture
def known_synthetic(model_dir, monkeypatch) -> Path:
    """The synthetic export taken for the official file (its sha256 is 'known')."""
    monkeypatch.setattr(yolox, "SOURCE_SHA256", file_sha256(model_dir / SOURCE_FILE))
    return model_dir


def test_make_dynamic_patches_the_three_reshapes_and_runs_at_any_size(tmp_path) -> None:
    onnx = pytest.importorskip("onnx")
    model = onnx.load(str(synthetic_export(tmp_path / "export.onnx")))
    assert make_yolox_dynamic(model) == 3
    onnx.save_model(model, str(tmp_path / "dynamic.onnx"))
    runtime = create_runtime(tmp_path / "dynamic.onnx", ONE_THREAD)
    (output,) = runtime.infer({"images": np.zeros((2, 3, 544, 960), np.float32)}).values()
    assert output.shape == (2, 68 * 120 + 34 * 60 + 17 * 30, 85)


def test_prepare_refuses_a_file_that_is_not_the_official_export(model_dir) -> None:
    with pytest.raises(ModelError, match=r"sha256 [0-9a-f]{64}; posecast supports the official"):
        prepare_yolox_nano(model_dir)
    assert not (model_dir / DYNAMIC_FILE).exists()


@pytest.mark.parametrize(
    "export, found",
    [
        ({"input_name": "input"}, "input"),  # renamed input
        ({"input_shape": (1, 416, 416, 3)}, r"\(1, 416, 416, 3\)"),  # NHWC
        ({"values_per_cell": 84}, "84"),  # no objectness
    ],
)
def test_wrong_signatures_are_clear_errors(tmp_path, export, found) -> None:
    synthetic_export(tmp_path / SOURCE_FILE, **export)
    expected = r"expected one input images float32 \(N, 3, H, W\) and one output output"
    with pytest.raises(ModelError, match=f"{expected}.*found.*{found}"):
        prepare_yolox_nano(tmp_path)
    runtime = create_runtime(tmp_path / SOURCE_FILE, ONE_THREAD)
    with pytest.raises(ModelError, match=f"{expected}.*found.*{found}"):
        YoloxPersonDetector(runtime)


@pytest.mark.parametrize("content", [b"\x08\xff\xff", b"not an onnx file at all \xff\x00"])
def test_a_file_that_is_not_onnx_is_a_clear_error(tmp_path, content) -> None:
    pytest.importorskip("onnx")
    (tmp_path / SOURCE_FILE).write_bytes(content)
    with pytest.raises(ModelError, match=r"not an ONNX model|not a YOLOX-Nano model"):
        prepare_yolox_nano(tmp_path)


def test_prepare_then_load(known_synthetic) -> None:
    path = prepare_yolox_nano(known_synthetic)
    manifest = json.loads((known_synthetic / "manifest.json").read_text())
    entry = manifest["models"]["yolox_nano"]
    assert path.name == entry["file"] == DYNAMIC_FILE
    assert entry["source"]["sha256"] == yolox.SOURCE_SHA256
    assert entry["verification"]["max_abs_diff_vs_original_416"] == 0.0
    detector = load_detector("yolox-nano", known_synthetic, ONE_THREAD, DetectorConfig())
    assert isinstance(detector, YoloxPersonDetector)
    images = [read_rgb("vtest_frame000.jpg"), read_rgb("basketball1_left.jpg")]
    assert [len(boxes) for boxes in detector.detect(images)] == [0, 0]  # all-zero weights
    items = [
        {"images": detector.preprocess(image, detector.input_letterbox(image.shape[1::-1]))}
        for image in images
    ]
    for item, result in zip(items, detector.run_batch(items), strict=True):
        _, height, width = item["images"].shape
        cells = sum((height // s) * (width // s) for s in (8, 16, 32))
        assert result["output"].shape == (cells, 85)


def test_preparing_keeps_other_manifest_entries(known_synthetic) -> None:
    (known_synthetic / "manifest.json").write_text(json.dumps({"models": {"other": {"x": 1}}}))
    prepare_yolox_nano(known_synthetic)
    models = json.loads((known_synthetic / "manifest.json").read_text())["models"]
    assert set(models) == {"other", "yolox_nano"}


def test_loading_an_unprepared_directory_names_the_command(model_dir) -> None:
    with pytest.raises(ModelError, match="prepare-yolox"):
        load_yolox_nano(model_dir)


def test_loading_a_changed_file_is_a_clear_error(known_synthetic) -> None:
    path = prepare_yolox_nano(known_synthetic)
    path.write_bytes(path.read_bytes() + b"\0")
    with pytest.raises(ModelError, match="corrupted or replaced"):
        load_yolox_nano(known_synthetic)


def test_loading_from_a_missing_directory_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(ModelError, match="not found"):
        load_detector("yolox-nano", tmp_path / "nowhere")


def test_unknown_detector_names_are_rejected(tmp_path) -> None:
    with pytest.raises(InvalidInputError, match="unknown detector 'yolo'"):
        load_detector("yolo", tmp_path)
    with pytest.raises(ValueError, match="detector_model"):
        EstimatorConfig(detector_model="yolo")  # type: ignore[arg-type]
