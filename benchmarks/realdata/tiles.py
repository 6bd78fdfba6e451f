"""A person detector run on the whole frame and on overlapping tiles (a benchmark variant).

Why tiles: the detector's input is capped (``max_input_side_px``), so in a large frame small
people shrink below what the model finds; a tile of the frame at the same cap shows them
larger. The tiles and the whole frame run as one batch; boxes that touch a tile's inner edge
(a person cut by the tile) are dropped, the rest are fused by the detector's own NMS. Only a
variant for ``bench_detection_real.py`` (docs/estimation.md: not adopted).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from posecast.engines.detectors.base import DetectorConfig, PersonBoxes, PersonDetector
from posecast.engines.geometry.boxes import non_max_suppression

EDGE_MARGIN_PX = 2.0
"""A box within this distance of a tile's inner edge is cut by the tile."""


def tile_columns_px(width_px: int, columns: int, overlap: float) -> list[tuple[int, int]]:
    """(x0, x1) of ``columns`` equal tiles across ``width_px``, neighbours overlapping by
    ``overlap`` of a tile's width."""
    if columns < 1 or not 0.0 <= overlap < 1.0:
        raise ValueError(f"need columns >= 1 and overlap in [0, 1), got {columns}, {overlap}")
    tile = int(np.ceil(width_px / (columns - (columns - 1) * overlap)))
    starts = np.linspace(0, width_px - tile, columns).round().astype(int) if columns > 1 else [0]
    return [(int(x), int(x) + tile) for x in starts]


class TiledDetector:
    """``PersonDetector.detect`` over the whole frame plus vertical strips of it.

    Args:
        detector: the detector of the whole frame.
        columns: strips across the frame.
        overlap: overlap of neighbouring strips, fraction of a strip's width (a person
            narrower than it is whole in one strip).
        tile_min_person_height_px: the strips' ``min_person_height_px`` (lower: each strip
            at a larger scale, up to the detector's input cap).
    """

    def __init__(
        self,
        detector: PersonDetector,
        columns: int = 2,
        overlap: float = 0.2,
        tile_min_person_height_px: float = 56.0,
    ) -> None:
        self.detector = detector
        self.columns = columns
        self.overlap = overlap
        self.tile_min_person_height_px = tile_min_person_height_px
        self.tile_detector = detector.with_config(
            replace(detector.config, min_person_height_px=tile_min_person_height_px)
        )

    @property
    def config(self) -> DetectorConfig:
        return self.detector.config

    @property
    def runtime(self) -> Any:
        return self.detector.runtime

    def with_config(self, config: DetectorConfig) -> TiledDetector:
        return TiledDetector(
            self.detector.with_config(config),
            self.columns,
            self.overlap,
            self.tile_min_person_height_px,
        )

    def detect(self, images_rgb: Sequence[np.ndarray]) -> list[PersonBoxes]:
        return [self._detect_one(image) for image in images_rgb]

    def _detect_one(self, image_rgb: np.ndarray) -> PersonBoxes:
        width = image_rgb.shape[1]
        spans = tile_columns_px(width, self.columns, self.overlap)
        (whole,) = self.detector.detect([image_rgb])
        strips = self.tile_detector.detect([image_rgb[:, x0:x1] for x0, x1 in spans])
        boxes, scores = [whole.boxes_xyxy.astype(np.float64)], [whole.scores]
        for (x0, x1), found in zip(spans, strips, strict=True):
            shifted = found.boxes_xyxy.astype(np.float64) + np.array([x0, 0, x0, 0])
            cut_left = (x0 > 0) & (shifted[:, 0] <= x0 + EDGE_MARGIN_PX)
            cut_right = (x1 < width) & (shifted[:, 2] >= x1 - EDGE_MARGIN_PX)
            keep = ~(cut_left | cut_right)
            boxes.append(shifted[keep])
            scores.append(found.scores[keep])
        all_boxes, all_scores = np.concatenate(boxes), np.concatenate(scores)
        if len(all_scores) == 0:
            return PersonBoxes.empty()
        kept = non_max_suppression(all_boxes, all_scores, self.config.nms_iou_threshold)
        kept = kept[: self.config.max_persons]
        return PersonBoxes(all_boxes[kept].astype(np.float32), all_scores[kept].astype(np.float32))
