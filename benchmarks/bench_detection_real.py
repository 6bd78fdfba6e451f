"""Person detection and 2D keypoints of the pipeline on the real development data, and where
it loses each labelled person.

Data: the MOT17 excerpts (every frame of the 4 sequences), PETS09-S2L1 frames 1-250 (from
``ROOT/../vtest.avi``) and the labelled single images of ``ROOT/images/``. Boxes of three
sources are scored at IoU 0.5 with don't-care regions (``realdata.detection``):

- ``posecast``: the estimator's output persons, boxes drawn from their landmarks and padded
  (``realdata.boxes.DEFAULT_PADDING``), scored by pose presence;
- ``nanodet``: the raw person detector (``estimator.detector.detect``), timed on its own;
- ``reference``: the data's own detections where there are some (MOT17's det.txt, a 2017
  Faster R-CNN: the recall anchor; COCO's, CrowdPose's and PoseTrack's detection files).

Then where each labelled person was lost (``realdata.diagnosis``: not proposed, no presence,
duplicate, pose box off, taken by a neighbour; from the estimator's traces), the landmark box
padding fitted per data group, and 2D keypoint PCK per image set (``realdata.keypoints``).
MPII labels one person per image and no boxes: keypoints only.

``--config previous`` runs the estimator's default of commit f523c37 instead (the "before" of
docs/estimation.md "Finding every person"; its own cache). ``--variants`` adds MOT17 figures
per detector, input size and proposal mix, and image-set figures (recall, PCK) per
landmark-stage variant (each variant cached beside ``--cache``); ``--yolox DIR`` adds
YOLOX-Nano from a prepared model folder. ``--reuse`` reads every run already cached and runs
the others.

    python benchmarks/bench_detection_real.py --data ../shared/data/real [--json OUT]
        [--cache PATH] [--from-cache] [--threads N] [--config default|previous]
        [--variants] [--reuse] [--yolox DIR]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from realdata.boxes import (
    DEFAULT_PADDING,
    NO_PADDING,
    BoxPadding,
    best_iou_padding,
    box_iou,
    fit_padding,
    landmark_boxes_xyxy,
    pad_boxes_xyxy,
    padded_landmark_boxes_xyxy,
    paired_iou,
)
from realdata.cache import FrameRecord
from realdata.detection import DetectionScores, FrameMatch, match_frame, score_detections
from realdata.diagnosis import STAGES, FrameDiagnosis, breakdown, diagnose_frame
from realdata.images import ImageTruth, load_image_sets, points_in_polygons
from realdata.keypoints import (
    KeypointMatch,
    PckScores,
    map_joints,
    mapping_matrix,
    match_keypoints,
    score_pck,
    torso_size_px,
)
from realdata.mot import Detections, MotSequence, load_mot17, load_pets09
from realdata.pipeline import (
    CPU_DETECTOR,
    CPU_TOTAL,
    Item,
    build_estimator,
    mean_ms,
    mot_frame_key,
    previous_default_config,
    read_rgb,
    run_or_load,
    sequence_items,
)
from realdata.report import (
    benchmark_arguments,
    configure_logging,
    describe_run,
    format_table,
    run_metadata,
    write_json,
)
from realdata.tiles import TiledDetector
from scipy.optimize import linear_sum_assignment

from posecast.engines.estimator import EstimatorConfig, PoseEstimator
from posecast.engines.runtimes import RuntimeOptions

Rows = list[list[Any]]
Details = list[dict[str, Any]]
DEFAULT_CACHE = "/tmp/posecast-realdata/detection.npz"
CONFIGS = {"default": EstimatorConfig, "previous": previous_default_config}
SOURCES = ("posecast", "nanodet", "reference")
FIT_IOU = 0.3
"""Landmark boxes and labelled boxes pair up for the padding fit from this IoU (Hungarian)."""
FIT_GROUPS = {
    "MOT17 vis.": ("MOT17", True),
    "PETS09": ("PETS09", False),
    "images": ("images", False),
}
"""Padding fit groups: name -> (detection group, visible targets only)."""
DETECTION_TITLE = (
    "Person detection at IoU 0.5, don't-care regions ignored (MPII: no boxes, keypoints only)"
)
DETECTION_HEADERS = ["data", "source", "recall", "rec.vis", "precision", "AP50", "targets", "FP"]
DETECTION_HEADERS += ["CPU ms"]
FIT_TITLE = (
    "Landmark box padding fitted per group: median edge offsets and best mean IoU, fractions "
    f"of the landmark box height (pairs at IoU >= {FIT_IOU});\nmean IoU of the pairs unpadded, "
    "with the default and with the best padding"
)
FIT_HEADERS = ["group", "pairs", "med top", "bottom", "side", "best top", "bottom", "side"]
FIT_HEADERS += ["IoU none", "default", "best"]
PADDING_HEADERS = ["padding", "top", "bottom", "side"]
PADDING_HEADERS += ["MOT17 rec", "AP", "PETS rec", "AP", "img rec", "AP"]
PCK_TITLE = "2D keypoints, PCK at 0.5 x head (MPII) or torso size; persons paired by most correct"
PCK_HEADERS = ["data", "size", "persons", "found", "PCK limbs", "PCK found", "PCK all"]
PCK_HEADERS += ["keypoints"]
DIAGNOSIS_TITLE = (
    "Where each labelled person was lost (realdata.diagnosis): targets per stage;\n"
    "found after a retry ROI / from a pose-detector proposal"
)
DIAGNOSIS_HEADERS = ["data", "targets", *STAGES, "retry", "pose det."]
VARIANTS_TITLE = (
    "MOT17 (all frames), the whole pipeline per detector / input / proposal mix: posecast's "
    "boxes at IoU 0.5;\nCPU ms per frame (one thread) of the whole estimator and of the raw "
    "detector; landmark model runs per frame"
)
LANDMARK_VARIANTS_TITLE = (
    "Image sets, the landmark stage's variants: person recall and precision (IoU 0.5), PCK of "
    "all labelled persons,\nof the found ones, of their limbs; PCK of all persons per set"
)
VARIANT_HEADERS = ["variant", "recall", "rec.vis", "precision", "AP50", "FP", "ms/frame"]
VARIANT_HEADERS += ["detector ms", "runs/frame"]


@dataclass(frozen=True)
class LabelledFrame:
    """One image's labelled boxes, whatever the data set.

    Attributes:
        key: cache key of the estimator's record.
        target_xyxy: (G, 4) boxes that count. is_visible: (G,) bool, or None (unlabelled).
        dont_care_xyxy: (D, 4). ignore_polygons: polygons whose predictions are ignored.
        reference: the data's own detections, or None.
    """

    key: str
    target_xyxy: np.ndarray
    is_visible: np.ndarray | None
    dont_care_xyxy: np.ndarray
    ignore_polygons: tuple[np.ndarray, ...] = ()
    reference: Detections | None = None


def image_key(image: ImageTruth) -> str:
    # PoseTrack's images are all called 000000.jpg: keep their video folder.
    return f"images/{image.dataset}/{image.image_path.parent.name}/{image.image_path.name}"


def sequence_frames(sequence: MotSequence) -> list[LabelledFrame]:
    frames = []
    for frame in sequence.frames:
        truth = sequence.truth[frame]
        has_visibility = bool(np.isfinite(truth.target_visibility).all())
        frames.append(
            LabelledFrame(
                key=mot_frame_key(sequence.name, frame),
                target_xyxy=truth.target_xyxy,
                is_visible=truth.is_visible if has_visibility else None,
                dont_care_xyxy=truth.dont_care_xyxy,
                reference=sequence.detections.get(frame) if sequence.detections else None,
            )
        )
    return frames


def image_frames(images: Sequence[ImageTruth]) -> list[LabelledFrame]:
    return [
        LabelledFrame(
            key=image_key(image),
            target_xyxy=image.boxes_xyxy,
            is_visible=None,
            dont_care_xyxy=image.dont_care_xyxy,
            ignore_polygons=image.ignore_polygons,
            reference=image.detections,
        )
        for image in images
        if image.has_boxes
    ]


def source_boxes(
    source: str, frame: LabelledFrame, record: FrameRecord, padding: BoxPadding
) -> tuple[np.ndarray, np.ndarray] | None:
    """(boxes (N, 4), scores (N,)) of one source in one frame, None if it has none."""
    if source == "posecast":
        return padded_landmark_boxes_xyxy(record.poses.joints2d_px, padding), record.poses.scores
    if source == "nanodet":
        return record.detector_xyxy, record.detector_scores
    if frame.reference is None:
        return None
    return frame.reference.boxes_xyxy, frame.reference.scores


def score_source(
    frames: Sequence[LabelledFrame],
    records: dict[str, FrameRecord],
    source: str,
    padding: BoxPadding = DEFAULT_PADDING,
) -> DetectionScores | None:
    """Detection scores of one source over frames; None where the source has no boxes."""
    matches = []
    for frame in frames:
        boxes = source_boxes(source, frame, records[frame.key], padding)
        if boxes is None:
            return None
        centres = (boxes[0][:, :2] + boxes[0][:, 2:]) / 2
        matches.append(
            match_frame(
                boxes[0],
                boxes[1],
                frame.target_xyxy,
                frame.dont_care_xyxy,
                frame.is_visible,
                points_in_polygons(centres, frame.ignore_polygons),
            )
        )
    return score_detections(matches)


def ms_per_frame(
    frames: Sequence[LabelledFrame], records: dict[str, FrameRecord], source: str
) -> float:
    """Mean process CPU time per frame of a source, one thread (NaN for the data's own
    detections, and for caches written before CPU times were kept)."""
    if source == "reference":
        return float("nan")
    step = CPU_TOTAL if source == "posecast" else CPU_DETECTOR
    return mean_ms(records, [frame.key for frame in frames], step)


def fit_pairs(
    frames: Sequence[LabelledFrame],
    records: dict[str, FrameRecord],
    padding: BoxPadding,
    visible_only: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """(M, 4) landmark boxes and (M, 4) labelled boxes paired (Hungarian on IoU of the
    padded box, >= FIT_IOU); only visible targets where ``visible_only``."""
    landmark, truth = [], []
    for frame in frames:
        boxes = landmark_boxes_xyxy(records[frame.key].poses.joints2d_px)
        targets = frame.target_xyxy
        if visible_only and frame.is_visible is not None:
            targets = targets[frame.is_visible]
        iou = box_iou(pad_boxes_xyxy(boxes, padding), targets)
        if not iou.size:
            continue
        rows, cols = linear_sum_assignment(iou, maximize=True)
        keep = iou[rows, cols] >= FIT_IOU
        landmark.append(boxes[rows[keep]])
        truth.append(targets[cols[keep]])
    return np.concatenate(landmark or [np.zeros((0, 4))]), np.concatenate(
        truth or [np.zeros((0, 4))]
    )


def frame_match(
    frame: LabelledFrame, record: FrameRecord, padding: BoxPadding = DEFAULT_PADDING
) -> FrameMatch:
    """posecast's output persons of one frame matched with its targets."""
    boxes = padded_landmark_boxes_xyxy(record.poses.joints2d_px, padding)
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2
    return match_frame(
        boxes,
        record.poses.scores,
        frame.target_xyxy,
        frame.dont_care_xyxy,
        frame.is_visible,
        points_in_polygons(centres, frame.ignore_polygons),
    )


