"""Person detection and 2D keypoints of today's default pipeline on the real development data.

Data: the MOT17 excerpts (every frame of the 4 sequences), PETS09-S2L1 frames 1-250 (from
``ROOT/../vtest.avi``) and the labelled single images of ``ROOT/images/``. Boxes of three
sources are scored at IoU 0.5 with don't-care regions (``realdata.detection``):

- ``posecast``: the estimator's output persons, boxes drawn from their landmarks and padded
  (``realdata.boxes.DEFAULT_PADDING``), scored by pose presence;
- ``nanodet``: the raw person detector (``estimator.detector.detect``), timed on its own;
- ``reference``: the data's own detections where there are some (MOT17's det.txt, a 2017
  Faster R-CNN: the recall anchor; COCO's, CrowdPose's and PoseTrack's detection files).

Then the landmark box padding fitted per data group, and 2D keypoint PCK per image set
(``realdata.keypoints``). MPII labels one person per image and no boxes: keypoints only.

    python benchmarks/bench_detection_real.py --data ../shared/data/real [--json OUT]
        [--cache PATH] [--from-cache] [--threads N]
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
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
from realdata.detection import DetectionScores, match_frame, score_detections
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
    Item,
    mean_ms,
    mot_frame_key,
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
from scipy.optimize import linear_sum_assignment

Rows = list[list[Any]]
Details = list[dict[str, Any]]
DEFAULT_CACHE = "/tmp/posecast-realdata/detection.npz"
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
DETECTION_HEADERS += ["ms/frame"]
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
    """Mean time per frame of a source (NaN for the data's own detections)."""
    if source == "reference":
        return float("nan")
    step = "total" if source == "posecast" else "detector"
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


def main() -> None:
    parser = benchmark_arguments(__doc__.split("\n\n")[0], DEFAULT_CACHE)
    args = parser.parse_args()
    configure_logging()
    root: Path = args.data
    sequences = load_mot17(root)
    pets09 = load_pets09(root)
    image_sets = load_image_sets(root)
    num_items = sum(len(s.frames) for s in [*sequences, pets09])
    num_items += sum(len(images) for images in image_sets.values())
    records, metadata = run_or_load(
        lambda: estimation_items([*sequences, pets09], image_sets),
        num_items,
        args.cache,
        args.from_cache,
        run_metadata(args.threads),
        threads=args.threads,
        with_detector=True,
    )

    groups: dict[str, list[LabelledFrame]] = {
        "MOT17": [frame for s in sequences for frame in sequence_frames(s)],
        **{s.name: sequence_frames(s) for s in sequences},
        "PETS09": sequence_frames(pets09),
        "images": [frame for images in image_sets.values() for frame in image_frames(images)],
        **{name: image_frames(images) for name, images in image_sets.items() if name != "mpii"},
    }
    detection, detection_details = detection_rows(groups, records)
    fit_rows, candidate_rows, padding_details = padding_tables(groups, records)
    keypoints, keypoint_details = keypoint_tables(image_sets, records)
    print(describe_run(metadata, args.from_cache))
    print(f"landmark box padding: {DEFAULT_PADDING}\n")
    for title, headers, rows in (
        (DETECTION_TITLE, DETECTION_HEADERS, detection),
        (FIT_TITLE, FIT_HEADERS, fit_rows),
        ("posecast boxes with each padding", PADDING_HEADERS, candidate_rows),
        (PCK_TITLE, PCK_HEADERS, keypoints),
    ):
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
            },
        )


if __name__ == "__main__":
    main()
