"""MeTRAbs crops: upright crop cameras, linear-light pixels with gamma, lens distortion."""

from __future__ import annotations

import numpy as np
import pytest

from posecast.engines.geometry.camera import Camera, intrinsics_from_fov
from posecast.engines.geometry.perspective_crops import image_to_perspective_crop_points
from posecast.engines.geometry.rotations import look_at_rotations, upright_look_at_rotations
from posecast.engines.metrabs.crops import cut_metrabs_crops, metrabs_crops, undistorted_boxes
from posecast.engines.metrabs.decoding import metrabs_augmentations

K = intrinsics_from_fov(1280, 720)


def test_upright_rotation_looks_along_the_ray_with_a_level_x_axis(rng) -> None:
    directions = np.concatenate([rng.uniform(-0.6, 0.6, (20, 2)), np.ones((20, 1))], axis=1)
    up = np.array([0.1, -0.98, 0.17]) / np.linalg.norm([0.1, -0.98, 0.17])
    rotations = upright_look_at_rotations(directions, up)
    unit = directions / np.linalg.norm(directions, axis=1, keepdims=True)
    np.testing.assert_allclose(
        np.einsum("nij,nj->ni", rotations, unit), [[0, 0, 1]] * 20, atol=1e-12
    )
    np.testing.assert_allclose(
        rotations @ np.swapaxes(rotations, 1, 2), np.tile(np.eye(3), (20, 1, 1)), atol=1e-12
    )
    np.testing.assert_allclose(np.linalg.det(rotations), 1.0)
    np.testing.assert_allclose(rotations[:, 0] @ up, 0.0, atol=1e-12)  # x is level
    assert np.all(rotations[:, 1] @ up < 0)  # y points down


def test_upright_and_roll_free_crops_agree_on_the_axes() -> None:
    on_axes = np.array([[0.0, 0.0, 1.0], [0.3, 0.0, 1.0], [0.0, -0.4, 1.0]])
    np.testing.assert_allclose(
        upright_look_at_rotations(on_axes, np.array([0.0, -1.0, 0.0])),
        look_at_rotations(on_axes),
        atol=1e-12,
    )


def test_a_straight_up_ray_still_gets_a_rotation() -> None:
    rotation = upright_look_at_rotations(np.array([[0.0, -1.0, 0.0]]), np.array([0.0, -1.0, 0.0]))
    np.testing.assert_allclose(rotation[0] @ rotation[0].T, np.eye(3), atol=1e-12)


def test_crops_follow_the_world_up_of_a_rolled_camera() -> None:
    roll = np.deg2rad(20.0)
    world_from_camera = np.eye(4)  # world z up; the camera looks along world y, rolled
    camera_axes = np.array([[1.0, 0, 0], [0, 0, -1.0], [0, 1.0, 0]])  # columns: cam x, y, z
    about_z = np.array(
        [[np.cos(roll), -np.sin(roll), 0], [np.sin(roll), np.cos(roll), 0], [0, 0, 1]]
    )
    world_from_camera[:3, :3] = camera_axes @ about_z
    camera = Camera(K=K, world_from_camera=world_from_camera)
    boxes = np.array([[300.0, 200.0, 400.0, 500.0], [900.0, 100.0, 1000.0, 400.0]])
    crops = metrabs_crops(boxes, camera, 256, metrabs_augmentations(1))
    up_cam = world_from_camera[2, :3]
    np.testing.assert_allclose(crops.crop_from_camera[:, 0] @ up_cam, 0.0, atol=1e-12)
    level = metrabs_crops(boxes, Camera(K=K), 256, metrabs_augmentations(1))
    assert np.abs(level.crop_from_camera[:, 0] @ up_cam).max() > 0.2  # the image's up is not


@pytest.mark.parametrize("gamma", [0.6, 0.8, 1.0])
def test_crop_pixels_are_warped_in_linear_light(gamma: float) -> None:
    image = np.full((720, 1280, 3), 128, np.uint8)
    one = metrabs_augmentations(1)
    crops = metrabs_crops(np.array([[500.0, 200.0, 700.0, 500.0]]), Camera(K=K), 256, one)
    pixels = cut_metrabs_crops(image, crops, np.array([gamma]))
    assert pixels.dtype == np.float32 and pixels.shape == (1, 256, 256, 3)
    np.testing.assert_allclose(pixels[0, 100:150, 100:150], (128 / 255) ** gamma, rtol=1e-5)
    far_left = metrabs_crops(np.array([[-900.0, 0, -700, 300]]), Camera(K=K), 256, one)
    outside = cut_metrabs_crops(image, far_left, np.array([gamma]))
    assert outside.max() == 0.0  # black beyond the image


def test_distorted_cameras_crop_where_the_lens_put_the_person() -> None:
    camera = Camera(K=K, distortion=np.array([-0.3, 0.1, 0.0, 0.0, 0.0]))
    center_ideal = np.array([[1000.0, 200.0]])
    observed = camera.distort_points(center_ideal)[0]
    image = np.zeros((720, 1280, 3), np.uint8)
    row, col = np.round(observed[::-1]).astype(int)
    image[row - 3 : row + 4, col - 3 : col + 4] = 255
    box_observed = np.concatenate([observed - 60, observed + 60])[None]
    crops = metrabs_crops(box_observed, camera, 256, metrabs_augmentations(1))
    pixels = cut_metrabs_crops(image, crops, np.array([1.0]), camera)
    ideal = camera.undistort_points(observed[None])[None]  # (1, 1, 2)
    centre = image_to_perspective_crop_points(ideal, crops)[0, 0]
    u, v = np.round(centre).astype(int)
    assert pixels[0, v, u].min() > 0.5  # the dot is where the ray through it lands
    undistorted = cut_metrabs_crops(image, crops, np.array([1.0]))  # ignoring the lens
    assert undistorted[0, v, u].max() < 0.5


def test_undistorted_boxes_without_distortion_are_copies() -> None:
    boxes = np.array([[1.0, 2.0, 30.0, 40.0]])
    out = undistorted_boxes(boxes, Camera(K=K))
    np.testing.assert_array_equal(out, boxes)
    assert out is not boxes
