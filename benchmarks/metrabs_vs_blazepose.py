"""MeTRAbs (your converted weights) and posecast's BlazePose side by side, in one command.

For a user who has downloaded an official MeTRAbs model (docs/metrabs.md): converts it
(tools/convert_metrabs.py, whose own checks against TensorFlow are printed first), runs
both engines through the same stream pipeline (detector, placement, tracker) on the held
sample clip (samples/vtest_excerpt.mp4, 150 frames of PETS09-S2L1 at 768 x 576, 10 fps), and
prints one table:

- per engine: persons per frame, confirmed tracks, pipeline frames/s, pose-stage ms per
  frame, median skeleton height (nose to ankles) and median depth of the hips;
- between the engines, persons matched frame by frame (COCO-17 joints, both engines offer
  them): matched share, median 2D distance of the joints (px), root-relative 3D difference
  (MPJPE over the 17 joints, hip midpoint aligned, mm), median depth difference (m);
- with ``--data ROOT`` (../shared/data/real): the four MPI-INF-3DHP frames with true K and
  3D joints: MPJPE (pelvis aligned), PA-MPJPE, root error, per engine (H36M-17 joints: the
  model's own ``h36m_17`` for MeTRAbs, posecast's conversion for BlazePose);
- if the SavedModel offers ``estimate_poses`` (the official ones do): MeTRAbs' own
  TensorFlow pipeline against posecast's MeTRAbs engine on the same boxes and K, one crop
  per person (root-relative MPJPE, root depth, 2D), i.e. what posecast's crops, runtime and
  per-crop reconstruction change.

Run it in the conversion environment (tools/requirements-metrabs.txt: TensorFlow for the
conversion; posecast, onnxruntime, OpenCV, SciPy for the rest)::

    /work/metrabs-venv/bin/python benchmarks/metrabs_vs_blazepose.py \\
        --savedmodel ~/Downloads/metrabs_eff2l_y4_384px_800k_28ds.tar.gz \\
        [--metrabs-dir ~/metrabs-l] [--data ../shared/data/real] [--tta 1] [--frames 150]

Without ``--savedmodel`` it uses an already converted ``--metrabs-dir``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from scipy.optimize import linear_sum_assignment

REPO = Path(__file__).resolve().parent.parent
SAMPLE_CLIP = REPO / "samples" / "vtest_excerpt.mp4"
sys.path.insert(0, str(Path(__file__).resolve().parent))

from realdata.pose3d import mpjpe_m, pa_mpjpe_m, root_error_m  # noqa: E402
from realdata.threedhp import h36m_indices, load_3dhp  # noqa: E402

from posecast.engines.estimator import EstimatorConfig, PoseEstimator  # noqa: E402
from posecast.engines.frames import FramePoses  # noqa: E402
from posecast.engines.geometry.camera import Camera  # noqa: E402
from posecast.engines.geometry.skeletons import COCO_17  # noqa: E402
from posecast.engines.metrabs.estimator import MetrabsConfig, MetrabsEstimator  # noqa: E402
from posecast.engines.runtimes import RuntimeOptions  # noqa: E402
from posecast.pipeline.stream import StreamConfig, StreamPipeline  # noqa: E402

HIPS = [COCO_17.index("left_hip"), COCO_17.index("right_hip")]
ANKLES = [COCO_17.index("left_ankle"), COCO_17.index("right_ankle")]
NOSE = COCO_17.index("nose")
MATCH_MAX_PX = 40.0
"""Persons of the two engines are the same person when their COCO-17 joints lie within this
median distance (after one-to-one assignment)."""


def convert(savedmodel: Path, out_dir: Path) -> None:
    """Run tools/convert_metrabs.py (it prints its checks against TensorFlow)."""
    command = [sys.executable, str(REPO / "tools" / "convert_metrabs.py"), str(savedmodel)]
    subprocess.run([*command, "--out", str(out_dir)], check=True)


def clip_frames(count: int) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(SAMPLE_CLIP))
    frames = []
    while len(frames) < count:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(np.ascontiguousarray(frame[..., ::-1]))
    capture.release()
    return frames


def run_clip(estimator: Any, frames: list[np.ndarray], fps: float) -> dict[str, Any]:
    """The engine through the stream pipeline: per-frame COCO-17 poses and the timings."""
    pipeline = StreamPipeline(estimator, StreamConfig(skeleton=COCO_17.name))
    poses, pose_ms, confirmed = [], [], set()
    pipeline.process(frames[0], 0.0)  # warm-up, not timed
    pipeline = StreamPipeline(estimator, StreamConfig(skeleton=COCO_17.name))
    start = time.perf_counter()
    for index, frame in enumerate(frames):
        tracked = pipeline.process(frame, index / fps)
        poses.append(tracked.poses)
        pose_ms.append(tracked.timing_ms["pose"])
        confirmed |= set(
            tracked.poses.track_ids[tracked.poses.track_states == "confirmed"].tolist()
        )
    elapsed = time.perf_counter() - start
    return {
        "poses": poses,
        "fps": len(frames) / elapsed,
        "pose_ms": float(np.mean(pose_ms)),
        "tracks": len(confirmed),
    }


def engine_figures(run: dict[str, Any]) -> dict[str, float]:
    poses: list[FramePoses] = run["poses"]
    people = [p for p in poses if len(p)]
    heights = (
        np.concatenate(
            [
                np.linalg.norm(
                    p.joints_cam_m[:, NOSE] - p.joints_cam_m[:, ANKLES].mean(axis=1), axis=-1
                )
                for p in people
            ]
        )
        if people
        else np.zeros(0)
    )
    depths = (
        np.concatenate([p.joints_cam_m[:, HIPS, 2].mean(axis=1) for p in people])
        if people
        else np.zeros(0)
    )
    return {
        "persons per frame": float(np.mean([len(p) for p in poses])),
        "confirmed tracks": float(run["tracks"]),
        "pipeline frames/s": run["fps"],
        "pose stage ms/frame": run["pose_ms"],
        "median skeleton height nose-ankles m": float(np.median(heights))
        if heights.size
        else float("nan"),
        "median hip depth m": float(np.median(depths)) if depths.size else float("nan"),
    }


def agreement(first: list[FramePoses], second: list[FramePoses]) -> dict[str, float]:
    """Persons of the two engines matched frame by frame (one to one, 2D joints)."""
    px, mm, depth, matched, total = [], [], [], 0, 0
    for a, b in zip(first, second, strict=True):
        total += max(len(a), len(b))
        if not len(a) or not len(b):
            continue
        cost = np.median(
            np.linalg.norm(a.joints2d_px[:, None] - b.joints2d_px[None], axis=-1), axis=-1
        )
        rows, cols = linear_sum_assignment(cost)
        for i, j in zip(rows, cols, strict=True):
            if cost[i, j] > MATCH_MAX_PX:
                continue
            matched += 1
            px.append(np.linalg.norm(a.joints2d_px[i] - b.joints2d_px[j], axis=-1))
            rel_a = a.joints_cam_m[i] - a.joints_cam_m[i, HIPS].mean(axis=0)
            rel_b = b.joints_cam_m[j] - b.joints_cam_m[j, HIPS].mean(axis=0)
            mm.append(np.linalg.norm(rel_a - rel_b, axis=-1).mean() * 1000)
            depth.append(abs(a.joints_cam_m[i, HIPS, 2].mean() - b.joints_cam_m[j, HIPS, 2].mean()))
    return {
        "matched persons share": matched / max(total, 1),
        "median 2D joint distance px": float(np.median(np.concatenate(px))) if px else float("nan"),
        "median root-relative MPJPE mm": float(np.median(mm)) if mm else float("nan"),
        "median hip depth difference m": float(np.median(depth)) if depth else float("nan"),
    }


def threedhp_figures(estimator: Any, data: Path) -> dict[str, float]:
    """MPJPE / PA-MPJPE / root error on the 3DHP frames (the person nearest the truth)."""
    names, frames = load_3dhp(data)
    order = h36m_indices(names)
    pelvis = names.index("pelvis")
    errors: dict[str, list[float]] = {"MPJPE mm": [], "PA-MPJPE mm": [], "root error m": []}
    for frame in frames:
        image = np.ascontiguousarray(cv2.imread(str(frame.image_path))[..., ::-1])
        poses = estimator.estimate(image, Camera(K=frame.K)).poses
        if not len(poses):
            continue
        h36m = poses.to_skeleton("h36m_17")
        joints2d = h36m.joints2d_px[:, order]
        nearest = int(
            np.argmin(np.median(np.linalg.norm(joints2d - frame.joints2d_px, axis=-1), axis=-1))
        )
        predicted = h36m.joints_cam_m[nearest : nearest + 1, order]
        truth = frame.joints_cam_m[None]
        errors["MPJPE mm"].append(float(mpjpe_m(predicted, truth, pelvis)[0]) * 1000)
        errors["PA-MPJPE mm"].append(float(pa_mpjpe_m(predicted, truth)[0]) * 1000)
        errors["root error m"].append(float(root_error_m(predicted, truth, pelvis)[0]))
    result = {
        f"3DHP {key} (mean of {len(values)})": float(np.mean(values))
        for key, values in errors.items()
        if values
    }
    return result or {"3DHP": float("nan")}


def upstream_figures(
    savedmodel_dir: Path, estimator: MetrabsEstimator, frames: list[np.ndarray]
) -> dict[str, Any]:
    """MeTRAbs' own ``estimate_poses`` against posecast's engine on the same boxes (one crop
    per person, the clip's default camera)."""
    try:
        import tensorflow as tf
    except ImportError:
        return {"skipped": "TensorFlow is not installed here"}
    model = tf.saved_model.load(str(savedmodel_dir))
    if not hasattr(model, "estimate_poses"):
        return {"skipped": "this SavedModel has no estimate_poses (the stand-in has none)"}
    relative_mm, depth_m, pixels = [], [], []
    for frame in frames[::30]:
        height, width = frame.shape[:2]
        camera = Camera.from_fov(width, height)
        (found,) = estimator.detector.detect([frame])
        boxes = np.asarray(found.boxes_xyxy, np.float64)
        if not len(boxes):
            continue
        xywh = np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], axis=1).astype(
            np.float32
        )
        theirs = model.estimate_poses(
            frame, xywh, intrinsic_matrix=camera.K.astype(np.float32), num_aug=1, skeleton=""
        )
        theirs3d = theirs["poses3d"].numpy() / 1000.0
        theirs2d = theirs["poses2d"].numpy()
        ours, _ = estimator._pose(frame, camera, boxes, np.ones(len(boxes)))
        if len(ours) != len(boxes):
            continue  # a crop posecast's reconstruction dropped: not comparable row by row
        rel_ours = ours.joints_cam_m - ours.joints_cam_m.mean(axis=1, keepdims=True)
        rel_theirs = theirs3d - theirs3d.mean(axis=1, keepdims=True)
        relative_mm.append(np.linalg.norm(rel_ours - rel_theirs, axis=-1).mean(axis=1) * 1000)
        depth_m.append(np.abs(ours.joints_cam_m[..., 2].mean(1) - theirs3d[..., 2].mean(1)))
        pixels.append(np.linalg.norm(ours.joints2d_px - theirs2d, axis=-1).mean(axis=1))
    if not relative_mm:
        return {"skipped": "no comparable persons"}
    return {
        "persons": int(sum(len(x) for x in relative_mm)),
        "root-relative MPJPE mm median / max": [
            float(np.median(np.concatenate(relative_mm))),
            float(np.max(np.concatenate(relative_mm))),
        ],
        "mean depth difference m median / max": [
            float(np.median(np.concatenate(depth_m))),
            float(np.max(np.concatenate(depth_m))),
        ],
        "2D px median / max": [
            float(np.median(np.concatenate(pixels))),
            float(np.max(np.concatenate(pixels))),
        ],
    }


