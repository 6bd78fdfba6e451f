"""Person proposals: the detector's boxes and the pose detector's frame detections fused
without duplicates."""

from __future__ import annotations

import numpy as np
import pytest

from posecast.engines.detectors.base import PersonBoxes
from posecast.engines.pose_alignment import PoseAlignment
from posecast.engines.proposals import (
    DETECTOR,
    POSE_DETECTOR,
    Proposals,
    body_square_xyxy,
    fuse_proposals,
)
from posecast.errors import InvalidInputError

# Two standing people, 200 px tall, side by side.
BOXES = PersonBoxes(
    np.array([[100, 100, 180, 300], [300, 100, 380, 300]], np.float32),
    np.array([0.9, 0.6], np.float32),
)


def detection(hip_xy: tuple[float, float], body_size_px: float, score: float = 0.8):
    """A frame detection with its hip centre at ``hip_xy`` and ``body_size_px`` = 2 |p1 - p0|."""
    hip = np.array(hip_xy, float)
    return PoseAlignment(np.stack([hip, hip - [0, body_size_px / 2]]), score, "frame")


@pytest.mark.parametrize(
    "case, hip_xy, body_size_px, matched_box, sources",
    [
        # fits the first box (the aligner matched them): no new person, the box keeps it
        ("matched", (140, 200), 200, 0, [DETECTOR, DETECTOR]),
        # a large person no box covers (the detector missed them): a new proposal
        ("outside every box", (600, 200), 300, None, [DETECTOR, DETECTOR, POSE_DETECTOR]),
        # inside a box too large for it (a part of that box's person): dropped
        ("inside a larger box", (140, 200), 60, None, [DETECTOR, DETECTOR]),
        # inside a box too small for it (the detector boxed a lying person in pieces): the
        # detection replaces that box
        ("inside a smaller box", (340, 200), 900, None, [DETECTOR, POSE_DETECTOR]),
    ],
)
def test_fusion_adds_each_person_once(case, hip_xy, body_size_px, matched_box, sources) -> None:
    found = detection(hip_xy, body_size_px)
    matched = {} if matched_box is None else {matched_box: found}
    proposals = fuse_proposals(BOXES, [found], matched)
    assert proposals.sources.tolist() == sources, case
    if matched_box is not None:
        assert proposals.alignments[matched_box] is found
    if POSE_DETECTOR in sources:
        assert proposals.alignments[-1] is found
        np.testing.assert_allclose(proposals.boxes_xyxy[-1], body_square_xyxy(found))
        assert proposals.scores[-1] == pytest.approx(found.score)
        assert not proposals.has_person_box[-1]


def test_a_detection_of_a_box_already_taken_is_not_a_new_person() -> None:
    # the second, weaker detection of the first person would fit its box, but the box is taken
    best, second = detection((140, 200), 200, 0.9), detection((150, 205), 190, 0.6)
    proposals = fuse_proposals(BOXES, [best, second], {0: best})
    assert proposals.sources.tolist() == [DETECTOR, DETECTOR]
    assert proposals.alignments == (best, None)


@pytest.mark.parametrize(
    "boxes, found, expected",
    [
        (PersonBoxes.empty(), [], []),  # nothing at all
        (BOXES, [], [DETECTOR, DETECTOR]),  # the detector alone
        (PersonBoxes.empty(), [detection((50, 50), 80)], [POSE_DETECTOR]),  # the pose detector
    ],
)
def test_fusion_of_empty_sources(boxes, found, expected) -> None:
    proposals = fuse_proposals(boxes, found, {})
    assert proposals.sources.tolist() == expected
    assert proposals.boxes_xyxy.shape == (len(expected), 4)
    assert len(proposals) == len(proposals.alignments) == len(expected)


def test_select_and_with_alignments_keep_the_fields_together() -> None:
    found = detection((600, 200), 300)
    proposals = fuse_proposals(BOXES, [found], {})
    second_and_third = proposals.select(np.array([False, True, True]))
    assert second_and_third.sources.tolist() == [DETECTOR, POSE_DETECTOR]
    np.testing.assert_allclose(second_and_third.boxes_xyxy[0], BOXES.boxes_xyxy[1])
    aligned = second_and_third.with_alignments([0], [found])
    assert aligned.alignments == (found, found)
    assert second_and_third.alignments == (None, found)  # unchanged


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"boxes_xyxy": np.zeros((1, 3))}, "boxes_xyxy"),
        ({"sources": np.array(["detector", "detector"])}, "sources"),
        ({"sources": np.array(["camera"])}, "unknown"),
        ({"alignments": ()}, "alignments"),
    ],
)
def test_proposals_validate_their_fields(fields, message) -> None:
    valid = {
        "boxes_xyxy": np.zeros((1, 4)),
        "scores": np.ones(1),
        "sources": np.array([DETECTOR]),
        "alignments": (None,),
    }
    with pytest.raises(InvalidInputError, match=message):
        Proposals(**{**valid, **fields})


def test_empty_proposals() -> None:
    empty = Proposals.empty()
    assert len(empty) == 0 and empty.boxes_xyxy.shape == (0, 4)
    assert empty.has_person_box.shape == (0,)
