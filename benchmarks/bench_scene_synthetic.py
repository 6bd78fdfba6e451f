"""Scene self-calibration and ground-contact placement on synthetic scenes with known cameras.

People: CMU subject 131 (the BVH files of ``--mocap``, every 4th frame, or the committed
excerpt) as BlazePose-like landmarks, walking on a plane in front of a pinhole camera
(``tests/synthetic/ground_scenes.py``), 2D landmarks with Gaussian noise (a fraction of the
person's image height), optionally sitting people, false detections and bending frames.

Part 1, calibration: for each camera and condition, ``--seeds`` scenes; the errors of the
self-calibrated focal length, pitch, roll and camera height (median and 90th percentile of
the absolute error), how often the solver says ``calibrated``, and how often the truth lies
within 2 stated standard deviations.

Part 2, placement vs noise (the street camera): each person's root (hip midpoint) against
the truth, camera frame, metres: monocular placement (``reconstruct_absolute`` with a
skeleton whose size is off by N(-6 %, 5 %) per person, as BlazePose's are) with posecast's
default 55 degree K and with the true K; ground-contact placement with the true plane and K,
and with the self-calibrated scene (K and plane from the same scene's people).

    python benchmarks/bench_scene_synthetic.py [--mocap ../shared/data/mocap] [--seeds 10]
        [--json OUT]
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "tools"))

from extract_mocap_excerpt import forward_kinematics, parse_bvh  # noqa: E402
from realdata.report import format_table, write_json  # noqa: E402

from posecast.engines.geometry.camera import camera_to_world, intrinsics_from_fov  # noqa: E402
from posecast.engines.geometry.ground import world_from_ground_plane  # noqa: E402
from posecast.engines.geometry.placement import place_people  # noqa: E402
from posecast.engines.geometry.reconstruction import reconstruct_absolute  # noqa: E402
from posecast.engines.geometry.scene_calibration import (  # noqa: E402
    SceneEstimate,
    calibrate_scene,
    observations_from_poses,
)
from synthetic.ground_scenes import (  # noqa: E402
    GroundScene,
    GroundSceneConfig,
    generate_ground_scene,
)

CAMERAS = {
    "street 4 m": GroundSceneConfig(),
    "plaza 7.5 m (PETS-like)": GroundSceneConfig(
        image_size_wh=(768, 576), fov_deg=36.0, pitch_deg=15.0, roll_deg=-2.0,
        camera_height_m=7.5, range_m=(10.0, 40.0),
    ),
    "high 10 m, steep": GroundSceneConfig(
        fov_deg=70.0, pitch_deg=35.0, roll_deg=0.0, camera_height_m=10.0, range_m=(6.0, 30.0)
    ),
    "eye level 1.6 m": GroundSceneConfig(
        fov_deg=60.0, pitch_deg=3.0, roll_deg=1.0, camera_height_m=1.6, range_m=(3.0, 20.0)
    ),
}  # fmt: skip
CONDITIONS = {
    "1 % noise": {"noise_fraction": 0.01},
    "2 % noise": {"noise_fraction": 0.02},
    "2 % + outliers": {
        "noise_fraction": 0.02,
        "sitting_fraction": 0.15,
        "false_fraction": 0.1,
        "bending_fraction": 0.15,
    },
}
"""Outliers: 15 % of people sitting, false detections 10 % of observations, 15 % of walking
observations in bending or crouching frames."""
HEADERS = ["camera", "condition", "runs", "calibrated", "focal %", "pitch deg", "roll deg"]
HEADERS += ["height %", "in 2 sd"]
PLACEMENT_NOISE = (0.005, 0.01, 0.02, 0.03)
SIZE_BIAS = (0.94, 0.05)
"""Monocular skeletons' size relative to the truth: mean and spread between people."""


def load_mocap(folder: Path | None) -> tuple[np.ndarray, np.ndarray] | None:
    if folder is None:
        return None
    positions, names = [], None
    for path in sorted(folder.glob("*.bvh")):
        joints, motion = parse_bvh(path.read_text())
        positions.append(forward_kinematics(joints, motion[::4]))
        names = np.array([joint.name for joint in joints])
    return np.concatenate(positions), names