def diagnosis_rows(
    groups: dict[str, list[LabelledFrame]], records: dict[str, FrameRecord]
) -> tuple[Rows, Details]:
    """The stage where each target was lost, per group (and its visible targets where the
    data labels visibility); nothing if a frame has no trace."""
    rows, details = [], []
    for name, frames in groups.items():
        diagnoses: list[FrameDiagnosis] = []
        for frame in frames:
            record = records[frame.key]
            if record.trace is None:
                return [], []
            match = frame_match(frame, record)
            diagnoses.append(
                diagnose_frame(record.trace, match, frame.target_xyxy, DEFAULT_PADDING)
            )
        has_visibility = any(frame.is_visible is not None for frame in frames)
        for label, visible_only in ((name, False), (f"{name} vis.", True)):
            if visible_only and not has_visibility:
                continue
            pooled = breakdown(diagnoses, visible_only)
            rows.append(
                [
                    label,
                    pooled.num_targets,
                    *pooled.counts.values(),
                    pooled.num_retried,
                    pooled.num_from_pose_detector,
                ]
            )
            details.append({"data": label, **vars(pooled)})
    return rows, details


def keypoint_match(image: ImageTruth, record: FrameRecord) -> KeypointMatch:
    """The image's labelled persons paired with posecast's (coco_17 -> dataset keypoints)."""
    poses = record.poses.to_skeleton("coco_17")
    matrix, is_mapped = mapping_matrix(image.keypoint_names)
    predicted = map_joints(poses.joints2d_px, matrix)
    if image.normalizer == "head":
        sizes = image.head_size_px
    else:
        sizes = torso_size_px(image.keypoints_px, image.is_labelled, image.keypoint_names)
    return match_keypoints(predicted, image.keypoints_px, image.is_labelled & is_mapped, sizes)


