"""Settings of scene self-calibration and ground-contact placement (standard library only).

Both are declared with ``posecast.settings.setting``, so the stream config message
(``posecast.wire.protocol``), the command line (``posecast.clients.options``) and these
dataclasses share one name, default, help text and range per value. The solver that uses
``CalibrationConfig`` is ``scene_calibration``; the placement that uses ``PlacementConfig``
is ``placement``.
"""

from __future__ import annotations

from dataclasses import dataclass

from posecast.errors import InvalidInputError
from posecast.settings import check_settings, setting


@dataclass(frozen=True)
class CalibrationConfig:
    """Self-calibration of a fixed camera from the people it sees (docs/scene.md).

    Attributes:
        is_enabled: estimate what the camera file does not give (ground plane, and the focal
            length when K is unknown) from the stream's people. False: an unknown scene
            stays ``uncalibrated`` and everyone is placed monocularly.
        stature_prior_m: mean standing height (top of the head above the floor) of the
            people the camera sees; the only source of metric scale when nothing is given:
            the camera height scales with it (1.70 m: adults of both sexes, with shoes).
            Raise it for a taller crowd; a crowd of children needs a lower one.
        stature_sd_m: spread of statures between people (one standard deviation). Lower:
            each person's height is trusted more, a few tall or short people bias the
            scale more; higher: scale from more people.
        head_below_top_m: height of the head point used (midpoint of eyes and ears) below
            the top of the head, metres (adult average ~0.12 m).
        landmark_noise: noise of one head or foot point, as a fraction of the person's
            height in the image. Lower: tighter uncertainties, more observations rejected as
            outliers by the robust loss; higher: the reverse.
        lean_bias_deg, size_bias_fraction, head_offset_bias_m: systematic errors the people
            may share (a common lean, a lean that differs between the image's sides, head
            points off by this fraction of the person's image height changing from top to
            bottom, heads this far ahead of the feet towards the camera), added to the
            statistical uncertainty. Lower: calibrated sooner, less honestly.
        min_people: fewer distinct (tracked) people than this is not enough evidence: the
            scale rests on the crowd's mean height and one person's height can be far from
            it.
        min_observations: fewer upright observations than this is not enough evidence.
        min_depth_spread: the feet of the observations must cover at least this fraction of
            the image height (10th to 90th percentile of their rows): people all at one
            depth fix neither the horizon nor the focal length.
        max_focal_sd_fraction: the scene is ``calibrated`` only once the focal length's
            standard deviation is below this fraction of it (when it is estimated). Ground
            placement's ranges scale with the focal length (at a fixed horizon), so this is
            about the range error it may bring; monocular ranges are off by 5-15 % too.
        max_height_sd_fraction: ... and the camera height's below this fraction of it.
        max_angle_sd_deg: ... and the pitch's and roll's below this (degrees).
        min_inlier_fraction: ... and at least this fraction of the observations fit the
            solution (robust residual below 3 noise units): a crowd of sitting or misdetected
            people never calibrates.
        refit_every_frames: a stream re-solves after this many new frames with people.
            Lower: calibrates sooner, costs more (a solve takes 10-100 ms).
        max_observations: observations a stream keeps (oldest per person dropped first);
            the memory and time bound of a solve.
        max_observations_per_person: observations kept per track, spread over its life.
    """

    is_enabled: bool = setting(True, "self-calibrate the scene from the people seen")
    stature_prior_m: float = setting(
        1.70, "mean standing height of the people seen (m)", ge=0.5, le=2.5
    )
    stature_sd_m: float = setting(0.09, "spread of standing heights between people (m)", gt=0, le=1)
    head_below_top_m: float = setting(
        0.12, "head point (eyes/ears) below the top of the head (m)", ge=0, le=0.5
    )
    landmark_noise: float = setting(
        0.03, "noise of a head or foot point (fraction of the person's height)", gt=0, le=1
    )
    lean_bias_deg: float = setting(
        1.0, "systematic lean of the people in the uncertainty (deg)", ge=0, le=45
    )
    size_bias_fraction: float = setting(
        0.01, "systematic head-point error in the uncertainty (fraction of height)", ge=0, le=1
    )
    head_offset_bias_m: float = setting(
        0.05, "systematic head offset towards the camera in the uncertainty (m)", ge=0, le=1
    )
    min_people: int = setting(3, "fewest distinct people to calibrate from", ge=1, le=10000)
    min_observations: int = setting(
        30, "fewest upright observations to calibrate from", ge=2, le=1000000
    )
    min_depth_spread: float = setting(
        0.1, "least spread of the feet's rows (fraction of image height)", ge=0, le=1
    )
    max_focal_sd_fraction: float = setting(
        0.15, "calibrated once the focal length's sd is below this fraction", gt=0, le=1
    )
    max_height_sd_fraction: float = setting(
        0.1, "calibrated once the camera height's sd is below this fraction", gt=0, le=1
    )
    max_angle_sd_deg: float = setting(
        2.0, "calibrated once pitch and roll sds are below this (deg)", gt=0, le=90
    )
    min_inlier_fraction: float = setting(
        0.5, "calibrated only if this fraction of observations fit", ge=0, le=1
    )
    refit_every_frames: int = setting(
        25, "re-solve after this many new frames with people", ge=1, le=100000
    )
    max_observations: int = setting(
        3000, "observations a stream keeps for calibration", ge=10, le=100000
    )
    max_observations_per_person: int = setting(
        40, "observations kept per tracked person", ge=1, le=100000
    )

    def __post_init__(self) -> None:
        check_settings(self)
        if self.head_below_top_m >= self.stature_prior_m:
            raise InvalidInputError("head_below_top_m must be below stature_prior_m")


