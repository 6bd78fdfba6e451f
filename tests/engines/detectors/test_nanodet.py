"""NanoDet: decoding at any input size, the dynamic model against the old fixed-416 one, batches
of frames of different sizes, and real images."""

from __future__ import annotations

import json

import numpy as np
import pytest

from posecast.engines.detectors.base import DetectorConfig
from posecast.engines.detectors.letterbox import (
    crop_grid_cells,
    letterbox_to_canvas,
    pad_bottom_right,
)
from posecast.engines.detectors.nanodet import (
    DISTRIBUTION_BINS,
    STRIDES_PX,
    NanoDetPersonDetector,
    decode_nanodet,
)
from posecast.engines.geometry.boxes import box_iou
from posecast.engines.runtimes import TensorSpec
from posecast.errors import InvalidInputError, ModelError
from testdata import DATA_DIR, read_rgb

REFERENCE = json.loads((DATA_DIR / "detectors" / "nanodet_416_reference.json").read_text())


def hot_cell_outputs(
    canvas_hw: tuple[int, int], stride: int, row: int, col: int, bins_ltrb: tuple[int, ...]
) -> dict[str, np.ndarray]:
    """Zero scores except one person cell; its four sides one-hot at the given bins."""
    outputs = {}
    for s in STRIDES_PX:
        cells = (canvas_hw[0] // s) * (canvas_hw[1] // s)
        outputs[f"scores_{s}"] = np.zeros((cells, 80), np.float32)
        outputs[f"box_dist_{s}"] = np.zeros((cells, 4 * DISTRIBUTION_BINS), np.float32)
    index = row * (canvas_hw[1] // stride) + col
    outputs[f"scores_{stride}"][index, 0] = 0.9
    logits = np.full((4, DISTRIBUTION_BINS), -50.0, np.float32)
    logits[np.arange(4), bins_ltrb] = 50.0
    outputs[f"box_dist_{stride}"][index] = logits.reshape(-1)
    return outputs


@pytest.mark.parametrize(
    "canvas_hw, stride, row, col",
    [
        ((416, 416), 8, 20, 30),  # the training size
        ((544, 960), 16, 30, 55),  # 1080p input: wide, rows != cols
        ((384, 640), 32, 11, 19),  # last cell of the stride-32 grid
        ((32, 32), 32, 0, 0),  # one stride-32 cell
        ((288, 384), 8, 35, 0),  # first column
    ],
)
def test_decoding_puts_a_cell_at_its_place_on_any_canvas(canvas_hw, stride, row, col) -> None:
    bins = (1, 2, 3, 4)
    boxes, scores = decode_nanodet(
        hot_cell_outputs(canvas_hw, stride, row, col, bins), canvas_hw, 0.5
    )
    centre = ((col + 0.5) * stride, (row + 0.5) * stride)
    expected = [
        centre[0] - bins[0] * stride,
        centre[1] - bins[1] * stride,
        centre[0] + bins[2] * stride,
        centre[1] + bins[3] * stride,
    ]
    np.testing.assert_allclose(boxes, [expected], atol=1e-3)
    np.testing.assert_allclose(scores, [0.9])


def test_decoding_outputs_of_another_canvas_is_a_model_error() -> None:
    outputs = hot_cell_outputs((416, 416), 8, 0, 0, (1, 1, 1, 1))
    with pytest.raises(ModelError, match="cells"):
        decode_nanodet(outputs, (416, 448), 0.5)


def reference_item(detector: NanoDetPersonDetector) -> np.ndarray:
    image = read_rgb(REFERENCE["image"])
    letterbox = letterbox_to_canvas((image.shape[1], image.shape[0]), (416, 416), 32)
    return detector.preprocess(image, letterbox)


def test_dynamic_model_equals_the_old_fixed_model_at_416(detector) -> None:
    outputs = {
        name: value[0]
        for name, value in detector.runtime.infer({"image": reference_item(detector)[None]}).items()
    }
    for name, total in REFERENCE["output_sum"].items():
        assert outputs[name].astype(np.float64).sum() == pytest.approx(total, rel=1e-5, abs=1e-3)
        assert outputs[name].max() == pytest.approx(REFERENCE["output_max"][name], abs=1e-5)
    np.testing.assert_allclose(outputs["scores_32"][:, 0], REFERENCE["person_scores_32"], atol=1e-5)
    boxes, scores = decode_nanodet(outputs, (416, 416), 0.35)
    order = np.argsort(-scores)
    np.testing.assert_allclose(scores[order], REFERENCE["candidate_scores"], atol=1e-5)
    np.testing.assert_allclose(boxes[order], REFERENCE["candidates_xyxy"], atol=1e-3)


def strong_boxes(detector, outputs, canvas_hw, min_score=0.45):
    boxes, scores = decode_nanodet(outputs, canvas_hw, min_score)
    return detector.suppress(boxes, scores)


@pytest.mark.parametrize("canvas_wh", [(448, 416), (416, 480), (512, 512), (960, 544)])
def test_a_416_input_padded_into_larger_canvases_decodes_the_same(detector, canvas_wh) -> None:
    item = reference_item(detector)
    (alone,) = [
        strong_boxes(detector, {k: v[0] for k, v in out.items()}, (416, 416))
        for out in [detector.runtime.infer({"image": item[None]})]
    ]
    canvas_hw = (canvas_wh[1], canvas_wh[0])
    padded = pad_bottom_right(item, canvas_hw, detector.pad_value)
    outputs = detector.runtime.infer({"image": padded[None]})
    cut = {
        name: crop_grid_cells(value[0], canvas_hw, (416, 416), detector.output_strides(name))
        for name, value in outputs.items()
    }
    together = strong_boxes(detector, cut, (416, 416))
    assert_same_persons(alone, together)


def assert_same_persons(expected, actual, max_shift_px: float = 3.0) -> None:
    """Every confident box (score > 0.5) is found again within a few pixels; padding moves
    scores by up to ~0.03, so boxes near the threshold may come or go."""
    iou = box_iou(expected.boxes_xyxy, actual.boxes_xyxy)
    for row in np.flatnonzero(expected.scores > 0.5):
        column = int(np.argmax(iou[row]))
        assert iou[row, column] > 0.9
        shift = np.abs(expected.boxes_xyxy[row] - actual.boxes_xyxy[column]).max()
        assert shift < max_shift_px
        assert abs(expected.scores[row] - actual.scores[column]) < 0.05
    assert np.sum(actual.scores > 0.55) <= np.sum(expected.scores > 0.5)


def test_frames_of_different_sizes_batch_at_their_common_canvas(detector) -> None:
    images = [
        read_rgb("vtest_frame300.jpg"),  # 768 x 576
        read_rgb("messi5.jpg"),  # 548 x 342
        read_rgb("basketball1_left.jpg"),  # 330 x 480, portrait
    ]
    batched = detector.detect(images)
    for image, together in zip(images, batched, strict=True):
        (alone,) = detector.detect([image])
        assert_same_persons(alone, together)


def test_run_batch_pads_items_and_gives_each_its_own_canvas(detector) -> None:
    images = [read_rgb("vtest_frame000.jpg"), read_rgb("basketball2_left.jpg")]
    letterboxes = [detector.input_letterbox((im.shape[1], im.shape[0])) for im in images]
    assert letterboxes[0].canvas_size_wh != letterboxes[1].canvas_size_wh
    items = [
        {"image": detector.preprocess(im, lb)} for im, lb in zip(images, letterboxes, strict=True)
    ]
    results = detector.run_batch(items)
    for item, letterbox, result in zip(items, letterboxes, results, strict=True):
        single = detector.runtime.infer({"image": item["image"][None]})
        for name, value in single.items():
            assert result[name].shape == value[0].shape
        canvas_hw = letterbox.canvas_shape_hw
        assert_same_persons(
            strong_boxes(detector, {k: v[0] for k, v in single.items()}, canvas_hw),
            strong_boxes(detector, result, canvas_hw),
        )


def test_run_batch_refuses_a_canvas_off_the_stride(detector) -> None:
    with pytest.raises(InvalidInputError, match="multiples of 32"):
        detector.run_batch([{"image": np.zeros((100, 64, 3), np.float32)}])
    with pytest.raises(InvalidInputError, match="without input"):
        detector.run_batch([{"pixels": np.zeros((64, 64, 3), np.float32)}])


@pytest.mark.parametrize(
    "image_name, persons",
    [
        ("vtest_frame000.jpg", 3),  # hand-counted, tests/data/images/README.md
        ("vtest_frame300.jpg", 6),
        ("vtest_frame450.jpg", 3),
        ("basketball1_left.jpg", 1),
    ],
)
def test_finds_the_hand_counted_persons(detector, image_name, persons) -> None:
    (boxes,) = detector.detect([read_rgb(image_name)])
    # At most one extra low-score box (a traffic cone, a shadow); BlazePose's presence check
    # removes it (tests/engines/test_estimator.py counts persons end to end).
    assert persons <= len(boxes) <= persons + 1
    assert np.sum(boxes.scores > 0.5) == persons
    heights = boxes.boxes_xyxy[:, 3] - boxes.boxes_xyxy[:, 1]
    widths = boxes.boxes_xyxy[:, 2] - boxes.boxes_xyxy[:, 0]
    assert np.all(heights[boxes.scores > 0.5] > widths[boxes.scores > 0.5])
    assert np.all((boxes.scores >= 0.35) & (boxes.scores <= 1.0))


def test_boxes_are_in_image_pixels_at_any_input_size(detector_runtime) -> None:
    image = read_rgb("vtest_frame300.jpg")
    sizes = [(416, 320), (768, 576), (640, 480)]
    results = [
        NanoDetPersonDetector(detector_runtime, DetectorConfig(input_size_wh=size)).detect([image])[
            0
        ]
        for size in sizes
    ]
    for boxes in results[1:]:
        confident = boxes.boxes_xyxy[boxes.scores > 0.6]
        distances = [np.abs(results[0].boxes_xyxy - box).max(axis=1).min() for box in confident]
        assert max(distances) < 12.0  # px of a 768 x 576 frame


def test_blank_image_has_no_persons(detector) -> None:
    (boxes,) = detector.detect([np.full((480, 640, 3), 127, np.uint8)])
    assert len(boxes) == 0 and boxes.boxes_xyxy.shape == (0, 4)


def test_frames_smaller_than_one_stride_run_on_a_padded_canvas(detector) -> None:
    assert detector.input_letterbox((20, 10)).canvas_size_wh == (32, 32)
    (boxes,) = detector.detect([np.zeros((10, 20, 3), np.uint8)])
    assert len(boxes) == 0


def test_higher_threshold_keeps_a_subset(detector_runtime) -> None:
    image = read_rgb("vtest_frame300.jpg")
    (loose,) = NanoDetPersonDetector(detector_runtime, DetectorConfig(0.3)).detect([image])
    (strict,) = NanoDetPersonDetector(detector_runtime, DetectorConfig(0.7)).detect([image])
    assert len(strict) < len(loose)


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((0, 10, 3), np.uint8),  # zero-size
        np.zeros((10, 10), np.uint8),  # grey
        np.zeros((10, 10, 3), np.float32),  # not uint8
        np.zeros((10, 10, 4), np.uint8),  # RGBA
    ],
)
def test_bad_images_are_clear_errors(detector, bad) -> None:
    with pytest.raises(InvalidInputError):
        detector.detect([bad])


