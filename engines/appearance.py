"""Appearance descriptors: what a person's clothes look like, from the pixels under the body.

Each person's descriptor is a fixed-length vector built from regions the landmarks outline:
the torso (the quadrilateral of shoulders and hips, shrunk towards its centre) and the legs
(thick segments hip -> knee -> ankle, per side). Each region contributes a colour histogram
(hue x saturation for coloured pixels, brightness for grey ones, so dark and white clothes
differ) and a texture histogram (gradient orientations weighted by magnitude). Histograms are
L1-normalised and square-rooted (Hellinger): the dot product of two region blocks is their
Bhattacharyya coefficient. Each block is then scaled to unit length, so the cosine similarity
of two descriptors is a weighted mean of the per-region similarities; a region not visible
(joints not confident, outside the image, too few pixels) is all zeros and the row's whole
vector is zero when no region is.

Pure functions of an RGB image and landmarks; the tracker compares the vectors and never sees
an image.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from posecast.engines.geometry.skeletons import get_skeleton
from posecast.engines.images import check_rgb_image
from posecast.errors import InvalidInputError

_TORSO = ("left_shoulder", "right_shoulder", "right_hip", "left_hip")
_LEGS = (
    ("left_hip", "left_knee"),
    ("right_hip", "right_knee"),
    ("left_knee", "left_ankle"),
    ("right_knee", "right_ankle"),
)
REGIONS = ("torso", "thighs", "shins")
"""The regions of a descriptor, in order."""


@dataclass(frozen=True)
class AppearanceConfig:
    """How descriptors are made.

    Attributes:
        hue_bins, saturation_bins: the colour histogram of coloured pixels (saturation and
            value above ``min_chroma``): hue x saturation bins. More bins: finer colours,
            more sensitivity to lighting.
        value_bins: brightness bins of the grey pixels (black, grey, white clothes).
        orientation_bins: unsigned gradient orientations of the texture histogram (0: no
            texture block).
        min_chroma: saturation and value (0-255) below which a pixel counts as grey.
        min_joint_confidence: joints below it do not outline a region.
        limb_width: thickness of a leg segment, as a fraction of the torso's length
            (shoulder midpoint to hip midpoint).
        torso_shrink: the torso polygon is shrunk towards its centre by this fraction (arms
            and background at its edges).
        min_region_pixels: a region with fewer pixels inside the image is not visible.
        max_region_pixels: larger regions are sampled on a regular grid down to about this
            many pixels (the time per person then stays bounded for people near the camera;
            a histogram of 400 samples is as good as one of all pixels).
        region_weights: relative weight of torso, thighs, shins in the similarity.
    """

    hue_bins: int = 8
    saturation_bins: int = 3
    value_bins: int = 4
    orientation_bins: int = 0
    min_chroma: int = 10
    min_joint_confidence: float = 0.3
    limb_width: float = 0.35
    torso_shrink: float = 0.15
    min_region_pixels: int = 12
    max_region_pixels: int = 400
    region_weights: tuple[float, float, float] = (1.0, 1.0, 1.0)

    def __post_init__(self) -> None:
        for name in ("hue_bins", "saturation_bins", "value_bins"):
            if getattr(self, name) < 1:
                raise InvalidInputError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.orientation_bins < 0:
            raise InvalidInputError(f"orientation_bins must be >= 0, got {self.orientation_bins}")
        if len(self.region_weights) != len(REGIONS) or min(self.region_weights) <= 0:
            raise InvalidInputError(
                f"region_weights: expected {len(REGIONS)} positive weights, "
                f"got {self.region_weights}"
            )

    @property
    def colour_size(self) -> int:
        return self.hue_bins * self.saturation_bins + self.value_bins

    @property
    def region_size(self) -> int:
        return self.colour_size + self.orientation_bins

    @property
    def size(self) -> int:
        """Length D of a descriptor."""
        return len(REGIONS) * self.region_size


def appearance_descriptors(
    image_rgb: np.ndarray,
    joints2d_px: np.ndarray,
    joint_scores: np.ndarray,
    skeleton: str,
    config: AppearanceConfig | None = None,
) -> np.ndarray:
    """Appearance descriptors of the persons of one image.

    Args:
        image_rgb: (H, W, 3) uint8 RGB image.
        joints2d_px: (N, J, 2) landmarks in image pixels.
        joint_scores: (N, J) their confidence.
        skeleton: the joint set's name (it must name shoulders, hips, knees and ankles).
        config: descriptor settings.

    Returns:
        (N, D) float32 descriptors (``AppearanceConfig.size``); a row is zero where no region
        of that person is visible.

    Raises:
        InvalidInputError: not an RGB uint8 image, shapes that do not fit, or a skeleton
            without the needed joints.
    """
    check_rgb_image(image_rgb)
    config = config or AppearanceConfig()
    joints2d_px = np.asarray(joints2d_px, np.float64)
    joint_scores = np.asarray(joint_scores, np.float64)
    num_persons = len(joints2d_px)
    if joints2d_px.ndim != 3 or joints2d_px.shape[2] != 2:
        raise InvalidInputError(f"joints2d_px: expected (N, J, 2), got {joints2d_px.shape}")
    if joint_scores.shape != joints2d_px.shape[:2]:
        raise InvalidInputError(
            f"joint_scores: expected {joints2d_px.shape[:2]}, got {joint_scores.shape}"
        )
    descriptors = np.zeros((num_persons, config.size), np.float32)
    if num_persons == 0:
        return descriptors
    index = _joint_indices(skeleton)
    for person in range(num_persons):
        masks = _region_masks(
            joints2d_px[person], joint_scores[person], index, image_rgb.shape[:2], config
        )
        blocks = []
        for weight, mask in zip(config.region_weights, masks, strict=True):
            if mask is None:
                blocks.append(np.zeros(config.region_size))
                continue
            rows, cols, inside = mask
            block = _region_block(image_rgb[rows, cols], inside, config)
            blocks.append(np.sqrt(weight) * block)
        descriptors[person] = np.concatenate(blocks)
    return descriptors


def _joint_indices(skeleton: str) -> dict[str, int]:
    names = set(_TORSO) | {joint for limb in _LEGS for joint in limb}
    skeleton_format = get_skeleton(skeleton)
    missing = sorted(names - set(skeleton_format.joint_names))
    if missing:
        raise InvalidInputError(f"skeleton {skeleton} lacks {', '.join(missing)}")
    return {name: skeleton_format.index(name) for name in names}


def _gradients(crop_rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(H, W) gradient magnitude and unsigned orientation in [0, pi) of a crop's grey image."""
    grey = cv2.cvtColor(np.ascontiguousarray(crop_rgb), cv2.COLOR_RGB2GRAY).astype(np.float32)
    dx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3)
    dy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3)
    magnitude = np.hypot(dx, dy)
    orientation = np.mod(np.arctan2(dy, dx), np.pi)
    return magnitude, orientation


