"""Letterbox geometry: the input size rule, fitting into a canvas, mapping boxes both ways."""

from __future__ import annotations

import numpy as np
import pytest

from posecast.engines.detectors.letterbox import (
    Letterbox,
    boxes_canvas_to_frame,
    boxes_frame_to_canvas,
    crop_grid_cells,
    letterbox_for_frame,
    letterbox_image,
    letterbox_to_canvas,
    pad_bottom_right,
)
from posecast.errors import InvalidInputError


@pytest.mark.parametrize(
    "frame_wh, min_person_px, max_side_px, image_wh, canvas_wh",
    [
        ((1920, 1080), 80, 960, (960, 540), (960, 544)),  # scale 0.5, rows padded to 544
        ((1920, 1080), 80, 640, (640, 360), (640, 384)),  # the cap sets the scale
        ((1280, 720), 80, 960, (640, 360), (640, 384)),
        ((768, 576), 80, 960, (384, 288), (384, 288)),  # already stride multiples
        ((768, 576), 20, 960, (768, 576), (768, 576)),  # never enlarged
        ((1920, 1080), 1, 416, (416, 234), (416, 256)),
        ((20, 10), 80, 960, (10, 5), (32, 32)),  # tiny frame: one stride of canvas
        ((1, 1), 80, 960, (1, 1), (32, 32)),  # one pixel
        ((1080, 1920), 80, 960, (540, 960), (544, 960)),  # portrait
    ],
)
def test_input_size_rule(frame_wh, min_person_px, max_side_px, image_wh, canvas_wh) -> None:
    letterbox = letterbox_for_frame(frame_wh, min_person_px, 40.0, max_side_px, 32)
    assert letterbox.image_size_wh == image_wh
    assert letterbox.canvas_size_wh == canvas_wh


@pytest.mark.parametrize(
    "frame_wh, canvas_wh, image_wh",
    [
        ((768, 576), (416, 416), (416, 312)),  # shrunk, wide
        ((330, 480), (416, 416), (286, 416)),  # shrunk, tall
        ((200, 100), (416, 416), (416, 208)),  # enlarged to fit
        ((416, 416), (416, 416), (416, 416)),  # as is
    ],
)
def test_fixed_canvas_fits_the_frame(frame_wh, canvas_wh, image_wh) -> None:
    letterbox = letterbox_to_canvas(frame_wh, canvas_wh, 32)
    assert letterbox.image_size_wh == image_wh
    assert letterbox.canvas_size_wh == canvas_wh


@pytest.mark.parametrize("canvas_wh", [(416, 400), (0, 416), (30, 32), (-32, 64)])
def test_canvas_not_a_stride_multiple_is_a_clear_error(canvas_wh) -> None:
    with pytest.raises(InvalidInputError, match="multiples of 32"):
        letterbox_to_canvas((640, 480), canvas_wh, 32)


@pytest.mark.parametrize("frame_wh", [(0, 480), (640, 0)])
def test_empty_frame_is_a_clear_error(frame_wh) -> None:
    with pytest.raises(InvalidInputError, match="frame size"):
        letterbox_for_frame(frame_wh, 80, 40, 960, 32)


@pytest.mark.parametrize(
    "letterbox",
    [
        letterbox_for_frame((1920, 1080), 80, 40, 960, 32),
        letterbox_for_frame((1280, 720), 80, 40, 960, 32),
        letterbox_to_canvas((330, 480), (416, 416), 32),
        letterbox_to_canvas((200, 100), (416, 416), 32),  # enlarged
    ],
)
def test_boxes_round_trip_frame_canvas_frame(letterbox: Letterbox) -> None:
    width, height = letterbox.frame_size_wh
    rng = np.random.default_rng(0)
    corners = rng.uniform(0, 1, (20, 2, 2)) * (width, height)
    boxes = np.concatenate([corners.min(axis=1), corners.max(axis=1)], axis=1)
    canvas_boxes = boxes_frame_to_canvas(boxes, letterbox)
    assert np.all(canvas_boxes[:, 2:] <= letterbox.image_size_wh)
    np.testing.assert_allclose(boxes_canvas_to_frame(canvas_boxes, letterbox), boxes, atol=1e-9)


def test_boxes_into_the_padding_are_clipped_to_the_frame() -> None:
    letterbox = letterbox_for_frame((1920, 1080), 80, 40, 960, 32)  # image 960 x 540 of 544
    boxes = boxes_canvas_to_frame(np.array([[900, 500, 980, 544], [0, 541, 10, 544]]), letterbox)
    np.testing.assert_allclose(boxes[0], [1800, 1000, 1920, 1080])
    assert boxes[1, 3] - boxes[1, 1] == 0  # wholly in the padding: empty
    assert boxes_canvas_to_frame(np.zeros((0, 4)), letterbox).shape == (0, 4)


def test_letterbox_image_puts_the_frame_top_left() -> None:
    image = np.full((100, 200, 3), 200, np.uint8)
    letterbox = letterbox_to_canvas((200, 100), (128, 96), 32)  # image 128 x 64
    canvas = letterbox_image(image, letterbox, 7)
    assert canvas.shape == (96, 128, 3)
    assert np.all(canvas[:64, :128] == 200) and np.all(canvas[64:] == 7)


def test_padding_a_canvas_further_keeps_the_image_in_place() -> None:
    image = np.arange(2 * 3 * 2, dtype=np.float32).reshape(2, 3, 2)
    padded = pad_bottom_right(image, (4, 5), np.array([-1.0, -2.0], np.float32))
    np.testing.assert_array_equal(padded[:2, :3], image)
    assert np.all(padded[2:, :, 0] == -1) and np.all(padded[:, 3:, 1] == -2)
    with pytest.raises(InvalidInputError, match="does not fit"):
        pad_bottom_right(image, (1, 5), 0.0)


def test_crop_grid_cells_keeps_each_grids_top_left_block() -> None:
    # A 64 x 96 canvas at strides 16, 32: grids 4 x 6 and 2 x 3; keep a 32 x 64 canvas.
    grids = [np.arange(24).reshape(4, 6), 100 + np.arange(6).reshape(2, 3)]
    cells = np.concatenate([grid.reshape(-1, 1) for grid in grids])
    kept = crop_grid_cells(cells, (64, 96), (32, 64), (16, 32))
    expected = np.concatenate([grids[0][:2, :4].reshape(-1), grids[1][:1, :2].reshape(-1)])
    np.testing.assert_array_equal(kept[:, 0], expected)
    with pytest.raises(InvalidInputError, match="cells"):
        crop_grid_cells(cells[:-1], (64, 96), (32, 64), (16, 32))
