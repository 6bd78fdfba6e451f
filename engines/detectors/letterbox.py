"""Letterbox geometry of detector inputs: how big the input is, and mapping boxes back.

A frame is resized with its aspect ratio kept and placed at the TOP-LEFT of a canvas whose
sides are multiples of the detector's largest stride; the rest (right and bottom) is padding.
Because the image starts at (0, 0), canvas pixel coordinates are the resized image's own
coordinates: a canvas can be padded further on the right and bottom (to batch frames of
different sizes together) without changing what any decoded box means.

The input size rule (``letterbox_for_frame``), in order:

1. ``scale = smallest_person_input_px / min_person_height_px``: a person of the smallest
   height one means to find comes out as tall as the smallest person the detector reliably
   finds in its own input;
2. never enlarge the frame: ``scale <= 1``;
3. cap the longer side: ``scale <= max_input_side_px / max(frame_w, frame_h)``;
4. the resized image is ``round(frame_w * scale) x round(frame_h * scale)`` (at least 1 px);
   the canvas is that rounded UP to multiples of ``stride_px`` (so at least one stride).

An explicit canvas (``letterbox_to_canvas``) fits the frame into it instead, enlarging or
shrinking it as needed. Sizes are (width, height) pairs, ``_wh``; arrays are (H, W, ...).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from posecast.errors import InvalidInputError


@dataclass(frozen=True)
class Letterbox:
    """Where a frame sits in a detector input.

    Attributes:
        frame_size_wh: the frame's (width, height) in pixels.
        image_size_wh: the resized frame's (width, height) in the canvas, from (0, 0).
        canvas_size_wh: the detector input's (width, height); multiples of the stride, at
            least ``image_size_wh``.
    """

    frame_size_wh: tuple[int, int]
    image_size_wh: tuple[int, int]
    canvas_size_wh: tuple[int, int]

    def __post_init__(self) -> None:
        for name in ("frame_size_wh", "image_size_wh", "canvas_size_wh"):
            size = getattr(self, name)
            if len(size) != 2 or min(size) < 1:
                raise InvalidInputError(f"{name}: expected two sizes >= 1 px, got {size}")
        if any(i > c for i, c in zip(self.image_size_wh, self.canvas_size_wh, strict=True)):
            raise InvalidInputError(
                f"image {self.image_size_wh} does not fit the canvas {self.canvas_size_wh}"
            )

    @property
    def scale_xy(self) -> np.ndarray:
        """(2,) canvas pixels per frame pixel, along x and along y (equal up to rounding)."""
        return np.array(self.image_size_wh, np.float64) / np.array(self.frame_size_wh)

    @property
    def canvas_shape_hw(self) -> tuple[int, int]:
        """The canvas as an array's (height, width)."""
        return self.canvas_size_wh[1], self.canvas_size_wh[0]


def check_canvas_size(canvas_size_wh: tuple[int, int], stride_px: int) -> None:
    """Raise InvalidInputError unless both canvas sides are positive multiples of the stride."""
    width, height = canvas_size_wh
    if width < stride_px or height < stride_px or width % stride_px or height % stride_px:
        raise InvalidInputError(
            f"detector input {width} x {height} px: both sides must be positive multiples of "
            f"{stride_px} px (the detector's largest stride)"
        )


def _round_up(value_px: int, stride_px: int) -> int:
    return max(1, math.ceil(value_px / stride_px)) * stride_px


def letterbox_for_frame(
    frame_size_wh: tuple[int, int],
    min_person_height_px: float,
    smallest_person_input_px: float,
    max_input_side_px: int,
    stride_px: int,
) -> Letterbox:
    """The detector input for a frame by the input size rule (module docstring).

    Args:
        frame_size_wh: the frame's (width, height), pixels.
        min_person_height_px: height of the smallest person to find, frame pixels.
        smallest_person_input_px: height of the smallest person the detector reliably finds,
            input pixels (a property of the model).
        max_input_side_px: cap on the resized frame's longer side, input pixels.
        stride_px: the detector's largest stride; canvas sides are multiples of it.

    Raises:
        InvalidInputError: a size or height that is not positive.
    """
    width, height = frame_size_wh
    if width < 1 or height < 1:
        raise InvalidInputError(f"frame size must be positive, got {frame_size_wh}")
    if min(min_person_height_px, smallest_person_input_px, max_input_side_px, stride_px) <= 0:
        raise InvalidInputError("person heights, the input side cap and the stride must be > 0")
    scale = min(
        1.0, smallest_person_input_px / min_person_height_px, max_input_side_px / max(width, height)
    )
    image_wh = (max(1, round(width * scale)), max(1, round(height * scale)))
    canvas_wh = (_round_up(image_wh[0], stride_px), _round_up(image_wh[1], stride_px))
    return Letterbox((width, height), image_wh, canvas_wh)


