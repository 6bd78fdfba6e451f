"""Single-image multi-person 3D poses: detect, crop, estimate, place in camera space.

The steps: propose persons (the person detector's boxes, fused with the people the BlazePose
pose detector finds in the whole frame: ``proposals``); give each person not already followed
a first ROI (from the pose detector's alignment keypoints, as MediaPipe does, or around its
box) and search for its pose, trying other ROIs where the first one fails (``pose_search``);
pose the followed ROIs; drop absent and duplicate poses; orient each pose's metric landmarks
like the camera (ROI rotation plus the perspective correction of the crop's viewing
direction); solve each person's translation from its 2D landmarks and K (absolute
reconstruction, per person). Output is in BlazePose's own 33-landmark set;
``FramePoses.to_skeleton`` converts. ``estimate(..., with_trace=True)`` also says what became
of every proposal and followed ROI (``EstimateTrace``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import numpy as np

from posecast.engines.assets import DEFAULT_MODEL_DIR, resolve_model_path
from posecast.engines.blazepose import (
    NUM_LANDMARKS,
    SKELETON,
    BlazePoseConfig,
    BlazePoseLandmarkModel,
    BlazePoses,
)
from posecast.engines.detectors.base import DetectorConfig, PersonBoxes, PersonDetector
from posecast.engines.detectors.loading import DETECTOR_NAMES, DetectorName, load_detector
from posecast.engines.frames import FramePoses
from posecast.engines.geometry.augmentation import make_augmentations
from posecast.engines.geometry.boxes import non_max_suppression
from posecast.engines.geometry.camera import Camera
from posecast.engines.geometry.reconstruction import ReconstructionConfig, reconstruct_absolute
from posecast.engines.geometry.rois import (
    Roi,
    boxes_covered_by_rois,
    deduplicate_rois,
    roi_from_box,
    roi_world_to_camera,
)
from posecast.engines.images import check_rgb_image
from posecast.engines.pose_alignment import PoseAlignment, PoseAlignmentDetector
from posecast.engines.pose_search import (
    FIRST,
    PoseSearch,
    PoseSearchConfig,
    PoseSearchResult,
    choose_first_rois,
)
from posecast.engines.proposals import Proposals, fuse_proposals
from posecast.engines.runtimes import RuntimeOptions, create_runtime

NATIVE_SKELETON = SKELETON
DUPLICATE_POSE_IOU = 0.5
PoseModelName = Literal["lite", "full", "heavy"]
RoiSource = Literal["alignment", "box"]
PoseDetectorProposals = Literal["off", "if_no_boxes", "always"]
POSE_DETECTOR_PROPOSALS: tuple[PoseDetectorProposals, ...] = ("off", "if_no_boxes", "always")


@dataclass(frozen=True)
class EstimatorConfig:
    """What the estimator runs and how.

    Attributes:
        pose_model: BlazePose variant; lite is ~1.5x faster than full, heavy ~4x slower
            and more accurate (heavy must be built with tools/convert_models.py --heavy).
        perspective_correction: rotate each pose from its crop's viewing direction into the
            camera's; matters for people far from the image centre.
        num_augmentations: test-time augmentation: crops per person (rotated, scaled,
            flipped), averaged; 1 turns it off. Each one costs a model run per person.
        roi_source: where each person's first landmark ROI comes from. ``alignment``: the
            BlazePose pose detector's alignment keypoints, found around each person box
            (MediaPipe's own ROI; agrees with MediaPipe's runtime 5-15x more closely than
            ``box``, about one detector run per person) where they cover the box
            (``search.min_alignment_coverage``). ``box``: a square around the box.
        pose_detector_proposals: when to also propose the people the BlazePose pose detector
            finds in the whole frame (MediaPipe's own first step: large, near people; one
            224 x 224 model call), fused with the detector's boxes without duplicates
            (``posecast.engines.proposals``): ``if_no_boxes`` (default) in frames where the
            person detector finds nobody (a person lying, folded, in the dark, filling the
            frame: what a single-person detector is for); ``always`` in every detection frame
            (in crowds it takes several small people for one large one: docs/estimation.md
            "Finding every person"); ``off``. Needs the pose detector (``from_config`` loads
            it).
        detector_model: the person detector: ``nanodet`` (shipped) or ``yolox-nano``
            (user-supplied, prepared in a model directory; more recall per millisecond on
            small people, docs/estimation.md "Detectors").
        detector, blazepose, search, reconstruction: settings of each step (``search``: the
            ROIs tried for a new person whose first pose fails, ``pose_search``).
    """

    pose_model: PoseModelName = "full"
    perspective_correction: bool = True
    num_augmentations: int = 1
    roi_source: RoiSource = "alignment"
    pose_detector_proposals: PoseDetectorProposals = "if_no_boxes"
    detector_model: DetectorName = "nanodet"
    detector: DetectorConfig = field(default_factory=DetectorConfig)
    blazepose: BlazePoseConfig = field(default_factory=BlazePoseConfig)
    search: PoseSearchConfig = field(default_factory=PoseSearchConfig)
    reconstruction: ReconstructionConfig = field(default_factory=ReconstructionConfig)

    @property
    def needs_pose_detector(self) -> bool:
        """Whether the BlazePose pose detector runs (alignment ROIs or frame proposals)."""
        return self.roi_source == "alignment" or self.pose_detector_proposals != "off"

    def __post_init__(self) -> None:
        if self.num_augmentations < 1:
            raise ValueError(f"num_augmentations must be >= 1, got {self.num_augmentations}")
        if self.roi_source not in ("alignment", "box"):
            raise ValueError(f"roi_source must be alignment or box, got {self.roi_source!r}")
        if self.pose_detector_proposals not in POSE_DETECTOR_PROPOSALS:
            raise ValueError(
                f"pose_detector_proposals must be one of {POSE_DETECTOR_PROPOSALS}, got "
                f"{self.pose_detector_proposals!r}"
            )
        if self.detector_model not in DETECTOR_NAMES:
            raise ValueError(
                f"detector_model must be one of {DETECTOR_NAMES}, got {self.detector_model!r}"
            )
        if self.pose_model not in ("lite", "full", "heavy"):
            raise ValueError(f"pose_model must be lite, full or heavy, got {self.pose_model!r}")


KEPT, NO_PRESENCE, DUPLICATE, INVALID = "kept", "no_pose_presence", "duplicate", "invalid"
FOLLOWED = "followed"


@dataclass(frozen=True)
class EstimateTrace:
    """What became of every ROI posed in one image (``estimate(..., with_trace=True)``).

    Rows: the followed ROIs first, then the new proposals (``Proposals``), R in all.

    Attributes:
        detected_xyxy: (D, 4) the person detector's boxes (all of them, followed people's
            too); detected_scores: (D,). Empty where the detector did not run.
        sources: (R,) ``"followed"``, ``"detector"`` or ``"pose_detector"``.
        proposal_xyxy: (R, 4) the proposal's box (NaN for followed rows).
        proposal_scores: (R,) its source's score (NaN for followed rows).
        first_rois: (R,) ``"followed"``, ``"alignment_frame"``, ``"alignment_crop"`` (the
            pose detector's keypoints, whole frame or crop) or ``"box"``.
        chosen: (R,) the ROI of the kept pose: ``"first"``, ``"box"``, ``"refined"``.
        attempts: (R,) landmark model runs of the search (refinement passes not counted).
        presence: (R,) pose presence of the chosen pose.
        box_agreement: (R,) IoU of the chosen pose's box with the proposal box (NaN: none).
        landmarks_px: (R, 33, 2) the chosen pose's landmarks, image pixels.
        outcomes: (R,) ``"kept"``, ``"no_pose_presence"``, ``"duplicate"``, ``"invalid"``
            (dropped by the 3D reconstruction).
        pose_index: (R,) row of the output ``poses`` for kept rows, -1 for the others.
    """

    detected_xyxy: np.ndarray
    detected_scores: np.ndarray
    sources: np.ndarray
    proposal_xyxy: np.ndarray
    proposal_scores: np.ndarray
    first_rois: np.ndarray
    chosen: np.ndarray
    attempts: np.ndarray
    presence: np.ndarray
    box_agreement: np.ndarray
    landmarks_px: np.ndarray
    outcomes: np.ndarray
    pose_index: np.ndarray


@dataclass(frozen=True)
class FrameEstimate:
    """Result of one image: the persons, where the time went, who was dropped why, and the
    ROIs to follow the persons into the next frame without detecting (MediaPipe's tracking);
    ``trace`` only when asked for (``estimate(..., with_trace=True)``).
    """

    poses: FramePoses
    timing_ms: dict[str, float]
    dropped: dict[str, int]
    next_rois: Roi
    trace: EstimateTrace | None = None


def distinct_pose_indices(poses: BlazePoses, max_iou: float = DUPLICATE_POSE_IOU) -> np.ndarray:
    """Sorted indices of the poses to keep: a pose whose landmark box overlaps a more present
    pose's by more than ``max_iou`` is dropped (two ROIs, e.g. two detector boxes of one
    person, or a followed ROI and a new box, can converge on the same person)."""
    if len(poses) < 2:
        return np.arange(len(poses))
    points = poses.landmarks_px
    boxes_xyxy = np.concatenate([points.min(axis=1), points.max(axis=1)], axis=1)
    return np.sort(non_max_suppression(boxes_xyxy, poses.pose_presence, max_iou))


@dataclass(frozen=True)
class _Posed:
    """Every posed row of one frame (followed ROIs, then proposals) before the drops."""

    poses: BlazePoses
    sources: np.ndarray
    proposals: Proposals
    first_rois: np.ndarray
    search: PoseSearchResult


class PoseEstimator:
    """Detector + BlazePose + camera geometry for single images."""

    def __init__(
        self,
        detector: PersonDetector,
        pose_model: BlazePoseLandmarkModel,
        config: EstimatorConfig | None = None,
        aligner: PoseAlignmentDetector | None = None,
    ) -> None:
        self.detector = detector
        self.pose_model = pose_model
        self.config = config or EstimatorConfig()
        if self.config.needs_pose_detector and aligner is None:
            raise ValueError(
                "roi_source='alignment' and pose_detector_proposals need a PoseAlignmentDetector"
            )
        self.aligner = aligner
        self.augmentations = make_augmentations(self.config.num_augmentations)
        self.search = PoseSearch(pose_model, self.config.search)

    @classmethod
    def from_config(
        cls,
        config: EstimatorConfig | None = None,
        runtime_options: RuntimeOptions | None = None,
        model_dir: Path = DEFAULT_MODEL_DIR,
    ) -> PoseEstimator:
        """Load the models (sha256-checked) with the given runtime options.

        Args:
            config: what to run.
            runtime_options: how to run every model.
            model_dir: a user's model directory (the heavy landmark model, a prepared
                YOLOX-Nano); models its manifest does not list come from the shipped ones.
        """
        config = config or EstimatorConfig()
        detector = load_detector(config.detector_model, model_dir, runtime_options, config.detector)
        pose_runtime = create_runtime(
            resolve_model_path(f"pose_landmark_{config.pose_model}", model_dir), runtime_options
        )
        aligner = None
        if config.needs_pose_detector:
            aligner_runtime = create_runtime(
                resolve_model_path("pose_detection", model_dir), runtime_options
            )
            aligner = PoseAlignmentDetector(aligner_runtime)
        return cls(
            detector,
            BlazePoseLandmarkModel(pose_runtime, config.blazepose),
            config,
            aligner,
        )

    def with_min_person_height(self, min_person_height_px: float) -> PoseEstimator:
        """The same models, detecting persons down to ``min_person_height_px`` frame pixels
        (the detector's input size rule; one stream's setting, the runtimes are shared)."""
        detector_config = replace(self.detector.config, min_person_height_px=min_person_height_px)
        config = replace(self.config, detector=detector_config)
        detector = self.detector.with_config(detector_config)
        return PoseEstimator(detector, self.pose_model, config, self.aligner)

    def estimate(
        self,
        image_rgb: np.ndarray,
        camera: Camera | None = None,
        followed_rois: Roi | None = None,
        detect: bool = True,
        with_trace: bool = False,
    ) -> FrameEstimate:
        """All persons of one (H, W, 3) uint8 RGB image, in camera space.

        Args:
            image_rgb: the image.
            camera: its intrinsics (and distortion); default: 55 degree field of view.
            followed_rois: ROIs of known persons (a previous frame's ``next_rois``), posed
                from those ROIs directly, as MediaPipe's tracking does.
            detect: propose persons (the detector and, with ``pose_detector_proposals``, the
                pose detector over the whole frame); those no followed ROI covers get a pose
                search. Without it only followed persons are found.
            with_trace: also say what became of every proposal and followed ROI
                (``FrameEstimate.trace``; costs nothing but memory).

        Raises:
            InvalidInputError: not an RGB uint8 image.
        """
        check_rgb_image(image_rgb)
        height, width = image_rgb.shape[:2]
        camera = camera or Camera.from_fov(width, height)
        followed = followed_rois if followed_rois is not None else Roi.empty()
        start = time.perf_counter()
        detected, proposals = PersonBoxes.empty(), Proposals.empty()
        if detect:
            detected, proposals = self._propose(image_rgb, followed)
        proposed = time.perf_counter()
        posed_rows = self._pose(image_rgb, followed, proposals)
        present = np.flatnonzero(self.pose_model.is_present(posed_rows.poses))
        refined, still_present = self.pose_model.refine(image_rgb, posed_rows.poses.select(present))
        present = present[still_present]
        unique = distinct_pose_indices(refined)
        blazeposes = self.pose_model.augment(image_rgb, refined.select(unique), self.augmentations)
        posed = time.perf_counter()
        poses, valid, dropped = self.to_camera_space(blazeposes, camera, (width, height))
        dropped["no_pose_presence"] = len(posed_rows.poses) - len(present)
        dropped["duplicate"] = len(present) - len(unique)
        next_rois = deduplicate_rois(blazeposes.select(valid).next_rois(), poses.scores)
        done = time.perf_counter()
        timing_ms = {
            "detect": (proposed - start) * 1e3,
            "pose": (posed - proposed) * 1e3,
            "geometry": (done - posed) * 1e3,
            "total": (done - start) * 1e3,
        }
        trace = None
        if with_trace:
            trace = _trace(detected, posed_rows, present, present[unique], valid)
        return FrameEstimate(poses, timing_ms, dropped, next_rois, trace)

    def _propose(self, image_rgb: np.ndarray, followed: Roi) -> tuple[PersonBoxes, Proposals]:
        """The detector's boxes, and the new persons: the proposals no followed ROI covers,
        with the pose detector's alignment keypoints where it finds them (frame, then crops)."""
        (detected,) = self.detector.detect([image_rgb])
        boxes = np.asarray(detected.boxes_xyxy, np.float64).reshape(-1, 4)
        mode = self.config.pose_detector_proposals
        is_proposing = mode == "always" or (mode == "if_no_boxes" and len(boxes) == 0)
        found_in_frame: list[PoseAlignment] = []
        matched: dict[int, PoseAlignment] = {}
        if self.aligner is not None:
            # the boxes' alignment keypoints are of use only with alignment ROIs
            aligns_boxes = self.config.roi_source == "alignment"
            if is_proposing or (
                aligns_boxes and self.aligner.is_frame_pass_useful(boxes, image_rgb.shape[:2])
            ):
                found_in_frame = self.aligner.detect_in_frame(image_rgb)
            matched = self.aligner.match(found_in_frame, boxes)
        proposed_in_frame = found_in_frame if is_proposing else []
        max_size_ratio = self.aligner.config.max_size_ratio if self.aligner else 2.0
        proposals = fuse_proposals(detected, proposed_in_frame, matched, max_size_ratio)
        proposals = proposals.select(~boxes_covered_by_rois(proposals.boxes_xyxy, followed))
        if self.aligner is not None and self.config.roi_source == "alignment":
            pending = [i for i, alignment in enumerate(proposals.alignments) if alignment is None]
            found = self.aligner.align_in_crops(image_rgb, proposals.boxes_xyxy[pending])
            proposals = proposals.with_alignments(pending, found)
        return detected, proposals

    def _pose(self, image_rgb: np.ndarray, followed: Roi, proposals: Proposals) -> _Posed:
        """A pose for every followed ROI and every proposal (none dropped yet)."""
        has_box = proposals.has_person_box
        is_usable = np.array(
            [
                alignment is not None and (not is_box or self.config.roi_source == "alignment")
                for alignment, is_box in zip(proposals.alignments, has_box, strict=True)
            ],
            dtype=bool,
        )
        alignments = [
            alignment if usable else None
            for alignment, usable in zip(proposals.alignments, is_usable, strict=True)
        ]
        if self.aligner is not None:
            alignment_rois = self.aligner.rois_from_alignments(proposals.boxes_xyxy, alignments)
        else:
            alignment_rois = roi_from_box(proposals.boxes_xyxy)
        first_rois, is_box_roi = choose_first_rois(
            proposals.boxes_xyxy,
            alignment_rois,
            is_usable,
            has_box,
            self.config.search.min_alignment_coverage,
        )
        # one model call for the followed people and the new ones' first ROIs
        first_pass = self.pose_model.predict(image_rgb, Roi.concatenate([followed, first_rois]))
        num_followed = len(followed)
        searched = self.search.search(
            image_rgb,
            proposals.boxes_xyxy,
            has_box,
            first_rois,
            is_box_roi,
            first_poses=first_pass.select(np.arange(num_followed, len(first_pass))),
        )
        first_kinds = [
            "box" if is_box else f"alignment_{alignment.source}"  # type: ignore[union-attr]
            for alignment, is_box in zip(alignments, is_box_roi, strict=True)
        ]
        return _Posed(
            poses=BlazePoses.concatenate(
                [first_pass.select(np.arange(num_followed)), searched.poses]
            ),
            sources=np.array([FOLLOWED] * len(followed) + list(proposals.sources), dtype=str),
            proposals=proposals,
            first_rois=np.array([FOLLOWED] * len(followed) + first_kinds, dtype=str),
            search=searched,
        )

    def to_camera_space(
        self, blazeposes: BlazePoses, camera: Camera, image_size_wh: tuple[int, int]
    ) -> tuple[FramePoses, np.ndarray, dict[str, int]]:
        """Absolute camera-space skeletons of decoded BlazePose poses.

        Returns:
            The valid persons, the (N,) validity mask over ``blazeposes``, and the number of
            persons dropped per reconstruction reason.
        """
        if len(blazeposes) == 0:
            return FramePoses.empty(NATIVE_SKELETON, NUM_LANDMARKS), np.zeros(0, bool), {}
        joints2d_px = camera.undistort_points(blazeposes.landmarks_px)
        joints_rel_m = roi_world_to_camera(
            blazeposes.world_landmarks_crop_m,
            blazeposes.rois,
            camera.K,
            perspective_correction=self.config.perspective_correction,
        )
        # Visibility says how much the landmark's 2D position can be trusted.
        joint_scores = blazeposes.visibility
        absolute = reconstruct_absolute(
            joints_rel_m,
            joints2d_px,
            camera.K,
            joint_scores,
            image_size_wh,
            self.config.reconstruction,
        )
        valid = absolute.is_valid
        landmarks_px = blazeposes.landmarks_px[valid]
        boxes_xyxy = np.concatenate([landmarks_px.min(axis=1), landmarks_px.max(axis=1)], axis=1)
        poses = FramePoses(
            skeleton=NATIVE_SKELETON,
            boxes_xyxy=boxes_xyxy.astype(np.float32),
            scores=blazeposes.pose_presence[valid].astype(np.float32),
            joints2d_px=landmarks_px.astype(np.float32),
            joints_cam_m=absolute.joints_cam_m[valid].astype(np.float32),
            joint_scores=joint_scores[valid].astype(np.float32),
        )
        return poses, valid, absolute.drop_counts()


def _trace(
    detected: PersonBoxes,
    posed: _Posed,
    present: np.ndarray,
    distinct: np.ndarray,
    valid: np.ndarray,
) -> EstimateTrace:
    """The trace of one frame from its posed rows and the rows that survived each drop
    (``present``, ``distinct``: row indices; ``valid``: over ``distinct``)."""
    count = len(posed.poses)
    num_followed = count - len(posed.proposals)
    outcomes = np.full(count, NO_PRESENCE, dtype=object)
    outcomes[present] = DUPLICATE
    outcomes[distinct] = np.where(valid, KEPT, INVALID)
    pose_index = np.full(count, -1, np.int64)
    pose_index[distinct[valid]] = np.arange(int(valid.sum()))
    nan_rows = np.full(num_followed, np.nan)
    search = posed.search
    return EstimateTrace(
        detected_xyxy=np.asarray(detected.boxes_xyxy, np.float64).reshape(-1, 4),
        detected_scores=np.asarray(detected.scores, np.float64),
        sources=posed.sources,
        proposal_xyxy=np.concatenate(
            [np.full((num_followed, 4), np.nan), posed.proposals.boxes_xyxy]
        ),
        proposal_scores=np.concatenate([nan_rows, posed.proposals.scores]),
        first_rois=posed.first_rois,
        chosen=np.array([FIRST] * num_followed + list(search.chosen), dtype=str),
        attempts=np.concatenate([np.ones(num_followed, np.int64), search.attempts]),
        presence=posed.poses.pose_presence.copy(),
        box_agreement=np.concatenate([nan_rows, search.box_agreement]),
        landmarks_px=posed.poses.landmarks_px.copy(),
        outcomes=outcomes.astype(str),
        pose_index=pose_index,
    )