def saved_model_folder(source: Path, work: Path) -> Path:
    """The unpacked SavedModel the converter used (same search as the converter's)."""
    if source.is_dir():
        found = sorted(source.rglob("saved_model.pb"))
    else:
        found = sorted((work / "unpacked").rglob("saved_model.pb"))
    return found[0].parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--savedmodel", type=Path, help="the MeTRAbs archive or SavedModel folder")
    parser.add_argument(
        "--metrabs-dir",
        type=Path,
        default=Path("/tmp/posecast-metrabs"),
        help="converted model folder",
    )
    parser.add_argument("--data", type=Path, help="real data root with 3dhp/ (../shared/data/real)")
    parser.add_argument("--frames", type=int, default=150, help="frames of the sample clip")
    parser.add_argument("--tta", type=int, default=1, help="MeTRAbs test-time augmentations")
    parser.add_argument("--threads", type=int, default=0, help="onnxruntime threads (0: all)")
    parser.add_argument("--out", type=Path, help="also write the figures as JSON")
    args = parser.parse_args()
    if args.savedmodel is not None:
        convert(args.savedmodel, args.metrabs_dir)
    options = RuntimeOptions(intra_op_threads=args.threads)
    blazepose = PoseEstimator.from_config(EstimatorConfig(), options)
    metrabs = MetrabsEstimator.from_model_dir(
        args.metrabs_dir, MetrabsConfig(num_augmentations=args.tta), options
    )
    frames = clip_frames(args.frames)
    fps = cv2.VideoCapture(str(SAMPLE_CLIP)).get(cv2.CAP_PROP_FPS) or 10.0
    runs = {
        "BlazePose (full)": run_clip(blazepose, frames, fps),
        f"MeTRAbs (tta {args.tta})": run_clip(metrabs, frames, fps),
    }
    figures = {name: engine_figures(run) for name, run in runs.items()}
    if args.data is not None:
        figures["BlazePose (full)"] |= threedhp_figures(blazepose, args.data)
        figures[f"MeTRAbs (tta {args.tta})"] |= threedhp_figures(metrabs, args.data)
    names = list(figures)
    rows = list(dict.fromkeys(key for values in figures.values() for key in values))
    source = metrabs.crop_model.metadata.source.get("path")
    print(f"\n{len(frames)} frames of {SAMPLE_CLIP.name}; MeTRAbs model from {source}")
    print(f"| figure | {' | '.join(names)} |\n|---|---|---|")
    for key in rows:
        cells = " | ".join(f"{figures[name].get(key, float('nan')):.3f}" for name in names)
        print(f"| {key} | {cells} |")
    between = agreement(*(run["poses"] for run in runs.values()))
    print("\nBetween the engines (persons matched frame by frame):")
    for key, value in between.items():
        print(f"  {key}: {value:.3f}")
    upstream = {"skipped": "no --savedmodel"}
    if args.savedmodel is not None:
        folder = saved_model_folder(args.savedmodel, Path("/tmp/metrabs-convert"))
        upstream = upstream_figures(folder, metrabs, frames)
    print(
        f"\nMeTRAbs' own TensorFlow pipeline vs posecast's MeTRAbs engine: {json.dumps(upstream)}"
    )
    if args.out is not None:
        args.out.write_text(
            json.dumps({"engines": figures, "between": between, "upstream": upstream}, indent=2)
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
