"""Fixtures for geometry tests: real mocap skeletons (CMU subject 131) and synthetic scenes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from posecast.engines.geometry.skeletons import BLAZEPOSE_33

MOCAP_PATH = Path(__file__).parents[2] / "data" / "mocap" / "cmu_131_01_excerpt.npz"


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


def _unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)


def blazepose_like_from_mocap(positions: np.ndarray, names: np.ndarray) -> np.ndarray:
    """(F, 38, 3) CMU joints -> (F, 33, 3) BlazePose-like landmarks (documented approximation).

    Limb landmarks are the CMU joints (shoulders, elbows, wrists, knees, ankles); hips are
    the CMU hip joint centres moved outwards by 1 / 0.7 and up by 2.5 cm (the offset assumed
    between BlazePose hip landmarks and joint centres, docs/geometry.md); face points sit on
    a head frame (centre = mid Head/Head_end joints) at typical adult offsets; index = finger
    end site, pinky = finger joint, thumb = thumb end site; heel 5 cm behind and 6 cm below
    the ankle; foot index = toe end site.
    """
    index = {str(name): i for i, name in enumerate(names)}

    def joint(name: str) -> np.ndarray:
        return positions[:, index[name]]

    left_vec = _unit(joint("LeftHip") - joint("RightHip"))
    up = _unit(joint("Neck") - joint("Hips"))  # towards the head
    forward = _unit(np.cross(left_vec, up))  # the way the subject faces
    head_center = (joint("Head") + joint("Head_end")) / 2.0
    head_up = _unit(joint("Head_end") - joint("Head"))
    out = np.zeros((len(positions), BLAZEPOSE_33.num_joints, 3))

    def put(name: str, value: np.ndarray) -> None:
        out[:, BLAZEPOSE_33.index(name)] = value

    put("nose", head_center + 0.09 * forward - 0.02 * head_up)
    hip_mid = (joint("LeftHip") + joint("RightHip")) / 2.0
    for side, sign, prefix in (("left", 1.0, "Left"), ("right", -1.0, "Right")):
        lateral = sign * left_vec
        short = prefix[0]
        put(f"{side}_eye_inner", head_center + 0.07 * forward + 0.03 * head_up + 0.015 * lateral)
        put(f"{side}_eye", head_center + 0.07 * forward + 0.03 * head_up + 0.03 * lateral)
        put(f"{side}_eye_outer", head_center + 0.065 * forward + 0.03 * head_up + 0.045 * lateral)
        put(f"{side}_ear", head_center + 0.075 * lateral)
        put(f"mouth_{side}", head_center + 0.08 * forward - 0.05 * head_up + 0.025 * lateral)
        for part in ("Shoulder", "Elbow", "Wrist", "Knee", "Ankle"):
            put(f"{side}_{part.lower()}", joint(f"{prefix}{part}"))
        hip = joint(f"{prefix}Hip")
        put(f"{side}_hip", hip_mid + (hip - hip_mid) / 0.7 + 0.025 * up)
        put(f"{side}_index", joint(f"{short}Fingers_end"))
        put(f"{side}_pinky", joint(f"{short}Fingers"))
        put(f"{side}_thumb", joint(f"{short}Thumb_end"))
        put(f"{side}_heel", joint(f"{prefix}Ankle") - 0.05 * forward - 0.06 * up)
        put(f"{side}_foot_index", joint(f"{prefix}Toe_end"))
    return out


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
