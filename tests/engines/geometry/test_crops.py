import math

import cv2
import numpy as np
import pytest

from posecast.engines.geometry.camera import intrinsics_from_fov, project_points
from posecast.engines.geometry.crops import (
    Roi,
    camera_to_perspective_crop,
    crop_to_image_points,
    image_to_crop_points,
    image_to_perspective_crop_points,
    look_at_rotations,
    perspective_crop_to_camera,
    perspective_crop_to_image_points,
    perspective_crops,
    roi_crop_from_image,
    roi_from_alignment_points,
    roi_from_box,
    roi_look_at_rotations,
    roi_world_to_camera,
    rotations_about_z,
    warp_perspective_crops,
    warp_roi,
)
from posecast.errors import InvalidInputError

K = intrinsics_from_fov(1280, 720)


# --------------------------------------------------------------------------- BlazePose ROI


@pytest.mark.parametrize(
    ("box", "center", "side"),
    [
        ([100, 50, 300, 450], [200, 250], 500.0),  # tall box: height decides
        ([0, 0, 80, 40], [40, 20], 100.0),  # wide box: width decides
        ([10.5, 20.5, 11.5, 21.5], [11, 21], 1.25),  # one pixel
    ],
)
def test_roi_from_box(box: list[float], center: list[float], side: float) -> None:
    roi = roi_from_box(np.array([box]))
    np.testing.assert_allclose(roi.centers_px, [center])
    np.testing.assert_allclose(roi.sides_px, [side])
    np.testing.assert_array_equal(roi.rotations_rad, [0.0])


def test_roi_from_no_boxes() -> None:
    assert len(roi_from_box(np.zeros((0, 4)))) == 0


@pytest.mark.parametrize(
    ("p33", "p34", "rotation_deg", "side"),
    [
        ([100, 200], [100, 100], 0.0, 250.0),  # upright: scale point straight above
        ([100, 200], [200, 200], 90.0, 250.0),  # head to the right: crop x points down
        ([100, 200], [0, 200], -90.0, 250.0),  # head to the left
        ([100, 200], [100, 300], -180.0, 250.0),  # upside down: wraps to -180
        ([0, 0], [30, -30], 45.0, 2 * math.hypot(30, 30) * 1.25),  # leaning right
    ],
)
def test_roi_from_alignment_points(
    p33: list[float], p34: list[float], rotation_deg: float, side: float
) -> None:
    roi = roi_from_alignment_points(np.array([p33], float), np.array([p34], float))
    np.testing.assert_allclose(roi.centers_px, [p33])
    np.testing.assert_allclose(roi.sides_px, [side])
    np.testing.assert_allclose(np.rad2deg(roi.rotations_rad), [rotation_deg], atol=1e-9)


def test_alignment_rotation_puts_the_scale_point_straight_above_in_the_crop() -> None:
    rng = np.random.default_rng(0)
    p33 = rng.uniform(100, 500, (20, 2))
    p34 = p33 + rng.normal(0, 80, (20, 2))
    roi = roi_from_alignment_points(p33, p34)
    crop = image_to_crop_points(np.stack([p33, p34], axis=1), roi)
    delta = crop[:, 1] - crop[:, 0]
    np.testing.assert_allclose(delta[:, 0], 0.0, atol=1e-9)
    assert np.all(delta[:, 1] < 0)  # above: smaller crop y
    # and the ROI is 1.25 x twice the distance, so p34 sits 0.4 S above the centre.
    np.testing.assert_allclose(-delta[:, 1], 256 / 2 / 1.25)


def test_coincident_alignment_points_are_rejected() -> None:
    with pytest.raises(InvalidInputError, match="coincident"):
        roi_from_alignment_points(np.array([[1.0, 1.0]]), np.array([[1.0, 1.0]]))


def _mediapipe_crop_from_image(roi: Roi, size: int) -> np.ndarray:
    """What MediaPipe's OpenCV ImageToTensorConverter builds (float32, as it does)."""
    matrices = []
    for center, side, rotation in zip(roi.centers_px, roi.sides_px, roi.rotations_rad, strict=True):
        rect = cv2.RotatedRect(
            (float(center[0]), float(center[1])), (float(side), float(side)), math.degrees(rotation)
        )
        src = cv2.boxPoints(rect).astype(np.float32)
        dst = np.array([[0, size], [0, 0], [size, 0], [size, size]], np.float32)
        matrices.append(cv2.getPerspectiveTransform(src, dst))
    return np.array(matrices)


def _random_rois(count: int, seed: int = 1) -> Roi:
    rng = np.random.default_rng(seed)
    return Roi(
        centers_px=rng.uniform(0, 600, (count, 2)),
        sides_px=rng.uniform(50, 700, count),
        rotations_rad=rng.uniform(-np.pi, np.pi, count),
    )