@pytest.mark.parametrize(
    "fields, match",
    [
        ({"score_threshold": 1.5}, "score_threshold"),
        ({"min_person_height_px": 0}, "min_person_height_px"),
        ({"max_input_side_px": 16}, "max_input_side_px"),
        ({"input_size_wh": (416,)}, "input_size_wh"),
        ({"input_size_wh": (416.0, 416)}, "input_size_wh"),
    ],
)
def test_invalid_config_is_rejected(fields, match) -> None:
    with pytest.raises(ValueError, match=match):
        DetectorConfig(**fields)


def test_input_size_off_the_stride_is_a_clear_error(detector_runtime) -> None:
    with pytest.raises(InvalidInputError, match="multiples of 32"):
        NanoDetPersonDetector(detector_runtime, DetectorConfig(input_size_wh=(416, 400)))


class FakeRuntime:
    """Specs only: enough for the signature check."""

    def __init__(self, inputs, outputs) -> None:
        self.inputs = tuple(TensorSpec(n, s, np.dtype(np.float32)) for n, s in inputs)
        self.outputs = tuple(TensorSpec(n, s, np.dtype(np.float32)) for n, s in outputs)


NANODET_OUTPUTS = [(f"scores_{s}", (None, None, 80)) for s in STRIDES_PX] + [
    (f"box_dist_{s}", (None, None, 44)) for s in STRIDES_PX
]


@pytest.mark.parametrize(
    "inputs, outputs",
    [
        ([("images", (None, 3, None, None))], [("output", (None, None, 85))]),  # a YOLOX model
        ([("image", (None, None, None, 3))], NANODET_OUTPUTS[:-1]),  # an output missing
        ([("image", (None, 3, None, None))], NANODET_OUTPUTS),  # NCHW
    ],
)
def test_a_model_of_another_signature_is_a_clear_error(inputs, outputs) -> None:
    with pytest.raises(ModelError, match=r"expected input image .* found inputs"):
        NanoDetPersonDetector(FakeRuntime(inputs, outputs))  # type: ignore[arg-type]


def test_a_fixed_size_model_sets_the_input_size() -> None:
    fixed = FakeRuntime([("image", (None, 416, 416, 3))], NANODET_OUTPUTS)
    detector = NanoDetPersonDetector(fixed)  # type: ignore[arg-type]
    assert detector.input_letterbox((1920, 1080)).canvas_size_wh == (416, 416)
    with pytest.raises(ModelError, match="fixed at 416 x 416"):
        NanoDetPersonDetector(fixed, DetectorConfig(input_size_wh=(640, 384)))  # type: ignore[arg-type]