def per_keypoint_pck(
    images: Sequence[ImageTruth], matches: Sequence[KeypointMatch]
) -> dict[str, float]:
    """Keypoint name -> PCK over found persons (JSON detail)."""
    correct: dict[str, int] = {}
    scored: dict[str, int] = {}
    for image, match in zip(images, matches, strict=True):
        found = match.is_found
        for k, name in enumerate(image.keypoint_names):
            scored[name] = scored.get(name, 0) + int(match.is_scored[found, k].sum())
            correct[name] = correct.get(name, 0) + int(match.is_correct[found, k].sum())
    return {name: correct[name] / scored[name] for name in scored if scored[name]}


def estimation_items(
    sequences: Sequence[MotSequence], image_sets: dict[str, list[ImageTruth]]
) -> Iterator[Item]:
    for sequence in sequences:
        yield from sequence_items(sequence)
    for images in image_sets.values():
        for image in images:
            yield image_key(image), read_rgb(image.image_path), None


def detection_rows(
    groups: dict[str, list[LabelledFrame]], records: dict[str, FrameRecord]
) -> tuple[Rows, Details]:
    rows, details = [], []
    for name, frames in groups.items():
        for source in SOURCES:
            scores = score_source(frames, records, source)
            if scores is None:
                continue
            ms = ms_per_frame(frames, records, source)
            rows.append(
                [
                    name,
                    source,
                    scores.recall,
                    scores.recall_visible,
                    scores.precision,
                    scores.ap50,
                    scores.num_targets,
                    scores.num_false_positives,
                    "-" if np.isnan(ms) else f"{ms:.1f}",
                ]
            )
            details.append({"data": name, "source": source, "ms_per_frame": ms, **vars(scores)})
    return rows, details


