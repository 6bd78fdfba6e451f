"""Metric 3D and absolute placement of today's default pipeline on real, calibrated images.

MPI-INF-3DHP (4 frames, one person, true K and camera-frame 3D joints): posecast's
``h36m_17`` output mapped to 3DHP's 17 joints (``realdata.threedhp``), the person whose 2D
joints are nearest the labelled ones scored: MPJPE after aligning the pelvis, PA-MPJPE,
absolute root (pelvis) error, predicted over true root depth, and skeleton scale (summed
limb bone lengths, predicted over true). With the true K and with posecast's default
55 degree K, to show what the intrinsics are worth.

CMU Panoptic (5 moments x 5 calibrated HD views, 2-4 people, no 3D labels): each view is
estimated with its camera's true K, distortion and pose, the camera-space skeletons are moved
to the world, and the views are compared. Persons are grouped across views by their 2D joints
alone (median distance between the viewing rays of the 12 limb joints, complete-linkage
grouping: ``realdata.multiview.group_across_views``), so the monocular 3D does not decide who
is who. Reported per moment, medians over the pairs of views within each group: the distance
of the rays, of the world roots (pelvis), the mean joint distance and the root-aligned pose
distance; and each view's root against the pelvis triangulated from all the group's views.

Each "before" (the skeletons as the estimator places them, monocularly) has an "after": the
pipeline's placement (``posecast.pipeline.scene.place_poses``, default ``PlacementConfig``):
for 3DHP, which gives no ground plane, the monocular scale correction alone; for Panoptic,
ground-contact placement on each view's true ground plane (Panoptic's world is y down with
the floor at y = 0, so the scene is the camera with that plane given). Also per Panoptic view:
what self-calibration makes of its 5 moments (too few people: not enough evidence), and the
ratio of the ground-placed to the monocular range (the monocular size bias).

    python benchmarks/bench_placement_real.py --data ../shared/data/real [--json OUT]
        [--cache PATH] [--from-cache] [--threads N]
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from realdata.cache import FrameRecord
from realdata.keypoints import LIMB_KEYPOINTS
from realdata.multiview import (
    group_across_views,
    person_ray_distance_m,
    pixels_to_world_rays,
    triangulate_rays,
)
from realdata.panoptic import PanopticView, load_panoptic
from realdata.pipeline import Item, read_rgb, run_or_load
from realdata.pose3d import mpjpe_m, pa_mpjpe_m, root_error_m, scale_ratio
from realdata.report import (
    benchmark_arguments,
    configure_logging,
    describe_run,
    format_table,
    run_metadata,
    write_json,
)
from realdata.threedhp import H36M_17_NAMES, Frame3d, bone_indices, h36m_indices, load_3dhp

from posecast.engines.frames import FramePoses
from posecast.engines.geometry.camera import Camera
from posecast.engines.geometry.ground import ground_plane_from_world
from posecast.engines.geometry.scene import Scene, SceneState
from posecast.engines.geometry.scene_calibration import (
    GroundObservations,
    calibrate_scene,
    observations_from_poses,
)
from posecast.pipeline.scene import place_poses

DEFAULT_CACHE = "/tmp/posecast-realdata/placement.npz"
SKELETON = "h36m_17"
PELVIS = H36M_17_NAMES.index("pelvis")
MATCH_JOINTS = [H36M_17_NAMES.index(name) for name in LIMB_KEYPOINTS]
MAX_RAY_DISTANCE_M = 0.12
"""Two views' persons can be the same person if the median distance between the viewing rays
of their limb joints is at most this (same person: 1-8 cm here; different people: mostly
0.2-2 m, but down to ~6 cm when both stand near one epipolar plane, hence the complete-linkage
grouping over all views)."""
PLACEMENTS = ("before", "after")
PANOPTIC_UP_WORLD = (0.0, -1.0, 0.0)
"""Panoptic's world: y down, the floor at y = 0 (the views' triangulated heels and toes lie
at y = -0.03 m, median over the people)."""
THREEDHP_HEADERS = ["frame", "K", "placed", "persons", "MPJPE mm", "PA mm", "root err m"]
THREEDHP_HEADERS += ["true z m"]
THREEDHP_HEADERS += ["z ratio", "scale"]
PANOPTIC_HEADERS = ["moment", "placed", "persons/view", "views/group", "pairs", "ray cm"]
PANOPTIC_HEADERS += ["root m"]
PANOPTIC_HEADERS += ["joints m"]
PANOPTIC_HEADERS += ["pose m", "root vs tri m"]


def threedhp_cameras(frame: Frame3d) -> dict[str, Camera | None]:
    """The cameras each 3DHP frame is estimated with: true K, and None (posecast's default)."""
    return {"true": Camera(K=frame.K), "default": None}


def panoptic_camera(view: PanopticView) -> Camera:
    return Camera(
        K=view.camera.K,
        distortion=view.camera.distortion,
        world_from_camera=view.camera.world_from_camera,
    )


def panoptic_scene(view: PanopticView) -> Scene:
    """The view's camera with its true ground plane given."""
    camera = panoptic_camera(view)
    ground = ground_plane_from_world(camera.world_from_camera, PANOPTIC_UP_WORLD)
    return Scene(camera=camera, ground=ground, state=SceneState.GIVEN)


def image_size_wh(path: Any) -> tuple[int, int]:
    height, width = read_rgb(path).shape[:2]
    return width, height


def placed(poses: FramePoses, scene: Scene, size_wh: tuple[int, int], placement: str):
    """The estimator's poses as they are (before) or placed by the pipeline (after)."""
    if placement == "before":
        return poses
    return place_poses(poses, scene, size_wh)[0]


def threedhp_key(frame: Frame3d, k_name: str) -> str:
    return f"3dhp/{frame.image_path.name}/{k_name}"


def panoptic_key(view: PanopticView) -> str:
    return f"panoptic/{view.moment}/{view.camera.name}"


def estimation_items(
    frames: list[Frame3d], moments: dict[int, list[PanopticView]]
) -> Iterator[Item]:
    for frame in frames:
        image = read_rgb(frame.image_path)
        for k_name, camera in threedhp_cameras(frame).items():
            yield threedhp_key(frame, k_name), image, camera
    for views in moments.values():
        for view in views:
            yield panoptic_key(view), read_rgb(view.image_path), panoptic_camera(view)


def threedhp_row(
    frame: Frame3d,
    record: FrameRecord,
    joint_names: tuple[str, ...],
    k_name: str,
    placement: str = "before",
) -> dict[str, Any]:
    """Errors of the person nearest the labelled 2D joints (NaN if nobody was found)."""
    size = image_size_wh(frame.image_path)
    camera = threedhp_cameras(frame)[k_name] or Camera.from_fov(*size)
    poses = placed(record.poses, Scene(camera=camera), size, placement).to_skeleton(SKELETON)
    order = h36m_indices(joint_names)
    row: dict[str, Any] = {
        "frame": frame.image_path.stem,
        "K": k_name,
        "placed": placement,
        "persons": len(poses),
    }
    if not len(poses):
        return row
    joints2d = poses.joints2d_px[:, order]  # (N, 17, 2) in 3DHP order
    nearest = int(np.argmin(np.linalg.norm(joints2d - frame.joints2d_px, axis=-1).mean(axis=-1)))
    pred = poses.joints_cam_m[nearest : nearest + 1, order].astype(np.float64)  # (1, 17, 3)
    truth = frame.joints_cam_m[None]
    root = joint_names.index("pelvis")
    row.update(
        mpjpe_mm=float(mpjpe_m(pred, truth, root)[0] * 1e3),
        pa_mpjpe_mm=float(pa_mpjpe_m(pred, truth)[0] * 1e3),
        root_error_m=float(root_error_m(pred, truth, root)[0]),
        true_depth_m=float(truth[0, root, 2]),
        depth_ratio=float(pred[0, root, 2] / truth[0, root, 2]),
        scale_ratio=float(scale_ratio(pred, truth, bone_indices(joint_names))[0]),
    )
    return row


THREEDHP_FIELDS = ("mpjpe_mm", "pa_mpjpe_mm", "root_error_m", "true_depth_m", "depth_ratio")
THREEDHP_FIELDS += ("scale_ratio",)


def threedhp_table(
    joint_names: tuple[str, ...], frames: list[Frame3d], records: dict[str, FrameRecord]
) -> tuple[list[list[Any]], list[dict[str, Any]]]:
    details = [
        threedhp_row(frame, records[threedhp_key(frame, k_name)], joint_names, k_name, placement)
        for placement in PLACEMENTS
        for k_name in ("true", "default")
        for frame in frames
    ]
    rows = [
        [d["frame"], d["K"], d["placed"], d["persons"], *(d.get(f) for f in THREEDHP_FIELDS)]
        for d in details
    ]
    for placement in PLACEMENTS:
        for k_name in ("true", "default"):
            scored = [
                d
                for d in details
                if d["K"] == k_name and d["placed"] == placement and "mpjpe_mm" in d
            ]
            means = [np.mean([d[f] for d in scored]) if scored else None for f in THREEDHP_FIELDS]
            rows.append(["mean", k_name, placement, len(scored), *means])
    return rows, details


@dataclass(frozen=True)
class ViewPersons:
    """One view's persons in the world: (N, 17, 3) joints, (N, 17, 3) viewing rays of the 2D
    joints, and the camera centre (3,)."""

    joints_world_m: np.ndarray
    rays: np.ndarray
    centre_m: np.ndarray


def view_persons(view: PanopticView, record: FrameRecord, placement: str = "before") -> ViewPersons:
    camera = panoptic_camera(view)
    scene = panoptic_scene(view)
    size = image_size_wh(view.image_path)
    poses = placed(record.poses, scene, size, placement).to_skeleton(SKELETON)
    undistorted = camera.undistort_points(poses.joints2d_px)
    centre, rays = pixels_to_world_rays(undistorted, camera.K, camera.world_from_camera)
    return ViewPersons(camera.camera_to_world(poses.joints_cam_m), rays.reshape(-1, 17, 3), centre)


def moment_agreement(views: list[ViewPersons]) -> dict[str, Any]:
    """Cross-view figures of one moment: persons grouped across views by their rays, then
    every pair of views within a group compared, and each view against the triangulation."""
    costs = {
        (a, b): person_ray_distance_m(
            views[a].centre_m,
            views[a].rays[:, MATCH_JOINTS],
            views[b].centre_m,
            views[b].rays[:, MATCH_JOINTS],
        )
        for a, b in itertools.combinations(range(len(views)), 2)
    }
    groups = group_across_views(costs, MAX_RAY_DISTANCE_M)
    figures: dict[str, list[float]] = {field: [] for field in MEDIAN_FIELDS}
    for group in groups:
        for (a, i), (b, j) in itertools.combinations(group.items(), 2):
            ja, jb = views[a].joints_world_m[i : i + 1], views[b].joints_world_m[j : j + 1]
            figures["ray_cm"].append(float(costs[(a, b)][i, j]) * 100)
            figures["root_m"].append(float(root_error_m(ja, jb, PELVIS)[0]))
            figures["joints_m"].append(float(np.linalg.norm(ja - jb, axis=-1).mean()))
            figures["pose_m"].append(float(mpjpe_m(ja, jb, PELVIS)[0]))
        origins = np.stack([views[v].centre_m for v in group])
        directions = np.stack([views[v].rays[p, PELVIS] for v, p in group.items()])
        pelvis = triangulate_rays(origins, directions)
        figures["root_vs_triangulated_m"] += [
            float(np.linalg.norm(views[v].joints_world_m[p, PELVIS] - pelvis))
            for v, p in group.items()
        ]
    return {
        "persons_per_view": [len(v.joints_world_m) for v in views],
        "groups": [len(group) for group in groups],
        **figures,
    }


MEDIAN_FIELDS = ("ray_cm", "root_m", "joints_m", "pose_m", "root_vs_triangulated_m")


def panoptic_table(
    moments: dict[int, list[PanopticView]], records: dict[str, FrameRecord]
) -> tuple[list[list[Any]], list[dict[str, Any]]]:
    details = []
    for placement in PLACEMENTS:
        for moment, views in moments.items():
            persons = [view_persons(view, records[panoptic_key(view)], placement) for view in views]
            details.append({"moment": moment, "placed": placement, **moment_agreement(persons)})

    def medians(entries: list[dict[str, Any]]) -> list[float | None]:
        pooled = [[x for e in entries for x in e[f]] for f in MEDIAN_FIELDS]
        return [float(np.median(values)) if values else None for values in pooled]

    rows = []
    for placement in PLACEMENTS:
        chosen = [d for d in details if d["placed"] == placement]
        for d in chosen:
            rows.append(
                [
                    d["moment"],
                    placement,
                    _counts(d["persons_per_view"]),
                    _counts(d["groups"]),
                    len(d["ray_cm"]),
                    *medians([d]),
                ]
            )
        num_groups = sum(len(d["groups"]) for d in chosen)
        num_pairs = sum(len(d["ray_cm"]) for d in chosen)
        rows.append(["all", placement, "", f"{num_groups} groups", num_pairs, *medians(chosen)])
    return rows, details


def panoptic_views_report(
    moments: dict[int, list[PanopticView]], records: dict[str, FrameRecord]
) -> tuple[list[list[Any]], dict[str, Any]]:
    """Per camera: the share placed on the true ground, the ground over monocular range ratio
    (median), and what self-calibration makes of the camera's moments."""
    cameras: dict[str, list[PanopticView]] = {}
    for views in moments.values():
        for view in views:
            cameras.setdefault(view.camera.name, []).append(view)
    rows, ratios_all = [], []
    for name, views in sorted(cameras.items()):
        ratios, labels, parts = [], [], []
        for view in views:
            scene = panoptic_scene(view)
            size = image_size_wh(view.image_path)
            poses = records[panoptic_key(view)].poses
            after, placement = place_poses(poses, scene, size)
            labels.extend(placement)
            on = placement == "ground"
            before_range = np.linalg.norm(poses.joints_cam_m[on, 23:25].mean(axis=1), axis=1)
            after_range = np.linalg.norm(after.joints_cam_m[on, 23:25].mean(axis=1), axis=1)
            ratios.extend(after_range / before_range)
            parts.append(
                observations_from_poses(
                    scene.camera.undistort_points(poses.joints2d_px),
                    poses.joints_cam_m,
                    poses.joint_scores,
                    np.arange(len(poses)) + 100 * view.moment,
                    view.moment,
                    size,
                )
            )
        calibration = calibrate_scene(GroundObservations.concatenate(parts), size)
        outcome = getattr(calibration, "reason", None) or (
            f"focal {calibration.focal_px:.0f} (true {views[0].camera.K[0, 0]:.0f})"
        )
        ratios_all.extend(ratios)
        rows.append(
            [
                name,
                f"{100 * np.mean(np.array(labels) == 'ground'):.0f} %",
                float(np.median(ratios)) if ratios else None,
                outcome,
            ]
        )
    summary = {"ground_over_monocular_range_median": float(np.median(ratios_all))}
    summary["ground_over_monocular_range_iqr"] = [
        float(np.percentile(ratios_all, 25)),
        float(np.percentile(ratios_all, 75)),
    ]
    rows.append(["all", "", summary["ground_over_monocular_range_median"], ""])
    return rows, summary


def _counts(values: list[int]) -> str:
    return "/".join(map(str, values))


def main() -> None:
    parser = benchmark_arguments(__doc__.split("\n\n")[0], DEFAULT_CACHE)
    args = parser.parse_args()
    configure_logging()
    joint_names, frames = load_3dhp(args.data)
    moments = load_panoptic(args.data)
    records, metadata = run_or_load(
        lambda: estimation_items(frames, moments),
        2 * len(frames) + sum(len(views) for views in moments.values()),
        args.cache,
        args.from_cache,
        run_metadata(args.threads),
        threads=args.threads,
    )
    threedhp_rows, threedhp_details = threedhp_table(joint_names, frames, records)
    panoptic_rows, panoptic_details = panoptic_table(moments, records)
    view_rows, view_summary = panoptic_views_report(moments, records)
    print(describe_run(metadata, args.from_cache))
    print()
    print(
        format_table(
            "MPI-INF-3DHP: pelvis-aligned MPJPE, PA-MPJPE, root error, root depth and skeleton "
            "scale (predicted / true)",
            THREEDHP_HEADERS,
            threedhp_rows,
        )
    )
    print()
    print(
        format_table(
            "CMU Panoptic, true K, distortion and pose per view: medians over matched pairs of "
            "views (ray distance of the match, world root distance,\nmean joint distance, "
            "root-aligned pose distance) and of each view's root against the triangulated pelvis",
            PANOPTIC_HEADERS,
            panoptic_rows,
        )
    )
    print()
    print(
        format_table(
            "CMU Panoptic per camera, true ground plane: share placed on the ground, ground / "
            "monocular range (median), self-calibration from the camera's own 5 moments",
            ["camera", "on ground", "range ratio", "self-calibration"],
            view_rows,
        )
    )
    if args.json:
        write_json(
            args.json,
            {
                "metadata": metadata,
                "3dhp": threedhp_details,
                "panoptic": panoptic_details,
                "panoptic_views": view_summary,
            },
        )


if __name__ == "__main__":
    main()
