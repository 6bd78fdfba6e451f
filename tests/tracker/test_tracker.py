"""Scenarios stepped frame by frame, checking ids and states."""

from dataclasses import replace

import numpy as np
import pytest

from posecast.engines.frames import UNTRACKED_ID, FramePoses
from posecast.errors import InvalidInputError
from posecast.tracker.config import AssociationMode, SmoothingConfig, TrackerConfig
from posecast.tracker.references import ReferencePoses
from posecast.tracker.tracker import Tracker
from synthetic.scenes import SYNTHETIC_SKELETON, walking_skeleton

PERIOD_S = 1 / 30
NUM_JOINTS = 17


def person_joints(x_m: float, z_m: float = 5.0) -> np.ndarray:
    """(17, 3) joints of a person standing with the pelvis above ground point (x, z)."""
    return walking_skeleton(np.array([x_m, z_m]), 0.0, 0.0, 1.0, 1.6)


def frame_of(people: list[tuple[np.ndarray, float]]) -> FramePoses:
    """Detections of (joints (17, 3), score) pairs, every joint fully confident."""
    if not people:
        return FramePoses.empty(SYNTHETIC_SKELETON, NUM_JOINTS)
    joints = np.stack([joints for joints, _ in people])
    joints2d = joints[..., :2] / joints[..., 2:3] * 1000.0 + 500.0
    return FramePoses(
        skeleton=SYNTHETIC_SKELETON,
        boxes_xyxy=np.concatenate([joints2d.min(axis=1), joints2d.max(axis=1)], axis=1),
        scores=np.array([score for _, score in people]),
        joints2d_px=joints2d,
        joints_cam_m=joints,
        joint_scores=np.ones(joints.shape[:2]),
    )


RAW = TrackerConfig(smoothing=SmoothingConfig(is_enabled=False))


def _states(output) -> dict[int, str]:
    return {int(i): str(s) for i, s in zip(output.track_ids, output.track_states, strict=True)}


def _confirmed_track(
    tracker: Tracker, x_m: float = 0.0, speed_m_s: float = 0.0
) -> tuple[int, float]:
    """Feed three frames of one person; returns its id and the last time."""
    for k in range(3):
        t = k * PERIOD_S
        out = tracker.update(frame_of([(person_joints(x_m + speed_m_s * t), 0.9)]), t)
    assert list(out.track_states) == ["confirmed"]
    return int(out.track_ids[0]), t


def test_tentative_until_confirm_hits_then_confirmed() -> None:
    tracker = Tracker(RAW)
    states = []
    for k in range(4):
        out = tracker.update(frame_of([(person_joints(0.04 * k), 0.9)]), k * PERIOD_S)
        states.append((int(out.track_ids[0]), str(out.track_states[0])))
    assert states == [(1, "tentative"), (1, "tentative"), (1, "confirmed"), (1, "confirmed")]


def test_tentative_track_terminates_on_a_miss_reported_once() -> None:
    tracker = Tracker(RAW)
    tracker.update(frame_of([(person_joints(0.0), 0.9)]), 0.0)
    missed = tracker.update(frame_of([]), PERIOD_S)
    after = tracker.update(frame_of([]), 2 * PERIOD_S)
    assert _states(missed) == {1: "terminated"}
    assert missed.scores.tolist() == [0.0]
    assert len(after) == 0 and tracker.tracks == []


def test_searching_until_timeout_in_seconds_despite_dropped_frames() -> None:
    tracker = Tracker(replace(RAW, searching_timeout_s=0.5))
    track_id, last_seen_s = _confirmed_track(tracker)
    # Frames arrive irregularly (some dropped): the timeout counts seconds, not frames.
    seen = {}
    for t in (0.1, 0.4, 0.55, 0.6):
        seen[t] = _states(tracker.update(frame_of([]), last_seen_s + t)).get(track_id)
    assert seen == {0.1: "searching", 0.4: "searching", 0.55: "terminated", 0.6: None}


def test_one_missed_frame_after_a_long_drop_terminates() -> None:
    tracker = Tracker(replace(RAW, searching_timeout_s=0.5))
    track_id, last_seen_s = _confirmed_track(tracker)
    out = tracker.update(frame_of([]), last_seen_s + 2.0)  # one frame, two seconds later
    assert _states(out) == {track_id: "terminated"}


def test_searching_track_reports_constant_velocity_prediction() -> None:
    tracker = Tracker(RAW)
    speed_m_s = 1.2
    for k in range(6):
        t = k * PERIOD_S
        tracker.update(frame_of([(person_joints(speed_m_s * t), 0.9)]), t)
    out = tracker.update(frame_of([]), 0.4)
    assert list(out.track_states) == ["searching"]
    expected = person_joints(speed_m_s * 0.4)
    assert np.abs(out.joints_cam_m[0] - expected).max() < 0.02


