"""One tracked person: its state machine, last observation and motion."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from posecast.errors import PosecastError
from posecast.tracker.motion import MotionState
from posecast.tracker.smoothing import PoseSmoother


class TrackState(Enum):
    """Lifecycle of a track (the values are the wire names).

    TENTATIVE -> CONFIRMED after ``confirm_hits`` consecutive hits; TENTATIVE -> TERMINATED on
    a miss. CONFIRMED -> SEARCHING on a miss (pose predicted at constant velocity);
    SEARCHING -> CONFIRMED on re-acquisition; SEARCHING -> TERMINATED after
    ``searching_timeout_s``. A TERMINATED track is reported once, then removed.
    """

    TENTATIVE = "tentative"
    CONFIRMED = "confirmed"
    SEARCHING = "searching"
    TERMINATED = "terminated"


class TrackStateError(PosecastError, RuntimeError):
    """A transition was asked of a track in a state that does not allow it (a tracker bug)."""


@dataclass(frozen=True)
class Observation:
    """One detection as the tracker stores it.

    Attributes:
        joints_cam_m: (J, 3) joints, camera frame, metres (raw, unsmoothed).
        joint_scores: (J,) per-joint confidence.
        joints2d_px: (J, 2) joints in image pixels.
        box_xyxy: (4,) box in image pixels.
        score: person confidence.
        timestamp_s: time of the frame.
    """

    joints_cam_m: np.ndarray
    joint_scores: np.ndarray
    joints2d_px: np.ndarray
    box_xyxy: np.ndarray
    score: float
    timestamp_s: float


@dataclass(eq=False)
class Track:
    """A person followed over frames.

    Attributes:
        track_id: id from the tracker's counter, or a reference's id.
        state: see ``TrackState``; change it only through the transition methods.
        motion: motion state at the last observation (never a prediction).
        last_observation: the last matched detection.
        smoothed_joints_cam_m: (J, 3) One Euro output at the last observation.
        hits: consecutive frames with a matched detection.
        smoother: the track's pose filter, None when smoothing is off.
    """

    track_id: int
    motion: MotionState
    last_observation: Observation
    smoothed_joints_cam_m: np.ndarray
    state: TrackState = TrackState.TENTATIVE
    hits: int = 1
    smoother: PoseSmoother | None = field(default=None, repr=False)

    @property
    def last_seen_s(self) -> float:
        return self.last_observation.timestamp_s

    @property
    def is_live(self) -> bool:
        return self.state is not TrackState.TERMINATED

    def confirm(self) -> None:
        """TENTATIVE -> CONFIRMED: enough consecutive hits (or a reference vouched for it)."""
        self._transition((TrackState.TENTATIVE,), TrackState.CONFIRMED)

    def start_searching(self) -> None:
        """CONFIRMED -> SEARCHING: missed in a frame; the pose is now predicted."""
        self._transition((TrackState.CONFIRMED,), TrackState.SEARCHING)

    def reacquire(self) -> None:
        """SEARCHING -> CONFIRMED: matched again after a gap."""
        self._transition((TrackState.SEARCHING,), TrackState.CONFIRMED)

    def terminate(self) -> None:
        """TENTATIVE or SEARCHING -> TERMINATED: lost for good."""
        self._transition((TrackState.TENTATIVE, TrackState.SEARCHING), TrackState.TERMINATED)

    def _transition(self, allowed: tuple[TrackState, ...], target: TrackState) -> None:
        if self.state not in allowed:
            expected = " or ".join(state.value for state in allowed)
            raise TrackStateError(
                f"track {self.track_id} -> {target.value}: expected {expected}, "
                f"got {self.state.value}"
            )
        self.state = target
