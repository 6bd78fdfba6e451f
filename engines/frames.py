"""The per-frame record passed between engines, tracker and service: one array per field."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from posecast.engines.geometry.skeletons import convert_confidences, convert_joints

UNTRACKED_ID = -1
"""``track_ids`` value of a person that no track has claimed."""
_OPTIONAL_JOINTS = ("joints_cam_raw_m", "joints_world_m")


@dataclass(frozen=True)
class FramePoses:
    """All persons found in one frame.

    Attributes:
        skeleton: name of the joint set (e.g. ``blazepose_33``, ``smpl_24``).
        boxes_xyxy: (N, 4) person boxes in image pixels.
        scores: (N,) person confidence in [0, 1].
        joints2d_px: (N, J, 2) joints in image pixels.
        joints_cam_m: (N, J, 3) joints in metres, camera frame (x right, y down, z forward).
        joint_scores: (N, J) per-joint confidence in [0, 1].
        track_ids: (N,) track id per person, ``UNTRACKED_ID`` where untracked.
        track_states: (N,) track state name per person, ``""`` where untracked.
        joints_cam_raw_m: (N, J, 3) unsmoothed joints when a tracker smoothed
            ``joints_cam_m``, else None.
        joints_world_m: (N, J, 3) joints in metres in the world frame, when the camera's
            place in the world is known, else None.
        appearance: (N, D) appearance descriptors (``posecast.engines.appearance``: what the
            clothes look like, for re-identification; a zero row where nothing was visible),
            else None. Joint conversions keep it as it is.
    """

    skeleton: str
    boxes_xyxy: np.ndarray
    scores: np.ndarray
    joints2d_px: np.ndarray
    joints_cam_m: np.ndarray
    joint_scores: np.ndarray
    track_ids: np.ndarray = field(default=None)  # type: ignore[assignment]
    track_states: np.ndarray = field(default=None)  # type: ignore[assignment]
    joints_cam_raw_m: np.ndarray | None = None
    joints_world_m: np.ndarray | None = None
    appearance: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.scores)
        if self.track_ids is None:
            object.__setattr__(self, "track_ids", np.full(n, UNTRACKED_ID, dtype=np.int64))
        if self.track_states is None:
            object.__setattr__(self, "track_states", np.full(n, "", dtype="<U16"))
        num_joints = self.joint_scores.shape[1] if self.joint_scores.ndim == 2 else -1
        expected = {
            "boxes_xyxy": (n, 4),
            "scores": (n,),
            "joints2d_px": (n, num_joints, 2),
            "joints_cam_m": (n, num_joints, 3),
            "joint_scores": (n, num_joints),
            "track_ids": (n,),
            "track_states": (n,),
        }
        for name in _OPTIONAL_JOINTS:
            if getattr(self, name) is not None:
                expected[name] = (n, num_joints, 3)
        if self.appearance is not None:
            size = self.appearance.shape[1] if self.appearance.ndim == 2 else -1
            expected["appearance"] = (n, size)
        for name, shape in expected.items():
            actual = getattr(self, name).shape
            if actual != shape:
                raise ValueError(f"FramePoses.{name}: expected shape {shape}, got {actual}")

    @classmethod
    def empty(cls, skeleton: str, num_joints: int) -> FramePoses:
        """A frame without persons."""
        return cls(
            skeleton=skeleton,
            boxes_xyxy=np.zeros((0, 4), np.float32),
            scores=np.zeros(0, np.float32),
            joints2d_px=np.zeros((0, num_joints, 2), np.float32),
            joints_cam_m=np.zeros((0, num_joints, 3), np.float32),
            joint_scores=np.zeros((0, num_joints), np.float32),
        )

    @property
    def num_joints(self) -> int:
        return int(self.joint_scores.shape[1])

    def __len__(self) -> int:
        return len(self.scores)

    def __getitem__(self, index: int | slice | np.ndarray | list[int]) -> FramePoses:
        """Select persons; an int keeps the person axis (result has one person)."""
        if isinstance(index, int | np.integer):
            index = [int(index)]
        optional = {
            name: None if getattr(self, name) is None else getattr(self, name)[index]
            for name in (*_OPTIONAL_JOINTS, "appearance")
        }
        return replace(
            self,
            boxes_xyxy=self.boxes_xyxy[index],
            scores=self.scores[index],
            joints2d_px=self.joints2d_px[index],
            joints_cam_m=self.joints_cam_m[index],
            joint_scores=self.joint_scores[index],
            track_ids=self.track_ids[index],
            track_states=self.track_states[index],
            **optional,
        )

    def to_skeleton(self, skeleton: str) -> FramePoses:
        """The same persons in another joint set (affine combinations of this set's joints)."""
        if skeleton == self.skeleton:
            return self

        def joints(values: np.ndarray) -> np.ndarray:
            return convert_joints(values, self.skeleton, skeleton).astype(np.float32)

        optional = {
            name: None if getattr(self, name) is None else joints(getattr(self, name))
            for name in _OPTIONAL_JOINTS
        }
        return replace(
            self,
            skeleton=skeleton,
            joints2d_px=joints(self.joints2d_px),
            joints_cam_m=joints(self.joints_cam_m),
            joint_scores=convert_confidences(self.joint_scores, self.skeleton, skeleton).astype(
                np.float32
            ),
            **optional,
        )

    @classmethod
    def concatenate(cls, frames: list[FramePoses]) -> FramePoses:
        """Join the persons of several records of the same skeleton."""
        if not frames:
            raise ValueError("FramePoses.concatenate needs at least one record")
        skeletons = {frame.skeleton for frame in frames}
        if len(skeletons) != 1:
            raise ValueError(f"cannot concatenate different skeletons: {sorted(skeletons)}")

        def cat(name: str) -> np.ndarray:
            return np.concatenate([getattr(frame, name) for frame in frames])

        return cls(
            skeleton=frames[0].skeleton,
            boxes_xyxy=cat("boxes_xyxy"),
            scores=cat("scores"),
            joints2d_px=cat("joints2d_px"),
            joints_cam_m=cat("joints_cam_m"),
            joint_scores=cat("joint_scores"),
            track_ids=cat("track_ids"),
            track_states=cat("track_states"),
            **{
                name: cat(name) if all(getattr(f, name) is not None for f in frames) else None
                for name in _OPTIONAL_JOINTS
            },
            appearance=_concatenate_appearance(frames),
        )


def _concatenate_appearance(frames: list[FramePoses]) -> np.ndarray | None:
    """The records' appearance stacked when all have one of the same size (else None)."""
    descriptors = [frame.appearance for frame in frames]
    if any(d is None for d in descriptors) or len({d.shape[1] for d in descriptors}) != 1:
        return None
    return np.concatenate(descriptors)
