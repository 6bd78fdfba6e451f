"""The multi-person 3D pose tracker: association, track lifecycle, smoothing, output."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np

from posecast.engines.frames import UNTRACKED_ID, FramePoses
from posecast.errors import InvalidInputError
from posecast.tracker import motion
from posecast.tracker.config import AssociationMode, TrackerConfig
from posecast.tracker.matching import (
    linear_assignment,
    normalized_distance_matrix_2d,
    pose_distance_matrix_m,
)
from posecast.tracker.motion import MotionState
from posecast.tracker.references import ReferencePoses
from posecast.tracker.smoothing import PoseSmoother
from posecast.tracker.track import Observation, Track, TrackState

logger = logging.getLogger(__name__)

_ESTABLISHED = (TrackState.CONFIRMED, TrackState.SEARCHING)


@dataclass
class _Assignment:
    """Outcome of association: matched (track, detection index) pairs, tracks without a
    detection, (track id, detection index) pairs that start new tracks, and jumps."""

    matches: list[tuple[Track, int]] = field(default_factory=list)
    unmatched_tracks: list[Track] = field(default_factory=list)
    new_tracks: list[tuple[int, int]] = field(default_factory=list)
    jumped_tracks: list[Track] = field(default_factory=list)
    """Tracks that references matched beyond the 3D gate: their motion restarts."""


class Tracker:
    """Tracks people from per-frame camera-space 3D poses.

    One ``update`` per frame, in time order. Each call returns the frame's persons with track
    ids and states: every detection (``UNTRACKED_ID`` and state ``""`` where no track claimed
    it), then every searching track (its predicted pose, score 0), then every track that
    terminated in this frame (reported this once, score 0, then forgotten). ``joints_cam_m``
    holds the smoothed joints, ``joints_cam_raw_m`` the raw ones (the prediction for tracks
    without a detection).
    """

    def __init__(self, config: TrackerConfig | None = None) -> None:
        self.config = config if config is not None else TrackerConfig()
        self._tracks: list[Track] = []
        self._next_track_id = 1
        self._last_timestamp_s: float | None = None
        self._skeleton: str | None = None
        self._num_joints: int | None = None

    @property
    def tracks(self) -> list[Track]:
        """The tracks (a copy of the list; terminated ones until the next update)."""
        return list(self._tracks)

    @property
    def num_joints(self) -> int | None:
        """Joint count of the skeletons seen so far, None before the first person."""
        return self._num_joints

    def update(
        self, poses: FramePoses, timestamp_s: float, references: ReferencePoses | None = None
    ) -> FramePoses:
        """Track one frame.

        Args:
            poses: the frame's detections (track ids and states in it are ignored).
            timestamp_s: the frame's time in seconds, after the previous frame's.
            references: reference 2D poses with ids: required on the first frame in
                ``UNKNOWN`` association (and only there), optional per frame in ``KNOWN``,
                not allowed in ``FREE``.

        Returns:
            The frame's persons with track ids, states, smoothed and raw joints (see class).

        Raises:
            InvalidInputError: timestamps not increasing, skeleton or joint count changed,
                non-finite joints, or references not matching the association mode.
        """
        # 1. Check the input; forget the tracks reported as terminated last frame.
        self._check_input(poses, timestamp_s, references)
        self._tracks = [track for track in self._tracks if track.is_live]
        # 2. Predict every track's pose at this frame's time.
        predicted = {track: self._predict(track, timestamp_s) for track in self._tracks}
        # 3. Associate detections with tracks: two stages in 3D, or by references.
        assignment = self._associate(poses, predicted, timestamp_s, references)
        # 4. Matched tracks take their detection (motion re-estimated after a gap).
        for track, index in assignment.matches:
            is_jump = track in assignment.jumped_tracks
            self._hit(track, self._observation(poses, index, timestamp_s), is_jump)
        # 5. Unmatched tracks search, or terminate.
        for track in assignment.unmatched_tracks:
            self._miss(track, timestamp_s)
        # 6. New tracks from the detections association left for them.
        started = [
            (self._start_track(track_id, self._observation(poses, index, timestamp_s)), index)
            for track_id, index in assignment.new_tracks
        ]
        # 7. Report detections with their tracks, then searching and terminated tracks.
        self._last_timestamp_s = timestamp_s
        return self._report(poses, [*assignment.matches, *started], predicted)

    # -- step 1 ---------------------------------------------------------------------------

    def _check_input(
        self, poses: FramePoses, timestamp_s: float, references: ReferencePoses | None
    ) -> None:
        if not math.isfinite(timestamp_s):
            raise InvalidInputError(f"timestamp must be finite, got {timestamp_s}")
        if self._last_timestamp_s is not None and timestamp_s <= self._last_timestamp_s:
            raise InvalidInputError(
                f"timestamps must increase: got {timestamp_s} after {self._last_timestamp_s}"
            )
        if len(poses):
            self._check_skeleton(poses.skeleton, poses.num_joints)
            if not np.isfinite(poses.joints_cam_m).all():
                raise InvalidInputError("joints_cam_m holds non-finite values")
        self._check_references(references)

    def _check_skeleton(self, skeleton: str, num_joints: int) -> None:
        if self._skeleton is None:
            self._skeleton, self._num_joints = skeleton, num_joints
        elif (skeleton, num_joints) != (self._skeleton, self._num_joints):
            raise InvalidInputError(
                f"expected skeleton {self._skeleton} with {self._num_joints} joints, "
                f"got {skeleton} with {num_joints}"
            )

    def _check_references(self, references: ReferencePoses | None) -> None:
        mode = self.config.association
        is_first_frame = self._last_timestamp_s is None
        if mode is AssociationMode.FREE and references is not None:
            raise InvalidInputError("references given, but the association mode is free")
        if mode is AssociationMode.UNKNOWN and is_first_frame and references is None:
            raise InvalidInputError("unknown association needs references on the first frame")
        if mode is AssociationMode.UNKNOWN and not is_first_frame and references is not None:
            raise InvalidInputError("unknown association takes references on the first frame only")
        if references is None or not len(references) or self._num_joints is None:
            return
        if references.num_joints != self._num_joints:
            raise InvalidInputError(
                f"references have {references.num_joints} joints, detections {self._num_joints}"
            )

    # -- step 2 ---------------------------------------------------------------------------

    def _predict(self, track: Track, timestamp_s: float) -> MotionState:
        horizon_s = track.last_seen_s + self.config.max_prediction_s
        return motion.predict(track.motion, min(timestamp_s, horizon_s))

    # -- step 3 ---------------------------------------------------------------------------

    def _associate(
        self,
        poses: FramePoses,
        predicted: dict[Track, MotionState],
        timestamp_s: float,
        references: ReferencePoses | None,
    ) -> _Assignment:
        if references is not None:
            assignment = self._associate_by_references(poses, references)
            assignment.jumped_tracks = self._jumps(
                assignment.matches, poses, predicted, timestamp_s
            )
            return assignment
        may_start_tracks = self.config.association is AssociationMode.FREE
        return self._associate_in_3d(poses, predicted, timestamp_s, may_start_tracks)

    def _associate_in_3d(
        self,
        poses: FramePoses,
        predicted: dict[Track, MotionState],
        timestamp_s: float,
        may_start_tracks: bool,
    ) -> _Assignment:
        """ByteTrack's order: confident detections to confirmed and searching tracks, less
        confident ones to the confirmed tracks left over, leftover confident ones to tentative
        tracks; what confident detections remain start tracks."""
        config = self.config
        high = np.flatnonzero(poses.scores >= config.high_score_threshold)
        low = np.flatnonzero(
            (poses.scores >= config.low_score_threshold)
            & (poses.scores < config.high_score_threshold)
        )
        established = [track for track in self._tracks if track.state in _ESTABLISHED]
        tentative = [track for track in self._tracks if track.state is TrackState.TENTATIVE]
        match = self._match_in_3d
        first, established, high = match(established, high, poses, predicted, timestamp_s)
        # As ByteTrack: only tracks seen in the previous frame may take a low-score detection;
        # a searching track's grown gate would catch too many false ones.
        tracked = [track for track in established if track.state is TrackState.CONFIRMED]
        searching = [track for track in established if track.state is TrackState.SEARCHING]
        second, tracked, _ = match(tracked, low, poses, predicted, timestamp_s)
        third, tentative, high = match(tentative, high, poses, predicted, timestamp_s)
        unmatched = [*tracked, *searching, *tentative]
        assignment = _Assignment([*first, *second, *third], unmatched)
        if may_start_tracks:
            room = max(self.config.max_tracks - len(self._tracks), 0)
            # The most confident detections when there is no room for all, in frame order.
            chosen = np.sort(high[np.argsort(-poses.scores[high], kind="stable")][:room])
            assignment.new_tracks = [(self._take_track_id(), int(index)) for index in chosen]
        return assignment

    def _match_in_3d(
        self,
        tracks: list[Track],
        detections: np.ndarray,
        poses: FramePoses,
        predicted: dict[Track, MotionState],
        timestamp_s: float,
    ) -> tuple[list[tuple[Track, int]], list[Track], np.ndarray]:
        """Hungarian on gated 3D pose distance; returns matches, unmatched tracks and the
        unmatched detection indices."""
        if not tracks or not len(detections):
            return [], tracks, detections
        cost = pose_distance_matrix_m(
            np.stack([predicted[track].joints_cam_m for track in tracks]),
            np.stack([predicted[track].joint_scores for track in tracks]),
            poses.joints_cam_m[detections],
            poses.joint_scores[detections],
            self.config.min_joint_confidence,
            self.config.min_common_joints,
            self.config.full_depth_range_m,
        )
        gates_m = np.array(
            [self.config.gate_m(timestamp_s - track.last_seen_s) for track in tracks]
        )
        matches, lost, free = linear_assignment(cost, gates_m)
        return (
            [(tracks[row], int(detections[col])) for row, col in matches],
            [tracks[row] for row in lost],
            detections[free],
        )

    def _associate_by_references(
        self, poses: FramePoses, references: ReferencePoses
    ) -> _Assignment:
        """References pick detections by 2D distance; each takes the reference's track."""
        config = self.config
        candidates = np.flatnonzero(poses.scores >= config.low_score_threshold)
        cost = normalized_distance_matrix_2d(
            references.joints2d_px,
            references.joint_scores,
            poses.joints2d_px[candidates],
            poses.joint_scores[candidates],
            config.min_joint_confidence,
            config.min_common_joints,
        )
        pairs, unmatched_references, _ = linear_assignment(cost, config.max_reference_distance)
        if len(unmatched_references):
            logger.debug("references without a detection: %s", references.ids[unmatched_references])
        live = {track.track_id: track for track in self._tracks}
        assignment = _Assignment()
        for row, col in pairs:
            track_id, index = int(references.ids[row]), int(candidates[col])
            if track_id in live:
                assignment.matches.append((live.pop(track_id), index))
            else:
                assignment.new_tracks.append((track_id, index))
        assignment.unmatched_tracks = list(live.values())
        return assignment

    def _jumps(
        self,
        matches: list[tuple[Track, int]],
        poses: FramePoses,
        predicted: dict[Track, MotionState],
        timestamp_s: float,
    ) -> list[Track]:
        """Tracks given a detection beyond their 3D gate (references corrected an identity):
        their velocity would be a jump between two people, not a motion."""
        jumped = []
        for track, index in matches:
            distance_m = pose_distance_matrix_m(
                predicted[track].joints_cam_m[None],
                predicted[track].joint_scores[None],
                poses.joints_cam_m[index : index + 1],
                poses.joint_scores[index : index + 1],
                self.config.min_joint_confidence,
                self.config.min_common_joints,
                self.config.full_depth_range_m,
            )[0, 0]
            if not distance_m <= self.config.gate_m(timestamp_s - track.last_seen_s):
                jumped.append(track)
        return jumped

    def _take_track_id(self) -> int:
        track_id = self._next_track_id
        self._next_track_id += 1
        return track_id

    # -- steps 4 to 6 ---------------------------------------------------------------------

    def _observation(self, poses: FramePoses, index: int, timestamp_s: float) -> Observation:
        return Observation(
            joints_cam_m=poses.joints_cam_m[index].astype(np.float64),
            joint_scores=poses.joint_scores[index].astype(np.float64),
            joints2d_px=poses.joints2d_px[index].astype(np.float64),
            box_xyxy=poses.boxes_xyxy[index].astype(np.float64),
            score=float(poses.scores[index]),
            timestamp_s=timestamp_s,
        )

    def _hit(self, track: Track, observation: Observation, is_jump: bool) -> None:
        config = self.config
        if is_jump:
            if track.state is TrackState.SEARCHING:
                track.reacquire()
            track.motion = motion.initial_state(
                observation.joints_cam_m, observation.joint_scores, observation.timestamp_s
            )
            if track.smoother is not None:
                track.smoother.reset()
        elif track.state is TrackState.SEARCHING:
            track.reacquire()
            track.motion = motion.reestimate_after_gap(
                track.motion,
                observation.joints_cam_m,
                observation.joint_scores,
                observation.timestamp_s,
                config.min_joint_confidence,
            )
            if track.smoother is not None:
                track.smoother.reset()
            track.hits = 0
        else:
            track.motion = motion.update(
                track.motion,
                observation.joints_cam_m,
                observation.joint_scores,
                observation.timestamp_s,
                config.velocity_time_constant_s,
                config.min_joint_confidence,
                config.depth_velocity_time_constant_s,
            )
        track.hits += 1
        track.last_observation = observation
        track.smoothed_joints_cam_m = self._smooth(track, observation)
        if track.state is TrackState.TENTATIVE and track.hits >= config.confirm_hits:
            track.confirm()

    def _smooth(self, track: Track, observation: Observation) -> np.ndarray:
        if track.smoother is None:
            return observation.joints_cam_m
        return track.smoother(observation.joints_cam_m, observation.timestamp_s)

    def _miss(self, track: Track, timestamp_s: float) -> None:
        if track.state is TrackState.TENTATIVE:
            track.terminate()
            return
        if track.state is TrackState.CONFIRMED:
            track.start_searching()
        track.hits = 0
        if timestamp_s - track.last_seen_s > self.config.searching_timeout_s:
            track.terminate()

    def _start_track(self, track_id: int, observation: Observation) -> Track:
        smoothing = self.config.smoothing
        track = Track(
            track_id=track_id,
            motion=motion.initial_state(
                observation.joints_cam_m, observation.joint_scores, observation.timestamp_s
            ),
            last_observation=observation,
            smoothed_joints_cam_m=observation.joints_cam_m,
            smoother=PoseSmoother(smoothing) if smoothing.is_enabled else None,
        )
        track.smoothed_joints_cam_m = self._smooth(track, observation)
        # References vouch for the identity; in FREE mode hits must confirm it.
        if self.config.association is not AssociationMode.FREE or self.config.confirm_hits <= 1:
            track.confirm()
        self._tracks.append(track)
        return track

    # -- step 7 ---------------------------------------------------------------------------

    def _report(
        self,
        poses: FramePoses,
        claimed: list[tuple[Track, int]],
        predicted: dict[Track, MotionState],
    ) -> FramePoses:
        track_ids = np.full(len(poses), UNTRACKED_ID, np.int64)
        track_states = np.full(len(poses), "", "<U16")
        smoothed = poses.joints_cam_m.astype(np.float64)
        for track, index in claimed:
            track_ids[index] = track.track_id
            track_states[index] = track.state.value
            smoothed[index] = track.smoothed_joints_cam_m
        detections = FramePoses(
            skeleton=poses.skeleton,
            boxes_xyxy=poses.boxes_xyxy,
            scores=poses.scores,
            joints2d_px=poses.joints2d_px,
            joints_cam_m=smoothed,
            joint_scores=poses.joint_scores,
            track_ids=track_ids,
            track_states=track_states,
            joints_cam_raw_m=poses.joints_cam_m.astype(np.float64),
        )
        unseen = [
            track
            for track in self._tracks
            if track.state in (TrackState.SEARCHING, TrackState.TERMINATED) and track in predicted
        ]
        if not unseen:
            return detections
        unseen_poses = self._unseen_poses(unseen, predicted)
        return (
            unseen_poses if not len(poses) else FramePoses.concatenate([detections, unseen_poses])
        )

    def _unseen_poses(self, tracks: list[Track], predicted: dict[Track, MotionState]) -> FramePoses:
        """Searching and terminated tracks: predicted pose, last 2D joints and box, score 0."""
        joints_m = np.stack([predicted[track].joints_cam_m for track in tracks])
        return FramePoses(
            skeleton=str(self._skeleton),
            boxes_xyxy=np.stack([track.last_observation.box_xyxy for track in tracks]),
            scores=np.zeros(len(tracks)),
            joints2d_px=np.stack([track.last_observation.joints2d_px for track in tracks]),
            joints_cam_m=joints_m,
            joint_scores=np.stack([track.last_observation.joint_scores for track in tracks]),
            track_ids=np.array([track.track_id for track in tracks], np.int64),
            track_states=np.array([track.state.value for track in tracks], "<U16"),
            joints_cam_raw_m=joints_m.copy(),
        )
