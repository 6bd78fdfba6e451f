"""Identities through what breaks them on real video: full occlusions (re-identification by
appearance), gross monocular depth failures (the image cue), crowds (bounded memory)."""

from dataclasses import replace

import numpy as np
import pytest

from posecast.engines.frames import FramePoses
from posecast.tracker.config import SmoothingConfig, TrackerConfig
from posecast.tracker.track import TrackState, is_predicted
from posecast.tracker.tracker import Tracker
from synthetic.scenes import SYNTHETIC_SKELETON, walking_skeleton

PERIOD_S = 0.1
FOCAL_PX = 1000.0
RAW = TrackerConfig(smoothing=SmoothingConfig(is_enabled=False))
RED, GREEN = np.eye(6)[0] + 0.1, np.eye(6)[1] + 0.1
"""Appearance descriptors of two differently dressed people."""


def person(x_m: float, z_m: float = 5.0) -> np.ndarray:
    """(17, 3) joints of a person standing with the pelvis above ground point (x, z)."""
    return walking_skeleton(np.array([x_m, z_m]), 0.0, 0.0, 1.0, 1.6)


def frame(
    people: list[tuple[np.ndarray, np.ndarray | None]],
    range_scales: list[float] | None = None,
) -> FramePoses:
    """Detections of (joints, appearance) pairs, score 0.9; ``range_scales`` slide each pose
    along its camera rays (a monocular depth error: same image, other range)."""
    if not people:
        return FramePoses.empty(SYNTHETIC_SKELETON, 17)
    joints = np.stack([joints for joints, _ in people])
    joints2d = joints[..., :2] / joints[..., 2:3] * FOCAL_PX + 500.0
    if range_scales is not None:
        joints = joints * np.asarray(range_scales)[:, None, None]
    appearance = None
    if all(descriptor is not None for _, descriptor in people):
        appearance = np.stack([descriptor for _, descriptor in people])
    return FramePoses(
        skeleton=SYNTHETIC_SKELETON,
        boxes_xyxy=np.concatenate([joints2d.min(axis=1), joints2d.max(axis=1)], axis=1),
        scores=np.full(len(people), 0.9),
        joints2d_px=joints2d,
        joints_cam_m=joints,
        joint_scores=np.ones(joints.shape[:2]),
        appearance=appearance,
    )


def _ids(output: FramePoses) -> list[int]:
    return output[~is_predicted(output)].track_ids.tolist()


def test_full_occlusion_re_identifies_by_appearance() -> None:
    tracker = Tracker(RAW)
    t = 0.0
    for k in range(10):  # walking at 0.5 m/s, then hidden for 4 s (searching, then lost)
        t = k * PERIOD_S
        (first,) = _ids(tracker.update(frame([(person(0.05 * k), RED)]), t))
    for k in range(1, 40):
        tracker.update(frame([]), t + k * PERIOD_S)
    (track,) = tracker.tracks
    assert track.state is TrackState.LOST
    # back 1.5 m further on (reachable at reid_max_speed_m_s), looking the same: same track
    out = tracker.update(frame([(person(2.0), RED)]), t + 4.0)
    assert _ids(out) == [first] and out.track_states.tolist() == ["confirmed"]


def test_someone_else_at_the_same_place_gets_a_new_track() -> None:
    tracker = Tracker(RAW)
    for k in range(10):
        (first,) = _ids(tracker.update(frame([(person(0.0), RED)]), k * PERIOD_S))
    for k in range(10, 40):
        tracker.update(frame([]), k * PERIOD_S)
    (other,) = _ids(tracker.update(frame([(person(0.3), GREEN)]), 4.0))
    assert other != first
    # and without appearance (the cue off) a lost track never comes back
    tracker = Tracker(replace(RAW, appearance_cue=False))
    for k in range(10):
        (first,) = _ids(tracker.update(frame([(person(0.0), RED)]), k * PERIOD_S))
    for k in range(10, 40):
        tracker.update(frame([]), k * PERIOD_S)
    assert _ids(tracker.update(frame([(person(0.0), RED)]), 4.0)) != [first]


