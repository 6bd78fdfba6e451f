"""One stream's scene: what is given, what it learns from the people it sees, and where each
person is placed.

``StreamScene`` holds a stream's scene (``posecast.engines.geometry.scene.Scene``): the
user's camera file as given, or what self-calibration has estimated so far. Each frame the
pipeline asks it for the current scene (its camera goes to the estimator), has it place the
frame's people (``place_poses``: on the ground plane where the evidence allows, monocular
otherwise), and after tracking hands it the tracked people (``observe``): upright people with
their feet and head seen are kept as observations (per track, bounded), and every
``refit_every_frames`` frames with people the calibration is solved again. The estimated
focal length and ground plane are used once the solution has ``converged`` (state
``calibrated``); before, people are placed monocularly with the default (or given) K.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace

import numpy as np

from posecast.engines.frames import FramePoses
from posecast.engines.geometry.camera import Camera, camera_to_world
from posecast.engines.geometry.ground import GroundPlane, ground_plane_from_world
from posecast.engines.geometry.placement import place_people
from posecast.engines.geometry.scene import Scene, SceneState, SceneUncertainty
from posecast.engines.geometry.scene_calibration import (
    GroundObservations,
    NotEnoughEvidence,
    SceneEstimate,
    calibrate_scene,
    observations_from_poses,
)
from posecast.engines.geometry.scene_config import CalibrationConfig, PlacementConfig
from posecast.engines.geometry.skeletons import BLAZEPOSE_33
from posecast.errors import InvalidInputError
from posecast.tracker.track import is_predicted

logger = logging.getLogger(__name__)

CALIBRATED_REFIT_FACTOR = 10
"""Once calibrated, a stream re-solves this many times less often."""


def scene_of_camera(camera: Camera) -> Scene:
    """The scene of a user's camera: given when it has extrinsics (whose world frame, z up
    with the ground at z = 0, then also gives the ground, if the camera is above it)."""
    if camera.world_from_camera is None:
        return Scene(camera=camera)
    try:
        ground = ground_plane_from_world(camera.world_from_camera)
    except InvalidInputError:
        ground = None
    return Scene(camera=camera, ground=ground, state=SceneState.GIVEN)


def with_world_joints(poses: FramePoses, scene: Scene | Camera) -> FramePoses:
    """``poses`` with ``joints_world_m`` when the scene (or camera) defines a world frame:
    the user's extrinsics, else the ground plane's gravity-aligned frame."""
    world_from_camera = scene.world_from_camera
    if world_from_camera is None:
        return poses
    world = camera_to_world(poses.joints_cam_m, world_from_camera)
    return replace(poses, joints_world_m=world.astype(np.float32))


def place_poses(
    poses: FramePoses,
    scene: Scene,
    image_size_wh: tuple[int, int],
    config: PlacementConfig | None = None,
) -> tuple[FramePoses, np.ndarray]:
    """Place a frame's (untracked, native-skeleton) people with the scene's ground plane when
    it is given or calibrated (``placement.place_people``), monocularly otherwise.

    Returns:
        The placed poses (``joints_cam_m`` replaced) and (N,) ``"ground"`` or
        ``"monocular"`` per person.
    """
    if poses.skeleton != BLAZEPOSE_33.name:
        # Ground contact reads BlazePose's heel and toe landmarks; another engine's joint set
        # (MeTRAbs') keeps the engine's own metric placement, unscaled.
        return poses, np.full(len(poses), "monocular", dtype="<U9")
    is_known = scene.state in (SceneState.GIVEN, SceneState.CALIBRATED)
    camera = scene.camera
    placement = place_people(
        poses.joints_cam_m,
        camera.undistort_points(poses.joints2d_px),
        poses.joint_scores,
        camera.K,
        image_size_wh,
        scene.ground if is_known else None,
        config,
    )
    placed = replace(poses, joints_cam_m=placement.joints_cam_m.astype(np.float32))
    return placed, placement.labels


def placements_after_tracking(
    detections: FramePoses, placements: np.ndarray, tracked: FramePoses
) -> np.ndarray:
    """(M,) the placement of each of the tracker's output rows: a row that reports a
    detection of this frame (the same box and 2D joints) has its placement, predicted rows
    of unseen tracks ``""``."""
    labels = np.full(len(tracked), "", dtype="<U9")
    if not len(detections) or not len(tracked):
        return labels
    for row in range(len(tracked)):
        same = np.flatnonzero(
            (detections.boxes_xyxy == tracked.boxes_xyxy[row]).all(axis=1)
            & (detections.joints2d_px == tracked.joints2d_px[row]).all(axis=(1, 2))
        )
        if len(same):
            labels[row] = placements[same[0]]
    return labels


@dataclass(frozen=True)
class SceneStatus:
    """The scene as a frame's message reports it.

    Attributes:
        state: see ``SceneState``.
        focal_px: the focal length in use.
        ground: (camera_height_m, pitch_deg, roll_deg) in use or of the latest estimate;
            None when no plane is known or estimated.
        uncertainty: of the latest estimate (or the loaded file's), else None.
        detail: why the scene is not calibrated yet (empty otherwise).
    """

    state: SceneState
    focal_px: float
    ground: tuple[float, float, float] | None = None
    uncertainty: SceneUncertainty | None = None
    detail: str = ""


def scene_status(scene: Scene, detail: str = "", ground: GroundPlane | None = None) -> SceneStatus:
    """The status of a scene (``ground``: report this plane instead of the scene's, e.g. an
    estimate not yet in use)."""
    plane = ground if ground is not None else scene.ground
    angles = None
    if plane is not None:
        angles = (
            plane.camera_height_m,
            math.degrees(plane.pitch_rad),
            math.degrees(plane.roll_rad),
        )
    return SceneStatus(
        state=scene.state,
        focal_px=float(scene.camera.K[0, 0]),
        ground=angles,
        uncertainty=scene.uncertainty,
        detail=detail,
    )


def place_single_image(
    poses: FramePoses,
    scene: Scene,
    image_size_wh: tuple[int, int],
    config: PlacementConfig | None = None,
) -> tuple[FramePoses, np.ndarray]:
    """One image's people placed with a given scene and put in its world frame, if any
    (``posecast pose``, ``POST /v1/poses``): the placed poses and their placements."""
    placed, placements = place_poses(poses, scene, image_size_wh, config)
    return with_world_joints(placed, scene), placements


class StreamScene:
    """A stream's scene over time (module docstring).

    Args:
        given: the user's scene (camera file), or None (a pinhole with ``fov_deg``).
        fov_deg: field of view used while K is unknown and not yet calibrated.
        calibration: self-calibration settings (``is_enabled`` False: nothing estimated).
        placement: placement settings.
    """

    def __init__(
        self,
        given: Scene | None,
        fov_deg: float,
        calibration: CalibrationConfig | None = None,
        placement: PlacementConfig | None = None,
    ) -> None:
        self.given = given
        self.fov_deg = fov_deg
        self.calibration = calibration or CalibrationConfig()
        self.placement = placement or PlacementConfig()
        self.estimate: SceneEstimate | NotEnoughEvidence | None = None
        self._scene: Scene | None = None
        self._observations = GroundObservations.empty()
        self._frames_since_fit = 0
        self._next_untracked_id = -1

    @property
    def is_estimating(self) -> bool:
        """Whether anything is left to estimate."""
        is_given = self.given is not None and self.given.state is SceneState.GIVEN
        return self.calibration.is_enabled and not is_given

    def current(self, width: int, height: int) -> Scene:
        """The scene to use for a ``width`` x ``height`` frame.

        Raises:
            InvalidInputError: the given scene's K belongs to another image size.
        """
        if self.given is not None:
            self.given.check_image_size(width, height)
        if self._scene is None or self._scene.image_size_wh != (width, height):
            self._scene = self._initial_scene(width, height)
        return self._scene

    def _initial_scene(self, width: int, height: int) -> Scene:
        if self.given is not None:
            scene = replace(self.given, image_size_wh=(width, height))
        else:
            camera = Camera.from_fov(width, height, self.fov_deg)
            scene = Scene(camera=camera, image_size_wh=(width, height))
        if self.is_estimating:
            scene = replace(scene, state=SceneState.CALIBRATING)
        return scene

    @property
    def observations(self) -> GroundObservations:
        """The observations kept so far."""
        return self._observations

    def place(
        self, poses: FramePoses, scene: Scene, width: int, height: int
    ) -> tuple[FramePoses, np.ndarray]:
        """:func:`place_poses` with this stream's placement settings."""
        return place_poses(poses, scene, (width, height), self.placement)

    def observe(self, tracked: FramePoses, frame_index: int, width: int, height: int) -> None:
        """Keep the upright, fully seen people of a tracked frame (native skeleton) and
        re-solve the calibration when it is due."""
        if not self.is_estimating or not len(tracked) or tracked.skeleton != BLAZEPOSE_33.name:
            return  # self-calibration reads BlazePose's face and foot landmarks
        scene = self.current(width, height)
        is_detection = (tracked.scores > 0) & ~is_predicted(tracked)
        rows = tracked[np.flatnonzero(is_detection)]
        if not len(rows):
            return
        ids = rows.track_ids.astype(np.int64).copy()
        untracked = ids < 0
        ids[untracked] = self._next_untracked_id - np.arange(int(untracked.sum()))
        self._next_untracked_id -= int(untracked.sum())
        shapes = rows.joints_cam_raw_m if rows.joints_cam_raw_m is not None else rows.joints_cam_m
        found = observations_from_poses(
            scene.camera.undistort_points(rows.joints2d_px),
            shapes,
            rows.joint_scores,
            ids,
            frame_index,
            (width, height),
            self.calibration.head_below_top_m,
        )
        if len(found):
            self._observations = GroundObservations.concatenate([self._observations, found])
            self._frames_since_fit += 1
            self._bound_observations(np.unique(found.person_ids))
        due = self.calibration.refit_every_frames
        if scene.state is SceneState.CALIBRATED:
            due *= CALIBRATED_REFIT_FACTOR
        if self._frames_since_fit >= due:
            self.refit(width, height)

    def _bound_observations(self, new_people: np.ndarray) -> None:
        """Thin out the people just observed (everyone else is within the limits since the
        last call), then drop the oldest beyond ``max_observations``."""
        observations = self._observations
        keep = np.ones(len(observations), bool)
        limit = self.calibration.max_observations_per_person
        for person in new_people:
            rows = np.flatnonzero(observations.person_ids == person)
            if len(rows) > limit:  # thin out evenly over the person's life
                keep[rows] = False
                keep[rows[np.linspace(0, len(rows) - 1, limit).round().astype(int)]] = True
        if keep.sum() > self.calibration.max_observations:
            oldest_kept = np.flatnonzero(keep)[: keep.sum() - self.calibration.max_observations]
            keep[oldest_kept] = False
        self._observations = observations.select(keep)

    def refit(self, width: int, height: int) -> None:
        """Solve the calibration from the observations kept, and adopt a converged one."""
        self._frames_since_fit = 0
        scene = self.current(width, height)
        known_K = self.given.camera.K if self.given is not None else None
        previous = self.estimate if isinstance(self.estimate, SceneEstimate) else None
        self.estimate = calibrate_scene(
            self.observations, (width, height), self.calibration, K=known_K, previous=previous
        )
        if isinstance(self.estimate, NotEnoughEvidence):
            return
        estimate = self.estimate
        uncertainty = SceneUncertainty(
            focal_px_sd=estimate.focal_px_sd,
            camera_height_m_sd=estimate.camera_height_m_sd,
            pitch_deg_sd=estimate.pitch_deg_sd,
            roll_deg_sd=estimate.roll_deg_sd,
            people=estimate.num_people,
            observations=estimate.num_observations,
        )
        if estimate.is_converged:
            distortion = self.given.camera.distortion if self.given is not None else None
            self._scene = Scene(
                camera=Camera(K=estimate.K, distortion=distortion),
                ground=estimate.ground,
                state=SceneState.CALIBRATED,
                uncertainty=uncertainty,
                image_size_wh=(width, height),
                source="self-calibrated from the stream's people",
            )
            logger.info(
                "scene calibrated: focal %.0f px, camera height %.2f m, pitch %.1f deg",
                estimate.focal_px,
                estimate.ground.camera_height_m,
                math.degrees(estimate.ground.pitch_rad),
            )
        elif scene.state is not SceneState.CALIBRATED:
            self._scene = replace(scene, state=SceneState.CALIBRATING, uncertainty=uncertainty)

    def status(self, width: int, height: int) -> SceneStatus:
        """What the frame messages say about the scene."""
        scene = self.current(width, height)
        estimate = self.estimate
        if scene.state is not SceneState.CALIBRATING:
            return scene_status(scene)
        if isinstance(estimate, NotEnoughEvidence):
            return scene_status(scene, f"not enough evidence: {estimate.reason}")
        if isinstance(estimate, SceneEstimate):
            return scene_status(scene, "estimate not yet certain enough", estimate.ground)
        return scene_status(scene, "collecting observations")