def padding_tables(
    groups: dict[str, list[LabelledFrame]], records: dict[str, FrameRecord]
) -> tuple[Rows, Rows, Details]:
    """The paddings fitted per group (median edges and best mean IoU), and the detection
    figures of posecast's boxes with each."""
    pairs = {
        name: fit_pairs(groups[group], records, DEFAULT_PADDING, visible_only)
        for name, (group, visible_only) in FIT_GROUPS.items()
    }
    pairs["MOT17+PETS09"] = tuple(
        np.concatenate(parts) for parts in zip(pairs["MOT17 vis."], pairs["PETS09"], strict=True)
    )
    fit_rows, candidates = [], {"none": NO_PADDING, "default": DEFAULT_PADDING}
    for name, (landmark, truth) in pairs.items():
        median, best = fit_padding(landmark, truth), best_iou_padding(landmark, truth)
        candidates[f"median {name}"] = median
        candidates[f"best IoU {name}"] = best
        fit_rows.append(
            [name, len(landmark), *vars(median).values(), *vars(best).values()]
            + [_mean_iou(landmark, truth, p) for p in (NO_PADDING, DEFAULT_PADDING, best)]
        )
    candidate_rows, details = [], []
    for name, padding in candidates.items():
        row: list[Any] = [name, padding.top, padding.bottom, padding.side]
        for group in ("MOT17", "PETS09", "images"):
            scores = score_source(groups[group], records, "posecast", padding)
            row += [scores.recall, scores.ap50] if scores else [None, None]
            details.append({"padding": name, **vars(padding), "data": group, **vars(scores or {})})
        candidate_rows.append(row)
    return fit_rows, candidate_rows, details


