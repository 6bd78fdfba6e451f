"""Person proposals: where the pose stage looks for people, from more than one source, fused
without duplicates.

Sources:

- ``detector``: the person detector's boxes (NanoDet, YOLOX-Nano): people of any size, one
  box each;
- ``pose_detector``: the BlazePose pose detector run on the whole frame (MediaPipe's own first
  step, ``PoseAlignmentDetector.detect_in_frame``): large, near people, each with its two
  alignment keypoints. It finds the prominent person a general detector scores low or boxes
  badly (a crouching or lying person, a dark frame, a person filling the frame) and costs one
  224 x 224 model call per frame; it finds nobody smaller than ~15 % of the frame's longer side.

Fusion (``fuse_proposals``), for each pose-detector detection:

- it fits a detector box (its hip centre inside the box, its body size compatible:
  ``PoseAlignmentDetector.match``): the same person; the box gets its alignment keypoints;
- its hip centre lies inside no detector box: a new person;
- its hip centre lies only inside boxes too small for it (body size > ``max_size_ratio`` x
  the box's longer side): those boxes are parts of this person (a lying or folded body that
  the detector boxes in pieces) and it replaces them;
- otherwise (inside a box too large for it, or one already taken by a better detection: a
  part of that box's person, or the same person found twice) it is dropped.

Other detector boxes are kept: two boxes of one person end in one pose (``distinct_pose_indices``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from posecast.engines.detectors.base import PersonBoxes
from posecast.engines.pose_alignment import PoseAlignment
from posecast.errors import InvalidInputError

DETECTOR, POSE_DETECTOR = "detector", "pose_detector"
PROPOSAL_SOURCES = (DETECTOR, POSE_DETECTOR)


@dataclass(frozen=True)
class Proposals:
    """The persons proposed in one image.

    Attributes:
        boxes_xyxy: (N, 4) image pixels: the detector's person box, or for a pose-detector
            proposal the axis-aligned square of its body size around its hip centre (not a
            person box: see ``has_person_box``).
        scores: (N,) the source's score (detector score, pose-detector probability).
        sources: (N,) ``"detector"`` or ``"pose_detector"``.
        alignments: N alignment keypoints (hip centre, body-size point), None where not (yet)
            known.
    """

    boxes_xyxy: np.ndarray
    scores: np.ndarray
    sources: np.ndarray
    alignments: tuple[PoseAlignment | None, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "boxes_xyxy", np.asarray(self.boxes_xyxy, np.float64))
        object.__setattr__(self, "scores", np.asarray(self.scores, np.float64))
        object.__setattr__(self, "sources", np.asarray(self.sources, dtype=str))
        object.__setattr__(self, "alignments", tuple(self.alignments))
        count = len(self.scores)
        if self.boxes_xyxy.shape != (count, 4):
            raise InvalidInputError(
                f"Proposals.boxes_xyxy: expected ({count}, 4), got {self.boxes_xyxy.shape}"
            )
        if self.sources.shape != (count,) or len(self.alignments) != count:
            raise InvalidInputError(
                f"Proposals: expected {count} sources and alignments, got "
                f"{self.sources.shape} and {len(self.alignments)}"
            )
        unknown = set(self.sources.tolist()) - set(PROPOSAL_SOURCES)
        if unknown:
            raise InvalidInputError(f"Proposals.sources: unknown {sorted(unknown)}")

    @classmethod
    def empty(cls) -> Proposals:
        return cls(np.zeros((0, 4)), np.zeros(0), np.zeros(0, str), ())

    def __len__(self) -> int:
        return len(self.scores)

    @property
    def has_person_box(self) -> np.ndarray:
        """(N,) whether ``boxes_xyxy`` is a person box (a detector's)."""
        return self.sources == DETECTOR

    def select(self, keep: np.ndarray) -> Proposals:
        """The proposals where ``keep`` (bool mask or indices) holds, in order."""
        keep = np.asarray(keep)
        indices = np.flatnonzero(keep) if keep.dtype == bool else keep.astype(np.int64)
        return Proposals(
            self.boxes_xyxy[indices],
            self.scores[indices],
            self.sources[indices],
            tuple(self.alignments[i] for i in indices),
        )

    def with_alignments(
        self, indices: Sequence[int], found: Sequence[PoseAlignment | None]
    ) -> Proposals:
        """A copy with the alignments of proposals ``indices`` replaced by ``found``."""
        alignments = list(self.alignments)
        for index, alignment in zip(indices, found, strict=True):
            alignments[index] = alignment
        return Proposals(self.boxes_xyxy, self.scores, self.sources, tuple(alignments))


def body_square_xyxy(alignment: PoseAlignment) -> np.ndarray:
    """(4,) the square of a pose-detector detection's body size (2 |p1 - p0|) around its hip
    centre: where its person is, as a box (the ROI before MediaPipe's 1.25 margin, unrotated)."""
    half = alignment.body_size_px / 2.0
    hip = alignment.points_px[0]
    return np.concatenate([hip - half, hip + half])


def fuse_proposals(
    detected: PersonBoxes,
    found_in_frame: Sequence[PoseAlignment],
    matched: Mapping[int, PoseAlignment],
    max_size_ratio: float = 2.0,
) -> Proposals:
    """The detector's boxes and the pose detector's frame detections as one set of persons.

    Args:
        detected: the detector's boxes of the image.
        found_in_frame: the pose detector's detections in the whole frame.
        matched: detector box index -> the frame detection that fits it
            (``PoseAlignmentDetector.match(found_in_frame, detected.boxes_xyxy)``).
        max_size_ratio: a detection's body size over a box's longer side above which the
            box is too small to be its person's box (``PoseAlignmentConfig.max_size_ratio``).

    Returns:
        The detector boxes that are not replaced (with their matched detection's alignment
        keypoints), in order, then the new pose-detector proposals in theirs (module
        docstring).
    """
    boxes = np.asarray(detected.boxes_xyxy, np.float64).reshape(-1, 4)
    longer_sides = (boxes[:, 2:] - boxes[:, :2]).max(axis=1, initial=0.0)
    used = {id(alignment) for alignment in matched.values()}
    is_replaced = np.zeros(len(boxes), bool)
    is_matched = np.isin(np.arange(len(boxes)), list(matched))
    new = []
    for alignment in found_in_frame:
        if id(alignment) in used:
            continue
        hip = alignment.points_px[0]
        is_inside = (boxes[:, :2] <= hip).all(axis=1) & (hip <= boxes[:, 2:]).all(axis=1)
        is_too_small = alignment.body_size_px > max_size_ratio * longer_sides
        if np.any(is_inside & (~is_too_small | is_matched)):
            continue
        is_replaced |= is_inside
        new.append(alignment)
    kept = np.flatnonzero(~is_replaced)
    return Proposals(
        boxes_xyxy=np.concatenate(
            [boxes[kept], np.array([body_square_xyxy(a) for a in new]).reshape(-1, 4)]
        ),
        scores=np.concatenate([np.asarray(detected.scores)[kept], [a.score for a in new]]),
        sources=np.array([DETECTOR] * len(kept) + [POSE_DETECTOR] * len(new)),
        alignments=tuple(matched.get(int(i)) for i in kept) + tuple(new),
    )
