"""Multi-person detector: NanoDet (COCO, 416 px) reduced to person boxes in image pixels.

Split into ``preprocess`` (one image -> one input tensor), a runtime call on a batch, and
``postprocess`` (one item's outputs -> boxes), so the dynamic batcher can batch images of
many streams into one run. The decoding recipe is the one verified by
``tools/convert_models.py`` and recorded in ``models/manifest.json``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from posecast.engines.geometry.boxes import non_max_suppression
from posecast.engines.images import check_rgb_image
from posecast.engines.runtimes import Runtime

INPUT_SIZE_PX = 416
STRIDES_PX = (8, 16, 32)
DISTRIBUTION_BINS = 11
PERSON_CLASS = 0
# NanoDet's own normalisation, in BGR order (RGB / 255 loses most people).
MEAN_BGR = np.array([103.53, 116.28, 123.675], np.float32)
STD_BGR = np.array([57.375, 57.12, 58.395], np.float32)


@dataclass(frozen=True)
class DetectorConfig:
    """Person detection thresholds.

    Attributes:
        score_threshold: minimum person score; lower finds more distant or occluded people
            and more false boxes (BlazePose's presence check removes most of those).
        nms_iou_threshold: boxes overlapping more than this are merged; higher keeps
            people who stand close together apart, and more duplicates.
        max_persons: keep at most this many boxes per image (highest scores).
    """

    score_threshold: float = 0.35
    nms_iou_threshold: float = 0.45
    max_persons: int = 64

    def __post_init__(self) -> None:
        if not 0.0 < self.score_threshold < 1.0:
            raise ValueError(f"score_threshold must be in (0, 1), got {self.score_threshold}")
        if not 0.0 < self.nms_iou_threshold <= 1.0:
            raise ValueError(f"nms_iou_threshold must be in (0, 1], got {self.nms_iou_threshold}")
        if self.max_persons < 1:
            raise ValueError(f"max_persons must be >= 1, got {self.max_persons}")


@dataclass(frozen=True)
class PersonBoxes:
    """Persons of one image: ``boxes_xyxy`` (N, 4) image pixels, ``scores`` (N,) in [0, 1]."""

    boxes_xyxy: np.ndarray
    scores: np.ndarray

    def __len__(self) -> int:
        return len(self.scores)


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


class NanoDetPersonDetector:
    """Person boxes from NanoDet; ``detect`` runs a batch of images in one model call."""

    input_name = "image"

    def __init__(self, runtime: Runtime, config: DetectorConfig | None = None) -> None:
        self.runtime = runtime
        self.config = config or DetectorConfig()

    def preprocess(self, image_rgb: np.ndarray) -> np.ndarray:
        """(H, W, 3) uint8 RGB -> (416, 416, 3) float32, stretched, NanoDet-normalised BGR."""
        check_rgb_image(image_rgb)
        resized = cv2.resize(
            image_rgb, (INPUT_SIZE_PX, INPUT_SIZE_PX), interpolation=cv2.INTER_LINEAR
        )
        return (resized[..., ::-1].astype(np.float32) - MEAN_BGR) / STD_BGR

    def postprocess(
        self, outputs: Mapping[str, np.ndarray], image_height: int, image_width: int
    ) -> PersonBoxes:
        """One image's outputs (no batch axis) -> person boxes in its pixels, after NMS."""
        boxes, scores = [], []
        for stride in STRIDES_PX:
            person_scores = outputs[f"scores_{stride}"][:, PERSON_CLASS]
            cells = np.flatnonzero(person_scores > self.config.score_threshold)
            cells_per_row = INPUT_SIZE_PX // stride
            centres = np.stack([cells % cells_per_row, cells // cells_per_row], axis=1)
            centres = (centres + 0.5) * stride
            logits = outputs[f"box_dist_{stride}"][cells].reshape(-1, 4, DISTRIBUTION_BINS)
            ltrb = _softmax(logits) @ np.arange(DISTRIBUTION_BINS, dtype=np.float32) * stride
            boxes.append(np.concatenate([centres - ltrb[:, :2], centres + ltrb[:, 2:]], axis=1))
            scores.append(person_scores[cells])
        boxes_xyxy = (
            np.concatenate(boxes)
            * np.array([image_width, image_height, image_width, image_height], np.float32)
            / INPUT_SIZE_PX
        )
        boxes_xyxy = np.clip(boxes_xyxy, 0, [image_width, image_height] * 2)
        return self._suppress(boxes_xyxy.astype(np.float32), np.concatenate(scores))

    def _suppress(self, boxes_xyxy: np.ndarray, scores: np.ndarray) -> PersonBoxes:
        kept = non_max_suppression(
            boxes_xyxy,
            scores,
            self.config.nms_iou_threshold,
            self.config.score_threshold,
            self.config.max_persons,
        )
        return PersonBoxes(boxes_xyxy[kept], scores[kept].astype(np.float32))

    def detect(self, images_rgb: Sequence[np.ndarray]) -> list[PersonBoxes]:
        """Person boxes of every image, in one model call."""
        if not images_rgb:
            return []
        batch = np.stack([self.preprocess(image) for image in images_rgb])
        outputs = self.runtime.infer({self.input_name: batch})
        return [
            self.postprocess(
                {name: value[index] for name, value in outputs.items()}, *image.shape[:2]
            )
            for index, image in enumerate(images_rgb)
        ]