def letterbox_to_canvas(
    frame_size_wh: tuple[int, int], canvas_size_wh: tuple[int, int], stride_px: int
) -> Letterbox:
    """The frame fitted (enlarged or shrunk, aspect kept) into a given canvas, top-left.

    Raises:
        InvalidInputError: a canvas side that is not a positive multiple of ``stride_px``.
    """
    check_canvas_size(canvas_size_wh, stride_px)
    width, height = frame_size_wh
    if width < 1 or height < 1:
        raise InvalidInputError(f"frame size must be positive, got {frame_size_wh}")
    scale = min(canvas_size_wh[0] / width, canvas_size_wh[1] / height)
    image_wh = (
        min(canvas_size_wh[0], max(1, round(width * scale))),
        min(canvas_size_wh[1], max(1, round(height * scale))),
    )
    return Letterbox((width, height), image_wh, tuple(canvas_size_wh))


def letterbox_image(
    image: np.ndarray, letterbox: Letterbox, pad_value: np.ndarray | float
) -> np.ndarray:
    """An (H, W, C) image resized into its letterbox canvas (bilinear), padded right/bottom.

    Args:
        image: (H, W, C) array of the frame's size; any dtype OpenCV resizes.
        letterbox: where it goes (``letterbox.frame_size_wh`` must be the image's size).
        pad_value: the padding, a scalar or one value per channel (same dtype as ``image``).

    Returns:
        (canvas_h, canvas_w, C) array of ``image``'s dtype.
    """
    height, width = image.shape[:2]
    if (width, height) != tuple(letterbox.frame_size_wh):
        raise InvalidInputError(
            f"image is {width} x {height} px, letterbox expects {letterbox.frame_size_wh}"
        )
    resized = image
    if letterbox.image_size_wh != letterbox.frame_size_wh:
        resized = cv2.resize(image, letterbox.image_size_wh, interpolation=cv2.INTER_LINEAR)
    return pad_bottom_right(resized, letterbox.canvas_shape_hw, pad_value)


def pad_bottom_right(
    image: np.ndarray, canvas_shape_hw: tuple[int, int], pad_value: np.ndarray | float
) -> np.ndarray:
    """(h, w, C) -> (H, W, C) with the image at the top-left and ``pad_value`` elsewhere.

    Raises:
        InvalidInputError: the image is larger than the canvas.
    """
    height, width = image.shape[:2]
    canvas_h, canvas_w = canvas_shape_hw
    if height > canvas_h or width > canvas_w:
        raise InvalidInputError(f"{width} x {height} px does not fit in {canvas_w} x {canvas_h}")
    if (height, width) == (canvas_h, canvas_w):
        return image
    canvas = np.empty((canvas_h, canvas_w, *image.shape[2:]), image.dtype)
    canvas[...] = pad_value
    canvas[:height, :width] = image
    return canvas


def boxes_frame_to_canvas(boxes_xyxy: np.ndarray, letterbox: Letterbox) -> np.ndarray:
    """(N, 4) frame-pixel boxes -> (N, 4) canvas-pixel boxes (float64)."""
    scale = np.tile(letterbox.scale_xy, 2)
    return np.asarray(boxes_xyxy, np.float64).reshape(-1, 4) * scale


def boxes_canvas_to_frame(boxes_xyxy: np.ndarray, letterbox: Letterbox) -> np.ndarray:
    """(N, 4) canvas-pixel boxes -> (N, 4) frame-pixel boxes (float64), clipped to the frame.

    Boxes reaching into the padding are cut at the frame's edge; a box wholly in the padding
    becomes empty (zero width or height).
    """
    scale = np.tile(letterbox.scale_xy, 2)
    boxes = np.asarray(boxes_xyxy, np.float64).reshape(-1, 4) / scale
    return np.clip(boxes, 0.0, np.tile(np.array(letterbox.frame_size_wh, np.float64), 2))


def crop_grid_cells(
    cells: np.ndarray,
    from_canvas_hw: tuple[int, int],
    to_canvas_hw: tuple[int, int],
    strides_px: tuple[int, ...],
) -> np.ndarray:
    """Per-cell outputs of a padded canvas cut back to the cells of a smaller canvas.

    Detector heads emit one row per grid cell, row-major (``row * cols + col``), one grid per
    stride, concatenated in ``strides_px`` order. Since images sit at the top-left, the cells
    of a smaller canvas are the top-left block of each grid.

    Args:
        cells: (sum over strides of H/s * W/s, C) outputs for ``from_canvas_hw``.
        from_canvas_hw: the canvas the outputs were computed on, (height, width) px.
        to_canvas_hw: the smaller canvas to keep, (height, width) px.
        strides_px: the strides whose grids ``cells`` holds, in order.

    Returns:
        (sum over strides of h/s * w/s, C), for ``to_canvas_hw``.
    """
    grid_sizes = [(from_canvas_hw[0] // s, from_canvas_hw[1] // s) for s in strides_px]
    if len(cells) != sum(rows * cols for rows, cols in grid_sizes):
        raise InvalidInputError(
            f"{len(cells)} cells do not match a {from_canvas_hw} canvas at strides {strides_px}"
        )
    if tuple(from_canvas_hw) == tuple(to_canvas_hw):
        return cells
    parts, start = [], 0
    for stride, (rows, cols) in zip(strides_px, grid_sizes, strict=True):
        grid = cells[start : start + rows * cols].reshape(rows, cols, *cells.shape[1:])
        kept = grid[: to_canvas_hw[0] // stride, : to_canvas_hw[1] // stride]
        parts.append(kept.reshape(-1, *cells.shape[1:]))
        start += rows * cols
    return np.concatenate(parts)
