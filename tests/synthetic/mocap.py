"""Real human motion for synthetic tests: the CMU mocap excerpt and BlazePose-like landmarks.

``tests/data/mocap/cmu_131_01_excerpt.npz`` (see its README): 20 frames of CMU subject 131
walking (and bending) as 38 joint positions in the BVH world (y up, metres).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from posecast.engines.geometry.skeletons import BLAZEPOSE_33

MOCAP_PATH = Path(__file__).parents[1] / "data" / "mocap" / "cmu_131_01_excerpt.npz"


def load_mocap() -> tuple[np.ndarray, np.ndarray]:
    """(F, 38, 3) joint positions in the BVH world (y up, metres) and the (38,) joint names."""
    data = np.load(MOCAP_PATH)
    return data["positions_m"].astype(np.float64), np.array(data["joint_names"])


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
