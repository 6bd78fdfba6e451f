"""ROI alignment with the BlazePose pose detector: MediaPipe's own first ROI, per person.

Why: the BlazePose landmark model was trained on ROIs built from its detector's two
full-body alignment keypoints (hip centre and a size/rotation point), not on ROIs around a
person box. A box frames the body differently (its centre is not the hips, its size follows
the arms and legs), and the landmark model's output depends on the framing. MediaPipe's
static mode always starts from the detector, so running the same detector gives the same
first ROI and, with it, the same landmarks.

Two passes, because the detector's keypoints depend on how large the person appears in its
224 x 224 input (measured: the same person's hip centre moves by 10-20 % of the body scale
between a full-frame view and a crop of 2x the box):

1. frame pass (one model call): the whole frame, letterboxed exactly as MediaPipe feeds it.
   Every NMS detection is matched to the person box that contains its hip centre and has a
   compatible size. For a frame with one prominent person this *is* MediaPipe's static-mode
   detection, hence its ROI and its landmarks.
2. crop pass (one model call for all persons the frame pass missed, typically small people
   in a wide frame): the detector is made for one prominent person, so it sees a square crop
   of ``crop_scale`` x the box's longer side around each such box (the person then fills
   the input about as much as in a single-person photo).

Decoding follows MediaPipe 0.10.21's expanded ``pose_landmark_cpu`` graph (PoseDetectionCpu +
PoseDetectionToRoi):

* input: 224 x 224 RGB in [-1, 1], the region warped corners-to-corners with zero (black)
  border, as ImageToTensorCalculator with keep_aspect_ratio and BORDER_ZERO does for a frame;
* 2254 SSD anchors (strides 8, 16, 32, 32, 32; 2 per cell and layer; fixed size 1);
* regressions x before y (reverse_output_order), / 224, plus the anchor centre;
  score = sigmoid(clip(logit, -100, 100)) >= 0.5;
* weighted NMS (IoU on the face boxes > 0.3 joins a cluster; its box and keypoints are the
  score-weighted means; its score is the best member's);
* ROI: keypoint 0 is the centre, keypoint 1 the size/rotation point; side 2 |p1 - p0| x 1.25,
  rotation so that p0 -> p1 points up (``roi_from_alignment_points``).

Persons where the detector finds nothing fall back to ``roi_from_box``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import cv2
import numpy as np

from posecast.engines.geometry.boxes import box_iou
from posecast.engines.geometry.rois import (
    BLAZEPOSE_ROI_SCALE,
    Roi,
    roi_from_alignment_points,
    roi_from_box,
)
from posecast.engines.geometry.warps import warp_roi
from posecast.engines.images import check_rgb_image
from posecast.engines.runtimes import Runtime
from posecast.errors import InvalidInputError

INPUT_SIZE_PX = 224
NUM_ANCHORS = 2254
NUM_COORDS = 12
NUM_KEYPOINTS = 4
ANCHOR_STRIDES_PX = (8, 16, 32, 32, 32)
ANCHOR_OFFSET = 0.5
SCORE_CLIP_LOGIT = 100.0
HIP_CENTER_KEYPOINT, FULL_BODY_SCALE_KEYPOINT = 0, 1


def ssd_anchor_centers(
    input_size_px: int = INPUT_SIZE_PX, strides_px: tuple[int, ...] = ANCHOR_STRIDES_PX
) -> np.ndarray:
    """(2254, 2) anchor centres (x, y) normalised to [0, 1], in the model's output order.

    MediaPipe's SsdAnchorsCalculator with the pose detector's options: consecutive layers
    with the same stride share one feature map, each layer adds one anchor for aspect ratio
    1 and one interpolated-scale anchor, so a map of stride s has 2 x (layers with stride s)
    anchors per cell, ordered row, column, anchor. fixed_anchor_size makes every anchor's
    width and height 1, so only the centres matter (and scales drop out of decoding).
    """
    centers = []
    layer = 0
    while layer < len(strides_px):
        stride = strides_px[layer]
        same_stride = 0
        while layer < len(strides_px) and strides_px[layer] == stride:
            same_stride += 1
            layer += 1
        cells = int(np.ceil(input_size_px / stride))
        grid = (np.arange(cells) + ANCHOR_OFFSET) / cells
        xs, ys = np.meshgrid(grid, grid)  # row-major: y outer, x inner
        per_cell = np.stack([xs.ravel(), ys.ravel()], axis=1)
        centers.append(np.repeat(per_cell, 2 * same_stride, axis=0))
    return np.concatenate(centers)


ANCHOR_CENTERS = ssd_anchor_centers()


@dataclass(frozen=True)
class PoseAlignmentConfig:
    """Pose detector settings (MediaPipe's values except the crop, which MediaPipe lacks).

    Attributes:
        frame_pass: first run the detector on the whole frame (MediaPipe's own input) and use
            its detections for the boxes they fall in; only the remaining persons get crops.
            Off: crops for everyone (one call less, further from MediaPipe's static mode).
        frame_pass_min_box_fraction: run the frame pass only if some person box's longer side
            is at least this fraction of the frame's longer side: smaller people shrink below
            the detector's smallest anchors (~33 px of its 224 px input) in the whole-frame
            view, so the pass would find nobody (it found nobody on the pedestrian video,
            people 12 % of the frame) and cost a model run per frame.
        crop_scale: side of the square detector crop / longer side of the person box. Too
            small cuts limbs off, too large shrinks the person below the size the detector's
            keypoints are accurate at. On the test photos 1.3-1.5 reproduced the full-frame
            keypoints best (3-6 % of the body scale; 2.0: 12-19 %), so 1.4.
        min_size_ratio, max_size_ratio: a frame-pass detection belongs to a box only if its
            full-body size 2 |p1 - p0| is within these factors of the box's longer side
            (observed 0.8-1.1 on real photos); keeps a neighbour's detection out.
        min_score: detections below it are ignored (MediaPipe 0.10.21: 0.5).
        nms_iou_threshold: face boxes overlapping more than this are merged by weighted NMS.
        roi_scale: margin of the landmark ROI around the alignment points (MediaPipe 1.25).
    """

    frame_pass: bool = True
    frame_pass_min_box_fraction: float = 0.2
    crop_scale: float = 1.4
    min_size_ratio: float = 0.5
    max_size_ratio: float = 2.0
    min_score: float = 0.5
    nms_iou_threshold: float = 0.3
    roi_scale: float = BLAZEPOSE_ROI_SCALE

    def __post_init__(self) -> None:
        if not self.crop_scale >= 1.0:
            raise ValueError(
                f"crop_scale must be >= 1 (whole box in the crop), got {self.crop_scale}"
            )
        if not 0.0 <= self.frame_pass_min_box_fraction <= 1.0:
            raise ValueError("frame_pass_min_box_fraction must be in [0, 1]")
        if not 0.0 < self.min_size_ratio < self.max_size_ratio:
            raise ValueError("need 0 < min_size_ratio < max_size_ratio")
        if not 0.0 < self.min_score < 1.0:
            raise ValueError(f"min_score must be in (0, 1), got {self.min_score}")
        if not 0.0 < self.nms_iou_threshold <= 1.0:
            raise ValueError(f"nms_iou_threshold must be in (0, 1], got {self.nms_iou_threshold}")
        if not self.roi_scale > 0.0:
            raise ValueError(f"roi_scale must be positive, got {self.roi_scale}")


@dataclass(frozen=True)
class DetectorCrop:
    """Where one detector input lies in the image, and the person it is about.

    Attributes:
        center_px: (2,) crop centre in image pixels (the box centre).
        side_px: crop side in image pixels (the crop is square and unrotated).
        box_xyxy: (4,) the person box the crop was made for, image pixels.
    """

    center_px: np.ndarray
    side_px: float
    box_xyxy: np.ndarray

    @property
    def roi(self) -> Roi:
        """The crop as a one-element ``Roi`` (for ``warp_roi``)."""
        return Roi(self.center_px[None], np.array([self.side_px]), np.zeros(1))

    def to_image_px(self, points_normalized: np.ndarray) -> np.ndarray:
        """(..., 2) points in crop-normalised [0, 1] coordinates -> image pixels."""
        return self.center_px + (np.asarray(points_normalized) - 0.5) * self.side_px


@dataclass(frozen=True)
class PoseAlignment:
    """One person's detector result.

    Attributes:
        points_px: (2, 2) image pixels: row 0 the hip centre (keypoint 0), row 1 the
            full-body size/rotation point (keypoint 1).
        score: detection probability of the chosen (NMS-merged) detection.
        source: "frame" (whole-frame pass, MediaPipe's view) or "crop".
    """

    points_px: np.ndarray
    score: float
    source: str = "crop"

    @property
    def body_size_px(self) -> float:
        """2 |p1 - p0|: the side of MediaPipe's raw (unscaled) ROI."""
        return float(2.0 * np.linalg.norm(self.points_px[1] - self.points_px[0]))


def weighted_nms(
    boxes_xyxy: np.ndarray, keypoints: np.ndarray, scores: np.ndarray, iou_threshold: float
) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """MediaPipe's WEIGHTED non-maximum suppression.

    Repeatedly take the best remaining detection, gather every remaining detection whose
    IoU with it exceeds ``iou_threshold`` (itself included), and output the score-weighted
    mean box and keypoints with the best score. Averaging over the cluster is what makes
    the keypoints stable; plain NMS would keep one anchor's noisier regression.

    Returns:
        [(box_xyxy (4,), keypoints (K, 2), score)] by decreasing score.
    """
    order = np.argsort(-scores, kind="stable")
    remaining = order
    merged = []
    while len(remaining):
        best = remaining[0]
        in_cluster = box_iou(boxes_xyxy[best][None], boxes_xyxy[remaining])[0] > iou_threshold
        members = remaining[in_cluster]
        weights = scores[members]
        total = weights.sum()
        box = (boxes_xyxy[members] * weights[:, None]).sum(axis=0) / total
        points = (keypoints[members] * weights[:, None, None]).sum(axis=0) / total
        merged.append((box, points, float(scores[best])))
        if not in_cluster.any():  # cannot happen (IoU with itself is 1), kept as a guard
            break
        remaining = remaining[~in_cluster]
    return merged


class PoseAlignmentDetector:
    """The BlazePose pose detector, run per person crop, turned into landmark-model ROIs."""

    input_name = "image"

    def __init__(self, runtime: Runtime, config: PoseAlignmentConfig | None = None) -> None:
        self.runtime = runtime
        self.config = config or PoseAlignmentConfig()

    def crop_for_box(self, box_xyxy: np.ndarray) -> DetectorCrop:
        """The square detector crop centred on a person box (``crop_scale`` x its longer side)."""
        box = np.asarray(box_xyxy, dtype=np.float64).reshape(-1)
        if box.shape != (4,) or not np.all(np.isfinite(box)):
            raise InvalidInputError(f"expected one finite (4,) xyxy box, got {box_xyxy!r}")
        longer_side_px = max(box[2] - box[0], box[3] - box[1])
        if longer_side_px <= 0:
            raise InvalidInputError(f"degenerate person box {box.tolist()}")
        return DetectorCrop(
            center_px=(box[:2] + box[2:]) / 2.0,
            side_px=float(longer_side_px * self.config.crop_scale),
            box_xyxy=box,
        )

    @staticmethod
    def crop_for_frame(image_height_px: int, image_width_px: int) -> DetectorCrop:
        """The whole frame as MediaPipe letterboxes it: a centred square of the longer side.

        (ImageToTensorCalculator with keep_aspect_ratio pads the frame's rectangle to the
        tensor's aspect ratio around its centre; DetectionLetterboxRemoval undoes exactly
        that, which ``DetectorCrop.to_image_px`` does here.)
        """
        return DetectorCrop(
            center_px=np.array([image_width_px / 2.0, image_height_px / 2.0]),
            side_px=float(max(image_width_px, image_height_px)),
            box_xyxy=np.array([0.0, 0.0, image_width_px, image_height_px]),
        )

    def _input(self, image_rgb: np.ndarray, crop: DetectorCrop) -> np.ndarray:
        crop_rgb = warp_roi(image_rgb, crop.roi, INPUT_SIZE_PX, cv2.BORDER_CONSTANT)[0]
        return crop_rgb.astype(np.float32) * np.float32(2.0 / 255.0) - np.float32(1.0)

    def preprocess(self, image_rgb: np.ndarray, box_xyxy: np.ndarray) -> np.ndarray:
        """(224, 224, 3) float32 in [-1, 1]: the person's crop, black outside the image.

        The square crop is warped like ImageToTensorCalculator warps its (letterboxed)
        frame: rectangle corners onto tensor corners, bilinear, BORDER_ZERO, then
        pixel * 2 / 255 - 1 (so the border is -1, as in MediaPipe's letterbox bars).
        """
        check_rgb_image(image_rgb)
        return self._input(image_rgb, self.crop_for_box(box_xyxy))

    def decode(self, outputs: Mapping[str, np.ndarray], crop: DetectorCrop) -> list[PoseAlignment]:
        """One input's outputs (no batch axis) -> all NMS-merged detections, best first."""
        raw = np.asarray(outputs["box_regressors"], dtype=np.float64).reshape(
            NUM_ANCHORS, NUM_COORDS
        )
        logits = np.asarray(outputs["scores"], dtype=np.float64).reshape(NUM_ANCHORS)
        scores = 1.0 / (1.0 + np.exp(-np.clip(logits, -SCORE_CLIP_LOGIT, SCORE_CLIP_LOGIT)))
        keep = np.flatnonzero(scores >= self.config.min_score)
        if len(keep) == 0:
            return []
        anchors = ANCHOR_CENTERS[keep]
        regressions = raw[keep] / INPUT_SIZE_PX  # x before y (reverse_output_order)
        centers = regressions[:, 0:2] + anchors
        half_sizes = regressions[:, 2:4] / 2.0
        boxes = np.concatenate([centers - half_sizes, centers + half_sizes], axis=1)
        keypoints = regressions[:, 4:].reshape(-1, NUM_KEYPOINTS, 2) + anchors[:, None, :]
        merged = weighted_nms(boxes, keypoints, scores[keep], self.config.nms_iou_threshold)
        return [
            PoseAlignment(
                points_px=crop.to_image_px(points[[HIP_CENTER_KEYPOINT, FULL_BODY_SCALE_KEYPOINT]]),
                score=score,
            )
            for _, points, score in merged
        ]

    def _fits(self, alignment: PoseAlignment, box_xyxy: np.ndarray) -> bool:
        """Hip centre inside the box and body size compatible with the box."""
        hip = alignment.points_px[0]
        box = box_xyxy
        if not (box[0] <= hip[0] <= box[2] and box[1] <= hip[1] <= box[3]):
            return False
        ratio = alignment.body_size_px / max(box[2] - box[0], box[3] - box[1])
        return self.config.min_size_ratio <= ratio <= self.config.max_size_ratio

    def postprocess(
        self, outputs: Mapping[str, np.ndarray], crop: DetectorCrop
    ) -> PoseAlignment | None:
        """One crop's outputs (no batch axis) -> the person's alignment points, or None.

        Among the NMS-merged detections, the one whose hip centre lies inside the person
        box and has the best score is the person's (MediaPipe takes the best overall; a
        neighbour's detection in the crop must not win). None if no detection qualifies.
        """
        for alignment in self.decode(outputs, crop):
            if self._fits(alignment, crop.box_xyxy):
                return alignment
        return None

    def align(self, image_rgb: np.ndarray, boxes_xyxy: np.ndarray) -> list[PoseAlignment | None]:
        """Alignment points of every person box of one image (None where the detector misses).

        At most two model calls: the frame pass (``detect_in_frame``, when some box is large
        enough for it), then one batch of crops (``align_in_crops``) for the boxes it left
        unmatched.
        """
        check_rgb_image(image_rgb)
        boxes = np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 4)
        result: list[PoseAlignment | None] = [None] * len(boxes)
        if len(boxes) == 0:
            return result
        if self.is_frame_pass_useful(boxes, image_rgb.shape[:2]):
            for index, alignment in self.match(self.detect_in_frame(image_rgb), boxes).items():
                result[index] = alignment
        pending = [index for index, alignment in enumerate(result) if alignment is None]
        for index, alignment in zip(
            pending, self.align_in_crops(image_rgb, boxes[pending]), strict=True
        ):
            result[index] = alignment
        return result

    def detect_in_frame(self, image_rgb: np.ndarray) -> list[PoseAlignment]:
        """Every person the detector finds in the whole frame, letterboxed as MediaPipe feeds
        it (one model call), best first, ``source="frame"``. It finds people whose body is
        at least ~15 % of the frame's longer side (its smallest anchors)."""
        check_rgb_image(image_rgb)
        frame = self.crop_for_frame(*image_rgb.shape[:2])
        outputs = self.runtime.infer({self.input_name: self._input(image_rgb, frame)[None]})
        detections = self.decode({name: value[0] for name, value in outputs.items()}, frame)
        return [PoseAlignment(found.points_px, found.score, "frame") for found in detections]

    def align_in_crops(
        self, image_rgb: np.ndarray, boxes_xyxy: np.ndarray
    ) -> list[PoseAlignment | None]:
        """The crop pass: each box's alignment points from a square crop around it (one model
        call for all boxes); None where no detection fits the box."""
        boxes = np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 4)
        if len(boxes) == 0:
            return []
        crops = [self.crop_for_box(box) for box in boxes]
        batch = np.stack([self._input(image_rgb, crop) for crop in crops])
        outputs = self.runtime.infer({self.input_name: batch})
        return [
            self.postprocess({name: value[row] for name, value in outputs.items()}, crop)
            for row, crop in enumerate(crops)
        ]

    def is_frame_pass_useful(self, boxes: np.ndarray, image_hw: tuple[int, ...]) -> bool:
        """Whether the frame pass can match some of these (B, 4) boxes (``frame_pass`` on and
        a box at least ``frame_pass_min_box_fraction`` of the frame's longer side)."""
        longest_box = float((boxes[:, 2:] - boxes[:, :2]).max(initial=0.0))
        is_large = longest_box >= self.config.frame_pass_min_box_fraction * max(image_hw)
        return self.config.frame_pass and is_large

    def match(
        self, detections: list[PoseAlignment], boxes_xyxy: np.ndarray
    ) -> dict[int, PoseAlignment]:
        """Frame-pass detections -> the person boxes they belong to (box index -> detection).

        Greedy, best detection first: each to the free fitting box (hip centre inside, size
        compatible) whose centre is nearest its hip centre (boxes of neighbours overlap; the
        hip is inside its own person's). Detections that fit no free box are left out.
        """
        boxes = np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 4)
        matched: dict[int, PoseAlignment] = {}
        centers = (boxes[:, :2] + boxes[:, 2:]) / 2.0
        for alignment in detections:
            free = [
                i for i in range(len(boxes)) if i not in matched and self._fits(alignment, boxes[i])
            ]
            if free:
                nearest = min(
                    free, key=lambda i: float(np.linalg.norm(centers[i] - alignment.points_px[0]))
                )
                matched[nearest] = alignment
        return matched

    def rois_from_boxes(self, image_rgb: np.ndarray, boxes_xyxy: np.ndarray) -> Roi:
        """Landmark-model ROIs for person boxes: from the detector, else from the box.

        Returns:
            N ROIs in box order; ``roi_from_box`` for persons the detector misses.
        """
        boxes = np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 4)
        return self.rois_from_alignments(boxes, self.align(image_rgb, boxes))

    def rois_from_alignments(
        self, boxes_xyxy: np.ndarray, alignments: list[PoseAlignment | None]
    ) -> Roi:
        """(N,) ROIs: MediaPipe's ROI from each person's alignment points, ``roi_from_box`` of
        its (N, 4) box where the alignment is None."""
        boxes = np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 4)
        if len(alignments) != len(boxes):
            raise InvalidInputError(f"expected {len(boxes)} alignments, got {len(alignments)}")
        rois = roi_from_box(boxes)
        found = [index for index, alignment in enumerate(alignments) if alignment is not None]
        if not found:
            return rois
        points = np.stack([alignments[index].points_px for index in found])  # type: ignore[union-attr]
        aligned = roi_from_alignment_points(points[:, 0], points[:, 1], self.config.roi_scale)
        centers, sides, rotations = (
            rois.centers_px.copy(),
            rois.sides_px.copy(),
            rois.rotations_rad.copy(),
        )
        centers[found], sides[found], rotations[found] = (
            aligned.centers_px,
            aligned.sides_px,
            aligned.rotations_rad,
        )
        return Roi(centers, sides, rotations)