_Mask = tuple[slice, slice, np.ndarray]
"""A region: the rows and columns of its bounding rectangle and a boolean mask inside it."""


def _region_masks(
    joints_px: np.ndarray,
    scores: np.ndarray,
    index: dict[str, int],
    image_hw: tuple[int, int],
    config: AppearanceConfig,
) -> list[_Mask | None]:
    def point(name: str) -> np.ndarray | None:
        i = index[name]
        return joints_px[i] if scores[i] >= config.min_joint_confidence else None

    torso = [point(name) for name in _TORSO]
    if any(p is None for p in torso):
        return [None, None, None]
    torso_points = np.array(torso)
    shoulders_mid = torso_points[:2].mean(axis=0)
    hips_mid = torso_points[2:].mean(axis=0)
    torso_length_px = float(np.linalg.norm(shoulders_mid - hips_mid))
    if not np.isfinite(torso_points).all() or torso_length_px < 2.0:
        return [None, None, None]
    centre = torso_points.mean(axis=0)
    shrunk = centre + (1.0 - config.torso_shrink) * (torso_points - centre)
    width_px = max(round(config.limb_width * torso_length_px), 1)
    regions: list[_Mask | None] = [_polygon_mask(shrunk, image_hw, config)]
    for limbs in (_LEGS[:2], _LEGS[2:]):
        segments = [(point(a), point(b)) for a, b in limbs]
        segments = [(a, b) for a, b in segments if a is not None and b is not None]
        regions.append(_segments_mask(segments, width_px, image_hw, config))
    return regions


