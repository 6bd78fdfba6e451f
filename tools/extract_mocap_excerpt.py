"""Convert a short excerpt of a BVH motion capture file into joint positions (one-off tool).

Used to make ``tests/data/mocap/cmu_131_01_excerpt.npz`` from the scaled CMU BVH files
(CMU Graphics Lab Motion Capture Database, subject 131, scaled BVH from the MIT-licensed
bvh11 repository). The tests read only the small ``.npz``; they never need this script or
the BVH files.

Usage::

    python tools/extract_mocap_excerpt.py MOCAP_DIR/scaled_131_01.bvh \
        tests/data/mocap/cmu_131_01_excerpt.npz --num-frames 20 --step 40

The output holds ``positions_m`` (F, J, 3) float32 joint positions in metres in the BVH
world frame (y up), ``joint_names`` (J,) and ``parents`` (J,) (-1 for the root). End sites
are kept as joints named ``<parent>_end`` (the head end site is the top of the head).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class BvhJoint:
    name: str
    parent: int
    offset_m: np.ndarray
    channels: list[str] = field(default_factory=list)


def parse_bvh(text: str) -> tuple[list[BvhJoint], np.ndarray]:
    """Parse a BVH file into its joints (in file order) and its motion table (F, C)."""
    tokens = text.split()
    joints: list[BvhJoint] = []
    stack: list[int] = []
    i = 0
    while tokens[i] != "MOTION":
        token = tokens[i]
        if token in ("ROOT", "JOINT"):
            parent = stack[-1] if stack else -1
            joints.append(BvhJoint(tokens[i + 1], parent, np.zeros(3)))
            i += 2
        elif token == "End":
            parent = stack[-1]
            joints.append(BvhJoint(f"{joints[parent].name}_end", parent, np.zeros(3)))
            i += 2
        elif token == "{":
            stack.append(len(joints) - 1)
            i += 1
        elif token == "}":
            stack.pop()
            i += 1
        elif token == "OFFSET":
            joints[stack[-1]].offset_m = np.array([float(v) for v in tokens[i + 1 : i + 4]])
            i += 4
        elif token == "CHANNELS":
            count = int(tokens[i + 1])
            joints[stack[-1]].channels = tokens[i + 2 : i + 2 + count]
            i += 2 + count
        else:
            i += 1
    num_frames = int(tokens[tokens.index("Frames:", i) + 1])
    start = tokens.index("Time:", i) + 2
    num_channels = sum(len(joint.channels) for joint in joints)
    values = np.array(tokens[start : start + num_frames * num_channels], dtype=np.float64)
    return joints, values.reshape(num_frames, num_channels)


def _axis_rotation(axis: str, angle_deg: float) -> np.ndarray:
    angle = np.deg2rad(angle_deg)
    c, s = np.cos(angle), np.sin(angle)
    if axis == "X":
        return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])
    if axis == "Y":
        return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def forward_kinematics(joints: list[BvhJoint], motion: np.ndarray) -> np.ndarray:
    """Joint positions (F, J, 3) in the BVH world frame from the motion table (F, C).

    Rotation channels compose in their listed order (intrinsic), as the BVH format defines.
    """
    positions = np.zeros((len(motion), len(joints), 3))
    for frame_index, frame in enumerate(motion):
        rotations = [np.eye(3)] * len(joints)
        column = 0
        for joint_index, joint in enumerate(joints):
            local_rotation = np.eye(3)
            translation = joint.offset_m.copy()
            for channel in joint.channels:
                value = frame[column]
                column += 1
                if channel.endswith("position"):
                    translation["XYZ".index(channel[0])] += value
                else:
                    local_rotation = local_rotation @ _axis_rotation(channel[0], value)
            if joint.parent < 0:
                positions[frame_index, joint_index] = translation
                rotations[joint_index] = local_rotation
            else:
                parent_rotation = rotations[joint.parent]
                positions[frame_index, joint_index] = (
                    positions[frame_index, joint.parent] + parent_rotation @ translation
                )
                rotations[joint_index] = parent_rotation @ local_rotation
    return positions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bvh", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("--num-frames", type=int, default=20)
    parser.add_argument("--step", type=int, default=40, help="take every step-th frame")
    args = parser.parse_args()
    joints, motion = parse_bvh(args.bvh.read_text())
    excerpt = motion[: args.num_frames * args.step : args.step]
    positions_m = forward_kinematics(joints, excerpt)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        args.output,
        positions_m=positions_m.astype(np.float32),
        joint_names=np.array([joint.name for joint in joints]),
        parents=np.array([joint.parent for joint in joints], dtype=np.int64),
    )
    print(f"wrote {args.output}: {positions_m.shape[0]} frames, {positions_m.shape[1]} joints")


if __name__ == "__main__":
    main()
