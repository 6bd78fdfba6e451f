"""Self-calibration and ground-contact placement on vtest.avi (PETS09-S2L1, a fixed camera
over a plaza; no 3D labels).

The estimator runs once on every frame with posecast's default 55 degree K (its output is
cached, ``--cache``). Then, from the cache:

1. Calibration: the people the default tracker follows (timestamps at the native 7 fps) feed
   a stream's scene (``posecast.pipeline.scene.StreamScene``, the code path of ``posecast
   calibrate``); solved on all frames, on the first and on the second half (stability), and,
   as a check against labels nobody here made, on the MOT ground-truth boxes of frames 1-250
   (box bottom centre = feet, top centre = top of the head, one person per label id).
2. Before / after, all frames: "before" is posecast without a scene (monocular, default K),
   "mono, cal. K" the monocular placement with the calibrated K, "after" the pipeline with
   the calibrated scene: the calibrated K (the cached skeletons re-placed for it,
   ``realdata.intrinsics``) and ground-contact placement. Figures: share of people placed on
   the ground; RMS height of each person's lowest foot landmark above the calibrated plane
   (people with a foot seen); standing heights (lowest foot landmark to the head point plus
   0.12 m, upright people); depth jitter of tracks (per confirmed track, the white-noise
   level of its root range from the residuals r_t - (r_t-1 + r_t+1) / 2: their sd, and
   robustly 1.4826 x their median absolute value, times sqrt(2/3); median over tracks; raw
   and after the tracker's smoothing); tracking of frames 1-250 against the MOT labels
   (MOTA, IDF1, ID switches, all tracked rows).

    python benchmarks/bench_scene_vtest.py --data ../shared/data/real
        --video ../shared/data/vtest.avi [--json OUT] [--cache PATH] [--from-cache]
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from realdata.intrinsics import poses_with_intrinsics
from realdata.mot import load_pets09
from realdata.pipeline import Item, run_or_load
from realdata.report import (
    benchmark_arguments,
    configure_logging,
    describe_run,
    format_table,
    run_metadata,
    write_json,
)
from realdata.tracking import score_tracking, tracking_frames

from posecast.engines.frames import FramePoses
from posecast.engines.geometry.camera import Camera, intrinsics_from_fov
from posecast.engines.geometry.ground import GroundPlane, heights_above_ground_m
from posecast.engines.geometry.placement import FEET
from posecast.engines.geometry.scene import Scene, SceneState
from posecast.engines.geometry.scene_calibration import (
    FOOT_LANDMARKS,
    HEAD_LANDMARKS,
    GroundObservations,
    SceneEstimate,
    calibrate_scene,
    is_upright,
)
from posecast.engines.geometry.scene_config import CalibrationConfig, PlacementConfig
from posecast.pipeline.scene import StreamScene, place_poses, with_world_joints
from posecast.tracker.config import TrackerConfig
from posecast.tracker.tracker import Tracker

DEFAULT_CACHE = "/tmp/posecast-realdata/vtest.npz"
SIZE_WH = (768, 576)
FRAME_RATE_HZ = 7.0
"""PETS09-S2L1's native rate (the file says 10 fps)."""
REFERENCE_FOV_DEG = 36.0
"""The camera's true field of view as the issue reports it (~36 degrees on the 768 px side)."""
CALIBRATION_HEADERS = ["data", "frames", "people", "obs", "focal px", "fov deg", "height m"]
CALIBRATION_HEADERS += ["pitch deg", "roll deg", "state"]
EFFECT_HEADERS = ["placement", "on ground", "feet RMS m", "stature p10/50/90 m"]
EFFECT_HEADERS += ["jitter raw sd/robust m", "jitter smooth sd/robust m", "MOTA", "IDF1"]
EFFECT_HEADERS += ["IDsw"]


def frame_key(index: int) -> str:
    return f"vtest/{index:06d}"


def video_items(video: Path) -> Iterator[Item]:
    capture = cv2.VideoCapture(str(video))
    if not capture.isOpened():
        raise FileNotFoundError(f"cannot open {video}")
    try:
        index = 0
        while True:
            is_read, image = capture.read()
            if not is_read:
                return
            yield frame_key(index), cv2.cvtColor(image, cv2.COLOR_BGR2RGB), None
            index += 1
    finally:
        capture.release()


def track(frames: list[FramePoses]) -> list[FramePoses]:
    tracker = Tracker(TrackerConfig())
    return [tracker.update(poses, index / FRAME_RATE_HZ) for index, poses in enumerate(frames)]


def calibrate_stream(tracked: list[FramePoses], frames: range) -> StreamScene:
    """A stream's scene fed the tracked frames in ``frames``, solved once at the end."""
    scene = StreamScene(None, 55.0, CalibrationConfig(refit_every_frames=100000))
    for index in frames:
        scene.observe(tracked[index], index, *SIZE_WH)
    scene.refit(*SIZE_WH)
    return scene


