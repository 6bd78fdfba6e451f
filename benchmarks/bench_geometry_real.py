"""Real-data sanity figures for absolute 3D on a fixed-camera pedestrian video.

With a fixed camera everyone walks on one ground plane, and adults stand 1.5-1.95 m tall.
So: (1) fit a plane to all confidently seen ankles of all people in all frames and report the
RMS distance to it; (2) report the distribution of estimated standing heights. Both are
printed for the estimator with and without the perspective correction, and with test-time
augmentation, in one run (plus the cost of each per person).

    python benchmarks/bench_geometry_real.py [VIDEO] [--frames N] [--every K]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from clip import read_frames

from posecast.engines.estimator import EstimatorConfig, PoseEstimator
from posecast.engines.geometry.camera import Camera
from posecast.engines.runtimes import RuntimeOptions

CLIP = Path(__file__).parent.parent / "samples" / "vtest_excerpt.mp4"
NOSE, LEFT_ANKLE, RIGHT_ANKLE, LEFT_HEEL, RIGHT_HEEL = 0, 27, 28, 29, 30
HEAD_TOP_ABOVE_NOSE_M = 0.12  # nose to crown for adults (anthropometric tables: 11-13 cm)
MIN_VISIBILITY = 0.8


def fit_plane(points: np.ndarray) -> tuple[np.ndarray, float]:
    """Least-squares plane through (M, 3) points: unit normal and offset (n . p = d)."""
    centroid = points.mean(axis=0)
    _, _, vt = np.linalg.svd(points - centroid)
    normal = vt[-1]
    return normal, float(normal @ centroid)


def sanity_figures(estimator: PoseEstimator, frames: list[np.ndarray]) -> dict[str, float]:
    ankles, heights, persons = [], [], 0
    start = time.perf_counter()
    for frame in frames:
        camera = Camera.from_fov(frame.shape[1], frame.shape[0])
        poses = estimator.estimate(frame, camera).poses
        persons += len(poses)
        joints, scores = poses.joints_cam_m, poses.joint_scores
        for side in (LEFT_HEEL, RIGHT_HEEL):
            ankles.append(joints[scores[:, side] >= MIN_VISIBILITY, side])
        feet = (joints[:, LEFT_HEEL] + joints[:, RIGHT_HEEL]) / 2
        upright = (scores[:, [NOSE, LEFT_HEEL, RIGHT_HEEL]] >= MIN_VISIBILITY).all(axis=1)
        heights.append(np.linalg.norm(joints[upright, NOSE] - feet[upright], axis=1))
    elapsed_ms = (time.perf_counter() - start) * 1e3
    feet_points = np.concatenate(ankles)
    normal, offset = fit_plane(feet_points)
    distances = feet_points @ normal - offset
    height_m = np.concatenate(heights) + HEAD_TOP_ABOVE_NOSE_M
    return {
        "persons": persons,
        "feet": len(feet_points),
        "plane_rms_m": float(np.sqrt(np.mean(distances**2))),
        "plane_median_abs_m": float(np.median(np.abs(distances))),
        "camera_height_m": abs(offset),
        "height_p10_m": float(np.percentile(height_m, 10)),
        "height_median_m": float(np.median(height_m)),
        "height_p90_m": float(np.percentile(height_m, 90)),
        "in_human_range": float(np.mean((height_m > 1.45) & (height_m < 2.0))),
        "ms_per_person": elapsed_ms / max(persons, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("video", type=Path, nargs="?", default=CLIP)
    parser.add_argument("--frames", type=int, default=40, help="frames to use")
    parser.add_argument("--every", type=int, default=3, help="use every k-th frame")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    frames = read_frames(str(args.video), args.frames, args.every)
    options = RuntimeOptions(intra_op_threads=args.threads)
    variants = {
        "default (perspective correction)": EstimatorConfig(),
        "no perspective correction": EstimatorConfig(perspective_correction=False),
        "TTA 5 augmentations": EstimatorConfig(num_augmentations=5),
    }
    print(f"video {args.video}, {len(frames)} frames (every {args.every}), fov 55 deg")
    print(
        "| variant | persons | feet | plane RMS (m) | plane median |d| (m) | camera height (m) | "
        "height p10 / median / p90 (m) | heights in 1.45-2.0 m | ms per person |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, config in variants.items():
        figures = sanity_figures(PoseEstimator.from_config(config, options), frames)
        print(
            f"| {name} | {figures['persons']} | {figures['feet']} | "
            f"{figures['plane_rms_m']:.3f} | {figures['plane_median_abs_m']:.3f} | "
            f"{figures['camera_height_m']:.2f} | {figures['height_p10_m']:.2f} / "
            f"{figures['height_median_m']:.2f} / {figures['height_p90_m']:.2f} | "
            f"{figures['in_human_range']:.0%} | {figures['ms_per_person']:.0f} |"
        )


if __name__ == "__main__":
    main()
