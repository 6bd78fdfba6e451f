"""Label-free statistics of the tracker on real detections: the old and the new defaults.

Real monocular video has no identity labels here, so this measures what can be measured
without them: tracks created and confirmed, frames per confirmed track, the fraction of
detections that end up in a confirmed track, tracks whose 2D box jumps between consecutive
observations (suspected ID switches), and the live confirmed tracks per frame against the
detections per frame. It also prints, from the detections alone, how much the same person
moves between frames (pairs of boxes that overlap only each other) against the distance
between different people, per distance.

    python benchmarks/bench_tracker_real.py DETECTIONS.jsonl

DETECTIONS.jsonl: per-frame messages (``service.messages.FrameMessage``, one per line) of
untracked detections, e.g. ``posecast run`` output; track ids and states in it are ignored.
"""

from __future__ import annotations

import argparse
import itertools
import math
import time
from collections import defaultdict
from dataclasses import dataclass, field, replace

import numpy as np

from posecast.clients.jsonl import read_frame_messages
from posecast.engines.frames import FramePoses
from posecast.engines.geometry.boxes import box_iou
from posecast.pipeline.wire import poses_from_message
from posecast.tracker.config import TrackerConfig
from posecast.tracker.matching import pose_distance_matrix_m
from posecast.tracker.tracker import Tracker

JUMP_BASE_HEIGHTS = 0.3
"""A track's box centre moving more than (0.3 + 0.15 x frames elapsed) box heights between two
observations counts as a suspected ID switch (walking is ~0.1 box heights per frame at 10 Hz)."""
JUMP_HEIGHTS_PER_FRAME = 0.15


def read_frames(path: str) -> list[tuple[FramePoses, float]]:
    """(poses, timestamp_s) per frame; track ids and tracker-only rows dropped."""
    frames: list[tuple[FramePoses, float]] = []
    num_joints: int | None = None
    for _, message in read_frame_messages(path):
        message.persons = [p for p in message.persons if p.state not in ("searching", "terminated")]
        poses = poses_from_message(message, num_joints)
        num_joints = poses.num_joints
        frames.append((poses, float(message.timestamp)))
    return frames


@dataclass
class _TrackLog:
    frames: list[int] = field(default_factory=list)
    boxes_xyxy: list[np.ndarray] = field(default_factory=list)
    ranges_m: list[float] = field(default_factory=list)  # smoothed pose's range, per frame
    is_confirmed: bool = False


@dataclass
class RunStatistics:
    tracks_created: int
    confirmed_lengths: np.ndarray  # frames with a detection, per confirmed track
    detections: int
    detections_in_confirmed: int
    jumps: int
    confirmed_per_frame: np.ndarray
    detections_per_frame: np.ndarray
    update_ms: float
    range_jitter_m: float  # std of the second difference of confirmed tracks' smoothed range


def run(frames: list[tuple[FramePoses, float]], config: TrackerConfig) -> RunStatistics:
    """Track every frame and collect the label-free statistics."""
    tracker = Tracker(config)
    logs: dict[int, _TrackLog] = defaultdict(_TrackLog)
    confirmed_per_frame, detections_per_frame = [], []
    elapsed_s = 0.0
    for frame_index, (poses, timestamp_s) in enumerate(frames):
        start = time.perf_counter()
        out = tracker.update(poses, timestamp_s)
        elapsed_s += time.perf_counter() - start
        observed = out.scores > 0
        for track_id, state, box, joints in zip(
            out.track_ids[observed],
            out.track_states[observed],
            out.boxes_xyxy[observed],
            out.joints_cam_m[observed],
            strict=True,
        ):
            if state == "":
                continue
            log = logs[int(track_id)]
            log.frames.append(frame_index)
            log.boxes_xyxy.append(np.asarray(box, np.float64))
            log.ranges_m.append(float(np.linalg.norm(joints.mean(axis=0))))
            log.is_confirmed |= state == "confirmed"
        confirmed_per_frame.append(int((observed & (out.track_states == "confirmed")).sum()))
        detections_per_frame.append(len(poses))
    confirmed = [log for log in logs.values() if log.is_confirmed]
    return RunStatistics(
        tracks_created=len(logs),
        confirmed_lengths=np.array([len(log.frames) for log in confirmed]),
        detections=int(sum(detections_per_frame)),
        detections_in_confirmed=sum(len(log.frames) for log in confirmed),
        jumps=sum(_jumps(log) for log in confirmed),
        confirmed_per_frame=np.array(confirmed_per_frame),
        detections_per_frame=np.array(detections_per_frame),
        update_ms=elapsed_s / max(len(frames), 1) * 1000,
        range_jitter_m=float(
            np.std(np.concatenate([np.diff(log.ranges_m, 2) for log in confirmed] or [[0.0]]))
        ),
    )


def _jumps(log: _TrackLog) -> int:
    boxes = np.array(log.boxes_xyxy)
    if len(boxes) < 2:
        return 0
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2
    heights = boxes[:, 3] - boxes[:, 1]
    moved_px = np.linalg.norm(np.diff(centres, axis=0), axis=1)
    frames_elapsed = np.diff(np.array(log.frames))
    allowed_px = heights[:-1] * (JUMP_BASE_HEIGHTS + JUMP_HEIGHTS_PER_FRAME * frames_elapsed)
    return int((moved_px > allowed_px).sum())