def _mean_iou(landmark: np.ndarray, truth: np.ndarray, padding: BoxPadding) -> float:
    return float(paired_iou(pad_boxes_xyxy(landmark, padding), truth).mean())


def keypoint_tables(
    image_sets: dict[str, list[ImageTruth]], records: dict[str, FrameRecord]
) -> tuple[Rows, Details]:
    rows, details = [], []
    everything: list[KeypointMatch] = []
    everything_names: list[tuple[str, ...]] = []
    for name, images in image_sets.items():
        matches = [keypoint_match(image, records[image_key(image)]) for image in images]
        names = [image.keypoint_names for image in images]
        everything += matches
        everything_names += names
        scores = score_pck(matches, names)
        rows.append(_pck_row(name, images[0].normalizer if images else "-", scores))
        details.append(
            {"data": name, **vars(scores), "per_keypoint": per_keypoint_pck(images, matches)}
        )
    rows.append(_pck_row("all", "", score_pck(everything, everything_names)))
    return rows, details


def _pck_row(name: str, normalizer: str, scores: PckScores) -> list[Any]:
    return [
        name,
        normalizer,
        scores.num_persons,
        scores.num_found,
        scores.pck_limbs_found,
        scores.pck_found,
        scores.pck_all,
        scores.num_keypoints,
    ]


def config_cache(cache: Path, name: str) -> Path:
    """The cache of a configuration or variant: ``cache`` for the default, else beside it."""
    return cache if name == "default" else cache.with_name(f"{cache.stem}-{name}{cache.suffix}")


def is_cached(args: argparse.Namespace, cache: Path) -> bool:
    """Whether a run is read from its cache: ``--from-cache``, or ``--reuse`` and the cache
    exists."""
    return bool(args.from_cache or (args.reuse and cache.exists()))


def variant_estimators(threads: int, yolox_dir: Path | None) -> dict[str, Callable[[], Any]]:
    """MOT17 variants: name -> a function making the estimator (models load only if run)."""
    options = RuntimeOptions(provider="cpu", intra_op_threads=threads, inter_op_threads=1)
    default = EstimatorConfig()

    def configured(**changes: Any) -> Callable[[], PoseEstimator]:
        return lambda: build_estimator(threads, replace(default, **changes))

    def detector(**changes: Any) -> Callable[[], PoseEstimator]:
        return configured(detector=replace(default.detector, **changes))

    def tiled() -> PoseEstimator:
        estimator = build_estimator(threads)
        estimator.detector = TiledDetector(estimator.detector)  # type: ignore[assignment]
        return estimator

    variants: dict[str, Callable[[], Any]] = {
        "previous default (f523c37)": lambda: build_estimator(threads, previous_default_config()),
        "default": configured(),
        **{
            f"score >= {threshold:.2f}": detector(score_threshold=threshold)
            for threshold in (0.35, 0.3, 0.25)
            if threshold != default.detector.score_threshold
        },
        "no retries": configured(search=replace(default.search, retries=())),
        "pose-detector proposals off": configured(pose_detector_proposals="off"),
        "pose-detector proposals always": configured(pose_detector_proposals="always"),
        "alignment ROI always": configured(
            search=replace(default.search, min_alignment_coverage=0.0)
        ),
        "NanoDet 960 x 544": detector(min_person_height_px=60.0, max_input_side_px=960),
        "NanoDet 768 + 2 tiles": tiled,
    }
    if yolox_dir is not None:
        variants["YOLOX-Nano 960 x 544"] = lambda: PoseEstimator.from_config(
            replace(default, detector_model="yolox-nano"), options, yolox_dir
        )
    return variants


