"""Tracking 3DPW sequences the way the challenge asks, into prediction files.

For every sequence: estimate (or read) each frame's persons, track them with the reference
association of the chosen setting, and collect one SMPL-24 pose per ground-truth person and
frame. ``unknown`` association: only the first frame's reference 2D poses (3DPW's
``poses2d``, OpenPose-18) decide which track is which person; ``known``: every frame's do.
A person not found in a frame gets the last known pose, or the next one at the start; a
person never found gets zeros. Both are counted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

import numpy as np

from posecast.clients.threedpw.layout import Sequence3DPW
from posecast.clients.threedpw.prediction import Prediction3DPW
from posecast.engines.frames import FramePoses
from posecast.engines.geometry.skeletons import get_skeleton
from posecast.tracker.config import AssociationMode, TrackerConfig
from posecast.tracker.references import ReferencePoses
from posecast.tracker.tracker import Tracker

OUTPUT_SKELETON = "smpl_24"
OPENPOSE_18_NAMES = (
    "nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder",
    "left_elbow", "left_wrist", "right_hip", "right_knee", "right_ankle", "left_hip",
    "left_knee", "left_ankle", "right_eye", "left_eye", "right_ear", "left_ear",
)  # fmt: skip
FRAME_RATE_HZ = 30.0
NOT_FOUND = -1


def references_from_openpose(poses2d_px: np.ndarray, skeleton: str) -> ReferencePoses:
    """3DPW's reference 2D poses of one frame, (P, 18, 3) as (x, y, confidence), in the
    tracker's joint set: joints are matched by name, joints the set lacks are dropped and the
    set's other joints get confidence 0. Persons whose reference is all zero (3DPW's mark of
    an undetected person) are left out; ids are the ground-truth person indices."""
    fmt = get_skeleton(skeleton)
    present = np.flatnonzero(np.any(poses2d_px != 0, axis=(1, 2)))
    joints = np.zeros((len(present), fmt.num_joints, 2))
    scores = np.zeros((len(present), fmt.num_joints))
    for source, name in enumerate(OPENPOSE_18_NAMES):
        if name in fmt.joint_names:
            target = fmt.index(name)
            joints[:, target] = poses2d_px[present, source, :2]
            scores[:, target] = poses2d_px[present, source, 2]
    return ReferencePoses(ids=present.astype(np.int64), joints2d_px=joints, joint_scores=scores)


@dataclass
class SequenceCollector:
    """Collects tracked frames into per-person arrays, then fills the gaps."""

    num_persons: int
    num_frames: int
    joints_cam_m: np.ndarray = field(init=False)
    track_ids: np.ndarray = field(init=False)
    all_tracks: dict[int, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        shape = (self.num_persons, self.num_frames)
        self.joints_cam_m = np.full((*shape, 24, 3), np.nan)
        self.track_ids = np.full(shape, NOT_FOUND, dtype=np.int64)

    def add(self, frame_index: int, poses: FramePoses) -> None:
        """One tracked frame in SMPL-24; only persons seen in this frame count (not the
        predicted poses of searching or terminated tracks)."""
        seen = ~np.isin(poses.track_states, ["searching", "terminated"])
        for index in np.flatnonzero(seen & (poses.track_ids >= 0)):
            track_id = int(poses.track_ids[index])
            track = self.all_tracks.setdefault(track_id, np.full((self.num_frames, 24, 3), np.nan))
            track[frame_index] = poses.joints_cam_m[index]
            if track_id < self.num_persons:
                self.joints_cam_m[track_id, frame_index] = poses.joints_cam_m[index]
                self.track_ids[track_id, frame_index] = track_id

    def prediction(self) -> tuple[Prediction3DPW, np.ndarray]:
        """The prediction with gaps filled, and (P,) the number of filled frames per person."""
        joints = self.joints_cam_m.copy()
        for person in range(self.num_persons):
            found = np.flatnonzero(self.track_ids[person] != NOT_FOUND)
            if len(found) == 0:
                joints[person] = 0.0
                continue
            # index of the last found frame at or before each frame, else the first found one
            previous = np.searchsorted(found, np.arange(self.num_frames), side="right") - 1
            joints[person] = joints[person, found[np.maximum(previous, 0)]]
        filled = np.sum(self.track_ids == NOT_FOUND, axis=1)
        return Prediction3DPW(joints, self.track_ids.copy(), dict(self.all_tracks)), filled


def track_sequence(
    sequence: Sequence3DPW,
    frames: Iterable[FramePoses],
    association: AssociationMode,
    tracker_config: TrackerConfig | None = None,
) -> tuple[Prediction3DPW, np.ndarray]:
    """Track one sequence's per-frame persons (any skeleton convertible to SMPL-24).

    Args:
        sequence: the ground-truth sequence (reference 2D poses, sizes).
        frames: the persons of each frame, in order, one per frame of the sequence.
        association: ``UNKNOWN`` (first-frame references) or ``KNOWN`` (every frame's).

    Returns:
        The prediction (persons in ground-truth order) and the filled frames per person.
    """
    if association not in (AssociationMode.UNKNOWN, AssociationMode.KNOWN):
        raise ValueError(f"3DPW runs need unknown or known association, got {association}")
    base = tracker_config or TrackerConfig()
    tracker = Tracker(replace(base, association=association))
    collector = SequenceCollector(sequence.num_persons, sequence.num_frames)
    for frame_index, poses in enumerate(frames):
        references = None
        if frame_index == 0 or association is AssociationMode.KNOWN:
            references = references_from_openpose(
                sequence.poses2d_px[:, frame_index], poses.skeleton
            )
        tracked = tracker.update(poses, frame_index / FRAME_RATE_HZ, references)
        collector.add(frame_index, tracked.to_skeleton(OUTPUT_SKELETON))
    return collector.prediction()