def test_roi_matrix_matches_mediapipe_image_to_tensor() -> None:
    roi = _random_rois(16)
    ours = roi_crop_from_image(roi, 256)
    theirs = _mediapipe_crop_from_image(roi, 256)
    theirs = theirs / theirs[:, 2:3, 2:3]
    # Map a grid of image points with both: float32 corners limit agreement to ~1e-3 px.
    points = np.random.default_rng(2).uniform(0, 600, (16, 30, 2))
    from posecast.engines.geometry.crops import apply_homographies

    np.testing.assert_allclose(
        apply_homographies(points, ours), apply_homographies(points, theirs), atol=5e-3
    )


def test_landmark_projection_matches_mediapipe_in_normalized_coordinates() -> None:
    """MediaPipe's LandmarkProjectionCalculator works on a non-square image in normalised
    coordinates; in pixels it must agree with crop_to_image_points."""
    width, height = 1280, 720
    roi = _random_rois(8, seed=3)
    crop_px = np.random.default_rng(4).uniform(-20, 276, (8, 39, 2))
    ours = crop_to_image_points(crop_px, roi)
    x = crop_px[..., 0] / 256 - 0.5
    y = crop_px[..., 1] / 256 - 0.5
    angle = roi.rotations_rad[:, None]
    norm_width = (roi.sides_px / width)[:, None]
    norm_height = (roi.sides_px / height)[:, None]
    new_x = (np.cos(angle) * x - np.sin(angle) * y) * norm_width + roi.centers_px[:, :1] / width
    new_y = (np.sin(angle) * x + np.cos(angle) * y) * norm_height + roi.centers_px[:, 1:] / height
    np.testing.assert_allclose(ours, np.stack([new_x * width, new_y * height], -1), atol=1e-9)


def test_warp_roi_samples_the_mapped_image_points() -> None:
    """On a linear ramp, bilinear sampling is exact: crop pixel (i, j) shows image x at the
    point the crop matrix maps (j, i) to."""
    height, width = 400, 500
    ramp = np.tile(np.arange(width, dtype=np.float32), (height, 1))
    roi = Roi(centers_px=np.array([[250.0, 200.0]]), sides_px=np.array([200.0]),
              rotations_rad=np.array([0.4]))  # fmt: skip
    crop = warp_roi(ramp, roi, 64)[0]
    grid = np.stack(np.meshgrid(np.arange(64.0), np.arange(64.0)), axis=-1).reshape(1, -1, 2)
    expected = crop_to_image_points(grid, roi, 64)[0, :, 0].reshape(64, 64)
    np.testing.assert_allclose(crop, expected, atol=0.02)  # OpenCV's 1/32 px fixed point
    # The first pixel sits exactly on the rectangle corner (MediaPipe: corners to corners).
    corner = np.array([[250.0, 200.0]]) + 100.0 * np.array(
        [[-math.cos(0.4) + math.sin(0.4), -math.sin(0.4) - math.cos(0.4)]]
    )
    np.testing.assert_allclose(crop_to_image_points(np.zeros((1, 1, 2)), roi, 64)[0], corner)


def test_warp_roi_equals_mediapipe_warp_and_replicates_the_border() -> None:
    rng = np.random.default_rng(5)
    image = rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)
    roi = Roi(centers_px=np.array([[10.0, 100.0]]), sides_px=np.array([150.0]),
              rotations_rad=np.array([0.3]))  # fmt: skip
    ours = warp_roi(image, roi, 256)[0]
    matrix = _mediapipe_crop_from_image(roi, 256)[0]
    theirs = cv2.warpPerspective(image, matrix, (256, 256), flags=cv2.INTER_LINEAR,
                                 borderMode=cv2.BORDER_REPLICATE)  # fmt: skip
    assert np.abs(ours.astype(int) - theirs.astype(int)).max() <= 1
    # The crop's left edge lies off the image; there the replicated border differs from black.
    assert crop_to_image_points(np.array([[[0.0, 128.0]]]), roi)[0, 0, 0] < -10
    black = warp_roi(image, roi, 256, border_mode=cv2.BORDER_CONSTANT)[0]
    assert not black[:, 0].any()
    assert ours[:, 0].any()


@pytest.mark.parametrize("flipped", [False, True])
def test_roi_round_trip(flipped: bool) -> None:
    roi = _random_rois(10).with_flips(flipped)
    points = np.random.default_rng(6).uniform(-100, 800, (10, 33, 2))
    np.testing.assert_allclose(
        crop_to_image_points(image_to_crop_points(points, roi), roi), points, atol=1e-9
    )