@dataclass(frozen=True)
class PlacementConfig:
    """Where each person is put in camera space (docs/scene.md, "Placement").

    Attributes:
        is_enabled: ground-contact placement when the ground plane is known (given or
            calibrated). False: everyone is placed monocularly.
        min_foot_visibility: a foot counts as seen when its heel and toe landmarks have at
            least this visibility and lie inside the image. No foot seen: monocular.
        max_lean_deg: people whose trunk (hips to shoulders) leans further than this from
            the vertical are not standing or sitting on the ground (lying, falling, an
            implausible pose): monocular.
        min_ground_scale, max_ground_scale: the ground placement rescales the monocular
            skeleton about the camera centre by (ground range / monocular range); outside
            these bounds the person is not where the plane says (in the air, on stairs or a
            table, feet misdetected): monocular. Narrower: fewer wrong ground placements,
            more monocular ones.
        foot_noise_px: noise of the foot contact point in pixels, for the next rule.
        max_depth_error_fraction: ground placement only where ``foot_noise_px`` moves the
            contact point by less than this fraction of its range (far away, near the
            horizon, the plane gives depth less precisely than the skeleton's size).
        monocular_scale: factor on the size (and so the range) of monocularly placed
            skeletons, correcting the pose model's size bias (docs/scene.md, "Metric
            scale": measured 0.99 on Panoptic against the true ground, 0.95 on 3DHP against
            the true depth, 0.94 on vtest against the stature prior; 1.04 puts all three
            within 3 %). 1: no correction.
    """

    is_enabled: bool = setting(True, "place people on the known ground plane")
    min_foot_visibility: float = setting(
        0.5, "visibility of heel and toe that counts a foot as seen", ge=0, le=1
    )
    max_lean_deg: float = setting(
        45.0, "trunk lean beyond which a person is not on the ground (deg)", ge=0, le=90
    )
    min_ground_scale: float = setting(
        0.6, "smallest ground/monocular range ratio placed on the ground", gt=0, le=1
    )
    max_ground_scale: float = setting(
        1.7, "largest ground/monocular range ratio placed on the ground", ge=1, le=100
    )
    foot_noise_px: float = setting(3.0, "noise of the foot contact point (px)", gt=0, le=1000)
    max_depth_error_fraction: float = setting(
        0.15, "largest range error from foot noise for ground placement", gt=0, le=10
    )
    monocular_scale: float = setting(
        1.04, "size factor of monocularly placed skeletons", ge=0.5, le=2
    )

    def __post_init__(self) -> None:
        check_settings(self)
