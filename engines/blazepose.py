"""BlazePose GHUM landmark model: ROIs of an image in, 33 image landmarks and 33 metric world
landmarks per person out, decoded as MediaPipe's pose landmark graph decodes them.

MediaPipe's steps, in order: crop the rotated square ROI to 256 x 256 (RGB in [0, 1]);
run the model; drop poses with presence < 0.5; landmarks from crop pixels, visibility and
presence through a sigmoid; refine x, y from the heatmap (7 x 7 window, only where the
heatmap is confident); project to the image with the ROI; world landmarks rotated by the
ROI rotation. The next ROI comes from auxiliary landmarks 33 (centre) and 34 (scale/rotation);
``estimate`` uses it for refinement passes, as MediaPipe's tracking does between frames.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from posecast.engines.geometry.augmentation import (
    Augmentations,
    augment_rois,
    average_augmentations,
    unflip_joints,
    unflip_scores,
)
from posecast.engines.geometry.rois import Roi, roi_from_alignment_points
from posecast.engines.geometry.rotations import rotations_about_z
from posecast.engines.geometry.warps import crop_to_image_points, warp_roi
from posecast.engines.images import check_rgb_image
from posecast.engines.runtimes import Runtime

SKELETON = "blazepose_33"
INPUT_SIZE_PX = 256
NUM_LANDMARKS = 33
NUM_MODEL_LANDMARKS = 39
ALIGNMENT_CENTER, ALIGNMENT_SCALE = 33, 34


@dataclass(frozen=True)
class BlazePoseConfig:
    """Decoding settings (MediaPipe's values by default).

    Attributes:
        presence_threshold: poses below it are dropped; it also removes most false detector
            boxes. Lower keeps more partial people and more garbage.
        refinement_passes: extra passes with the ROI derived from the previous pass's
            auxiliary landmarks. Useful when the first ROI is a plain box, which frames the
            body differently from what the model was trained on; with ROIs from the pose
            detector's alignment keypoints (the default), 0 matches MediaPipe best. Each pass
            costs one more model run per person.
        heatmap_kernel_cells: side of the heatmap window used to refine x, y (0 disables).
        heatmap_min_confidence: refine a landmark only if its window's peak is at least this.
    """

    presence_threshold: float = 0.5
    refinement_passes: int = 0
    heatmap_kernel_cells: int = 7
    heatmap_min_confidence: float = 0.5

    def __post_init__(self) -> None:
        if not 0.0 <= self.presence_threshold <= 1.0:
            raise ValueError(f"presence_threshold must be in [0, 1], got {self.presence_threshold}")
        if self.refinement_passes < 0:
            raise ValueError(f"refinement_passes must be >= 0, got {self.refinement_passes}")
        kernel = self.heatmap_kernel_cells
        if kernel < 0 or (kernel > 0 and kernel % 2 == 0):
            raise ValueError("heatmap_kernel_cells must be 0 or odd")


@dataclass(frozen=True)
class BlazePoses:
    """Decoded poses of N ROIs of one image.

    Attributes:
        rois: the N ROIs the poses were predicted in.
        landmarks_px: (N, 33, 2) image pixels.
        landmarks_crop_px: (N, 39, 3) raw model landmarks in crop pixels (after heatmap
            refinement of x, y), auxiliary landmarks included.
        world_landmarks_crop_m: (N, 33, 3) metric landmarks, hip-centred, in the crop's axes
            (orient them with ``posecast.engines.geometry.rois.roi_world_to_camera``).
        visibility: (N, 33) probability that a landmark is visible (not occluded).
        presence: (N, 33) probability that a landmark is inside the image.
        pose_presence: (N,) probability that the ROI holds a person.
    """

    rois: Roi
    landmarks_px: np.ndarray
    landmarks_crop_px: np.ndarray
    world_landmarks_crop_m: np.ndarray
    visibility: np.ndarray
    presence: np.ndarray
    pose_presence: np.ndarray

    def __len__(self) -> int:
        return len(self.pose_presence)

    def select(self, keep: np.ndarray) -> BlazePoses:
        """The poses where ``keep`` (bool mask or indices) holds."""
        indices = np.flatnonzero(keep) if np.asarray(keep).dtype == bool else np.asarray(keep)
        return BlazePoses(
            rois=self.rois[indices],
            landmarks_px=self.landmarks_px[indices],
            landmarks_crop_px=self.landmarks_crop_px[indices],
            world_landmarks_crop_m=self.world_landmarks_crop_m[indices],
            visibility=self.visibility[indices],
            presence=self.presence[indices],
            pose_presence=self.pose_presence[indices],
        )

    @classmethod
    def concatenate(cls, parts: list[BlazePoses]) -> BlazePoses:
        """The poses of several records, in order (at least one record)."""
        if not parts:
            raise ValueError("BlazePoses.concatenate needs at least one record")
        return BlazePoses(
            rois=Roi.concatenate([part.rois for part in parts]),
            landmarks_px=np.concatenate([part.landmarks_px for part in parts]),
            landmarks_crop_px=np.concatenate([part.landmarks_crop_px for part in parts]),
            world_landmarks_crop_m=np.concatenate([part.world_landmarks_crop_m for part in parts]),
            visibility=np.concatenate([part.visibility for part in parts]),
            presence=np.concatenate([part.presence for part in parts]),
            pose_presence=np.concatenate([part.pose_presence for part in parts]),
        )

    def next_rois(self) -> Roi:
        """ROIs for the next pass or frame, from auxiliary landmarks 33 and 34."""
        aux_px = crop_to_image_points(
            self.landmarks_crop_px[:, [ALIGNMENT_CENTER, ALIGNMENT_SCALE], :2], self.rois
        )
        return roi_from_alignment_points(aux_px[:, 0], aux_px[:, 1])


def _sigmoid(logits: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-logits))


def refine_from_heatmap(
    landmarks_crop_px: np.ndarray, heatmaps: np.ndarray, kernel_cells: int, min_confidence: float
) -> np.ndarray:
    """Move each landmark's x, y to the confidence-weighted mean cell of its heatmap window.

    Args:
        landmarks_crop_px: (N, L, 2+) landmarks in crop pixels.
        heatmaps: (N, H, W, L) heatmap logits (HWC, one channel per landmark).
        kernel_cells: window side in heatmap cells (odd), clipped at the heatmap border.
        min_confidence: refine only where the window's peak sigmoid reaches it.

    Returns:
        A copy of ``landmarks_crop_px`` with refined x, y. As MediaPipe: the landmark's cell is
        its normalised position times the heatmap size, truncated; landmarks outside the
        heatmap stay as they are; a refined position is the weighted mean cell index divided
        by the heatmap size (no half-cell offset).
    """
    refined = landmarks_crop_px.copy()
    if kernel_cells == 0:
        return refined
    num, height, width, num_landmarks = heatmaps.shape
    half = (kernel_cells - 1) // 2
    normalised = landmarks_crop_px[..., :2] / INPUT_SIZE_PX
    cells_x = (normalised[..., 0] * width).astype(np.int64)  # truncation toward zero, as C++
    cells_y = (normalised[..., 1] * height).astype(np.int64)
    inside = (cells_x >= 0) & (cells_x < width) & (cells_y >= 0) & (cells_y < height)
    offsets = np.arange(-half, half + 1)
    cols = cells_x[..., None] + offsets  # (N, L, K)
    rows = cells_y[..., None] + offsets
    col_ok = (cols >= 0) & (cols < width)
    row_ok = (rows >= 0) & (rows < height)
    item = np.arange(num)[:, None, None, None]
    landmark = np.arange(num_landmarks)[None, :, None, None]
    logits = heatmaps[
        item,
        np.clip(rows, 0, height - 1)[..., :, None],
        np.clip(cols, 0, width - 1)[..., None, :],
        landmark,
    ]  # (N, L, K, K): rows x cols; the sigmoid only on these windows, not the whole map
    window = _sigmoid(logits.astype(np.float64))
    window = window * (row_ok[..., :, None] & col_ok[..., None, :])
    total = window.sum(axis=(2, 3))
    peak = window.max(axis=(2, 3))
    safe_total = np.where(total > 0, total, 1.0)
    mean_col = (window.sum(axis=2) * cols).sum(axis=2) / safe_total
    mean_row = (window.sum(axis=3) * rows).sum(axis=2) / safe_total
    apply = inside & (peak >= min_confidence) & (total > 0)
    refined[..., 0] = np.where(apply, mean_col / width * INPUT_SIZE_PX, refined[..., 0])
    refined[..., 1] = np.where(apply, mean_row / height * INPUT_SIZE_PX, refined[..., 1])
    return refined


class BlazePoseLandmarkModel:
    """The BlazePose GHUM landmark model (lite, full or heavy) behind a runtime."""

    input_name = "image"

    def __init__(self, runtime: Runtime, config: BlazePoseConfig | None = None) -> None:
        self.runtime = runtime
        self.config = config or BlazePoseConfig()

    def preprocess(self, image_rgb: np.ndarray, rois: Roi) -> np.ndarray:
        """(N, 256, 256, 3) float32 crops in [0, 1], warped as MediaPipe warps them."""
        check_rgb_image(image_rgb)
        return warp_roi(image_rgb, rois, INPUT_SIZE_PX).astype(np.float32) / np.float32(255.0)

    def postprocess(self, outputs: Mapping[str, np.ndarray], rois: Roi) -> BlazePoses:
        """Batched outputs of ``len(rois)`` crops -> decoded poses (none dropped yet)."""
        num = len(rois)
        raw = outputs["landmarks"].reshape(num, NUM_MODEL_LANDMARKS, 5).astype(np.float64)
        landmarks_crop = refine_from_heatmap(
            raw[..., :3],
            outputs["heatmap"],
            self.config.heatmap_kernel_cells,
            self.config.heatmap_min_confidence,
        )
        world = outputs["world_landmarks"].reshape(num, NUM_MODEL_LANDMARKS, 3)
        return BlazePoses(
            rois=rois,
            landmarks_px=crop_to_image_points(landmarks_crop[:, :NUM_LANDMARKS, :2], rois),
            landmarks_crop_px=landmarks_crop,
            world_landmarks_crop_m=world[:, :NUM_LANDMARKS].astype(np.float64),
            visibility=_sigmoid(raw[:, :NUM_LANDMARKS, 3]),
            presence=_sigmoid(raw[:, :NUM_LANDMARKS, 4]),
            pose_presence=outputs["presence"].reshape(num).astype(np.float64),
        )

    def predict(self, image_rgb: np.ndarray, rois: Roi) -> BlazePoses:
        """One model pass over ``rois``: a pose per ROI, none dropped."""
        if len(rois) == 0:
            return self.postprocess(self._empty_outputs(), rois)
        outputs = self.runtime.infer({self.input_name: self.preprocess(image_rgb, rois)})
        return self.postprocess(outputs, rois)

    def is_present(self, poses: BlazePoses) -> np.ndarray:
        """(N,) whether each pose passes the presence threshold."""
        return poses.pose_presence >= self.config.presence_threshold

    def run(self, image_rgb: np.ndarray, rois: Roi) -> BlazePoses:
        """One model pass over ``rois``; drops poses below the presence threshold."""
        poses = self.predict(image_rgb, rois)
        return poses.select(self.is_present(poses))

    def refine(self, image_rgb: np.ndarray, poses: BlazePoses) -> tuple[BlazePoses, np.ndarray]:
        """``refinement_passes`` passes from the poses' own ROIs (auxiliary landmarks).

        Returns:
            The refined poses that stay present, and their (M,) indices into ``poses``.
        """
        kept = np.arange(len(poses))
        for _ in range(self.config.refinement_passes):
            if len(poses) == 0:
                break
            refined = self.predict(image_rgb, poses.next_rois())
            is_present = self.is_present(refined)
            poses, kept = refined.select(is_present), kept[is_present]
        return poses, kept

    def estimate(self, image_rgb: np.ndarray, rois: Roi) -> BlazePoses:
        """A pass from ``rois`` plus ``refinement_passes`` passes from the landmarks' own ROIs."""
        return self.refine(image_rgb, self.run(image_rgb, rois))[0]

    def augment(self, image_rgb: np.ndarray, poses: BlazePoses, augs: Augmentations) -> BlazePoses:
        """Re-estimate ``poses`` from rotated, scaled and flipped crops and average them.

        MeTRAbs-style test-time augmentation: every prediction is mapped back before
        averaging (2D through its crop matrix, 3D un-mirrored and rotated into the original
        ROI's axes; flips swap left and right joints back). The result keeps the poses' ROIs
        and auxiliary landmarks; averages are weighted by visibility.
        """
        if len(poses) == 0 or len(augs) == 1:
            return poses
        rois = augment_rois(poses.rois, augs)
        raw = self.postprocess(
            self.runtime.infer({self.input_name: self.preprocess(image_rgb, rois)}), rois
        )
        flipped = rois.is_flipped
        visibility = unflip_scores(raw.visibility, flipped, SKELETON)
        landmarks_px = unflip_joints(raw.landmarks_px, flipped, SKELETON, mirror_x=False)
        world_aug_m = unflip_joints(raw.world_landmarks_crop_m, flipped, SKELETON, mirror_x=True)
        # Into the original ROI's axes: the augmentation turned the crop by its rotation.
        turn = rotations_about_z(np.tile(augs.rotations_rad, len(poses)))
        world_m = world_aug_m @ np.swapaxes(turn, 1, 2)
        num_aug = len(augs)
        return BlazePoses(
            rois=poses.rois,
            landmarks_px=average_augmentations(landmarks_px, num_aug, visibility),
            landmarks_crop_px=poses.landmarks_crop_px,
            world_landmarks_crop_m=average_augmentations(world_m, num_aug, visibility),
            visibility=average_augmentations(visibility, num_aug),
            presence=average_augmentations(unflip_scores(raw.presence, flipped, SKELETON), num_aug),
            pose_presence=average_augmentations(raw.pose_presence[:, None], num_aug)[:, 0],
        )

    def _empty_outputs(self) -> dict[str, np.ndarray]:
        return {
            "landmarks": np.zeros((0, NUM_MODEL_LANDMARKS * 5), np.float32),
            "heatmap": np.zeros((0, 64, 64, NUM_MODEL_LANDMARKS), np.float32),
            "world_landmarks": np.zeros((0, NUM_MODEL_LANDMARKS * 3), np.float32),
            "presence": np.zeros((0, 1), np.float32),
        }
