"""The dependency-free ONNX reader against the onnx package, on every shipped model."""

from __future__ import annotations

import numpy as np
import pytest

from posecast.engines.assets import model_path, read_manifest
from posecast.engines.runtimes.onnx_graph import read_onnx
from posecast.errors import ModelError

onnx = pytest.importorskip("onnx")
from onnx import helper, numpy_helper  # noqa: E402

SHIPPED_MODELS = sorted(read_manifest())


@pytest.mark.parametrize("name", SHIPPED_MODELS)
def test_reader_agrees_with_the_onnx_package(name) -> None:
    path = model_path(name)
    graph = read_onnx(path)
    model = onnx.load(str(path))
    assert len(graph.nodes) == len(model.graph.node)
    for mine, theirs in zip(graph.nodes, model.graph.node, strict=True):
        assert (mine.op_type, mine.inputs, mine.outputs) == (
            theirs.op_type,
            tuple(theirs.input),
            tuple(theirs.output),
        )
        for attribute in theirs.attribute:
            want = helper.get_attribute_value(attribute)
            got = mine.attributes[attribute.name]
            if isinstance(want, float):
                assert got == pytest.approx(want, rel=1e-7)
            else:
                assert got == want
    initializers = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    assert set(graph.initializers) == set(initializers)
    for tensor_name, want in initializers.items():
        got = graph.initializers[tensor_name]
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_array_equal(got, want)
    assert [info.name for info in graph.outputs] == [info.name for info in model.graph.output]
    assert graph.opsets[""] == 17


def test_inputs_have_symbolic_and_fixed_dims() -> None:
    (image,) = read_onnx(model_path("nanodet_416")).inputs
    assert (image.name, image.shape, image.dtype) == ("image", ("N", "H", "W", 3), np.float32)


def test_tensor_encodings_and_negative_ints(tmp_path) -> None:
    """float_data / int64_data instead of raw_data, negative int64 (10-byte varints), and
    every attribute kind the reader decodes."""
    node = helper.make_node(
        "Custom",
        ["x", ""],
        ["y"],
        alpha=-0.5,
        count=-3,
        mode="DCR",
        perm=[0, -1, 2],
        scales=[1.0, 2.5],
        value=helper.make_tensor("v", onnx.TensorProto.FLOAT, [2], [1.5, -2.0]),
    )
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, ["N", 4])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, ["N", 4])],
        initializer=[
            helper.make_tensor("shape", onnx.TensorProto.INT64, [3], [0, -1, 12]),
            helper.make_tensor("w", onnx.TensorProto.FLOAT, [2, 2], [1.0, 2.0, 3.0, 4.0]),
            numpy_helper.from_array(np.arange(6, dtype=np.float16).reshape(2, 3), "h"),
        ],
    )
    path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph), str(path))
    read = read_onnx(path)
    np.testing.assert_array_equal(read.initializers["shape"], [0, -1, 12])
    np.testing.assert_array_equal(read.initializers["w"], [[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(read.initializers["h"], np.arange(6).reshape(2, 3))
    assert read.initializers["h"].dtype == np.float16
    attributes = read.nodes[0].attributes
    assert attributes["alpha"] == -0.5 and attributes["count"] == -3
    assert attributes["mode"] == b"DCR" and attributes["perm"] == [0, -1, 2]
    assert attributes["scales"] == [1.0, 2.5]
    np.testing.assert_array_equal(attributes["value"], [1.5, -2.0])
    assert read.nodes[0].inputs == ("x", "")


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "no graph"),
        (b"\x0a\xff\xff", "truncated"),  # a length that runs past the end
        (b"not an onnx file at all", "wire type|truncated|no graph"),
    ],
)
def test_broken_files_are_model_errors(tmp_path, content, message) -> None:
    path = tmp_path / "broken.onnx"
    path.write_bytes(content)
    with pytest.raises(ModelError, match=message):
        read_onnx(path)


def test_a_truncated_model_is_a_model_error(tmp_path) -> None:
    data = model_path("pose_landmark_lite").read_bytes()
    path = tmp_path / "half.onnx"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelError, match="truncated"):
        read_onnx(path)


def test_a_missing_file_is_a_model_error(tmp_path) -> None:
    with pytest.raises(ModelError, match="cannot read"):
        read_onnx(tmp_path / "none.onnx")