def box_observations(root: Path) -> GroundObservations:
    """The MOT labels of frames 1-250 as observations: box bottom centre (feet on the ground)
    and top centre (top of the head), per label id; boxes cut by the image edge left out."""
    sequence = load_pets09(root)
    foot, head, ids, frames = [], [], [], []
    for frame in sequence.frames:
        truth = sequence.truth[frame]
        for target_id, (x1, y1, x2, y2) in zip(truth.target_ids, truth.target_xyxy, strict=True):
            if y1 < 2 or y2 > SIZE_WH[1] - 3 or x1 < 2 or x2 > SIZE_WH[0] - 3:
                continue
            foot.append(((x1 + x2) / 2, y2))
            head.append(((x1 + x2) / 2, y1))
            ids.append(int(target_id))
            frames.append(frame)
    count = len(ids)
    return GroundObservations(
        np.array(foot), np.array(head), np.array(ids), np.full(count, 1.7), np.zeros(count),
        np.array(frames),
    )  # fmt: skip


def calibration_row(name: str, frames: int, estimate: Any) -> list[Any]:
    if not isinstance(estimate, SceneEstimate):
        return [name, frames, estimate.num_people, estimate.num_observations, estimate.reason]
    fov = 2 * math.degrees(math.atan(SIZE_WH[0] / 2 / estimate.focal_px))
    ground = estimate.ground
    return [
        name,
        frames,
        estimate.num_people,
        estimate.num_observations,
        f"{estimate.focal_px:.0f} +- {estimate.focal_px_sd:.0f}",
        f"{fov:.1f}",
        f"{ground.camera_height_m:.2f} +- {estimate.camera_height_m_sd:.2f}",
        f"{math.degrees(ground.pitch_rad):.2f} +- {estimate.pitch_deg_sd:.2f}",
        f"{math.degrees(ground.roll_rad):.2f} +- {estimate.roll_deg_sd:.2f}",
        "calibrated" if estimate.is_converged else "calibrating",
    ]


def feet_heights(poses: FramePoses, plane: GroundPlane) -> np.ndarray:
    """Height above the plane of the lowest seen heel or toe of each person with a foot seen."""
    seen = np.stack(
        [
            (poses.joint_scores[:, heel] >= 0.5) & (poses.joint_scores[:, toe] >= 0.5)
            for heel, toe in FEET
        ],
        axis=1,
    )
    heights = heights_above_ground_m(poses.joints_cam_m[:, list(FOOT_LANDMARKS)], plane)
    heights = np.where(np.repeat(seen, 2, axis=1), heights, np.inf).min(axis=1)
    return heights[np.isfinite(heights)]


def statures(poses: FramePoses) -> np.ndarray:
    """Standing heights of the upright people: lowest foot landmark to the head point along
    the body's axis, plus 0.12 m."""
    joints = poses.joints_cam_m.astype(np.float64)
    joints = joints[np.isfinite(joints).all(axis=(1, 2))]
    joints = joints[is_upright(joints)]
    if not len(joints):
        return np.zeros(0)
    head = joints[:, list(HEAD_LANDMARKS)].mean(axis=1)
    feet = joints[:, list(FOOT_LANDMARKS)]
    up = head - feet.mean(axis=1)
    up /= np.linalg.norm(up, axis=1, keepdims=True)
    lowest = np.einsum("njk,nk->nj", feet, up).min(axis=1)
    return np.einsum("nk,nk->n", head, up) - lowest + 0.12


def range_jitter(tracked: list[FramePoses], raw: bool) -> tuple[float, float]:
    """Median over confirmed tracks of the white-noise level of the root's range: from the
    residuals' standard deviation, and robust (1.4826 x their median absolute value, blind
    to the occasional jump)."""
    ranges: dict[int, dict[int, float]] = {}
    for index, poses in enumerate(tracked):
        joints = (
            poses.joints_cam_raw_m
            if raw and poses.joints_cam_raw_m is not None
            else poses.joints_cam_m
        )
        for row in np.flatnonzero((poses.track_states == "confirmed") & (poses.scores > 0)):
            root = joints[row, [23, 24]].mean(axis=0)
            ranges.setdefault(int(poses.track_ids[row]), {})[index] = float(np.linalg.norm(root))
    levels, robust = [], []
    for series in ranges.values():
        frames = sorted(series)
        residuals = [
            series[f] - (series[f - 1] + series[f + 1]) / 2
            for f in frames
            if f - 1 in series and f + 1 in series
        ]
        if len(residuals) >= 10:
            levels.append(float(np.std(residuals) * math.sqrt(2 / 3)))
            spread = 1.4826 * float(np.median(np.abs(residuals)))
            robust.append(spread * math.sqrt(2 / 3))
    if not levels:
        return float("nan"), float("nan")
    return float(np.median(levels)), float(np.median(robust))


def tracking_scores(root: Path, tracked: list[FramePoses]) -> Any:
    sequence = load_pets09(root)
    seen = ("tentative", "confirmed", "searching")
    aligned = [tracked[frame - 1] for frame in sequence.frames]
    frames = tracking_frames(sequence, aligned, seen)
    return score_tracking(frames)