def observations(scene: GroundScene, config: GroundSceneConfig):
    return observations_from_poses(
        scene.joints2d_px,
        scene.joints_cam_m,
        scene.joint_scores,
        scene.person_ids,
        0,
        config.image_size_wh,
    )


def calibration_row(
    name: str, condition: str, config: GroundSceneConfig, seeds: int, mocap: Any
) -> tuple[list[Any], dict[str, Any]]:
    errors: dict[str, list[float]] = {k: [] for k in ("focal", "pitch", "roll", "height")}
    converged, covered, runs = 0, 0, 0
    for seed in range(seeds):
        run = replace(config, seed=seed)
        scene = generate_ground_scene(run, mocap)
        estimate = calibrate_scene(observations(scene, run), run.image_size_wh)
        runs += 1
        if not isinstance(estimate, SceneEstimate):
            continue
        focal_error = estimate.focal_px - scene.K[0, 0]
        errors["focal"].append(100 * focal_error / scene.K[0, 0])
        errors["pitch"].append(math.degrees(estimate.ground.pitch_rad) - run.pitch_deg)
        errors["roll"].append(math.degrees(estimate.ground.roll_rad) - run.roll_deg)
        height_error = estimate.ground.camera_height_m - run.camera_height_m
        errors["height"].append(100 * height_error / run.camera_height_m)
        converged += estimate.is_converged
        covered += (
            abs(focal_error) <= 2 * estimate.focal_px_sd
            and abs(errors["pitch"][-1]) <= 2 * estimate.pitch_deg_sd
            and abs(height_error) <= 2 * estimate.camera_height_m_sd
        )

    def cell(values: list[float]) -> str:
        if not values:
            return "-"
        absolute = np.abs(values)
        return f"{np.median(absolute):.2f} / {np.percentile(absolute, 90):.2f}"

    row = [name, condition, runs, f"{converged}/{runs}"]
    row += [cell(errors[k]) for k in ("focal", "pitch", "roll", "height")]
    row.append(f"{covered}/{runs}")
    return row, {"camera": name, "condition": condition, "errors": errors, "runs": runs,
                 "converged": converged, "covered_2sd": covered}  # fmt: skip


def placement_rows(
    seeds: int, mocap: Any
) -> tuple[list[list[Any]], list[list[Any]], list[dict[str, Any]]]:
    """Root error rows, ground-position rows (absolute | after a similarity fit) and
    details, per noise level."""
    root_rows, ground_rows, details = [], [], []
    base = CAMERAS["street 4 m"]
    for noise in PLACEMENT_NOISE:
        errors: dict[str, dict[str, list[float]]] = {}
        for seed in range(seeds):
            config = replace(base, seed=seed, noise_fraction=noise)
            scene = generate_ground_scene(config, mocap)
            for method, figures in placement_errors(scene, config, seed).items():
                for name, values in figures.items():
                    errors.setdefault(method, {}).setdefault(name, []).extend(values)

        def cell(method: str, name: str, errors: dict = errors) -> str:
            values = np.array(errors.get(method, {}).get(name, []))
            if not len(values):
                return "-"
            return f"{np.median(values):.2f} / {np.percentile(values, 90):.2f}"

        label = f"{100 * noise:.1f} %"
        root_rows.append([label, *(cell(m, "root") for m in PLACEMENT_METHODS)])
        ground_rows.append(
            [label, *(f"{cell(m, 'ground')} | {cell(m, 'similarity')}" for m in PLACEMENT_METHODS)]
        )
        details.append({"noise_fraction": noise, "errors_m": errors})
    return root_rows, ground_rows, details


PLACEMENT_METHODS = (
    "monocular, 55 deg K",
    "monocular, true K",
    "ground, true scene",
    "ground, self-calibrated",
)


