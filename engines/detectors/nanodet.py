"""NanoDet-m (COCO, GFL head), the shipped detector, reduced to person boxes.

Input: (N, H, W, 3) float32 NHWC, BGR, NanoDet's own normalisation, H and W any multiples of
32 (the model was trained at 416 x 416; ``nanodet_416.onnx`` keeps that name but its input is
dynamic). Frames are letterboxed top-left on a black canvas. Outputs per stride S in 8, 16,
32: ``scores_S`` (N, H/S * W/S, 80) class probabilities (cell index ``row * W/S + col``) and
``box_dist_S`` (N, H/S * W/S, 44), 4 sides x 11 bin logits; each side is the expectation of
the softmax over the bins, times S, measured from the cell centre ((col + 0.5) S,
(row + 0.5) S). The recipe is also recorded in ``models/manifest.json``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import numpy as np

from posecast.engines.detectors.base import describe_specs
from posecast.engines.detectors.grid import GridPersonDetector
from posecast.engines.detectors.letterbox import Letterbox, letterbox_image
from posecast.engines.runtimes import Runtime
from posecast.errors import ModelError

STRIDES_PX = (8, 16, 32)
DISTRIBUTION_BINS = 11
NUM_CLASSES = 80
PERSON_CLASS = 0
# NanoDet's own normalisation, in BGR order (RGB / 255 loses most people).
MEAN_BGR = np.array([103.53, 116.28, 123.675], np.float32)
STD_BGR = np.array([57.375, 57.12, 58.395], np.float32)
PAD_PIXEL = 0
"""Letterbox colour (black, as NanoDet's own resize pads), before normalisation."""


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def normalise_bgr(image_bgr: np.ndarray) -> np.ndarray:
    """(..., 3) uint8 BGR -> float32 ``(pixel - mean) / std`` per channel."""
    return (image_bgr.astype(np.float32) - MEAN_BGR) / STD_BGR


def decode_nanodet(
    outputs: Mapping[str, np.ndarray],
    canvas_hw: tuple[int, int],
    score_threshold: float,
    class_id: int = PERSON_CLASS,
) -> tuple[np.ndarray, np.ndarray]:
    """One item's NanoDet outputs (no batch axis) -> boxes of one class, before NMS.

    Args:
        outputs: ``scores_S`` (H/S * W/S, 80) and ``box_dist_S`` (H/S * W/S, 44) per stride.
        canvas_hw: the input's (height, width) in pixels, multiples of 32.
        score_threshold: keep cells whose class score is above this.
        class_id: COCO class (0 = person).

    Returns:
        (K, 4) float32 xyxy boxes in input (canvas) pixels and their (K,) scores.

    Raises:
        ModelError: an output whose cell count does not match the canvas.
    """
    height, width = canvas_hw
    boxes, scores = [], []
    for stride in STRIDES_PX:
        rows, cols = height // stride, width // stride
        class_scores = outputs[f"scores_{stride}"][:, class_id]
        if len(class_scores) != rows * cols:
            raise ModelError(
                f"scores_{stride}: {len(class_scores)} cells, a {width} x {height} input has "
                f"{rows * cols}"
            )
        cells = np.flatnonzero(class_scores > score_threshold)
        centres = (np.stack([cells % cols, cells // cols], axis=1) + 0.5) * stride
        logits = outputs[f"box_dist_{stride}"][cells].reshape(-1, 4, DISTRIBUTION_BINS)
        ltrb = _softmax(logits) @ np.arange(DISTRIBUTION_BINS, dtype=np.float32) * stride
        boxes.append(np.concatenate([centres - ltrb[:, :2], centres + ltrb[:, 2:]], axis=1))
        scores.append(class_scores[cells])
    return np.concatenate(boxes).astype(np.float32), np.concatenate(scores).astype(np.float32)


class NanoDetPersonDetector(GridPersonDetector):
    """Person boxes from NanoDet; ``detect`` runs a batch of frames in one model call."""

    name: ClassVar[str] = "nanodet"
    input_name: ClassVar[str] = "image"
    strides_px: ClassVar[tuple[int, ...]] = STRIDES_PX
    # Recall of visible MOT17 pedestrians by height in input px: 0.39 at 32-40, 0.57 at
    # 40-48, 0.79 at 48-64, 0.92 at 64-96 (past half its plateau from 40 px); on 1080p
    # frames 0.75 at 640 x 384, 0.81 at 768 x 448 and 960 x 544
    # (benchmarks/bench_detector_input.py, docs/estimation.md).
    smallest_person_input_px: ClassVar[float] = 40.0
    default_max_input_side_px: ClassVar[int] = 768
    is_channels_last: ClassVar[bool] = True

    @property
    def pad_value(self) -> np.ndarray:
        return normalise_bgr(np.full(3, PAD_PIXEL, np.uint8))

    def check_signature(self, runtime: Runtime) -> None:
        """Input ``image`` (N, H, W, 3); ``scores_S`` (N, cells, 80) and ``box_dist_S``
        (N, cells, 44) for S in 8, 16, 32, all float32.

        Raises:
            ModelError: naming what was expected and what the model has.
        """
        expected_outputs = {f"scores_{s}": NUM_CLASSES for s in STRIDES_PX} | {
            f"box_dist_{s}": 4 * DISTRIBUTION_BINS for s in STRIDES_PX
        }
        inputs = {spec.name: spec for spec in runtime.inputs}
        outputs = {spec.name: spec for spec in runtime.outputs}
        image = inputs.get(self.input_name)
        is_valid = (
            image is not None
            and len(inputs) == 1
            and len(image.shape) == 4
            and image.shape[3] == 3
            and image.dtype == np.float32
            and all(
                name in outputs
                and len(outputs[name].shape) == 3
                and outputs[name].shape[2] == channels
                and outputs[name].dtype == np.float32
                for name, channels in expected_outputs.items()
            )
        )
        if not is_valid:
            raise ModelError(
                "not a posecast NanoDet model: expected input image float32 (N, H, W, 3) and "
                "outputs scores_8/16/32 (N, cells, 80), box_dist_8/16/32 (N, cells, 44); found "
                f"inputs {describe_specs(runtime.inputs)}, "
                f"outputs {describe_specs(runtime.outputs)}"
            )

    def preprocess(self, image_rgb: np.ndarray, letterbox: Letterbox) -> np.ndarray:
        """(H, W, 3) uint8 RGB -> (canvas_h, canvas_w, 3) float32 normalised BGR, letterboxed."""
        canvas = letterbox_image(image_rgb, letterbox, PAD_PIXEL)
        return normalise_bgr(canvas[..., ::-1])

    def decode(
        self, outputs: Mapping[str, np.ndarray], canvas_hw: tuple[int, int]
    ) -> tuple[np.ndarray, np.ndarray]:
        return decode_nanodet(outputs, canvas_hw, self.config.score_threshold)

    def output_strides(self, output_name: str) -> tuple[int, ...]:
        return (int(output_name.rsplit("_", 1)[1]),)