def pair_components_m(frames: list[tuple[FramePoses, float]]) -> dict[str, dict[str, np.ndarray]]:
    """Root (hip midpoint) change split into x, y and depth (range), root-relative pose change,
    and the tracker's distances, for the same person in consecutive frames (the two boxes
    overlap each other by IoU > 0.6 and nothing else by more than 0.05) and for different
    people (boxes in consecutive frames with IoU < 0.05)."""
    values: dict[str, dict[str, list[float]]] = {
        "same": defaultdict(list),
        "other": defaultdict(list),
    }
    hips = [23, 24] if frames and frames[0][0].num_joints == 33 else None
    for (before, _), (after, _) in itertools.pairwise(frames):
        if not len(before) or not len(after):
            continue
        iou = box_iou(before.boxes_xyxy, after.boxes_xyxy)
        for i, j in np.ndindex(*iou.shape):
            others = np.concatenate([np.delete(iou[i], j), np.delete(iou[:, j], i)])
            if iou[i, j] > 0.6 and not (others > 0.05).any():
                kind = "same"
            elif iou[i, j] < 0.05:
                kind = "other"
            else:
                continue
            a = before.joints_cam_m[i].astype(np.float64)
            b = after.joints_cam_m[j].astype(np.float64)
            root_a = a[hips].mean(axis=0) if hips else a.mean(axis=0)
            root_b = b[hips].mean(axis=0) if hips else b.mean(axis=0)
            row = values[kind]
            row["root x"].append(abs(root_b[0] - root_a[0]))
            row["root y"].append(abs(root_b[1] - root_a[1]))
            row["root range"].append(abs(np.linalg.norm(root_b) - np.linalg.norm(root_a)))
            row["root-relative pose"].append(
                float(np.linalg.norm((a - root_a) - (b - root_b), axis=-1).mean())
            )
            everything = np.ones((1, len(a)))
            for name, full_depth_range_m in (
                ("pose, plain 3D", math.inf),
                (
                    f"pose, full depth to {TrackerConfig().full_depth_range_m:g} m",
                    TrackerConfig().full_depth_range_m,
                ),
                ("pose, lateral only", 1e-9),
            ):
                row[name].append(
                    float(
                        pose_distance_matrix_m(
                            a[None], everything, b[None], everything, 0.0, 1, full_depth_range_m
                        )[0, 0]
                    )
                )
    return {kind: {k: np.array(v) for k, v in row.items()} for kind, row in values.items()}


def legacy_config() -> TrackerConfig:
    """The first tracker's behaviour: plain 3D distance, one velocity time constant."""
    defaults = TrackerConfig()
    return replace(
        defaults,
        full_depth_range_m=math.inf,
        depth_velocity_time_constant_s=defaults.velocity_time_constant_s,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("detections", help="per-frame messages JSONL of untracked detections")
    args = parser.parse_args()
    frames = read_frames(args.detections)
    components = pair_components_m(frames)
    print(
        f"same person, consecutive frames ({len(components['same']['root x'])} pairs) vs "
        f"different people ({len(components['other']['root x'])} pairs), metres\n"
    )
    print(
        "| quantity | same p50 | same p90 | same p99 | others p1 | others p5 | same > 0.4 "
        "| others < 0.4 |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, same in components["same"].items():
        other = components["other"][name]
        print(
            f"| {name} | {np.median(same):.3f} | {np.percentile(same, 90):.3f} | "
            f"{np.percentile(same, 99):.3f} | {np.percentile(other, 1):.3f} | "
            f"{np.percentile(other, 5):.3f} | {(same > 0.4).mean():.1%} | "
            f"{(other < 0.4).mean():.2%} |"
        )
    print()
    defaults = TrackerConfig()
    range_unfiltered = replace(
        defaults.smoothing,
        range_min_cutoff_hz=1e6,  # the range filter passes everything through
    )
    runs = {
        "old (plain 3D distance)": legacy_config(),
        "new defaults": defaults,
        "new, range unfiltered": replace(defaults, smoothing=range_unfiltered),
    }
    results = {name: run(frames, config) for name, config in runs.items()}
    print(f"{len(frames)} frames, {sum(len(p) for p, _ in frames)} detections\n")
    print("| statistic | " + " | ".join(results) + " |")
    print("|---|" + "---|" * len(results))
    rows = {
        "tracks created": lambda s: f"{s.tracks_created}",
        "confirmed tracks": lambda s: f"{len(s.confirmed_lengths)}",
        "frames per confirmed track, median / p90 / max": lambda s: _lengths(s.confirmed_lengths),
        "confirmed tracks >= 50 frames": lambda s: f"{int((s.confirmed_lengths >= 50).sum())}",
        "detections in confirmed tracks": lambda s: (
            f"{s.detections_in_confirmed / max(s.detections, 1):.1%}"
        ),
        "suspected ID switches (2D jumps)": lambda s: f"{s.jumps}",
        "confirmed / detections per frame": lambda s: (
            f"{s.confirmed_per_frame.mean():.2f} / {s.detections_per_frame.mean():.2f}"
        ),
        "update (ms per frame)": lambda s: f"{s.update_ms:.2f}",
        "range jitter of smoothed tracks (m)": lambda s: f"{s.range_jitter_m:.3f}",
    }
    for name, cell in rows.items():
        print(f"| {name} | " + " | ".join(cell(s) for s in results.values()) + " |")


def _lengths(lengths: np.ndarray) -> str:
    if not len(lengths):
        return "-"
    return f"{np.median(lengths):.0f} / {np.percentile(lengths, 90):.0f} / {lengths.max()}"


if __name__ == "__main__":
    main()
