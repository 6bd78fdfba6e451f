"""Single-image multi-person 3D poses with a MeTRAbs crop model: detect, crop, pose, average.

The steps: the person detector's boxes (and the boxes of followed persons, speed mode);
MeTRAbs perspective crops of every box, ``A`` per person with test-time augmentation, cut in
linear light; all crops of the frame through the crop model in one runtime call, each
reconstructed in its crop camera frame on its own; un-mirrored, rotated into the camera
frame and averaged per person; 2D joints are the projections of the 3D joints (with the
camera's distortion), as MeTRAbs' own models report them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from posecast.engines.assets import DEFAULT_MODEL_DIR, file_sha256, model_path, read_manifest
from posecast.engines.detectors.base import DetectorConfig, PersonDetector
from posecast.engines.detectors.loading import DETECTOR_NAMES, DetectorName, load_detector
from posecast.engines.estimator import FrameEstimate
from posecast.engines.frames import FramePoses
from posecast.engines.geometry.augmentation import unflip_scores
from posecast.engines.geometry.camera import DEFAULT_FOV_DEG, Camera
from posecast.engines.geometry.perspective_crops import (
    PerspectiveCrops,
)
from posecast.engines.geometry.reconstruction import ReconstructionConfig
from posecast.engines.geometry.rois import (
    BLAZEPOSE_ROI_SCALE,
    Roi,
    boxes_covered_by_rois,
    deduplicate_rois,
    roi_from_box,
)
from posecast.engines.images import check_rgb_image
from posecast.engines.metrabs.crop_model import MetrabsCropModel
from posecast.engines.metrabs.crops import cut_metrabs_crops, metrabs_crops
from posecast.engines.metrabs.decoding import (
    crop_joints_to_camera,
    mean_of_valid,
    metrabs_augmentations,
)
from posecast.engines.metrabs.metadata import MetrabsMetadata
from posecast.engines.runtimes import RuntimeOptions, create_runtime
from posecast.errors import InvalidInputError, ModelError

MODEL_NAME = "metrabs"
"""The manifest entry of a converted MeTRAbs model (``tools/convert_metrabs.py``)."""
PREFERRED_OUTPUT = "smpl_24"
"""The default output joint set where the model offers it (else its native set)."""


@dataclass(frozen=True)
class MetrabsConfig:
    """What the MeTRAbs engine runs and how.

    Attributes:
        num_augmentations: test-time augmentation, MeTRAbs' way: crops per person (rolled,
            zoomed, every other mirrored, gamma-varied), averaged in the camera frame; 1 turns
            it off. Each one costs a crop model run per person (MeTRAbs' own default is 5).
        box_margin: factor on the box's longer side that the crop spans (MeTRAbs: 1, the box
            fills the crop). Raise it for detectors whose boxes cut off hands or feet.
        is_upright: crops keep the world's up direction up (the camera's extrinsics when it
            has them, z up; else the image's up), as MeTRAbs' crops do; False: the roll-free
            look-at crop (``perspective_crops``' default).
        antialias: warp from an image pyramid when a crop shrinks the image 2x or more.
        follow_box_scale: a followed person's crop box (speed mode) is the square of its last
            2D joints' extent times this (the joints lie inside the person's box).
        detector_model: the person detector (``nanodet`` shipped, ``yolox-nano`` prepared).
        detector, reconstruction: settings of those steps (the least squares run per crop).
    """

    num_augmentations: int = 1
    box_margin: float = 1.0
    is_upright: bool = True
    antialias: bool = True
    follow_box_scale: float = 1.15
    detector_model: DetectorName = "nanodet"
    detector: DetectorConfig = field(default_factory=DetectorConfig)
    reconstruction: ReconstructionConfig = field(default_factory=ReconstructionConfig)

    def __post_init__(self) -> None:
        if self.num_augmentations < 1:
            raise InvalidInputError(f"num_augmentations must be >= 1, got {self.num_augmentations}")
        if not 0.5 <= self.box_margin <= 3.0:
            raise InvalidInputError(f"box_margin must be in [0.5, 3], got {self.box_margin}")
        if not 0.5 <= self.follow_box_scale <= 3.0:
            raise InvalidInputError(
                f"follow_box_scale must be in [0.5, 3], got {self.follow_box_scale}"
            )
        if self.detector_model not in DETECTOR_NAMES:
            raise InvalidInputError(
                f"detector_model must be one of {DETECTOR_NAMES}, got {self.detector_model!r}"
            )


class MetrabsEstimator:
    """Detector + MeTRAbs crop model + camera geometry for single images.

    Meets ``posecast.pipeline.stream.FrameEstimator``: ``estimate`` returns untracked poses
    in the model's native joint set (``skeleton``: ``metrabs_<J>``, registered when the
    model was loaded), ``FramePoses.to_skeleton`` converts to any format it offers.
    """

    def __init__(
        self,
        detector: PersonDetector,
        crop_model: MetrabsCropModel,
        config: MetrabsConfig | None = None,
    ) -> None:
        self.detector = detector
        self.crop_model = crop_model
        self.config = config or MetrabsConfig()
        self.augmentations = metrabs_augmentations(self.config.num_augmentations)
        formats = crop_model.metadata.formats()
        formats.register()
        self.skeleton = formats.native.name
        self.output_skeletons = (self.skeleton, *sorted(formats.selections))

    @classmethod
    def from_model_dir(
        cls,
        model_dir: Path,
        config: MetrabsConfig | None = None,
        runtime_options: RuntimeOptions | None = None,
    ) -> MetrabsEstimator:
        """Load a converted MeTRAbs model (and the person detector) from a model folder.

        Args:
            model_dir: a folder written by ``tools/convert_metrabs.py`` (its manifest lists
                ``metrabs``); the detector comes from it if its manifest lists one, else the
                shipped one.
            config: what to run.
            runtime_options: how to run every model.

        Raises:
            ModelError: no converted model there, or a file that does not match its
                manifest.
        """
        config = config or MetrabsConfig()
        crop_model = load_metrabs_crop_model(model_dir, runtime_options, config.reconstruction)
        detector = load_detector(config.detector_model, model_dir, runtime_options, config.detector)
        return cls(detector, crop_model, config)

    @property
    def default_skeleton(self) -> str:
        """The output joint set when none is asked: ``smpl_24`` if offered, else native."""
        return PREFERRED_OUTPUT if PREFERRED_OUTPUT in self.output_skeletons else self.skeleton

    def with_min_person_height(self, min_person_height_px: float) -> MetrabsEstimator:
        """The same models, detecting persons down to ``min_person_height_px`` frame pixels
        (one stream's setting; the runtimes are shared)."""
        detector_config = replace(self.detector.config, min_person_height_px=min_person_height_px)
        config = replace(self.config, detector=detector_config)
        return MetrabsEstimator(self.detector.with_config(detector_config), self.crop_model, config)

    def with_runtimes(
        self, detector: PersonDetector, crop_model: MetrabsCropModel
    ) -> MetrabsEstimator:
        """The same settings over other models (the service's batched ones)."""
        return MetrabsEstimator(detector, crop_model, self.config)

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
            camera: its intrinsics (and distortion, extrinsics); default: 55 degree view.
            followed_rois: persons of the previous frame (its ``next_rois``), cropped from
                their last 2D joints without detecting.
            detect: run the person detector (the boxes no followed ROI covers are added).

        Raises:
            InvalidInputError: not an RGB uint8 image.
        """
        check_rgb_image(image_rgb)
        height, width = image_rgb.shape[:2]
        camera = camera or Camera.from_fov(width, height, DEFAULT_FOV_DEG)
        followed = followed_rois if followed_rois is not None else Roi.empty()
        start = time.perf_counter()
        boxes_xyxy, scores = self._boxes(image_rgb, followed, detect)
        detected = time.perf_counter()
        poses, reasons = self._pose(image_rgb, camera, boxes_xyxy, scores)
        posed = time.perf_counter()
        dropped: dict[str, int] = {}
        for reason in reasons[reasons != ""]:
            dropped[str(reason)] = dropped.get(str(reason), 0) + 1
        next_rois = Roi.empty()
        if len(poses):
            next_rois = deduplicate_rois(roi_from_box(poses.boxes_xyxy), poses.scores)
        done = time.perf_counter()
        timing_ms = {
            "detect": (detected - start) * 1e3,
            "pose": (posed - detected) * 1e3,
            "geometry": (done - posed) * 1e3,
            "total": (done - start) * 1e3,
        }
        return FrameEstimate(poses, timing_ms, dropped, next_rois)

    def _boxes(
        self, image_rgb: np.ndarray, followed: Roi, detect: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        """(N, 4) boxes to crop, followed persons first, and (N,) their scores (the
        detector's; 1 for followed persons)."""
        half_sides = followed.sides_px / BLAZEPOSE_ROI_SCALE * self.config.follow_box_scale / 2
        centers = np.asarray(followed.centers_px, np.float64).reshape(-1, 2)
        boxes = [np.concatenate([centers - half_sides[:, None], centers + half_sides[:, None]], 1)]
        scores = [np.ones(len(followed))]
        if detect:
            (found,) = self.detector.detect([image_rgb])
            found_boxes = np.asarray(found.boxes_xyxy, np.float64).reshape(-1, 4)
            is_new = ~boxes_covered_by_rois(found_boxes, followed)
            boxes.append(found_boxes[is_new])
            scores.append(np.asarray(found.scores, np.float64)[is_new])
        return np.concatenate(boxes), np.concatenate(scores)

    def _pose(
        self, image_rgb: np.ndarray, camera: Camera, boxes_xyxy: np.ndarray, scores: np.ndarray
    ) -> tuple[FramePoses, np.ndarray]:
        """Posed persons (the valid ones) and (N,) ``""`` or why each box has no pose."""
        num_joints = self.crop_model.metadata.num_joints
        count, num_aug = len(boxes_xyxy), len(self.augmentations)
        if count == 0:
            return FramePoses.empty(self.skeleton, num_joints), np.zeros(0, str)
        crops = self.crops(boxes_xyxy, camera)
        gammas = np.tile(self.augmentations.gammas, count)
        pixels = cut_metrabs_crops(image_rgb, crops, gammas, camera, self.config.antialias)
        predicted = self.crop_model.predict(pixels, crops.K_crop)
        joints_cam = crop_joints_to_camera(predicted.joints_crop_m, crops, self.skeleton)
        joint_scores_crop = unflip_scores(predicted.joint_scores, crops.is_flipped, self.skeleton)
        valid = predicted.is_valid
        joints_cam_m = mean_of_valid(joints_cam, valid, num_aug)
        joints2d_px = mean_of_valid(
            camera.project(np.where(valid[:, None, None], joints_cam, 1.0)), valid, num_aug
        )
        joint_scores = mean_of_valid(joint_scores_crop, valid, num_aug)
        is_posed = np.isfinite(joints_cam_m).all(axis=(1, 2))
        reasons = np.where(is_posed, "", predicted.drop_reasons.reshape(count, num_aug)[:, 0])
        joints2d_px = joints2d_px[is_posed]
        boxes = np.concatenate([joints2d_px.min(axis=1), joints2d_px.max(axis=1)], axis=1)
        poses = FramePoses(
            skeleton=self.skeleton,
            boxes_xyxy=boxes.astype(np.float32),
            scores=scores[is_posed].astype(np.float32),
            joints2d_px=joints2d_px.astype(np.float32),
            joints_cam_m=joints_cam_m[is_posed].astype(np.float32),
            joint_scores=joint_scores[is_posed].astype(np.float32),
        )
        return poses, reasons

    def crops(self, boxes_xyxy: np.ndarray, camera: Camera) -> PerspectiveCrops:
        """The N x A perspective crops (person-major) of N boxes in observed image pixels."""
        return metrabs_crops(
            boxes_xyxy,
            camera,
            self.crop_model.input_size_px,
            self.augmentations,
            box_margin=self.config.box_margin,
            is_upright=self.config.is_upright,
        )


def load_metrabs_crop_model(
    model_dir: Path = DEFAULT_MODEL_DIR,
    runtime_options: RuntimeOptions | None = None,
    reconstruction: ReconstructionConfig | None = None,
) -> MetrabsCropModel:
    """The converted crop model of a model folder, checked against its manifest.

    Raises:
        ModelError: the folder has no converted MeTRAbs model (the message names the
            command), or its files do not match the manifest.
    """
    manifest_file = Path(model_dir) / "manifest.json"
    if not manifest_file.is_file() or MODEL_NAME not in read_manifest(model_dir):
        raise ModelError(
            f"{model_dir} holds no converted MeTRAbs model; convert the SavedModel you "
            "downloaded with tools/convert_metrabs.py --out DIR (docs/metrabs.md)"
        )
    entry = read_manifest(model_dir)[MODEL_NAME]
    onnx_path = model_path(MODEL_NAME, model_dir)
    metadata_path = Path(model_dir) / entry["metadata"]
    if not metadata_path.is_file() or file_sha256(metadata_path) != entry["metadata_sha256"]:
        raise ModelError(
            f"MeTRAbs metadata {metadata_path} is missing or does not match the manifest; "
            "convert the model again"
        )
    metadata = MetrabsMetadata.from_json(metadata_path)
    return MetrabsCropModel(create_runtime(onnx_path, runtime_options), metadata, reconstruction)