def similarity_residuals(points: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """(N,) distances left after the best 2D similarity (Umeyama) from points to truth."""
    mean_p, mean_t = points.mean(axis=0), truth.mean(axis=0)
    p, t = points - mean_p, truth - mean_t
    u, singular, vt = np.linalg.svd(t.T @ p / len(p))
    sign = np.diag([1.0, np.sign(np.linalg.det(u @ vt))])
    rotation = u @ sign @ vt
    scale = np.trace(np.diag(singular) @ sign) / max(float((p**2).sum() / len(p)), 1e-12)
    return np.linalg.norm(scale * p @ rotation.T - t, axis=1)


def placement_errors(
    scene: GroundScene, config: GroundSceneConfig, seed: int
) -> dict[str, dict[str, list[float]]]:
    """Per placement method: each true observation's root error in the camera frame, its
    ground position error (x, y of the root in the world frame: the method's own where it
    has one, else the true one) and that error after one 2D similarity fit per scene."""
    rng = np.random.default_rng(1000 + seed)
    is_real = ~scene.is_false & ~scene.is_sitting
    truth = scene.joints_cam_m[is_real]
    pixels = scene.joints2d_px[is_real]
    scores = scene.joint_scores[is_real]
    ids = scene.person_ids[is_real]
    bias = {int(i): rng.normal(*SIZE_BIAS) for i in np.unique(ids)}
    size = np.array([bias[int(i)] for i in ids])
    root = truth[:, [23, 24]].mean(axis=1)
    shapes = (truth - root[:, None]) * size[:, None, None]
    true_world = world_from_ground_plane(scene.plane)
    ground_truth = camera_to_world(root, true_world)[:, :2]

    def monocular(K: np.ndarray) -> np.ndarray:
        return reconstruct_absolute(shapes, pixels, K, scores, config.image_size_wh).joints_cam_m

    def figures(joints: np.ndarray, world_from_camera: np.ndarray) -> dict[str, list[float]]:
        placed_root = joints[:, [23, 24]].mean(axis=1)
        ground = camera_to_world(placed_root, world_from_camera)[:, :2]
        return {
            "root": list(np.linalg.norm(placed_root - root, axis=1)),
            "ground": list(np.linalg.norm(ground - ground_truth, axis=1)),
            "similarity": list(similarity_residuals(ground, ground_truth)),
        }

    default_K = intrinsics_from_fov(*config.image_size_wh, 55.0)
    true_mono = monocular(scene.K)
    results = {
        "monocular, 55 deg K": figures(monocular(default_K), true_world),
        "monocular, true K": figures(true_mono, true_world),
    }
    grounded = place_people(true_mono, pixels, scores, scene.K, config.image_size_wh, scene.plane)
    results["ground, true scene"] = figures(grounded.joints_cam_m, true_world)
    estimate = calibrate_scene(observations(scene, config), config.image_size_wh)
    if isinstance(estimate, SceneEstimate) and estimate.is_converged:
        calibrated_mono = monocular(estimate.K)
        placed = place_people(
            calibrated_mono, pixels, scores, estimate.K, config.image_size_wh, estimate.ground
        )
        own_world = world_from_ground_plane(estimate.ground)
        results["ground, self-calibrated"] = figures(placed.joints_cam_m, own_world)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mocap", type=Path, help="folder of CMU BVH files (default: excerpt)")
    parser.add_argument("--seeds", type=int, default=10, help="scenes per cell (default 10)")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args()
    mocap = load_mocap(args.mocap)
    rows, details = [], []
    for name, camera in CAMERAS.items():
        for condition, changes in CONDITIONS.items():
            row, detail = calibration_row(
                name, condition, replace(camera, **changes), args.seeds, mocap
            )
            rows.append(row)
            details.append(detail)
            print(format_table("", HEADERS, [row]).splitlines()[-1], file=sys.stderr)
    source = f"mocap: {args.mocap or 'committed excerpt'}"
    print(
        format_table(
            f"Self-calibration on synthetic scenes ({source}; |error| median / 90th percentile "
            "over seeds; 'in 2 sd': focal, pitch and height errors within 2 stated sds)",
            HEADERS,
            rows,
        )
    )
    root_rows, ground_rows, placement_details = placement_rows(args.seeds, mocap)
    print()
    print(
        format_table(
            "Placement vs landmark noise, street camera: root error in the camera frame (m), "
            "median / 90th percentile",
            ["noise", *PLACEMENT_METHODS],
            root_rows,
        )
    )
    print()
    print(
        format_table(
            "Ground positions (m, median / 90th percentile): absolute in the world frame | "
            "after one 2D similarity fit per scene",
            ["noise", *PLACEMENT_METHODS],
            ground_rows,
        )
    )
    if args.json:
        write_json(args.json, {"calibration": details, "placement": placement_details})


if __name__ == "__main__":
    main()
