"""Where each labelled person is lost (from estimator traces); traces in the cache; tiles."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from realdata.boxes import NO_PADDING
from realdata.cache import FrameRecord, load_records, save_records
from realdata.detection import match_frame
from realdata.diagnosis import (
    DUPLICATE_STAGE,
    FOUND,
    NO_PRESENCE_STAGE,
    NOT_PROPOSED,
    POSE_BOX_OFF,
    TAKEN,
    breakdown,
    diagnose_frame,
)
from realdata.tiles import TiledDetector, tile_columns_px

from posecast.engines.detectors.base import DetectorConfig, PersonBoxes
from posecast.engines.estimator import EstimateTrace
from posecast.engines.frames import FramePoses


def _landmarks(box: list[float]) -> np.ndarray:
    """(33, 2) landmarks spanning ``box`` exactly (so the unpadded landmark box is ``box``)."""
    x = np.linspace(box[0], box[2], 33)
    y = np.linspace(box[1], box[3], 33)
    return np.stack([x, y], axis=1)


TARGETS = np.array(
    [
        [0, 0, 50, 100],  # found: a kept pose on it
        [100, 0, 150, 100],  # not proposed: nothing about it
        [200, 0, 250, 100],  # its box's pose is absent
        [300, 0, 350, 100],  # its box's pose was dropped as a duplicate
        [400, 0, 450, 100],  # its box's pose was kept but covers only its legs
        [500, 0, 550, 100],  # its pose is kept but the matching gave it to the next target
        [505, 0, 555, 100],  # ... this one (overlapping, higher score first)
    ],
    float,
)
# Rows: (source, proposal box, landmark box, outcome, presence, pose row)
ROWS = [
    ("detector", [0, 0, 50, 100], [0, 0, 50, 100], "kept", 0.9, 0),
    ("detector", [200, 0, 250, 100], [200, 0, 250, 100], "no_pose_presence", 0.2, -1),
    ("detector", [300, 0, 350, 100], [300, 0, 350, 100], "duplicate", 0.9, -1),
    ("detector", [400, 0, 450, 100], [400, 60, 450, 100], "kept", 0.9, 1),
    ("detector", [500, 0, 550, 100], [503, 0, 553, 100], "kept", 0.9, 2),
]


def _trace() -> EstimateTrace:
    count = len(ROWS)
    return EstimateTrace(
        detected_xyxy=np.array([row[1] for row in ROWS], float),
        detected_scores=np.full(count, 0.8),
        sources=np.array([row[0] for row in ROWS]),
        proposal_xyxy=np.array([row[1] for row in ROWS], float),
        proposal_scores=np.full(count, 0.8),
        first_rois=np.array(["box"] * count),
        chosen=np.array(["first", "first", "first", "refined", "first"]),
        attempts=np.ones(count, np.int64),
        presence=np.array([row[4] for row in ROWS]),
        box_agreement=np.full(count, 0.7),
        landmarks_px=np.stack([_landmarks(row[2]) for row in ROWS]),
        outcomes=np.array([row[3] for row in ROWS]),
        pose_index=np.array([row[5] for row in ROWS]),
    )


def test_each_target_gets_the_stage_where_it_was_lost() -> None:
    trace = _trace()
    kept = trace.outcomes == "kept"
    pose_boxes = np.array([row[2] for row in ROWS], float)[kept]
    match = match_frame(pose_boxes, trace.presence[kept], TARGETS)
    diagnosis = diagnose_frame(trace, match, TARGETS, NO_PADDING)
    assert diagnosis.stages.tolist() == [
        FOUND,
        NOT_PROPOSED,
        NO_PRESENCE_STAGE,
        DUPLICATE_STAGE,
        POSE_BOX_OFF,
        TAKEN,
        FOUND,
    ]
    assert not diagnosis.is_retried.any()
    pooled = breakdown([diagnosis, diagnosis])
    assert pooled.num_targets == 14 and pooled.counts[FOUND] == 4 and pooled.counts[TAKEN] == 2
    assert breakdown([diagnosis], visible_only=True).num_targets == 0  # no visibility labels


def test_traces_round_trip_through_the_cache(tmp_path: Path) -> None:
    trace = _trace()
    poses = FramePoses(
        skeleton="blazepose_33",
        boxes_xyxy=np.zeros((3, 4), np.float32),
        scores=np.ones(3, np.float32),
        joints2d_px=trace.landmarks_px[trace.outcomes == "kept"].astype(np.float32),
        joints_cam_m=np.ones((3, 33, 3), np.float32),
        joint_scores=np.ones((3, 33), np.float32),
    )
    records = {
        "a": FrameRecord(poses, {"total": 1.0}, np.zeros((0, 4)), np.zeros(0), trace=trace),
        "b": FrameRecord(poses[:0], {"total": 1.0}, np.zeros((0, 4)), np.zeros(0), trace=trace),
    }
    save_records(tmp_path / "cache.npz", records, {})
    loaded, _ = load_records(tmp_path / "cache.npz")
    for key in records:
        restored = loaded[key].trace
        assert restored is not None
        assert restored.outcomes.tolist() == trace.outcomes.tolist()
        np.testing.assert_array_equal(restored.landmarks_px, trace.landmarks_px)
        np.testing.assert_array_equal(restored.detected_xyxy, trace.detected_xyxy)
    without = {"c": FrameRecord(poses, {"total": 1.0}, np.zeros((0, 4)), np.zeros(0))}
    save_records(tmp_path / "plain.npz", without, {})
    assert load_records(tmp_path / "plain.npz")[0]["c"].trace is None


@pytest.mark.parametrize(
    "width, columns, overlap, expected",
    [
        (1000, 1, 0.2, [(0, 1000)]),  # one tile: the frame
        (1800, 2, 0.2, [(0, 1000), (800, 1800)]),  # neighbours share 200 px
        (1000, 2, 0.0, [(0, 500), (500, 1000)]),
    ],
)
def test_tile_columns(width, columns, overlap, expected) -> None:
    assert tile_columns_px(width, columns, overlap) == expected


class FakeDetector:
    """The whole frame (wider than 1000 px): one person at x 10-60. A tile: that person, and
    one cut by the tile's right edge (x 960-999)."""

    def __init__(self, config: DetectorConfig | None = None) -> None:
        self.config = config or DetectorConfig()
        self.runtime = None

    def with_config(self, config: DetectorConfig) -> FakeDetector:
        return FakeDetector(config)

    def detect(self, images: list[np.ndarray]) -> list[PersonBoxes]:
        whole = PersonBoxes(np.array([[10, 10, 60, 110]], np.float32), np.array([0.9], np.float32))
        tile = PersonBoxes(
            np.array([[10, 10, 60, 110], [960, 10, 999, 110]], np.float32),
            np.array([0.8, 0.7], np.float32),
        )
        return [whole if image.shape[1] > 1000 else tile for image in images]


def test_tiles_shift_boxes_drop_cut_ones_and_fuse_duplicates() -> None:
    tiled = TiledDetector(FakeDetector(), columns=2, overlap=0.2)  # type: ignore[arg-type]
    (found,) = tiled.detect([np.zeros((200, 1800, 3), np.uint8)])
    # tiles x 0-1000 and 800-1800. Left tile: the person at 10 (a duplicate of the whole
    # frame's, which scores higher) and one cut at its inner edge (dropped). Right tile: the
    # person at 800 + 10, and one at 800 + 960 that ends at the frame's own edge (kept).
    order = np.argsort(found.boxes_xyxy[:, 0])
    assert found.boxes_xyxy[order, 0].tolist() == [10, 810, 1760]
    assert found.scores[order].tolist() == pytest.approx([0.9, 0.8, 0.7])