def variant_rows(
    args: argparse.Namespace, sequences: list[MotSequence], frames: list[LabelledFrame]
) -> tuple[Rows, Details]:
    """Every variant's figures on MOT17 (each run cached beside ``--cache``)."""
    rows, details = [], []
    num_items = sum(len(s.frames) for s in sequences)
    keys = [frame.key for frame in frames]
    for name, make in variant_estimators(args.threads, args.yolox).items():
        slug = "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-")
        cache = config_cache(args.cache, f"mot17-{slug}")
        from_cache = is_cached(args, cache)
        records, _ = run_or_load(
            lambda: (item for s in sequences for item in sequence_items(s)),
            num_items,
            cache,
            from_cache,
            {**run_metadata(args.threads), "variant": name},
            threads=args.threads,
            with_detector=True,
            estimator=None if from_cache else make(),
            with_trace=True,
        )
        scores = score_source(frames, records, "posecast")
        if scores is None:
            continue
        runs = [records[key].trace.attempts.sum() for key in keys if records[key].trace]
        ms = mean_ms(records, keys, CPU_TOTAL)
        rows.append(
            [
                name,
                scores.recall,
                scores.recall_visible,
                scores.precision,
                scores.ap50,
                scores.num_false_positives,
                f"{ms:.0f}",
                f"{mean_ms(records, keys, CPU_DETECTOR):.0f}",
                f"{np.mean(runs):.1f}" if runs else "-",
            ]
        )
        details.append({"variant": name, "ms_per_frame": ms, **vars(scores)})
    return rows, details


def landmark_variant_estimators(threads: int) -> dict[str, Callable[[], Any]]:
    """Image-set variants of the landmark stage: name -> a function making the estimator."""
    default = EstimatorConfig()

    def configured(**changes: Any) -> Callable[[], PoseEstimator]:
        return lambda: build_estimator(threads, replace(default, **changes))

    return {
        "previous default (f523c37)": lambda: build_estimator(threads, previous_default_config()),
        "default": configured(),
        "no retries": configured(search=replace(default.search, retries=())),
        "alignment ROI always": configured(
            search=replace(default.search, min_alignment_coverage=0.0)
        ),
        "retry: box ROI only": configured(search=replace(default.search, retries=("box",))),
        "+1 refinement pass": configured(blazepose=replace(default.blazepose, refinement_passes=1)),
        "TTA 5": configured(num_augmentations=5),
        "pose-detector proposals always": configured(pose_detector_proposals="always"),
    }


def landmark_variant_rows(
    args: argparse.Namespace, image_sets: dict[str, list[ImageTruth]]
) -> tuple[Rows, Details]:
    """Every landmark-stage variant's person recall, precision and PCK on the image sets."""
    rows, details = [], []
    frames = [frame for images in image_sets.values() for frame in image_frames(images)]
    num_items = sum(len(images) for images in image_sets.values())
    for name, make in landmark_variant_estimators(args.threads).items():
        slug = "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-")
        cache = config_cache(args.cache, f"images-{slug}")
        from_cache = is_cached(args, cache)
        records, _ = run_or_load(
            lambda: estimation_items([], image_sets),
            num_items,
            cache,
            from_cache,
            {**run_metadata(args.threads), "variant": name},
            threads=args.threads,
            estimator=None if from_cache else make(),
            with_trace=True,
        )
        scores = score_source(frames, records, "posecast")
        pck_rows, pck_details = keypoint_tables(image_sets, records)
        pck_all = {row[0]: row[6] for row in pck_rows}
        overall = pck_rows[-1]
        keys = [image_key(image) for images in image_sets.values() for image in images]
        rows.append(
            [
                name,
                scores.recall if scores else None,
                scores.precision if scores else None,
                overall[6],
                overall[5],
                overall[4],
                *(pck_all[set_name] for set_name in image_sets),
                f"{mean_ms(records, keys, CPU_TOTAL):.0f}",
            ]
        )
        details.append({"variant": name, "detection": vars(scores or {}), "keypoints": pck_details})
    return rows, details


