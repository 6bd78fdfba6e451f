"""Translation error of absolute reconstruction vs 2D noise and depth (synthetic, exact 3D).

Real CMU mocap poses (tests/data/mocap, 38 joints) are turned to random headings, placed at
a given depth anywhere in the view of a 1280 x 720, 55 deg camera and projected; Gaussian
noise of sigma px is added to the 2D joints (the 3D stays exact, so this isolates the 2D
part of the error), and :func:`reconstruct_absolute` solves the translation.

Usage::

    python benchmarks/bench_reconstruction.py [--persons 500] [--seed 0]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from posecast.engines.geometry.camera import intrinsics_from_fov, project_points
from posecast.engines.geometry.reconstruction import reconstruct_absolute

MOCAP = Path(__file__).parents[1] / "tests" / "data" / "mocap" / "cmu_131_01_excerpt.npz"
SIGMAS_PX = (0.0, 1.0, 2.0, 4.0, 8.0)
DEPTHS_M = (3.0, 6.0, 12.0, 24.0)
WIDTH, HEIGHT = 1280, 720


def load_poses() -> np.ndarray:
    """(F, J, 3) root-relative mocap poses in camera axes (y down), metres."""
    positions = np.load(MOCAP)["positions_m"].astype(np.float64) @ np.diag([1.0, -1.0, -1.0])
    return positions - positions[:, :1]


def scene(
    poses: np.ndarray, depth_m: float, count: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Posed people at one depth, anywhere in the view: (joints_rel, translations)."""
    yaw = rng.uniform(-np.pi, np.pi, count)
    cos, sin = np.cos(yaw), np.sin(yaw)
    rotations = np.zeros((count, 3, 3))
    rotations[:, 0, 0], rotations[:, 0, 2], rotations[:, 1, 1] = cos, sin, 1.0
    rotations[:, 2, 0], rotations[:, 2, 2] = -sin, cos
    joints_rel = np.einsum("nij,nkj->nki", rotations, poses[rng.integers(0, len(poses), count)])
    half_width = depth_m * np.tan(np.deg2rad(55.0) / 2) * 0.8
    translations = np.stack(
        [
            rng.uniform(-half_width, half_width, count),
            rng.uniform(-0.2, 0.6, count) * depth_m / 3,
            np.full(count, depth_m),
        ],
        axis=1,
    )
    return joints_rel, translations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=500, help="persons per cell")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    poses = load_poses()
    K = intrinsics_from_fov(WIDTH, HEIGHT)
    scenes = {depth: scene(poses, depth, args.persons, rng) for depth in DEPTHS_M}
    noise = {depth: rng.normal(size=(args.persons, poses.shape[1], 2)) for depth in DEPTHS_M}

    header = "sigma px | " + " | ".join(f"{d:>4.0f} m mean / p95 mm" for d in DEPTHS_M)
    print(f"translation error, {args.persons} persons per cell, {WIDTH}x{HEIGHT} 55 deg")
    print(header)
    print("-" * len(header))
    solve_s = 0.0
    for sigma in SIGMAS_PX:
        cells = []
        dropped = 0
        for depth in DEPTHS_M:
            joints_rel, translations = scenes[depth]
            joints2d = project_points(joints_rel + translations[:, None], K)
            joints2d = joints2d + sigma * noise[depth]
            start = time.perf_counter()
            result = reconstruct_absolute(joints_rel, joints2d, K, image_size_wh=(WIDTH, HEIGHT))
            solve_s += time.perf_counter() - start
            error_mm = 1000 * np.linalg.norm(result.translations_m - translations, axis=1)
            error_mm = error_mm[result.is_valid]
            dropped += int((~result.is_valid).sum())
            cells.append(f"{error_mm.mean():>9.1f} / {np.percentile(error_mm, 95):>7.1f}")
        row = " | ".join(f"{cell:>20}" for cell in cells)
        print(f"{sigma:>8.0f} | {row} | dropped {dropped}")
    solves = len(SIGMAS_PX) * len(DEPTHS_M) * args.persons
    print(f"solve time: {1e6 * solve_s / solves:.2f} us per person (batches of {args.persons})")


if __name__ == "__main__":
    main()