def test_reacquisition_reestimates_velocity_from_observations() -> None:
    # Walks at 1.2 m/s, is hidden for 0.5 s during which they slow to 0.4 m/s on average.
    tracker = Tracker(RAW)
    for k in range(10):
        tracker.update(frame_of([(person_joints(1.2 * k * PERIOD_S), 0.9)]), k * PERIOD_S)
    last_x_m, last_s = 1.2 * 9 * PERIOD_S, 9 * PERIOD_S
    for k in range(1, 15):
        tracker.update(frame_of([]), last_s + k * PERIOD_S)
    back_s = last_s + 0.5
    out = tracker.update(frame_of([(person_joints(last_x_m + 0.4 * 0.5), 0.9)]), back_s)
    assert _states(out) == {1: "confirmed"}
    (track,) = tracker.tracks
    # OC-SORT: velocity = displacement between real observations / time between them.
    assert track.motion.velocity_m_s[0] == pytest.approx(0.4, abs=0.02)


def test_smoother_restarts_on_reacquisition() -> None:
    tracker = Tracker(TrackerConfig())
    _confirmed_track(tracker)
    tracker.update(frame_of([]), 0.2)
    moved = person_joints(0.3)
    out = tracker.update(frame_of([(moved, 0.9)]), 0.4)
    assert out.joints_cam_m[0] == pytest.approx(moved)  # no blending with the old position
    assert out.joints_cam_raw_m[0] == pytest.approx(moved)


@pytest.mark.parametrize(
    ("offset_m", "unseen_s", "is_matched"),
    [
        (0.3, 0.0, True),  # inside the gate of a track seen in the previous frame
        (0.6, 0.0, False),  # outside it: a new tentative track instead
        (0.8, 0.0, False),
        (0.8, 1.0, True),  # the gate grew while the track was unseen (0.4 + 0.5 m/s * 1 s)
        (1.3, 1.0, False),  # but not beyond max_gate_m
    ],
)
def test_gate_grows_with_time_unseen(offset_m: float, unseen_s: float, is_matched: bool) -> None:
    tracker = Tracker(replace(RAW, searching_timeout_s=5.0))
    track_id, last_s = _confirmed_track(tracker)  # standing still: the prediction stays put
    if unseen_s:
        tracker.update(frame_of([]), last_s + unseen_s)
    out = tracker.update(frame_of([(person_joints(offset_m), 0.9)]), last_s + unseen_s + PERIOD_S)
    assert bool(out.track_ids[0] == track_id) == is_matched


def test_confident_detections_are_matched_before_less_confident_ones() -> None:
    tracker = Tracker(RAW)
    track_id, last_s = _confirmed_track(tracker)
    # The low-score detection is closer, but the first stage gives the track the confident one.
    out = tracker.update(
        frame_of([(person_joints(0.05), 0.3), (person_joints(0.25), 0.9)]), last_s + PERIOD_S
    )
    assert out.track_ids[:2].tolist() == [UNTRACKED_ID, track_id]


def test_less_confident_detection_keeps_a_leftover_track() -> None:
    tracker = Tracker(RAW)
    for k in range(3):
        people = [(person_joints(-1.0), 0.9), (person_joints(1.0), 0.9)]
        out = tracker.update(frame_of(people), k * PERIOD_S)
    first, second = out.track_ids.tolist()
    out = tracker.update(
        frame_of([(person_joints(-1.0), 0.9), (person_joints(1.0), 0.3)]), 3 * PERIOD_S
    )
    assert out.track_ids.tolist() == [first, second]
    assert out.track_states.tolist() == ["confirmed", "confirmed"]


@pytest.mark.parametrize(
    ("score", "starts_track"),
    [(0.9, True), (0.5, True), (0.49, False), (0.2, False), (0.05, False)],
)
def test_only_confident_detections_start_tracks(score: float, starts_track: bool) -> None:
    out = Tracker(RAW).update(frame_of([(person_joints(0.0), score)]), 0.0)
    assert bool(out.track_ids[0] != UNTRACKED_ID) == starts_track


def test_timestamps_must_increase() -> None:
    tracker = Tracker(RAW)
    tracker.update(frame_of([]), 1.0)
    with pytest.raises(InvalidInputError, match="timestamps must increase"):
        tracker.update(frame_of([]), 1.0)


def _references(ids: list[int], people: list[np.ndarray]) -> ReferencePoses:
    frame = frame_of([(joints, 1.0) for joints in people])
    return ReferencePoses(np.array(ids), frame.joints2d_px, np.ones(frame.joint_scores.shape))


def test_unknown_association_creates_tracks_only_for_references() -> None:
    config = replace(RAW, association=AssociationMode.UNKNOWN)
    tracker = Tracker(config)
    left, right, third = person_joints(-1.0), person_joints(1.0), person_joints(2.5)
    # References list the right person first; ids come from them, not from a counter.
    references = _references([42, 7], [right, left])
    out = tracker.update(frame_of([(left, 0.9), (right, 0.9), (third, 0.9)]), 0.0, references)
    assert out.track_ids.tolist() == [7, 42, UNTRACKED_ID]
    assert out.track_states.tolist()[:2] == ["confirmed", "confirmed"]
    for k in range(1, 10):  # a newcomer never gets a track
        newcomer = person_joints(-2.5)
        out = tracker.update(frame_of([(newcomer, 0.9), (right, 0.9), (left, 0.9)]), k * PERIOD_S)
        assert out.track_ids.tolist() == [UNTRACKED_ID, 42, 7]


