import numpy as np
import pytest

from posecast.tracker.motion import initial_state
from posecast.tracker.track import Observation, Track, TrackState, TrackStateError

LEGAL = {
    (TrackState.TENTATIVE, "confirm"): TrackState.CONFIRMED,
    (TrackState.TENTATIVE, "terminate"): TrackState.TERMINATED,
    (TrackState.CONFIRMED, "start_searching"): TrackState.SEARCHING,
    (TrackState.SEARCHING, "reacquire"): TrackState.CONFIRMED,
    (TrackState.SEARCHING, "terminate"): TrackState.TERMINATED,
    (TrackState.SEARCHING, "lose"): TrackState.LOST,
    (TrackState.LOST, "reidentify"): TrackState.CONFIRMED,
    (TrackState.LOST, "terminate"): TrackState.TERMINATED,
}
TRANSITIONS = ("confirm", "start_searching", "reacquire", "lose", "reidentify", "terminate")


def _track(state: TrackState) -> Track:
    joints = np.zeros((17, 3))
    observation = Observation(joints, np.ones(17), np.zeros((17, 2)), np.zeros(4), 0.9, 0.0)
    return Track(
        track_id=5,
        motion=initial_state(joints, np.ones(17), 0.0),
        last_observation=observation,
        smoothed_joints_cam_m=joints,
        state=state,
    )


@pytest.mark.parametrize(("start", "transition"), list(LEGAL))
def test_legal_transition_reaches_its_state(start: TrackState, transition: str) -> None:
    track = _track(start)
    getattr(track, transition)()
    assert track.state is LEGAL[(start, transition)]


@pytest.mark.parametrize(
    ("start", "transition"),
    [(s, t) for s in TrackState for t in TRANSITIONS if (s, t) not in LEGAL],
)
def test_illegal_transition_raises_and_keeps_state(start: TrackState, transition: str) -> None:
    track = _track(start)
    with pytest.raises(TrackStateError, match=f"track 5 .*expected .*, got {start.value}"):
        getattr(track, transition)()
    assert track.state is start
