"""The multi-person 3D pose tracker: association, track lifecycle, smoothing, output."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np

from posecast.engines.frames import UNTRACKED_ID, FramePoses
from posecast.errors import InvalidInputError
from posecast.tracker import motion
from posecast.tracker.appearance import AppearanceModel, cosine_distance_matrix
from posecast.tracker.config import AssociationMode, TrackerConfig
from posecast.tracker.matching import (
    CueDistances,
    CueWeights,
    association_cost,
    ground_distance_matrix_m,
    ground_positions_m,
    linear_assignment,
    normalized_distance_matrix_2d,
    pose_distance_matrix_m,
    shape_distance_matrix_m,
)
from posecast.tracker.motion import MotionState
from posecast.tracker.references import ReferencePoses
from posecast.tracker.smoothing import PoseSmoother
from posecast.tracker.track import REPORTED_UNSEEN, Observation, Track, TrackState

logger = logging.getLogger(__name__)

_ESTABLISHED = (TrackState.CONFIRMED, TrackState.SEARCHING)


@dataclass(frozen=True)
class Prediction:
    """Where a track is expected at a time: its 3D motion state (``motion.joints_cam_m``,
    ``motion.joint_scores``), 2D joints (pixels, moved with its image velocity) and ground
    position (metres, None without world joints)."""

    motion: MotionState
    joints2d_px: np.ndarray
    ground_m: np.ndarray | None


@dataclass(frozen=True)
class _FrameCues:
    """Per-detection data of one frame that association and the appearance model use."""

    ground_m: np.ndarray | None
    """(N, 2) ground positions, None without world joints (or with the world cue off)."""
    appearance: np.ndarray | None
    """(N, D) descriptors, None without them (or with the appearance cue off)."""
    is_clean: np.ndarray
    """(N,) bool: no other box covers much of this one (appearance updates only then)."""


@dataclass
class _Assignment:
    """Outcome of association: matched (track, detection index) pairs, tracks without a
    detection, (track id, detection index) pairs that start new tracks, and jumps."""

    matches: list[tuple[Track, int]] = field(default_factory=list)
    unmatched_tracks: list[Track] = field(default_factory=list)
    new_tracks: list[tuple[int, int]] = field(default_factory=list)
    jumped_tracks: list[Track] = field(default_factory=list)
    """Tracks given a detection beyond their gates (by references, or re-identified): their
    motion restarts."""


class Tracker:
    """Tracks people from per-frame camera-space 3D poses (and, when the detections carry
    them, world joints and appearance descriptors).

    One ``update`` per frame, in time order. Each call returns the frame's persons with track
    ids and states: every detection (``UNTRACKED_ID`` and state ``""`` where no track claimed
    it), then every searching track (its predicted pose, score 0), then every track that
    terminated in this frame (reported this once, score 0, then forgotten); lost tracks
    (kept for re-identification) are not reported. ``joints_cam_m`` holds the smoothed
    joints, ``joints_cam_raw_m`` the raw ones (the prediction for tracks without a
    detection); ``posecast.tracker.track.is_predicted`` tells the rows without a detection.
    """

    def __init__(self, config: TrackerConfig | None = None) -> None:
        self.config = config if config is not None else TrackerConfig()
        self._tracks: list[Track] = []
        self._next_track_id = 1
        self._last_timestamp_s: float | None = None
        self._skeleton: str | None = None
        self._num_joints: int | None = None
        config = self.config
        self._weights = CueWeights(
            position=config.position_weight,
            image=config.image_weight,
            appearance=config.appearance_weight,
            shape=config.shape_weight,
            max_normalized_cost=config.max_normalized_cost,
        )

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
            poses: the frame's detections (track ids and states in it are ignored; world
                joints and appearance descriptors are used when present).
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
        cues = self._frame_cues(poses)
        # 2. Predict every track's pose, 2D joints and ground position at this frame's time.
        predicted = {track: self.predict(track, timestamp_s) for track in self._tracks}
        # 3. Associate detections with tracks: ByteTrack's stages and re-identification, or
        #    by references.
        assignment = self._associate(poses, cues, predicted, timestamp_s, references)
        # 4. Matched tracks take their detection (motion re-estimated after a gap).
        for track, index in assignment.matches:
            is_jump = track in assignment.jumped_tracks
            observation = self._observation(poses, cues, index, timestamp_s)
            self._measure_position_noise(track, observation, predicted[track])
            self._hit(track, observation, is_jump)
            self._update_appearance(track, cues, index, timestamp_s)
        # 5. Unmatched tracks search, get lost, or terminate.
        for track in assignment.unmatched_tracks:
            self._miss(track, timestamp_s)
        # 6. New tracks from the detections association left for them.
        self._make_room(len(assignment.new_tracks))
        started = []
        for track_id, index in assignment.new_tracks:
            track = self._start_track(track_id, self._observation(poses, cues, index, timestamp_s))
            self._update_appearance(track, cues, index, timestamp_s)
            started.append((track, index))
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
            if poses.appearance is not None and not np.isfinite(poses.appearance).all():
                raise InvalidInputError("appearance holds non-finite values")
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

    def _frame_cues(self, poses: FramePoses) -> _FrameCues:
        config = self.config
        ground_m = None
        if config.world_cue and poses.joints_world_m is not None:
            ground_m = ground_positions_m(
                poses.joints_world_m.astype(np.float64),
                poses.joint_scores,
                config.min_joint_confidence,
            )
        appearance = None
        if config.appearance_cue and poses.appearance is not None:
            appearance = poses.appearance.astype(np.float64)
        is_clean = _largest_overlap(poses.boxes_xyxy) <= config.max_appearance_overlap
        is_clean &= poses.scores >= config.high_score_threshold
        return _FrameCues(ground_m, appearance, is_clean)

    # -- step 2 ---------------------------------------------------------------------------

    def predict(self, track: Track, timestamp_s: float) -> Prediction:
        """Where ``track`` is expected at ``timestamp_s`` (constant velocity for at most
        ``max_prediction_s`` after it was last seen), as association compares it."""
        horizon_s = min(timestamp_s, track.last_seen_s + self.config.max_prediction_s)
        last = track.last_observation
        joints2d_px = last.joints2d_px
        if track.image_motion is not None:
            shift_px = motion.point_predict(track.image_motion, horizon_s) - last.box_centre_px
            joints2d_px = joints2d_px + shift_px
        ground_m = None
        if track.ground_motion is not None:
            ground_m = motion.point_predict(track.ground_motion, horizon_s)
        return Prediction(motion.predict(track.motion, horizon_s), joints2d_px, ground_m)

    # -- step 3 ---------------------------------------------------------------------------

    def _associate(
        self,
        poses: FramePoses,
        cues: _FrameCues,
        predicted: dict[Track, Prediction],
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
        return self._associate_in_stages(poses, cues, predicted, timestamp_s, may_start_tracks)

    def _associate_in_stages(
        self,
        poses: FramePoses,
        cues: _FrameCues,
        predicted: dict[Track, Prediction],
        timestamp_s: float,
        may_start_tracks: bool,
    ) -> _Assignment:
        """ByteTrack's order: (a) confident detections to confirmed and searching tracks,
        (b) less confident ones to the confirmed tracks left over, (c) leftover confident
        ones to tentative tracks, (d) what is left of them to the searching and lost tracks
        left over, by appearance (re-identification); (e) what confident detections remain
        start tracks."""
        config = self.config
        high = np.flatnonzero(poses.scores >= config.high_score_threshold)
        low = np.flatnonzero(
            (poses.scores >= config.low_score_threshold)
            & (poses.scores < config.high_score_threshold)
        )
        if not config.second_stage:
            low = low[:0]
        by_state = {state: [t for t in self._tracks if t.state is state] for state in TrackState}
        established = [track for track in self._tracks if track.state in _ESTABLISHED]

        def match(tracks, detections):
            return self._match(tracks, detections, poses, cues, predicted, timestamp_s)

        first, established, high = match(established, high)
        # As ByteTrack: only tracks seen in the previous frame may take a low-score detection
        # (a searching track's grown gates would catch too many false ones). The appearance
        # gate stays: on PETS09 low-presence poses often lie on the occluder.
        tracked = [track for track in established if track.state is TrackState.CONFIRMED]
        searching = [track for track in established if track.state is TrackState.SEARCHING]
        second, tracked, _ = match(tracked, low)
        third, tentative, high = match(by_state[TrackState.TENTATIVE], high)
        fourth, unseen, high = self._reidentify(
            [*searching, *by_state[TrackState.LOST]], high, poses, cues, predicted, timestamp_s
        )
        unmatched = [*tracked, *tentative, *unseen]
        assignment = _Assignment([*first, *second, *third, *fourth], unmatched)
        # A re-identified track's detection may lie beyond its gates: its motion restarts.
        assignment.jumped_tracks = [track for track, _ in fourth]
        if may_start_tracks:
            num_lost = len([track for track in unseen if track.state is TrackState.LOST])
            room = max(config.max_tracks - (len(self._tracks) - num_lost), 0)
            # The most confident detections when there is no room for all, in frame order.
            chosen = np.sort(high[np.argsort(-poses.scores[high], kind="stable")][:room])
            assignment.new_tracks = [(self._take_track_id(), int(index)) for index in chosen]
        return assignment

    def _match(
        self,
        tracks: list[Track],
        detections: np.ndarray,
        poses: FramePoses,
        cues: _FrameCues,
        predicted: dict[Track, Prediction],
        timestamp_s: float,
    ) -> tuple[list[tuple[Track, int]], list[Track], np.ndarray]:
        """Hungarian on the combined cost of the cues; returns matches, unmatched tracks and
        the unmatched detection indices."""
        if not tracks or not len(detections):
            return [], tracks, detections
        distances = self._cue_distances(tracks, detections, poses, cues, predicted, timestamp_s)
        cost = association_cost(distances, self._weights)
        return _assign(tracks, detections, cost, self._weights.max_normalized_cost)

    def _cue_distances(
        self,
        tracks: list[Track],
        detections: np.ndarray,
        poses: FramePoses,
        cues: _FrameCues,
        predicted: dict[Track, Prediction],
        timestamp_s: float,
    ) -> CueDistances:
        """Each cue's distances over its gate, (T, D)."""
        config = self.config
        unseen_s = np.array([timestamp_s - track.last_seen_s for track in tracks])
        position = self._position_distances_m(tracks, detections, poses, cues, predicted)
        position_gate = np.array([config.gate_m(s) for s in unseen_s])[:, None]
        if cues.ground_m is not None:
            has_ground = np.array([predicted[track].ground_m is not None for track in tracks])
            ground_gate = np.array([config.ground_gate_m(s) for s in unseen_s])[:, None]
            position_gate = np.where(has_ground[:, None], ground_gate, position_gate)
        track_scores = np.stack([predicted[track].motion.joint_scores for track in tracks])
        image = None
        if config.image_cue:
            image_gate = np.array([config.image_gate(s) for s in unseen_s])[:, None]
            image = (
                normalized_distance_matrix_2d(
                    np.stack([predicted[track].joints2d_px for track in tracks]),
                    track_scores,
                    poses.joints2d_px[detections],
                    poses.joint_scores[detections],
                    config.min_joint_confidence,
                    config.min_common_joints,
                )
                / image_gate
            )
        appearance = None
        if cues.appearance is not None:
            size = cues.appearance.shape[1]
            means = np.stack(
                [
                    track.appearance.mean
                    if track.appearance is not None and track.appearance.mean is not None
                    else np.zeros(size)
                    for track in tracks
                ]
            )
            appearance = (
                cosine_distance_matrix(means, cues.appearance[detections])
                / config.max_appearance_distance
            )
        shape = None
        if config.shape_weight > 0:
            shape = (
                shape_distance_matrix_m(
                    np.stack([predicted[track].motion.joints_cam_m for track in tracks]),
                    track_scores,
                    poses.joints_cam_m[detections],
                    poses.joint_scores[detections],
                    config.min_joint_confidence,
                    config.min_common_joints,
                )
                / config.max_pose_distance_m
            )
        rescue = None
        if image is not None:
            rescue = self._position_is_unreliable(tracks, len(detections))
        return CueDistances(position / position_gate, image, appearance, shape, rescue)

    def _position_is_unreliable(self, tracks: list[Track], num_detections: int) -> np.ndarray:
        """(T, D) bool: the track's measured position noise exceeds
        ``unreliable_position_noise_m`` (False while not measured)."""
        noise_m = np.array(
            [-1.0 if t.position_noise_m is None else t.position_noise_m for t in tracks]
        )
        is_unreliable = noise_m > self.config.unreliable_position_noise_m
        return np.broadcast_to(is_unreliable[:, None], (len(tracks), num_detections))

    def _position_distances_m(
        self,
        tracks: list[Track],
        detections: np.ndarray,
        poses: FramePoses,
        cues: _FrameCues,
        predicted: dict[Track, Prediction],
    ) -> np.ndarray:
        """(T, D) metres: on the ground where both sides have a ground position, else the
        camera-space pose distance (depth down-weighted with range; computed only when some
        pair lacks a ground position)."""
        config = self.config
        ground = None
        if cues.ground_m is not None:
            track_ground = np.stack(
                [
                    predicted[track].ground_m
                    if predicted[track].ground_m is not None
                    else np.full(2, np.nan)
                    for track in tracks
                ]
            )
            ground = ground_distance_matrix_m(track_ground, cues.ground_m[detections])
            if not np.isnan(ground).any():
                return ground
        distances = pose_distance_matrix_m(
            np.stack([predicted[track].motion.joints_cam_m for track in tracks]),
            np.stack([predicted[track].motion.joint_scores for track in tracks]),
            poses.joints_cam_m[detections],
            poses.joint_scores[detections],
            config.min_joint_confidence,
            config.min_common_joints,
            config.full_depth_range_m,
        )
        if ground is None:
            return distances
        return np.where(np.isnan(ground), distances, ground)

    def _reidentify(
        self,
        tracks: list[Track],
        detections: np.ndarray,
        poses: FramePoses,
        cues: _FrameCues,
        predicted: dict[Track, Prediction],
        timestamp_s: float,
    ) -> tuple[list[tuple[Track, int]], list[Track], np.ndarray]:
        """Unseen (searching, lost) tracks take back confident detections that look like them
        (nearest of their average and gallery within ``reid_max_appearance_distance``) and
        stand where they could have walked since last seen; Hungarian on the appearance
        distance."""
        tracks_known = [t for t in tracks if t.appearance is not None and t.appearance.is_known]
        unknown = [t for t in tracks if t not in tracks_known]
        if not tracks_known or not len(detections) or cues.appearance is None:
            return [], tracks, detections
        config = self.config
        appearance = np.stack(
            [
                track.appearance.nearest_distances(cues.appearance[detections])
                for track in tracks_known
            ]
        )
        position_m = self._position_distances_m(tracks_known, detections, poses, cues, predicted)
        unseen_s = np.array([timestamp_s - track.last_seen_s for track in tracks_known])
        has_ground = np.array([predicted[track].ground_m is not None for track in tracks_known])
        base_m = np.where(
            has_ground & (cues.ground_m is not None),
            config.max_ground_distance_m,
            config.max_pose_distance_m,
        )
        reach_m = (base_m + config.reid_max_speed_m_s * unseen_s)[:, None]
        cost = np.where(position_m <= reach_m, np.nan_to_num(appearance, nan=np.inf), np.inf)
        matches, lost, free = _assign(
            tracks_known, detections, cost, config.reid_max_appearance_distance
        )
        return matches, [*lost, *unknown], free

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
        predicted: dict[Track, Prediction],
        timestamp_s: float,
    ) -> list[Track]:
        """Tracks given a detection beyond their 3D gate (references corrected an identity):
        their velocity would be a jump between two people, not a motion."""
        jumped = []
        for track, index in matches:
            motion_state = predicted[track].motion
            distance_m = pose_distance_matrix_m(
                motion_state.joints_cam_m[None],
                motion_state.joint_scores[None],
                poses.joints_cam_m[index : index + 1],
                poses.joint_scores[index : index + 1],
                self.config.min_joint_confidence,
                self.config.min_common_joints,
                self.config.full_depth_range_m,
            )[0, 0]
            is_lost = track.state is TrackState.LOST
            if is_lost or not distance_m <= self.config.gate_m(timestamp_s - track.last_seen_s):
                jumped.append(track)
        return jumped

    def _take_track_id(self) -> int:
        track_id = self._next_track_id
        self._next_track_id += 1
        return track_id

    # -- steps 4 to 6 ---------------------------------------------------------------------

    def _observation(
        self, poses: FramePoses, cues: _FrameCues, index: int, timestamp_s: float
    ) -> Observation:
        return Observation(
            joints_cam_m=poses.joints_cam_m[index].astype(np.float64),
            joint_scores=poses.joint_scores[index].astype(np.float64),
            joints2d_px=poses.joints2d_px[index].astype(np.float64),
            box_xyxy=poses.boxes_xyxy[index].astype(np.float64),
            score=float(poses.scores[index]),
            timestamp_s=timestamp_s,
            ground_m=None
            if cues.ground_m is None or np.isnan(cues.ground_m[index]).any()
            else cues.ground_m[index].copy(),
        )

    def _hit(self, track: Track, observation: Observation, is_jump: bool) -> None:
        config = self.config
        t = observation.timestamp_s
        is_restart = is_jump or track.state is TrackState.LOST
        if is_restart:
            if track.state is TrackState.SEARCHING:
                track.reacquire()
            elif track.state is TrackState.LOST:
                track.reidentify()
            track.motion = motion.initial_state(
                observation.joints_cam_m, observation.joint_scores, t
            )
            if track.smoother is not None:
                track.smoother.reset()
            track.hits = 0
        elif track.state is TrackState.SEARCHING:
            track.reacquire()
            track.motion = motion.reestimate_after_gap(
                track.motion,
                observation.joints_cam_m,
                observation.joint_scores,
                t,
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
                t,
                config.velocity_time_constant_s,
                config.min_joint_confidence,
                config.depth_velocity_time_constant_s,
            )
        is_after_gap = track.hits == 0
        track.image_motion = self._moved(
            track.image_motion, observation.box_centre_px, t, is_restart, is_after_gap
        )
        track.ground_motion = self._moved(
            track.ground_motion, observation.ground_m, t, is_restart, is_after_gap
        )
        track.hits += 1
        track.last_observation = observation
        track.smoothed_joints_cam_m = self._smooth(track, observation)
        if track.state is TrackState.TENTATIVE and track.hits >= config.confirm_hits:
            track.confirm()

    def _measure_position_noise(
        self, track: Track, observation: Observation, prediction: Prediction
    ) -> None:
        """Fold how far the observation lands from the prediction (on the ground when both
        have a ground position, else along the camera ray) into the track's position noise;
        frames without a gap only (after one, the prediction's own drift would count)."""
        if track.state is not TrackState.CONFIRMED and track.state is not TrackState.TENTATIVE:
            return
        if observation.ground_m is not None and prediction.ground_m is not None:
            deviation_m = float(np.linalg.norm(observation.ground_m - prediction.ground_m))
        else:
            deviation_m = abs(
                _range_m(observation.joints_cam_m) - _range_m(prediction.motion.joints_cam_m)
            )
        if track.position_noise_m is None:
            track.position_noise_m = deviation_m
            return
        elapsed_s = observation.timestamp_s - track.last_seen_s
        weight = 1.0 - np.exp(-elapsed_s / self.config.position_noise_time_constant_s)
        track.position_noise_m += weight * (deviation_m - track.position_noise_m)

    def _moved(
        self,
        state: motion.PointMotion | None,
        position: np.ndarray | None,
        timestamp_s: float,
        is_restart: bool,
        is_after_gap: bool,
    ) -> motion.PointMotion | None:
        """A point's motion after an observation (None: no position, e.g. no world joints)."""
        if position is None:
            return None
        if state is None or is_restart:
            return motion.point_initial_state(position, timestamp_s)
        return motion.point_update(
            state, position, timestamp_s, self.config.velocity_time_constant_s, is_after_gap
        )

    def _update_appearance(
        self, track: Track, cues: _FrameCues, index: int, timestamp_s: float
    ) -> None:
        if track.appearance is None or cues.appearance is None or not cues.is_clean[index]:
            return
        track.appearance.update(cues.appearance[index], timestamp_s)

    def _smooth(self, track: Track, observation: Observation) -> np.ndarray:
        if track.smoother is None:
            return observation.joints_cam_m
        return track.smoother(observation.joints_cam_m, observation.timestamp_s)

    def _miss(self, track: Track, timestamp_s: float) -> None:
        config = self.config
        if track.state is TrackState.TENTATIVE:
            track.terminate()
            return
        if track.state is TrackState.CONFIRMED:
            track.start_searching()
        track.hits = 0
        unseen_s = timestamp_s - track.last_seen_s
        if track.state is TrackState.SEARCHING and unseen_s > config.searching_timeout_s:
            if self._may_be_reidentified(track, unseen_s):
                track.lose()
            else:
                track.terminate()
        elif track.state is TrackState.LOST and unseen_s > config.reid_window_s:
            track.terminate()

    def _may_be_reidentified(self, track: Track, unseen_s: float) -> bool:
        is_known = track.appearance is not None and track.appearance.is_known
        return is_known and unseen_s <= self.config.reid_window_s

    def _make_room(self, num_new: int) -> None:
        """Terminate the longest unseen lost tracks while new ones would exceed the bound."""
        excess = len([t for t in self._tracks if t.is_live]) + num_new - self.config.max_tracks
        if excess <= 0:
            return
        lost = sorted(
            (track for track in self._tracks if track.state is TrackState.LOST),
            key=lambda track: track.last_seen_s,
        )
        for track in lost[:excess]:
            track.terminate()

    def _start_track(self, track_id: int, observation: Observation) -> Track:
        config = self.config
        smoothing = config.smoothing
        t = observation.timestamp_s
        track = Track(
            track_id=track_id,
            motion=motion.initial_state(observation.joints_cam_m, observation.joint_scores, t),
            last_observation=observation,
            smoothed_joints_cam_m=observation.joints_cam_m,
            smoother=PoseSmoother(smoothing) if smoothing.is_enabled else None,
            image_motion=motion.point_initial_state(observation.box_centre_px, t),
            ground_motion=None
            if observation.ground_m is None
            else motion.point_initial_state(observation.ground_m, t),
            appearance=AppearanceModel(
                config.appearance_time_constant_s,
                config.appearance_gallery_size,
                config.appearance_gallery_interval_s,
            )
            if config.appearance_cue
            else None,
        )
        track.smoothed_joints_cam_m = self._smooth(track, observation)
        # References vouch for the identity; in FREE mode hits must confirm it.
        if config.association is not AssociationMode.FREE or config.confirm_hits <= 1:
            track.confirm()
        self._tracks.append(track)
        return track

    # -- step 7 ---------------------------------------------------------------------------

    def _report(
        self,
        poses: FramePoses,
        claimed: list[tuple[Track, int]],
        predicted: dict[Track, Prediction],
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
            appearance=poses.appearance,
        )
        unseen = [
            track for track in self._tracks if track.state in REPORTED_UNSEEN and track in predicted
        ]
        if not unseen:
            return detections
        unseen_poses = self._unseen_poses(unseen, predicted, poses.appearance)
        return (
            unseen_poses if not len(poses) else FramePoses.concatenate([detections, unseen_poses])
        )

    def _unseen_poses(
        self,
        tracks: list[Track],
        predicted: dict[Track, Prediction],
        frame_appearance: np.ndarray | None,
    ) -> FramePoses:
        """Searching and terminated tracks: predicted pose, 2D joints and box moved with the
        track's image velocity, last joint confidences, score 0."""
        joints_m = np.stack([predicted[track].motion.joints_cam_m for track in tracks])
        joints2d_px = np.stack([predicted[track].joints2d_px for track in tracks])
        shifts_px = joints2d_px - np.stack([t.last_observation.joints2d_px for t in tracks])
        boxes = np.stack([track.last_observation.box_xyxy for track in tracks])
        boxes = boxes + np.tile(shifts_px[:, 0, :], 2)
        appearance = None
        if frame_appearance is not None:
            appearance = np.zeros((len(tracks), frame_appearance.shape[1]))
            for row, track in enumerate(tracks):
                model = track.appearance
                if (
                    model is not None
                    and model.mean is not None
                    and len(model.mean) == len(appearance[row])
                ):
                    appearance[row] = model.mean
        return FramePoses(
            skeleton=str(self._skeleton),
            boxes_xyxy=boxes,
            scores=np.zeros(len(tracks)),
            joints2d_px=joints2d_px,
            joints_cam_m=joints_m,
            joint_scores=np.stack([track.last_observation.joint_scores for track in tracks]),
            track_ids=np.array([track.track_id for track in tracks], np.int64),
            track_states=np.array([track.state.value for track in tracks], "<U16"),
            joints_cam_raw_m=joints_m.copy(),
            appearance=appearance,
        )