def test_lost_track_terminates_after_the_re_identification_window() -> None:
    tracker = Tracker(replace(RAW, reid_window_s=3.0))
    for k in range(10):
        tracker.update(frame([(person(0.0), RED)]), k * PERIOD_S)
    states = {}
    for k in range(10, 45):
        out = tracker.update(frame([]), k * PERIOD_S)
        states[k] = out.track_states.tolist()
    assert states[12] == ["searching"]  # predicted, reported
    assert states[30] == []  # lost: kept, not reported
    # about 3 s after last seen (at 0.9 s) it terminates, reported once
    (terminated_at,) = [k for k, names in states.items() if names == ["terminated"]]
    assert terminated_at in (39, 40)
    assert states[44] == [] and tracker.tracks == []


@pytest.mark.parametrize("use_image", [True, False])
def test_depth_jump_at_range_keeps_the_track_when_the_image_holds(use_image: bool) -> None:
    # Two people 15 m away, 1 m apart, with monocular range noise (0.3 m), then one frame in
    # which one person's range jumps 5 m (a gross monocular failure) while the image holds.
    rng = np.random.default_rng(0)
    tracker = Tracker(replace(RAW, image_cue=use_image, appearance_cue=False))
    for k in range(20):
        scales = 1.0 + rng.normal(0, 0.3, 2) / 15.0
        people = [(person(-0.5 + 0.1 * k * PERIOD_S, 15.0), None), (person(0.5, 15.0), None)]
        before = _ids(tracker.update(frame(people, list(scales)), k * PERIOD_S))
    people = [(person(-0.5 + 0.1 * 20 * PERIOD_S, 15.0), None), (person(0.5, 15.0), None)]
    after = _ids(tracker.update(frame(people, [20.0 / 15.0, 1.0]), 20 * PERIOD_S))
    assert (after == before) == use_image


def test_depth_is_trusted_where_it_is_good() -> None:
    # Near the camera, with centimetre depth noise: a person passing 0.6 m behind another who
    # is hidden keeps their own identity; the image cue never lets the hidden person's track
    # take the other's detection.
    tracker = Tracker(replace(RAW, appearance_cue=False))
    for k in range(10):
        front, back = person(0.0, 4.0), person(0.3, 4.6)
        ids = _ids(tracker.update(frame([(front, None), (back, None)]), k * PERIOD_S))
    out = tracker.update(frame([(person(0.3, 4.6), None)]), 10 * PERIOD_S)  # front one hidden
    assert _ids(out) == [ids[1]]


def test_crossing_of_two_differently_dressed_people_keeps_identities() -> None:
    # Far away (monocular depth noise of 0.5 m), they walk through each other in the image;
    # during the crossing the one behind is hidden for three frames.
    rng = np.random.default_rng(1)
    tracker = Tracker(RAW)
    owners: dict[int, set[int]] = {0: set(), 1: set()}
    for k in range(40):
        t = k * PERIOD_S
        a = (person(-2.0 + 0.1 * k, 14.0), RED)
        b = (person(2.0 - 0.1 * k, 15.0), GREEN)
        visible = [a] if 18 <= k <= 20 else [a, b]
        scales = list(1.0 + rng.normal(0, 0.5, len(visible)) / 14.0)
        out = tracker.update(frame(visible, scales), t)
        for who, track_id in enumerate(_ids(out)):
            if k >= 3:
                owners[who].add(track_id)
    assert len(owners[0]) == 1 and len(owners[1]) == 1 and owners[0] != owners[1]


def test_memory_is_bounded_with_many_people_coming_and_going() -> None:
    config = replace(RAW, max_tracks=8, appearance_gallery_size=4, appearance_gallery_interval_s=0)
    tracker = Tracker(config)
    rng = np.random.default_rng(2)
    for k in range(200):
        # a new group of 3 every 10 frames, each seen for 5 frames
        group = k // 10
        people = [
            (person(-3.0 + 2.0 * i + 0.01 * k, 6.0 + group % 5), rng.random(6))
            for i in range(3)
            if k % 10 < 5
        ]
        tracker.update(frame(people), k * PERIOD_S)
        assert len([track for track in tracker.tracks if track.is_live]) <= config.max_tracks
        for track in tracker.tracks:
            assert track.appearance is None or len(track.appearance.gallery) <= 4
