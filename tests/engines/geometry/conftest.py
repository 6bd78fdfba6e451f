"""Fixtures for geometry tests: real mocap skeletons (CMU subject 131) and synthetic scenes."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from synthetic.mocap import MOCAP_PATH, blazepose_like_from_mocap


@pytest.fixture(scope="session")
def mocap() -> dict[str, np.ndarray]:
    """The excerpt: ``positions_cam_m`` (F, 38, 3) in camera axes (x right, y down, z away
    from the viewer, who faces the subject's front), centred on the root; ``names`` (38,)."""
    data = np.load(MOCAP_PATH)
    positions = data["positions_m"].astype(np.float64)
    # BVH world: y up, the subject faces +z with its left at +x. A camera in front of it
    # looks along -z_world with y down, so camera = (x, -y, -z)_world (180 deg about x).
    rotation = np.diag([1.0, -1.0, -1.0])
    positions_cam = positions @ rotation.T
    positions_cam -= positions_cam[:, :1]
    return {"positions_cam_m": positions_cam, "names": np.array(data["joint_names"])}


@pytest.fixture(scope="session")
def blazepose_poses(mocap: dict[str, np.ndarray]) -> np.ndarray:
    """(F, 33, 3) BlazePose-like poses in camera axes, metres, root (hip midpoint) at 0."""
    poses = blazepose_like_from_mocap(mocap["positions_cam_m"], mocap["names"])
    hip_mid = (poses[:, 23] + poses[:, 24]) / 2.0
    return poses - hip_mid[:, None]


def random_rotations(
    rng: np.random.Generator, count: int, max_tilt_deg: float = 20.0
) -> np.ndarray:
    """(count, 3, 3) rotations: any turn about the vertical (y) axis plus a small tilt."""
    yaw = rng.uniform(-np.pi, np.pi, count)
    tilt = np.deg2rad(rng.uniform(-max_tilt_deg, max_tilt_deg, (count, 2)))
    rotations = np.zeros((count, 3, 3))
    for i in range(count):
        cy, sy = np.cos(yaw[i]), np.sin(yaw[i])
        cx, sx = np.cos(tilt[i, 0]), np.sin(tilt[i, 0])
        cz, sz = np.cos(tilt[i, 1]), np.sin(tilt[i, 1])
        r_y = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
        r_x = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
        r_z = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
        rotations[i] = r_z @ r_x @ r_y
    return rotations


@pytest.fixture(name="random_rotations")
def random_rotations_fixture() -> Callable[[np.random.Generator, int], np.ndarray]:
    """:func:`random_rotations` for tests (fixtures keep test modules free of imports)."""
    return random_rotations


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)