def test_flipped_roi_mirrors_the_crop() -> None:
    roi = _random_rois(5)
    points = np.random.default_rng(7).uniform(0, 600, (5, 10, 2))
    plain = image_to_crop_points(points, roi)
    mirrored = image_to_crop_points(points, roi.with_flips(True))
    np.testing.assert_allclose(mirrored[..., 0], 256 - plain[..., 0], atol=1e-9)
    np.testing.assert_allclose(mirrored[..., 1], plain[..., 1], atol=1e-9)


def test_roi_rejects_bad_shapes() -> None:
    with pytest.raises(InvalidInputError, match="shape"):
        Roi(centers_px=np.zeros((2, 2)), sides_px=np.ones(3), rotations_rad=np.zeros(3))
    with pytest.raises(InvalidInputError, match="positive"):
        Roi(centers_px=np.zeros((1, 2)), sides_px=np.zeros(1), rotations_rad=np.zeros(1))
    with pytest.raises(InvalidInputError):
        roi_from_box(np.array([[10, 10, 5, 20]]))


# --------------------------------------------------------------------------- rotations


def test_look_at_rotation_turns_the_axis_without_roll(rng: np.random.Generator) -> None:
    directions = np.concatenate([rng.uniform(-1, 1, (50, 2)), rng.uniform(0.5, 2, (50, 1))], 1)
    rotations = look_at_rotations(directions)
    unit = directions / np.linalg.norm(directions, axis=1, keepdims=True)
    np.testing.assert_allclose(
        np.einsum("nij,nj->ni", rotations, unit), [[0, 0, 1]] * 50, atol=1e-12
    )
    np.testing.assert_allclose(
        rotations @ np.swapaxes(rotations, 1, 2), np.broadcast_to(np.eye(3), (50, 3, 3)), atol=1e-12
    )
    np.testing.assert_allclose(np.linalg.det(rotations), 1.0)
    for rotation in rotations:  # rotation axis perpendicular to the optical axis: no roll
        axis_angle, _ = cv2.Rodrigues(rotation)
        assert abs(axis_angle[2, 0]) < 1e-9


# --------------------------------------------------------------------------- perspective crops


def _boxes(rng: np.random.Generator, count: int) -> np.ndarray:
    corners = rng.uniform([-100, -100], [1200, 650], (count, 2))
    sizes = rng.uniform([30, 60], [300, 700], (count, 2))
    return np.concatenate([corners, corners + sizes], axis=1)


def test_perspective_crop_centres_the_box_and_fits_the_longer_side(
    rng: np.random.Generator,
) -> None:
    boxes = _boxes(rng, 20)
    crops = perspective_crops(boxes, K, 256)
    centers = (boxes[:, None, :2] + boxes[:, None, 2:]) / 2
    np.testing.assert_allclose(image_to_perspective_crop_points(centers, crops), 128.0, atol=1e-9)
    np.testing.assert_allclose(
        crops.K_crop[:, 0, 0] / K[0, 0], 256 / np.max(boxes[:, 2:] - boxes[:, :2], axis=1)
    )


def test_perspective_crop_is_the_virtual_camera_image(rng: np.random.Generator) -> None:
    """Projecting 3D points with (K_crop, R) equals warping their image projections with H."""
    boxes = _boxes(rng, 10)
    crops = perspective_crops(boxes, K, 256, rolls_rad=rng.uniform(-0.5, 0.5, 10), scales=1.1)
    points_cam = rng.uniform([-3, -2, 2], [3, 2, 15], (10, 25, 3))
    via_image = image_to_perspective_crop_points(project_points(points_cam, K), crops)
    via_crop_camera = project_points(camera_to_perspective_crop(points_cam, crops), crops.K_crop)
    np.testing.assert_allclose(via_image, via_crop_camera, atol=1e-8)


@pytest.mark.parametrize("flipped", [False, True])
def test_perspective_crop_round_trips(rng: np.random.Generator, flipped: bool) -> None:
    crops = perspective_crops(_boxes(rng, 12), K, 224, rolls_rad=0.3, is_flipped=flipped)
    points = rng.uniform(-50, 1300, (12, 17, 2))
    np.testing.assert_allclose(
        perspective_crop_to_image_points(image_to_perspective_crop_points(points, crops), crops),
        points,
        atol=1e-8,
    )
    points_3d = rng.normal(size=(12, 17, 3))
    np.testing.assert_allclose(
        perspective_crop_to_camera(camera_to_perspective_crop(points_3d, crops), crops),
        points_3d,
        atol=1e-12,
    )


