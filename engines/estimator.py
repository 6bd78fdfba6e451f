"""Single-image multi-person 3D poses: detect, crop, estimate, place in camera space.

The steps: detect person boxes; give each person not already followed a first ROI (from the
BlazePose pose detector's alignment keypoints, as MediaPipe does, or around its box); run
BlazePose on all ROIs and drop duplicate poses; orient each pose's metric landmarks like the
camera (ROI rotation plus the perspective correction of the crop's viewing direction); solve
each person's translation from its 2D landmarks and K (absolute reconstruction, per person).
Output is in BlazePose's own 33-landmark set; ``FramePoses.to_skeleton`` converts.
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
from posecast.engines.detectors.base import DetectorConfig, PersonDetector
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
from posecast.engines.pose_alignment import PoseAlignmentDetector
from posecast.engines.runtimes import RuntimeOptions, create_runtime

NATIVE_SKELETON = SKELETON
DUPLICATE_POSE_IOU = 0.5
PoseModelName = Literal["lite", "full", "heavy"]
RoiSource = Literal["alignment", "box"]


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
            ``box``, about one detector run per person). ``box``: a square around the box;
            pair it with ``blazepose.refinement_passes=1``.
        detector_model: the person detector: ``nanodet`` (shipped) or ``yolox-nano``
            (user-supplied, prepared in a model directory; more recall per millisecond on
            small people, docs/estimation.md "Detectors").
        detector, blazepose, reconstruction: settings of each step.
    """

    pose_model: PoseModelName = "full"
    perspective_correction: bool = True
    num_augmentations: int = 1
    roi_source: RoiSource = "alignment"
    detector_model: DetectorName = "nanodet"
    detector: DetectorConfig = field(default_factory=DetectorConfig)
    blazepose: BlazePoseConfig = field(default_factory=BlazePoseConfig)
    reconstruction: ReconstructionConfig = field(default_factory=ReconstructionConfig)

    def __post_init__(self) -> None:
        if self.num_augmentations < 1:
            raise ValueError(f"num_augmentations must be >= 1, got {self.num_augmentations}")
        if self.roi_source not in ("alignment", "box"):
            raise ValueError(f"roi_source must be alignment or box, got {self.roi_source!r}")
        if self.detector_model not in DETECTOR_NAMES:
            raise ValueError(
                f"detector_model must be one of {DETECTOR_NAMES}, got {self.detector_model!r}"
            )
        if self.pose_model not in ("lite", "full", "heavy"):
            raise ValueError(f"pose_model must be lite, full or heavy, got {self.pose_model!r}")


@dataclass(frozen=True)
class FrameEstimate:
    """Result of one image: the persons, where the time went, who was dropped why, and the
    ROIs to follow the persons into the next frame without detecting (MediaPipe's tracking).
    """

    poses: FramePoses
    timing_ms: dict[str, float]
    dropped: dict[str, int]
    next_rois: Roi


def distinct_poses(poses: BlazePoses, max_iou: float = DUPLICATE_POSE_IOU) -> BlazePoses:
    """Drop poses whose landmark box overlaps a more present pose's by more than ``max_iou``:
    two ROIs (two detector boxes of one person, or a followed ROI and a new box) can converge
    on the same person."""
    if len(poses) < 2:
        return poses
    points = poses.landmarks_px
    boxes_xyxy = np.concatenate([points.min(axis=1), points.max(axis=1)], axis=1)
    return poses.select(np.sort(non_max_suppression(boxes_xyxy, poses.pose_presence, max_iou)))


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
        if self.config.roi_source == "alignment" and aligner is None:
            raise ValueError("roi_source='alignment' needs a PoseAlignmentDetector")
        self.aligner = aligner
        self.augmentations = make_augmentations(self.config.num_augmentations)

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
        if config.roi_source == "alignment":
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
    ) -> FrameEstimate:
        """All persons of one (H, W, 3) uint8 RGB image, in camera space.

        Args:
            image_rgb: the image.
            camera: its intrinsics (and distortion); default: 55 degree field of view.
            followed_rois: ROIs of known persons (a previous frame's ``next_rois``), posed
                from those ROIs directly, as MediaPipe's tracking does.
            detect: run the person detector; detected persons that no followed ROI covers
                get a first ROI (``roi_source``). Without it only followed persons are found.

        Raises:
            InvalidInputError: not an RGB uint8 image.
        """
        check_rgb_image(image_rgb)
        height, width = image_rgb.shape[:2]
        camera = camera or Camera.from_fov(width, height)
        rois = followed_rois if followed_rois is not None else Roi.empty()
        start = time.perf_counter()
        if detect:
            (boxes,) = self.detector.detect([image_rgb])
            new_boxes = boxes.boxes_xyxy[~boxes_covered_by_rois(boxes.boxes_xyxy, rois)]
            rois = Roi.concatenate([rois, self._first_rois(image_rgb, new_boxes)])
        detected = time.perf_counter()
        found = self.pose_model.estimate(image_rgb, rois)
        blazeposes = distinct_poses(found)
        blazeposes = self.pose_model.augment(image_rgb, blazeposes, self.augmentations)
        posed = time.perf_counter()
        poses, valid, dropped = self.to_camera_space(blazeposes, camera, (width, height))
        dropped["no_pose_presence"] = len(rois) - len(found)
        dropped["duplicate"] = len(found) - len(blazeposes)
        next_rois = deduplicate_rois(blazeposes.select(valid).next_rois(), poses.scores)
        done = time.perf_counter()
        timing_ms = {
            "detect": (detected - start) * 1e3,
            "pose": (posed - detected) * 1e3,
            "geometry": (done - posed) * 1e3,
            "total": (done - start) * 1e3,
        }
        return FrameEstimate(poses, timing_ms, dropped, next_rois)

    def _first_rois(self, image_rgb: np.ndarray, boxes_xyxy: np.ndarray) -> Roi:
        if self.aligner is None:
            return roi_from_box(boxes_xyxy)
        return self.aligner.rois_from_boxes(image_rgb, boxes_xyxy)

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