def test_unknown_association_needs_references_on_the_first_frame_only() -> None:
    tracker = Tracker(replace(RAW, association=AssociationMode.UNKNOWN))
    with pytest.raises(InvalidInputError, match="needs references on the first frame"):
        tracker.update(frame_of([]), 0.0)
    references = _references([1], [person_joints(0.0)])
    tracker.update(frame_of([(person_joints(0.0), 0.9)]), 0.0, references)
    with pytest.raises(InvalidInputError, match="first frame only"):
        tracker.update(frame_of([(person_joints(0.0), 0.9)]), PERIOD_S, references)


def test_known_association_follows_references_every_frame() -> None:
    tracker = Tracker(replace(RAW, association=AssociationMode.KNOWN))
    left, right = person_joints(-1.0), person_joints(1.0)
    detections = frame_of([(left, 0.9), (right, 0.9)])
    out = tracker.update(detections, 0.0, _references([1, 2], [left, right]))
    assert out.track_ids.tolist() == [1, 2]
    # The references swap: they decide, not 3D continuity.
    out = tracker.update(detections, PERIOD_S, _references([1, 2], [right, left]))
    assert out.track_ids.tolist() == [2, 1]
    # A frame without references falls back to 3D association with the existing tracks.
    out = tracker.update(detections, 2 * PERIOD_S)
    assert out.track_ids.tolist() == [2, 1]


def test_free_association_refuses_references() -> None:
    with pytest.raises(InvalidInputError, match="association mode is free"):
        Tracker(RAW).update(frame_of([]), 0.0, _references([1], [person_joints(0.0)]))


def _far_walk_with_depth_noise(num_people: int, seed: int) -> list[tuple[FramePoses, float]]:
    """People 15 m away walking sideways 1 m apart at 10 Hz; each pose slides along its camera
    ray by a random range error (std 0.4 m, as monocular depth at that range), 2 cm joint
    noise."""
    rng = np.random.default_rng(seed)
    frames = []
    for k in range(40):
        t = k * 0.1
        people = []
        for i in range(num_people):
            joints = person_joints(-2.0 + 1.0 * i + 1.2 * t, 15.0)
            joints = joints * (1.0 + rng.normal(0, 0.4) / 15.0)  # along the ray, same image
            people.append((joints + rng.normal(0, 0.02, joints.shape), 0.9))
        frames.append((frame_of(people), t))
    return frames


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_depth_noise_at_range_keeps_one_track_per_person(seed: int) -> None:
    frames = _far_walk_with_depth_noise(3, seed)
    ids_per_person: list[set[int]] = [set(), set(), set()]
    for config, is_default in ((replace(RAW, full_depth_range_m=10_000.0), False), (RAW, True)):
        tracker = Tracker(config)
        ids_per_person = [set(), set(), set()]
        for poses, t in frames:
            out = tracker.update(poses, t)
            for person, track_id in enumerate(out.track_ids[: len(poses)]):
                ids_per_person[person].add(int(track_id))
        if not is_default:
            # the plain 3D distance splits tracks on depth noise (why the default changed)
            assert any(len(ids) > 1 for ids in ids_per_person)
    # default: one track each for the 40 frames, and no two people share a track
    assert all(len(ids) == 1 for ids in ids_per_person)
    assert len(set.union(*ids_per_person)) == 3


def test_depth_noise_does_not_make_the_velocity_jump_in_depth() -> None:
    frames = _far_walk_with_depth_noise(1, seed=3)
    mean_speeds_m_s = {}
    for time_constant_s in (0.2, RAW.depth_velocity_time_constant_s):
        tracker = Tracker(replace(RAW, depth_velocity_time_constant_s=time_constant_s))
        depth_speeds_m_s, lateral_m_s = [], []
        for k, (poses, t) in enumerate(frames):
            tracker.update(poses, t)
            if k >= 10:
                (track,) = tracker.tracks
                depth_speeds_m_s.append(abs(track.motion.velocity_m_s[2]))
                lateral_m_s.append(track.motion.velocity_m_s[0])
        mean_speeds_m_s[time_constant_s] = np.mean(depth_speeds_m_s)
        # walking 1.2 m/s sideways: the lateral velocity follows in either case
        assert np.mean(lateral_m_s) == pytest.approx(1.2, abs=0.15)
    # the true depth velocity is 0; range noise of 0.4 m per frame is 4 m/s frame to frame
    assert mean_speeds_m_s[RAW.depth_velocity_time_constant_s] < 0.5
    assert mean_speeds_m_s[RAW.depth_velocity_time_constant_s] < 0.5 * mean_speeds_m_s[0.2]


def test_full_depth_range_must_be_positive() -> None:
    with pytest.raises(InvalidInputError, match="full_depth_range_m must be > 0"):
        TrackerConfig(full_depth_range_m=0.0)
    with pytest.raises(InvalidInputError, match="depth_velocity_time_constant_s must be > 0"):
        TrackerConfig(depth_velocity_time_constant_s=0.0)