def effect_row(
    name: str, placed: list[FramePoses], on_ground: float, plane: GroundPlane, root: Path
) -> tuple[list[Any], dict[str, Any]]:
    tracked = track(placed)
    feet = np.concatenate([feet_heights(poses, plane) for poses in placed if len(poses)])
    heights = np.concatenate([statures(poses) for poses in placed if len(poses)])
    scores = tracking_scores(root, tracked)
    jitter_raw, jitter_smooth = range_jitter(tracked, True), range_jitter(tracked, False)
    jitter_cells = [f"{sd:.3f} / {robust:.3f}" for sd, robust in (jitter_raw, jitter_smooth)]
    p10, p50, p90 = np.percentile(heights, [10, 50, 90])
    row = [
        name,
        f"{100 * on_ground:.0f} %",
        float(np.sqrt(np.mean(feet**2))),
        f"{p10:.2f} / {p50:.2f} / {p90:.2f}",
        *jitter_cells,
        scores.mota,
        scores.idf1,
        scores.num_switches,
    ]
    detail = {
        "placement": name,
        "on_ground": on_ground,
        "feet_rms_m": row[2],
        "feet_median_abs_m": float(np.median(np.abs(feet))),
        "stature_percentiles_m": [p10, p50, p90],
        "jitter_raw_sd_robust_m": jitter_raw,
        "jitter_smooth_sd_robust_m": jitter_smooth,
        "tracking": vars(scores),
    }
    return row, detail


def main() -> None:
    parser = benchmark_arguments(__doc__.split("\n\n")[0], DEFAULT_CACHE)
    parser.add_argument("--video", type=Path, required=True, help="vtest.avi")
    args = parser.parse_args()
    configure_logging()
    records, metadata = run_or_load(
        lambda: video_items(args.video),
        795,
        args.cache,
        args.from_cache,
        run_metadata(args.threads),
        threads=args.threads,
    )
    keys = sorted(records)
    before = [records[key].poses for key in keys]
    tracked = track(before)
    half = len(keys) // 2
    streams = {
        "all frames": calibrate_stream(tracked, range(len(keys))),
        "first half": calibrate_stream(tracked, range(half)),
        "second half": calibrate_stream(tracked, range(half, len(keys))),
    }
    rows = [
        calibration_row(name, len(frames), stream.estimate)
        for (name, stream), frames in zip(
            streams.items(), (range(len(keys)), range(half), range(half, len(keys))), strict=True
        )
    ]
    boxes = calibrate_scene(
        box_observations(args.data),
        SIZE_WH,
        replace(CalibrationConfig(), head_below_top_m=0.0, landmark_noise=0.02),
    )
    rows.append(calibration_row("MOT label boxes, frames 1-250", 250, boxes))
    estimate = streams["all frames"].estimate
    assert isinstance(estimate, SceneEstimate), estimate
    default_K = intrinsics_from_fov(*SIZE_WH)
    calibrated = Scene(
        camera=Camera(K=estimate.K), ground=estimate.ground, state=SceneState.CALIBRATED
    )
    plane = estimate.ground
    recalibrated = [
        poses_with_intrinsics(poses, default_K, estimate.K, SIZE_WH) for poses in before
    ]
    valid = [
        poses[np.flatnonzero(np.isfinite(poses.joints_cam_m).all(axis=(1, 2)))]
        for poses in recalibrated
    ]
    after, labels = [], []
    for poses in valid:
        placed, placement = place_poses(poses, calibrated, SIZE_WH, PlacementConfig())
        after.append(with_world_joints(placed, calibrated))
        labels.extend(placement)
    on_ground = float(np.mean(np.array(labels) == "ground"))
    effects = [
        effect_row("before: monocular, 55 deg K", before, 0.0, plane, args.data),
        effect_row("monocular, calibrated K", valid, 0.0, plane, args.data),
        effect_row("after: calibrated scene", after, on_ground, plane, args.data),
    ]
    print(describe_run(metadata, args.from_cache))
    print()
    reference_focal = SIZE_WH[0] / 2 / math.tan(math.radians(REFERENCE_FOV_DEG) / 2)
    print(
        format_table(
            "vtest.avi self-calibration (+- one standard deviation; reference: "
            f"~{REFERENCE_FOV_DEG:.0f} deg field of view, focal ~{reference_focal:.0f} px)",
            CALIBRATION_HEADERS,
            rows,
        )
    )
    print()
    print(
        format_table(
            "vtest.avi, all 795 frames, before / after (tracking: frames 1-250 against the MOT "
            "labels, all tracked rows)",
            EFFECT_HEADERS,
            [row for row, _ in effects],
        )
    )
    if args.json:
        write_json(
            args.json,
            {
                "metadata": metadata,
                "calibration": rows,
                "scene": calibrated.to_dict(),
                "effects": [detail for _, detail in effects],
            },
        )


if __name__ == "__main__":
    main()