def test_perspective_roll_has_the_roi_rotation_sense(rng: np.random.Generator) -> None:
    """A crop rolled by a at the image centre maps like a BlazePose ROI rotated by a."""
    center = K[:2, 2]
    box = np.array([[center[0] - 100, center[1] - 100, center[0] + 100, center[1] + 100]])
    crops = perspective_crops(box, K, 256, rolls_rad=0.5)
    roi = Roi(centers_px=center[None], sides_px=np.array([200.0]), rotations_rad=np.array([0.5]))
    offsets = rng.uniform(-5, 5, (1, 10, 2))  # small: the perspective crop is not affine
    np.testing.assert_allclose(
        image_to_perspective_crop_points(center + offsets, crops),
        image_to_crop_points(center + offsets, roi),
        atol=1e-3,
    )


def test_antialiasing_suppresses_aliasing_when_shrinking() -> None:
    checker = (np.indices((1024, 1024)).sum(axis=0) % 2 * 255).astype(np.uint8)
    K_big = intrinsics_from_fov(1024, 1024)
    box = np.array([[0.0, 0.0, 1024.0, 1024.0]])
    crops = perspective_crops(box, K_big, 64)  # 16x shrink
    smooth = warp_perspective_crops(checker, crops)[0].astype(float)
    aliased = warp_perspective_crops(checker, crops, antialias=False)[0].astype(float)
    # Without the pyramid the checkerboard folds into a moire pattern.
    assert smooth[8:-8, 8:-8].std() < 2.0
    assert aliased[8:-8, 8:-8].std() > 10.0
    assert abs(smooth[8:-8, 8:-8].mean() - 127.5) < 5.0


@pytest.mark.parametrize("antialias", [False, True])
def test_perspective_warp_samples_the_right_place(antialias: bool) -> None:
    height, width = 720, 1280
    ramp = np.tile(np.arange(width, dtype=np.float32), (height, 1))
    boxes = np.array([[300.0, 100.0, 700.0, 700.0], [900.0, 50.0, 1250.0, 650.0]])
    crops = perspective_crops(boxes, K, 64)
    warped = warp_perspective_crops(ramp, crops, antialias=antialias)
    grid = np.stack(np.meshgrid(np.arange(64.0), np.arange(64.0)), axis=-1).reshape(1, -1, 2)
    expected = perspective_crop_to_image_points(np.repeat(grid, 2, 0), crops)[..., 0]
    # A linear ramp survives blurring, so even pyramid levels must agree (to ~0.2 px).
    inside = expected < width - 8  # the second box runs off the image (black border)
    assert inside.mean() > 0.8
    np.testing.assert_allclose(warped.reshape(2, -1)[inside], expected[inside], atol=0.25)


# --------------------------------------------------------------------------- BlazePose 3D


def test_world_landmarks_rotate_like_mediapipe() -> None:
    roi = _random_rois(4)
    points = np.random.default_rng(8).normal(size=(4, 33, 3))
    rotated = roi_world_to_camera(points, roi, perspective_correction=False)
    angle = roi.rotations_rad[:, None]
    np.testing.assert_allclose(
        rotated[..., 0], np.cos(angle) * points[..., 0] - np.sin(angle) * points[..., 1]
    )
    np.testing.assert_allclose(
        rotated[..., 1], np.sin(angle) * points[..., 0] + np.cos(angle) * points[..., 1]
    )
    np.testing.assert_array_equal(rotated[..., 2], points[..., 2])


def test_perspective_correction_recovers_the_camera_orientation(
    blazepose_poses: np.ndarray, rng: np.random.Generator
) -> None:
    """A pose seen by the ROI's look-at camera (in the rotated crop axes) maps back exactly."""
    poses = blazepose_poses[:6]
    roi = Roi(
        centers_px=rng.uniform([0, 0], [1280, 720], (6, 2)),
        sides_px=np.full(6, 300.0),
        rotations_rad=rng.uniform(-1, 1, 6),
    )
    look_at = roi_look_at_rotations(roi, K)
    # Crop axes: X_crop = Rz(r)^T R_lookat X_cam.
    in_crop = np.einsum(
        "nji,nkj->nki", rotations_about_z(roi.rotations_rad), poses @ np.swapaxes(look_at, 1, 2)
    )
    np.testing.assert_allclose(roi_world_to_camera(in_crop, roi, K), poses, atol=1e-12)
    with pytest.raises(InvalidInputError, match="needs K"):
        roi_world_to_camera(in_crop, roi)


def test_perspective_correction_is_identity_on_the_optical_axis() -> None:
    roi = Roi(centers_px=K[None, :2, 2], sides_px=np.array([300.0]), rotations_rad=np.array([0.2]))
    points = np.random.default_rng(9).normal(size=(1, 33, 3))
    np.testing.assert_allclose(
        roi_world_to_camera(points, roi, K),
        roi_world_to_camera(points, roi, perspective_correction=False),
        atol=1e-12,
    )