def main() -> None:
    parser = benchmark_arguments(__doc__.split("\n\n")[0], DEFAULT_CACHE)
    parser.add_argument("--config", choices=sorted(CONFIGS), default="default")
    parser.add_argument(
        "--variants", action="store_true", help="also the MOT17 and landmark-stage variants"
    )
    parser.add_argument(
        "--reuse", action="store_true", help="read the runs whose cache exists, run the others"
    )
    parser.add_argument("--yolox", type=Path, help="a prepared YOLOX-Nano model folder")
    args = parser.parse_args()
    configure_logging()
    root: Path = args.data
    sequences = load_mot17(root)
    pets09 = load_pets09(root)
    image_sets = load_image_sets(root)
    num_items = sum(len(s.frames) for s in [*sequences, pets09])
    num_items += sum(len(images) for images in image_sets.values())
    config = CONFIGS[args.config]()
    cache = config_cache(args.cache, args.config)
    from_cache = is_cached(args, cache)
    records, metadata = run_or_load(
        lambda: estimation_items([*sequences, pets09], image_sets),
        num_items,
        cache,
        from_cache,
        {**run_metadata(args.threads), "estimator_config": repr(config)},
        threads=args.threads,
        with_detector=True,
        estimator=None if from_cache else build_estimator(args.threads, config),
        with_trace=True,
    )

    groups: dict[str, list[LabelledFrame]] = {
        "MOT17": [frame for s in sequences for frame in sequence_frames(s)],
        **{s.name: sequence_frames(s) for s in sequences},
        "PETS09": sequence_frames(pets09),
        "images": [frame for images in image_sets.values() for frame in image_frames(images)],
        **{name: image_frames(images) for name, images in image_sets.items() if name != "mpii"},
    }
    detection, detection_details = detection_rows(groups, records)
    diagnosis, diagnosis_details = diagnosis_rows(groups, records)
    fit_rows, candidate_rows, padding_details = padding_tables(groups, records)
    keypoints, keypoint_details = keypoint_tables(image_sets, records)
    variants: Rows = []
    variant_details: Details = []
    landmark_variants: Rows = []
    landmark_details: Details = []
    if args.variants:
        variants, variant_details = variant_rows(args, sequences, groups["MOT17"])
        landmark_variants, landmark_details = landmark_variant_rows(args, image_sets)
    landmark_headers = ["variant", "recall", "precision", "PCK all", "found", "limbs"]
    landmark_headers += [*image_sets, "CPU ms"]
    print(describe_run(metadata, from_cache))
    print(f"estimator: {args.config}, {metadata.get('estimator_config')}")
    print(f"landmark box padding: {DEFAULT_PADDING}\n")
    for title, headers, rows in (
        (DETECTION_TITLE, DETECTION_HEADERS, detection),
        (DIAGNOSIS_TITLE, DIAGNOSIS_HEADERS, diagnosis),
        (FIT_TITLE, FIT_HEADERS, fit_rows),
        ("posecast boxes with each padding", PADDING_HEADERS, candidate_rows),
        (PCK_TITLE, PCK_HEADERS, keypoints),
        (VARIANTS_TITLE, VARIANT_HEADERS, variants),
        (LANDMARK_VARIANTS_TITLE, landmark_headers, landmark_variants),
    ):
        if rows:
            print(format_table(title, headers, rows), end="\n\n")
    if args.json:
        write_json(
            args.json,
            {
                "metadata": metadata,
                "padding": vars(DEFAULT_PADDING),
                "detection": detection_details,
                "padding_study": padding_details,
                "keypoints": keypoint_details,
                "diagnosis": diagnosis_details,
                "variants": variant_details,
                "landmark_variants": landmark_details,
            },
        )


if __name__ == "__main__":
    main()
