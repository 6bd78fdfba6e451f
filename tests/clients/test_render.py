"""Pictures: the ground grid and horizon of a known scene, the top-down trajectory plot."""

from __future__ import annotations

import math

import numpy as np

from posecast.clients.render import HORIZON_COLOUR_RGB, draw_ground, plot_trajectories
from posecast.engines.geometry.camera import Camera
from posecast.engines.geometry.ground import GroundPlane, horizon_line_px
from posecast.engines.geometry.scene import Scene, SceneState


def test_ground_grid_below_the_horizon_and_the_horizon_itself() -> None:
    camera = Camera.from_fov(640, 480, 60.0)
    plane = GroundPlane.from_angles(math.radians(10), math.radians(3), 3.0)
    image = np.zeros((480, 640, 3), np.uint8)
    drawn = draw_ground(image, Scene(camera=camera, ground=plane, state=SceneState.GIVEN))
    assert drawn is not image and not image.any()
    changed = drawn.any(axis=2)
    a, b, c = horizon_line_px(camera.K, plane)
    rows = -(a * np.arange(640) + c) / b  # the horizon's row in each column
    below = np.arange(480)[:, None] > rows[None, :] + 3
    above = np.arange(480)[:, None] < rows[None, :] - 3
    assert changed[below].mean() > 0.02  # grid lines on the ground
    assert not changed[above].any()  # nothing in the sky
    column = 320
    horizon_row = round(rows[column])
    assert tuple(drawn[horizon_row, column]) == HORIZON_COLOUR_RGB


def test_no_ground_no_grid() -> None:
    image = np.zeros((48, 64, 3), np.uint8)
    assert draw_ground(image, Scene(camera=Camera.from_fov(64, 48))) is image


def test_top_down_plot_marks_the_camera() -> None:
    picture = plot_trajectories(
        {1: [(0.0, 5.0), (1.0, 6.0)], 2: [(-2.0, 10.0)]},
        axis_names=("right (m)", "forward (m)"),
        camera_m=(0.0, 0.0),
    )
    assert picture.shape == (800, 800, 3) and (picture < 255).any()