def _bounding_slices(
    points: np.ndarray, margin_px: int, image_hw: tuple[int, int]
) -> tuple[slice, slice, np.ndarray] | None:
    """Rectangle around points (plus margin) clipped to the image; None if empty."""
    height, width = image_hw
    low = np.floor(points.min(axis=0)).astype(int) - margin_px
    high = np.ceil(points.max(axis=0)).astype(int) + margin_px + 1
    x0, y0 = max(low[0], 0), max(low[1], 0)
    x1, y1 = min(high[0], width), min(high[1], height)
    if x1 <= x0 or y1 <= y0:
        return None
    return slice(y0, y1), slice(x0, x1), np.array([x0, y0])


def _polygon_mask(
    polygon_px: np.ndarray, image_hw: tuple[int, int], config: AppearanceConfig
) -> _Mask | None:
    bounds = _bounding_slices(polygon_px, 0, image_hw)
    if bounds is None:
        return None
    rows, cols, origin = bounds
    mask = np.zeros((rows.stop - rows.start, cols.stop - cols.start), np.uint8)
    cv2.fillPoly(mask, [np.round(polygon_px - origin).astype(np.int32)], 1)
    return _checked(rows, cols, mask, config)


def _segments_mask(
    segments: list[tuple[np.ndarray, np.ndarray]],
    width_px: int,
    image_hw: tuple[int, int],
    config: AppearanceConfig,
) -> _Mask | None:
    if not segments:
        return None
    points = np.array([p for segment in segments for p in segment])
    if not np.isfinite(points).all():
        return None
    bounds = _bounding_slices(points, width_px // 2 + 1, image_hw)
    if bounds is None:
        return None
    rows, cols, origin = bounds
    mask = np.zeros((rows.stop - rows.start, cols.stop - cols.start), np.uint8)
    for start, end in segments:
        a = tuple(int(v) for v in np.round(start - origin))
        b = tuple(int(v) for v in np.round(end - origin))
        cv2.line(mask, a, b, 1, thickness=width_px)
    return _checked(rows, cols, mask, config)


def _checked(rows: slice, cols: slice, mask: np.ndarray, config: AppearanceConfig) -> _Mask | None:
    inside = mask.astype(bool)
    if inside.sum() < config.min_region_pixels:
        return None
    return rows, cols, inside


def _region_block(crop_rgb: np.ndarray, inside: np.ndarray, config: AppearanceConfig) -> np.ndarray:
    """Square-rooted colour (and texture) histograms of one region, unit length.

    Args:
        crop_rgb: (h, w, 3) the region's bounding rectangle of the image.
        inside: (h, w) bool, the region's pixels.
    """
    stride = max(int(np.ceil(np.sqrt(inside.sum() / config.max_region_pixels))), 1)
    if stride > 1:
        crop_rgb, inside = crop_rgb[::stride, ::stride], inside[::stride, ::stride]
    hsv = cv2.cvtColor(np.ascontiguousarray(crop_rgb), cv2.COLOR_RGB2HSV)
    pixels = hsv[inside].astype(np.int32)  # (P, 3): hue 0-179, saturation, value 0-255
    hue, saturation, value = pixels[:, 0], pixels[:, 1], pixels[:, 2]
    is_chromatic = (saturation >= config.min_chroma) & (value >= config.min_chroma)
    hue_bin = hue * config.hue_bins // 180
    saturation_bin = (
        (saturation - config.min_chroma) * config.saturation_bins // (256 - config.min_chroma)
    )
    colour_bin = np.where(
        is_chromatic,
        hue_bin * config.saturation_bins + np.clip(saturation_bin, 0, config.saturation_bins - 1),
        config.hue_bins * config.saturation_bins + value * config.value_bins // 256,
    )
    colour = np.bincount(colour_bin, minlength=config.colour_size).astype(np.float64)
    parts = [np.sqrt(colour / colour.sum())]
    if config.orientation_bins:
        magnitude, orientation = (g[inside] for g in _gradients(crop_rgb))
        orientation_bin = np.minimum(
            (orientation / np.pi * config.orientation_bins).astype(int),
            config.orientation_bins - 1,
        )
        texture = np.bincount(orientation_bin, magnitude, minlength=config.orientation_bins)
        total = texture.sum()
        parts.append(np.sqrt(texture / total) if total > 0 else np.zeros(config.orientation_bins))
    block = np.concatenate(parts)
    norm = np.linalg.norm(block)
    return block / norm if norm > 0 else block
