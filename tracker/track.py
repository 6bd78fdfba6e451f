"""One tracked person: its state machine, last observation and motion."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from posecast.engines.frames import FramePoses
from posecast.errors import PosecastError
from posecast.tracker.appearance import AppearanceModel
from posecast.tracker.motion import MotionState, PointMotion
from posecast.tracker.smoothing import PoseSmoother


class TrackState(Enum):
    """Lifecycle of a track (the values are the wire names).

    TENTATIVE -> CONFIRMED after ``confirm_hits`` consecutive hits; TENTATIVE -> TERMINATED on
    a miss. CONFIRMED -> SEARCHING on a miss (pose predicted at constant velocity);
    SEARCHING -> CONFIRMED on re-acquisition; SEARCHING -> LOST after ``searching_timeout_s``
    when the track has an appearance (else SEARCHING -> TERMINATED); LOST -> CONFIRMED on
    re-identification; LOST -> TERMINATED after ``reid_window_s``. A LOST track is never
    reported; a TERMINATED one is reported once, then removed.
    """

    TENTATIVE = "tentative"
    CONFIRMED = "confirmed"
    SEARCHING = "searching"
    LOST = "lost"
    TERMINATED = "terminated"


REPORTED_UNSEEN = (TrackState.SEARCHING, TrackState.TERMINATED)
"""States whose tracks ``Tracker.update`` reports in a frame without a detection."""
PREDICTED_STATES = tuple(state.value for state in REPORTED_UNSEEN)
"""States of the rows ``Tracker.update`` reports without a detection in the frame (predicted
poses, score 0)."""


def is_predicted(poses: FramePoses) -> np.ndarray:
    """(N,) bool: the rows of a tracker output that carry a prediction, not a detection."""
    return np.isin(poses.track_states, PREDICTED_STATES)


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
        ground_m: (2,) x, y on the ground (world frame) when the detection had world joints.
    """

    joints_cam_m: np.ndarray
    joint_scores: np.ndarray
    joints2d_px: np.ndarray
    box_xyxy: np.ndarray
    score: float
    timestamp_s: float
    ground_m: np.ndarray | None = None

    @property
    def box_centre_px(self) -> np.ndarray:
        return (self.box_xyxy[:2] + self.box_xyxy[2:]) / 2


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
        image_motion: its box centre's motion in the image (pixels).
        ground_motion: its motion on the ground (metres), None without world joints.
        appearance: its appearance model, None when the appearance cue is off.
        position_noise_m: how far its observed position lands from the predicted one (on
            the ground with world joints, else along the camera ray), an exponential average
            over frames without a gap; None until measured. Monocular depth makes it grow
            with the square of the range.
    """

    track_id: int
    motion: MotionState
    last_observation: Observation
    smoothed_joints_cam_m: np.ndarray
    state: TrackState = TrackState.TENTATIVE
    hits: int = 1
    smoother: PoseSmoother | None = field(default=None, repr=False)
    image_motion: PointMotion | None = field(default=None, repr=False)
    ground_motion: PointMotion | None = field(default=None, repr=False)
    appearance: AppearanceModel | None = field(default=None, repr=False)
    position_noise_m: float | None = None

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

    def lose(self) -> None:
        """SEARCHING -> LOST: unseen too long to predict; kept for re-identification."""
        self._transition((TrackState.SEARCHING,), TrackState.LOST)

    def reidentify(self) -> None:
        """LOST -> CONFIRMED: recognised by appearance."""
        self._transition((TrackState.LOST,), TrackState.CONFIRMED)

    def terminate(self) -> None:
        """TENTATIVE, SEARCHING or LOST -> TERMINATED: gone for good."""
        self._transition(
            (TrackState.TENTATIVE, TrackState.SEARCHING, TrackState.LOST), TrackState.TERMINATED
        )

    def _transition(self, allowed: tuple[TrackState, ...], target: TrackState) -> None:
        if self.state not in allowed:
            expected = " or ".join(state.value for state in allowed)
            raise TrackStateError(
                f"track {self.track_id} -> {target.value}: expected {expected}, "
                f"got {self.state.value}"
            )
        self.state = target
