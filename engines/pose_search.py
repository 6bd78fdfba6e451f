"""The landmark stage for new persons: each proposal's first ROI, and other ROIs where its pose
fails.

Why (measured person by person on the development data, docs/estimation.md "Finding every
person"): the landmark model loses people the detector found when their ROI frames them
badly. A box ROI around a seated, crouching or partly hidden person gives presence < 0.5; an
alignment ROI built from keypoints that belong to a neighbour puts the pose on that neighbour
(two proposals converge, one is dropped as a duplicate); an alignment ROI that does not cover
the person (bent over, hands near the floor) gives a skeleton of half the body. The pose's
own box says which: a good pose covers the proposal box it came from.

The search, per frame (each step one batched model call for the proposals it concerns):

1. first ROI: the alignment ROI (MediaPipe's) where it covers at least
   ``min_alignment_coverage`` of the person box, else the box ROI (``roi_from_box``);
   pose-detector proposals (no person box) start from their alignment ROI;
2. a pose is accepted when it is present (``BlazePoseConfig.presence_threshold``) and its box
   (``pose_boxes_xyxy``) overlaps the proposal box by IoU >= ``min_box_agreement``
   (pose-detector proposals: when it is present);
3. proposals whose pose is not accepted try the ROIs of ``retries`` in order: ``"box"`` (the
   box ROI, unless the first ROI was one) and ``"refined"`` (the ROI from the last pose's
   auxiliary landmarks 33 and 34: MediaPipe's tracking ROI, which re-centres a cut-off pose);
4. each proposal keeps its first pose unless a retry gives an accepted one (the first
   accepted pose ends its retries). A retry pose that is present but does not agree with the
   box is not taken: measured on MOT17, PETS09 and the image sets, such poses were as often
   a second pose on a neighbour or on part of the person as a person found.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from posecast.engines.blazepose import (
    ALIGNMENT_CENTER,
    ALIGNMENT_SCALE,
    BlazePoseLandmarkModel,
    BlazePoses,
)
from posecast.engines.geometry.rois import Roi, roi_from_box

RoiRetry = Literal["box", "refined"]
ROI_RETRIES: tuple[RoiRetry, ...] = ("box", "refined")
FIRST, BOX, REFINED = "first", "box", "refined"

POSE_BOX_PADDING = (0.09, 0.04, 0.05)
"""(top, bottom, side) padding of a landmark box, in units of its height, that makes it
comparable with a person box: the head top is above the eyes and ears, boxes end below the
soles (the padding with the best mean IoU against the MOT17 and PETS09 boxes,
``benchmarks/realdata/boxes.py``)."""
COVERAGE_GRID_POINTS = 9
"""Samples per box side when measuring how much of a box a ROI covers (81 points: +-1 %)."""


@dataclass(frozen=True)
class PoseSearchConfig:
    """How the landmark stage searches for a new person's pose.

    Attributes:
        min_alignment_coverage: the alignment ROI is the first ROI only if it covers at least
            this fraction of the person box's area; else the box ROI (a ROI that leaves part
            of the person out gives a partial, shrunken skeleton). 0 always trusts it.
        min_box_agreement: IoU between a pose's box and its proposal box at which the pose is
            accepted without trying other ROIs. Higher: more retries (one landmark run each),
            fewer poses that sit on a neighbour or on part of the person; 0 accepts every
            present pose (only presence failures are retried).
        retries: the ROIs tried, in order, while a proposal's pose is not accepted (module
            docstring). Empty: one ROI per proposal (the estimator before this search).
    """

    min_alignment_coverage: float = 0.9
    min_box_agreement: float = 0.6
    retries: tuple[RoiRetry, ...] = ROI_RETRIES

    def __post_init__(self) -> None:
        object.__setattr__(self, "retries", tuple(self.retries))
        if not 0.0 <= self.min_alignment_coverage <= 1.0:
            raise ValueError(
                f"min_alignment_coverage must be in [0, 1], got {self.min_alignment_coverage}"
            )
        if not 0.0 <= self.min_box_agreement <= 1.0:
            raise ValueError(f"min_box_agreement must be in [0, 1], got {self.min_box_agreement}")
        unknown = [retry for retry in self.retries if retry not in ROI_RETRIES]
        if unknown or len(set(self.retries)) != len(self.retries):
            raise ValueError(f"retries must be distinct items of {ROI_RETRIES}, got {self.retries}")


@dataclass(frozen=True)
class PoseSearchResult:
    """The pose chosen for each of N proposals (presence not applied yet).

    Attributes:
        poses: N poses, one per proposal, in proposal order.
        chosen: (N,) which ROI gave the chosen pose: ``"first"``, ``"box"`` or ``"refined"``
            (a retry's only where it was accepted).
        attempts: (N,) landmark model runs spent on each proposal.
        box_agreement: (N,) IoU of the chosen pose's box with the proposal box (NaN without a
            person box).
    """

    poses: BlazePoses
    chosen: np.ndarray
    attempts: np.ndarray
    box_agreement: np.ndarray


def pose_boxes_xyxy(landmarks_px: np.ndarray) -> np.ndarray:
    """(N, L, 2) landmarks -> (N, 4) person boxes: their extent, padded by
    :data:`POSE_BOX_PADDING`."""
    landmarks = np.asarray(landmarks_px, np.float64)
    if len(landmarks) == 0:
        return np.zeros((0, 4))
    boxes = np.concatenate([landmarks.min(axis=1), landmarks.max(axis=1)], axis=1)
    top, bottom, side = POSE_BOX_PADDING
    heights = (boxes[:, 3] - boxes[:, 1])[:, None]
    return boxes + heights * np.array([-side, -top, side, bottom])


def box_coverage(boxes_xyxy: np.ndarray, rois: Roi) -> np.ndarray:
    """(N,) fraction of each (N, 4) box's area inside its (rotated, square) ROI, sampled on a
    grid of ``COVERAGE_GRID_POINTS`` squared points."""
    boxes = np.asarray(boxes_xyxy, np.float64).reshape(-1, 4)
    if len(boxes) != len(rois):
        raise ValueError(f"expected one ROI per box, got {len(rois)} for {len(boxes)}")
    steps = (np.arange(COVERAGE_GRID_POINTS) + 0.5) / COVERAGE_GRID_POINTS
    grid_x = boxes[:, 0:1] + steps * (boxes[:, 2:3] - boxes[:, 0:1])  # (N, G)
    grid_y = boxes[:, 1:2] + steps * (boxes[:, 3:4] - boxes[:, 1:2])
    offset_x = grid_x[:, None, :] - rois.centers_px[:, 0, None, None]  # (N, G, G): y, x
    offset_y = grid_y[:, :, None] - rois.centers_px[:, 1, None, None]
    cos = np.cos(rois.rotations_rad)[:, None, None]
    sin = np.sin(rois.rotations_rad)[:, None, None]
    half = rois.sides_px[:, None, None] / 2.0
    along_x = offset_x * cos + offset_y * sin  # in the ROI's own axes
    along_y = -offset_x * sin + offset_y * cos
    inside = (np.abs(along_x) <= half) & (np.abs(along_y) <= half)
    return inside.mean(axis=(1, 2))


def choose_first_rois(
    boxes_xyxy: np.ndarray,
    alignment_rois: Roi,
    has_alignment: np.ndarray,
    has_person_box: np.ndarray,
    min_alignment_coverage: float,
) -> tuple[Roi, np.ndarray]:
    """Each proposal's first ROI and whether it is the box ROI (step 1 of the module docstring).

    Args:
        boxes_xyxy: (N, 4) proposal boxes.
        alignment_rois: N ROIs from the alignment keypoints (anything where there are none).
        has_alignment: (N,) whether the proposal has alignment keypoints.
        has_person_box: (N,) whether its box is a person box (else the alignment ROI is used).
        min_alignment_coverage: ``PoseSearchConfig.min_alignment_coverage``.
    """
    boxes = np.asarray(boxes_xyxy, np.float64).reshape(-1, 4)
    covers = box_coverage(boxes, alignment_rois) >= min_alignment_coverage
    use_alignment = np.asarray(has_alignment, bool) & (covers | ~np.asarray(has_person_box, bool))
    box_rois = roi_from_box(boxes)
    rois = Roi(
        np.where(use_alignment[:, None], alignment_rois.centers_px, box_rois.centers_px),
        np.where(use_alignment, alignment_rois.sides_px, box_rois.sides_px),
        np.where(use_alignment, alignment_rois.rotations_rad, box_rois.rotations_rad),
    )
    return rois, ~use_alignment


def _areas(boxes_xyxy: np.ndarray) -> np.ndarray:
    return np.clip(boxes_xyxy[:, 2:] - boxes_xyxy[:, :2], 0, None).prod(axis=1)


def _has_distinct_aux_points(poses: BlazePoses) -> np.ndarray:
    """(N,) whether the auxiliary landmarks can make a ROI (finite, not coincident)."""
    aux = poses.landmarks_crop_px[:, [ALIGNMENT_CENTER, ALIGNMENT_SCALE], :2]
    length = np.linalg.norm(aux[:, 1] - aux[:, 0], axis=-1)
    return np.isfinite(length) & (length > 1e-6)


class PoseSearch:
    """Runs the search of the module docstring with one landmark model."""

    def __init__(self, model: BlazePoseLandmarkModel, config: PoseSearchConfig | None = None):
        self.model = model
        self.config = config or PoseSearchConfig()

    def _ranking(self, poses: BlazePoses, boxes: np.ndarray, has_box: np.ndarray) -> np.ndarray:
        """(N,) box agreement of present poses (1 without a box), -1 below presence; a little
        presence breaks ties and orders the absent ones."""
        agreement = self._agreement(poses, boxes, has_box)
        present = self.model.is_present(poses)
        return (
            np.where(present, np.nan_to_num(agreement, nan=1.0), -1.0) + 1e-3 * poses.pose_presence
        )

    @staticmethod
    def _agreement(poses: BlazePoses, boxes: np.ndarray, has_box: np.ndarray) -> np.ndarray:
        if len(poses) == 0:
            return np.zeros(0)
        pose_boxes = pose_boxes_xyxy(poses.landmarks_px)
        low = np.maximum(pose_boxes[:, :2], boxes[:, :2])
        high = np.minimum(pose_boxes[:, 2:], boxes[:, 2:])
        intersection = np.clip(high - low, 0, None).prod(axis=1)
        union = _areas(pose_boxes) + _areas(boxes) - intersection
        iou = np.divide(intersection, union, out=np.zeros_like(union), where=union > 0)
        return np.where(has_box, iou, np.nan)

    def _is_accepted(self, ranking: np.ndarray, has_box: np.ndarray) -> np.ndarray:
        threshold = np.where(has_box, self.config.min_box_agreement, 0.0)
        return ranking >= threshold

    def search(
        self,
        image_rgb: np.ndarray,
        boxes_xyxy: np.ndarray,
        has_person_box: np.ndarray,
        first_rois: Roi,
        is_first_box_roi: np.ndarray,
        first_poses: BlazePoses | None = None,
    ) -> PoseSearchResult:
        """The best pose of each proposal (module docstring, steps 2-4).

        Args:
            image_rgb: (H, W, 3) uint8 RGB image.
            boxes_xyxy: (N, 4) proposal boxes, image pixels.
            has_person_box: (N,) whether each box is a person box to agree with.
            first_rois: N first ROIs (``choose_first_rois``).
            is_first_box_roi: (N,) whether each first ROI is the box ROI.
            first_poses: the model's poses of ``first_rois`` when the caller already ran it
                (in the same model call as its other ROIs); else the search runs it.
        """
        boxes = np.asarray(boxes_xyxy, np.float64).reshape(-1, 4)
        has_box = np.asarray(has_person_box, bool)
        is_box_roi = np.asarray(is_first_box_roi, bool)
        count = len(boxes)
        if first_poses is None:
            first_poses = self.model.predict(image_rgb, first_rois)
        candidates = [first_poses]
        best = np.arange(count)  # rows of the concatenated candidates
        last = np.arange(count)
        best_ranking = self._ranking(candidates[0], boxes, has_box)
        chosen = np.full(count, FIRST, dtype=object)
        attempts = np.ones(count, np.int64)
        offset = count
        for retry in self.config.retries:
            pending = ~self._is_accepted(best_ranking, has_box)
            if not pending.any():
                break
            if retry == BOX:
                todo = np.flatnonzero(pending & has_box & ~is_box_roi)
                rois = roi_from_box(boxes[todo])
            else:
                previous = BlazePoses.concatenate(candidates).select(last)
                todo = np.flatnonzero(pending & _has_distinct_aux_points(previous))
                rois = previous.select(todo).next_rois()
            if len(todo) == 0:
                continue
            tried = self.model.predict(image_rgb, rois)
            ranking = self._ranking(tried, boxes[todo], has_box[todo])
            is_better = self._is_accepted(ranking, has_box[todo])
            rows = offset + np.arange(len(todo))
            best[todo[is_better]] = rows[is_better]
            best_ranking[todo[is_better]] = ranking[is_better]
            chosen[todo[is_better]] = retry
            last[todo] = rows
            attempts[todo] += 1
            candidates.append(tried)
            offset += len(todo)
        poses = BlazePoses.concatenate(candidates).select(best)
        return PoseSearchResult(
            poses=poses,
            chosen=chosen.astype(str),
            attempts=attempts,
            box_agreement=self._agreement(poses, boxes, has_box),
        )
