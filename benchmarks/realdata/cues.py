"""The noise of each association cue on labelled video: how far it moves for the same person
from frame to frame, and how close it puts other people. The tracker's gates follow it.

Identities come from the labels: each detection takes the id of the labelled person whose box
its padded landmark box overlaps most (IoU >= 0.5). A tracker in known-association mode follows
those identities (each frame's references are the labelled detections themselves). Before
each frame every track's prediction (``Tracker.predict``, as association uses it) is compared
with every labelled detection of the frame: the camera-space pose distance (metres, depth
down-weighted), the 2D joint distance (track sizes), the ground distance (metres, when the
detections carry world joints), the appearance cosine distance to the track's average and to
the nearest of its average and gallery, and the difference of ranges.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from scipy.optimize import linear_sum_assignment

from posecast.engines.frames import FramePoses
from posecast.tracker.appearance import cosine_distance_matrix
from posecast.tracker.config import AssociationMode, TrackerConfig
from posecast.tracker.matching import (
    ground_distance_matrix_m,
    ground_positions_m,
    normalized_distance_matrix_2d,
    pose_distance_matrix_m,
)
from posecast.tracker.references import ReferencePoses
from posecast.tracker.tracker import Tracker
from realdata.boxes import box_iou, padded_landmark_boxes_xyxy
from realdata.mot import FrameTruth

CUES = ("position_m", "image", "ground_m", "appearance", "appearance_nearest", "range_m")


def labelled_ids(poses: FramePoses, truth: FrameTruth, min_iou: float = 0.5) -> np.ndarray:
    """(N,) the labelled id of each detection (Hungarian on IoU of padded landmark boxes), -1
    where none overlaps enough."""
    ids = np.full(len(poses), -1, np.int64)
    if not len(poses) or not len(truth.target_ids):
        return ids
    iou = box_iou(padded_landmark_boxes_xyxy(poses.joints2d_px), truth.target_xyxy)
    rows, cols = linear_sum_assignment(iou, maximize=True)
    good = iou[rows, cols] >= min_iou
    ids[rows[good]] = truth.target_ids[cols[good]]
    return ids


@dataclass(frozen=True)
class CueSamples:
    """One row per (track, labelled detection) pair compared.

    Attributes:
        is_same: (P,) the track follows the detection's person.
        unseen_s: (P,) time since the track was last seen.
        values: cue name -> (P,) distances (NaN where a cue is missing).
    """

    is_same: np.ndarray
    unseen_s: np.ndarray
    values: dict[str, np.ndarray]


def cue_samples(
    inputs: Sequence[FramePoses],
    timestamps_s: Sequence[float],
    identities: Sequence[np.ndarray],
    config: TrackerConfig | None = None,
) -> CueSamples:
    """Compare every track's prediction with every labelled detection, frame by frame.

    Args:
        inputs: the tracker's input per frame (detections with appearance, world joints).
        timestamps_s: the frames' times.
        identities: (N,) labelled id per detection of each frame, -1 for none.
        config: the tracker settings whose predictions and distances are used.
    """
    config = config or TrackerConfig()
    tracker = Tracker(replace(config, association=AssociationMode.KNOWN, confirm_hits=1))
    rows: list[tuple[bool, float, dict[str, float]]] = []
    for poses, timestamp_s, ids in zip(inputs, timestamps_s, identities, strict=True):
        labelled = np.flatnonzero(ids >= 0)
        tracks = [track for track in tracker.tracks if track.is_live]
        if tracks and len(labelled):
            values = _distances(tracker, tracks, poses[labelled], timestamp_s, config)
            for row, track in enumerate(tracks):
                for col, index in enumerate(labelled):
                    rows.append(
                        (
                            track.track_id == ids[index],
                            timestamp_s - track.last_seen_s,
                            {name: float(v[row, col]) for name, v in values.items()},
                        )
                    )
        references = ReferencePoses(
            ids=ids[labelled],
            joints2d_px=poses.joints2d_px[labelled].astype(np.float64),
            joint_scores=poses.joint_scores[labelled].astype(np.float64),
        )
        tracker.update(poses, timestamp_s, references)
    return CueSamples(
        is_same=np.array([same for same, _, _ in rows], bool),
        unseen_s=np.array([unseen for _, unseen, _ in rows]),
        values={name: np.array([values[name] for *_, values in rows]) for name in CUES},
    )


def _distances(
    tracker: Tracker,
    tracks: list,
    poses: FramePoses,
    timestamp_s: float,
    config: TrackerConfig,
) -> dict[str, np.ndarray]:
    predicted = [tracker.predict(track, timestamp_s) for track in tracks]
    joints_m = np.stack([p.motion.joints_cam_m for p in predicted])
    scores = np.stack([p.motion.joint_scores for p in predicted])
    shape = (len(tracks), len(poses))
    values = {
        "position_m": pose_distance_matrix_m(
            joints_m,
            scores,
            poses.joints_cam_m,
            poses.joint_scores,
            config.min_joint_confidence,
            config.min_common_joints,
            config.full_depth_range_m,
        ),
        "image": normalized_distance_matrix_2d(
            np.stack([p.joints2d_px for p in predicted]),
            scores,
            poses.joints2d_px,
            poses.joint_scores,
            config.min_joint_confidence,
            config.min_common_joints,
        ),
        "range_m": np.abs(
            np.linalg.norm(joints_m.mean(axis=1), axis=-1)[:, None]
            - np.linalg.norm(poses.joints_cam_m.mean(axis=1), axis=-1)[None, :]
        ),
        "ground_m": np.full(shape, np.nan),
        "appearance": np.full(shape, np.nan),
        "appearance_nearest": np.full(shape, np.nan),
    }
    if poses.joints_world_m is not None:
        track_ground = np.stack(
            [p.ground_m if p.ground_m is not None else np.full(2, np.nan) for p in predicted]
        )
        detection_ground = ground_positions_m(
            poses.joints_world_m.astype(np.float64), poses.joint_scores, config.min_joint_confidence
        )
        values["ground_m"] = ground_distance_matrix_m(track_ground, detection_ground)
    if poses.appearance is not None:
        for row, track in enumerate(tracks):
            model = track.appearance
            if model is None or model.mean is None:
                continue
            values["appearance"][row] = cosine_distance_matrix(model.mean[None], poses.appearance)[
                0
            ]
            values["appearance_nearest"][row] = model.nearest_distances(poses.appearance)
    return values


def noise_rows(samples: CueSamples, slices: dict[str, tuple[float, float]]) -> list[list]:
    """Table rows: per time slice (label -> (min, max] unseen seconds) and cue, the same
    person's p50 / p90 / p99 and other people's p1 / p5 / p50 (NaN-free samples only)."""
    rows = []
    for label, (low, high) in slices.items():
        in_slice = (samples.unseen_s > low) & (samples.unseen_s <= high)
        for name in CUES:
            values = samples.values[name]
            same = values[in_slice & samples.is_same]
            others = values[in_slice & ~samples.is_same]
            same, others = same[np.isfinite(same)], others[np.isfinite(others)]
            if not len(same) or not len(others):
                continue
            rows.append(
                [
                    label,
                    name,
                    len(same),
                    *np.percentile(same, [50, 90, 99]).round(3).tolist(),
                    len(others),
                    *np.percentile(others, [1, 5, 50]).round(3).tolist(),
                ]
            )
    return rows


NOISE_HEADERS = ["tracks", "cue", "same n", "p50", "p90", "p99", "others n", "p1", "p5", "p50"]