def _range_m(joints_cam_m: np.ndarray) -> float:
    """Distance of a (J, 3) pose's centroid from the camera (metres)."""
    return float(np.linalg.norm(joints_cam_m.mean(axis=0)))


def _assign(
    tracks: list[Track], detections: np.ndarray, cost: np.ndarray, max_cost: float
) -> tuple[list[tuple[Track, int]], list[Track], np.ndarray]:
    """Hungarian on a (T, D) cost: the matches as (track, detection index), the unmatched
    tracks and the unmatched detection indices."""
    matches, lost, free = linear_assignment(cost, max_cost)
    return (
        [(tracks[row], int(detections[col])) for row, col in matches],
        [tracks[row] for row in lost],
        detections[free],
    )


def _largest_overlap(boxes_xyxy: np.ndarray) -> np.ndarray:
    """(N,) the largest fraction of each box covered by another box of the frame."""
    boxes = np.asarray(boxes_xyxy, np.float64)
    if len(boxes) < 2:
        return np.zeros(len(boxes))
    low = np.maximum(boxes[:, None, :2], boxes[None, :, :2])
    high = np.minimum(boxes[:, None, 2:], boxes[None, :, 2:])
    intersection = np.clip(high - low, 0.0, None).prod(axis=-1)  # (N, N)
    np.fill_diagonal(intersection, 0.0)
    area = np.clip(boxes[:, 2:] - boxes[:, :2], 0.0, None).prod(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        covered = intersection / area[:, None]
    return np.nan_to_num(covered, nan=1.0).max(axis=1)
