"""Tracker configuration: frozen dataclasses, every threshold named with its unit and effect."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from posecast.errors import InvalidInputError
from posecast.settings import check_settings, setting


class AssociationMode(Enum):
    """Who decides which detection belongs to which track.

    FREE: the tracker alone (3D pose distance); new tracks from confident detections.
    UNKNOWN: 3DPW's "unknown association": reference 2D poses with ids, given for the first
        frame only, create the tracks (which carry the references' ids); no other tracks are
        ever created, later frames are associated in 3D as in FREE.
    KNOWN: reference 2D poses with ids arrive for every frame and decide the assignment;
        frames without references fall back to 3D association with the existing tracks.
    """

    FREE = "free"
    UNKNOWN = "unknown"
    KNOWN = "known"


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise InvalidInputError(message)


@dataclass(frozen=True)
class SmoothingConfig:
    """One Euro filter (Casiez et al. 2012) applied per joint per track, with real timestamps.

    The cutoff frequency of each joint is ``min_cutoff_hz + beta_per_m * speed_m_s``: a still
    joint is smoothed hard (low cutoff), a moving one lightly (high cutoff, little lag).

    Attributes:
        is_enabled: False reports the raw joints as the smoothed ones.
        min_cutoff_hz: cutoff of a still joint. Lower: less jitter at rest, more lag when a
            joint starts moving. Higher: more jitter, less lag.
        beta_per_m: cutoff increase per m/s of joint speed. Higher: less lag when moving (the
            lag of a joint moving at constant speed tends to 1 / (2 pi beta) metres), but
            noise-driven speed lets more jitter through. Lower: smoother, more lag.
        d_cutoff_hz: cutoff of the low-pass filter on the speed estimate. Lower: steadier speed
            (so steadier cutoff) but slower reaction to a start; higher: jitter raises the
            cutoff.
        range_min_cutoff_hz, inverse_range_beta: the same for the inverse of the pose's
            distance from the camera (1/m; its speed in 1/(m s)), filtered apart because
            monocular depth is much noisier than the rest (see
            ``tracker.smoothing.PoseSmoother``). Lower cutoff: steadier depth far away;
            higher beta: less lag for people walking towards or away from the camera nearby
            (at 5 m, walking at 1 m/s changes the inverse range by 0.04 / s; the default
            then opens the cutoff to about 3 Hz).
    """

    is_enabled: bool = setting(True, "smooth the joints (false: report raw joints)")
    min_cutoff_hz: float = setting(1.0, "cutoff of a still joint (Hz)", gt=0, le=1000)
    beta_per_m: float = setting(2.0, "cutoff increase per m/s of joint speed", ge=0, le=1000)
    d_cutoff_hz: float = setting(1.0, "cutoff of the speed estimate (Hz)", gt=0, le=1000)
    range_min_cutoff_hz: float = setting(
        0.3, "cutoff of the inverse range at rest (Hz)", gt=0, le=1000
    )
    inverse_range_beta: float = setting(
        75.0, "cutoff increase per 1/(m s) of inverse-range speed", ge=0, le=10000
    )

    def __post_init__(self) -> None:
        check_settings(self)


@dataclass(frozen=True)
class TrackerConfig:
    """Thresholds of the tracker (defaults tuned on the synthetic scenes of tests/synthetic at
    30 Hz, 3 cm noise).

    Attributes:
        max_pose_distance_m: gate of a track just seen: a detection whose pose distance to
            the track's predicted pose (mean per-joint distance, depth down-weighted beyond
            ``full_depth_range_m``) exceeds the gate is no match. Lower: fewer wrong matches
            between people close together, but fast or noisy people lose their track
            (fragments). Higher: tracks survive noise, but may grab a neighbour's detection
            (ID switches).
        full_depth_range_m: up to this range (distance from the camera) a joint's depth
            difference (along the camera ray) counts fully in the pose distance; beyond it its
            weight falls as ``(full_depth_range_m / range)^2`` (the geometric mean of the two
            ranges), while the lateral part (angle between the rays times range) always counts
            fully. Monocular depth comes from a person's apparent size, so its error grows with
            the square of the range: at 15 m it jitters by decimetres to a metre between frames
            (with jumps of metres) while the lateral position holds to centimetres. Lower:
            depth jitter of people far away no longer splits their tracks, but two people on
            the same line of sight, one behind the other, look closer. Higher: depth separates
            such people, but distant tracks fragment. Its maximum, 10 km: plain 3D distance.
        gate_growth_m_per_s: the gate grows by this much per second since the track was last
            seen, since the predicted pose drifts the longer a person is unseen. Higher: more
            re-acquisitions after long occlusions, more risk of taking someone else.
        max_gate_m: upper bound of the grown gate.
        min_joint_confidence: joints below this confidence count as absent in pose distances
            and motion estimates. Higher: only reliable joints count, but fewer of them.
        min_common_joints: pairs with fewer joints confident in both are never matched.
        high_score_threshold: detections at or above it are matched first and may start
            tracks (ByteTrack's first stage). Higher: fewer false tracks, late starts.
        low_score_threshold: detections in [low, high) are only matched to tracks left over by
            the first stage (second stage); below it they are ignored. Lower: occluded,
            low-score people keep their tracks, but false detections may extend tracks.
        confirm_hits: hits (consecutive matched frames) after which a tentative track is
            confirmed. Higher: fewer tracks from false detections, later confirmation. A
            tentative track that misses a frame is terminated.
        searching_timeout_s: a confirmed track unseen for longer than this (seconds, not
            frames, since frames get dropped) is terminated. Higher: survives longer
            occlusions, but a stale track may take a newcomer's detection.
        max_prediction_s: a searching track's pose moves at constant velocity for at most this
            long after it was last seen, then holds still. Higher: follows people walking on
            behind an occluder for longer; lower: less drift when they stopped.
        velocity_time_constant_s: time constant of the exponential average of the pose's
            velocity (constant-velocity model). Lower: follows turns and stops sooner, noisier
            predictions; higher: steadier, slower to react.
        depth_velocity_time_constant_s: the same for the velocity's depth part (along the ray
            to the pose): frame-to-frame monocular depth differences are mostly noise at range,
            and averaging them briefly throws predictions off in depth. Lower: follows people
            walking towards or away from the camera sooner; higher: steadier depth predictions.
        max_reference_distance: gate of the 2D reference matching, in units of the reference's
            size (diagonal of the box around its confident joints). Lower: stricter.
        max_tracks: live tracks at most (one stream's memory and time bound), lost ones
            included (the longest unseen of those make room for new ones); while that many
            others exist, detections start no new track. Higher: more people in a crowd.
        image_cue: use the image evidence: the mean distance between a track's 2D joints
            (moved at its image velocity) and a detection's, over joints confident in both,
            in units of the track's 2D size (the diagonal of the box around its confident
            joints). It holds at every range, where monocular depth does not.
        max_image_distance: gate of that distance for a track just seen. For a track whose
            position is unreliable (``unreliable_position_noise_m``) the image distance alone
            may admit a pair whose position is beyond its gate. Lower: people whose boxes
            overlap are told apart better, fast or erratic 2D landmarks lose matches.
            Higher: the reverse.
        image_gate_growth_per_s: its growth per second unseen (sizes per second).
        unreliable_position_noise_m: a track whose measured position noise exceeds this has
            an unreliable position: for it a pair within the image gate is allowed even when
            its position is beyond the gate. The noise is an exponential average, over frames
            without a gap, of how far the observed position lands from the predicted one: on
            the ground (world cue), else along the camera ray (the difference of ranges, the
            pose centroid's distances from the camera). Monocular depth at 10-25 m jumps by
            metres between frames while the 2D joints hold (PETS09: 0.2-1 m of such noise,
            and a person placed on the ground in one frame may be placed monocularly in the
            next); near the camera or with good depth (the synthetic scenes: a few
            centimetres) the position keeps people on one line of sight apart and is trusted.
            Lower: the image overrides the position for more tracks; higher: the position
            vetoes more matches.
        position_noise_time_constant_s: time constant of the average of that noise (s).
        world_cue: when detections carry ``joints_world_m`` (a calibrated scene: z up, ground
            at 0), the position cue is the distance on the ground between the centroids of
            the confident joints (their x, y), instead of the camera-space pose distance.
        max_ground_distance_m: gate of that ground distance for a track just seen (m).
            Lower: fewer wrong matches between people side by side; higher: tolerates more
            placement noise.
        ground_gate_growth_m_per_s: its growth per second unseen (m/s).
        appearance_cue: use appearance descriptors (``FramePoses.appearance``) when the
            detections carry them: a gate and a cost term in frame-to-frame association,
            and the only way a lost track comes back (re-identification).
        max_appearance_distance: gate of the cosine distance between a track's appearance
            (an exponential average of its clean descriptors) and a detection's. Lower:
            differently dressed people never swap, but lighting changes and partial
            occlusions break tracks; higher: the reverse.
        appearance_weight, image_weight, position_weight, shape_weight: weights of the cues
            in the cost (each cue's distance divided by its gate, capped at
            ``max_normalized_cost``; the cost is their weighted mean over the cues both sides
            have). ``shape_weight``: the root-relative 3D pose (the body's shape and posture),
            a weak cue, never a gate.
        max_normalized_cost: cap of a cue's distance over its gate in the cost, so one gross
            failure (a monocular depth jump) cannot outweigh every other cue.
        appearance_time_constant_s: time constant of the exponential average of a track's
            descriptors. Higher: a steadier model, slower to follow lighting changes.
        max_appearance_overlap: a detection updates its track's appearance only when no
            other detection's box covers more than this fraction of its own box (crossings
            and occlusions mix two people's pixels). Lower: cleaner models, fewer updates.
        appearance_gallery_size: descriptors a track keeps for re-identification (one per
            ``appearance_gallery_interval_s``, oldest replaced): the bound on a track's memory.
        appearance_gallery_interval_s: least time between two gallery descriptors.
        reid_window_s: a searching track unseen for ``searching_timeout_s`` becomes lost (not
            reported); for this long after it was last seen it can be re-identified by
            appearance, then it terminates. 0: no lost state. Higher: people come back after
            longer absences under their old id, and a look-alike may take a lost id.
        reid_max_appearance_distance: gate of re-identification: the smallest cosine
            distance between the detection and the lost track's gallery and average. Lower:
            fewer wrong re-identifications, more new ids.
        reid_max_speed_m_s: a lost track is re-identified only where the person could have
            walked since last seen: position distance <= ``max_pose_distance_m`` (or
            ``max_ground_distance_m``) + this x the time unseen.
        second_stage: ByteTrack's second stage (detections in [low, high) kept for confirmed
            tracks left over); off: such detections are never matched.
        smoothing: see ``SmoothingConfig``.
    """

    max_pose_distance_m: float = setting(0.4, "gate of a track just seen (m)", gt=0, le=10)
    full_depth_range_m: float = setting(
        6.0, "range up to which depth differences count fully (m)", gt=0, le=10000
    )
    gate_growth_m_per_s: float = setting(0.5, "gate growth per second unseen (m/s)", ge=0, le=10)
    max_gate_m: float = setting(1.0, "largest grown gate (m)", gt=0, le=10)
    min_joint_confidence: float = setting(
        0.3, "joints below this confidence count as absent", ge=0, le=1
    )
    min_common_joints: int = setting(
        3, "pairs with fewer common confident joints never match", ge=1, le=1000
    )
    high_score_threshold: float = setting(
        0.5, "detections at or above it match first and start tracks", ge=0, le=1
    )
    low_score_threshold: float = setting(0.1, "detections below it are ignored", ge=0, le=1)
    confirm_hits: int = setting(3, "hits that confirm a tentative track", ge=1, le=100)
    searching_timeout_s: float = setting(
        1.5, "a track unseen this long terminates (s)", ge=0, le=60
    )
    max_prediction_s: float = setting(1.0, "longest constant-velocity prediction (s)", ge=0, le=60)
    velocity_time_constant_s: float = setting(
        0.2, "time constant of the velocity average (s)", gt=0, le=60
    )
    depth_velocity_time_constant_s: float = setting(
        1.0, "time constant of the depth velocity average (s)", gt=0, le=60
    )
    max_reference_distance: float = setting(
        0.5, "gate of 2D reference matching (reference sizes)", gt=0, le=10
    )
    max_tracks: int = setting(256, "live tracks at most", ge=1, le=4096)
    image_cue: bool = setting(True, "associate on 2D joint distance too")
    max_image_distance: float = setting(
        0.25, "gate of the 2D joint distance (track sizes)", gt=0, le=10
    )
    image_gate_growth_per_s: float = setting(
        0.5, "2D gate growth per second unseen (sizes/s)", ge=0, le=100
    )
    unreliable_position_noise_m: float = setting(
        0.15, "position noise beyond which the image may override the position (m)", gt=0, le=100
    )
    position_noise_time_constant_s: float = setting(
        2.0, "time constant of the position noise average (s)", gt=0, le=600
    )
    world_cue: bool = setting(True, "associate on ground positions when detections have them")
    max_ground_distance_m: float = setting(0.5, "gate of the ground distance (m)", gt=0, le=10)
    ground_gate_growth_m_per_s: float = setting(
        1.0, "ground gate growth per second unseen (m/s)", ge=0, le=10
    )
    appearance_cue: bool = setting(True, "associate and re-identify on appearance")
    max_appearance_distance: float = setting(
        0.4, "gate of the appearance cosine distance", gt=0, le=2
    )
    appearance_weight: float = setting(1.0, "weight of appearance in the cost", ge=0, le=100)
    image_weight: float = setting(2.0, "weight of the 2D joint distance in the cost", ge=0, le=100)
    position_weight: float = setting(1.0, "weight of the position in the cost", ge=0, le=100)
    shape_weight: float = setting(0.0, "weight of the 3D pose shape in the cost", ge=0, le=100)
    max_normalized_cost: float = setting(
        2.0, "cap of a cue's distance over its gate in the cost", ge=1, le=100
    )
    appearance_time_constant_s: float = setting(
        1.0, "time constant of the appearance average (s)", gt=0, le=600
    )
    max_appearance_overlap: float = setting(
        0.2, "appearance updates only below this box overlap", ge=0, le=1
    )
    appearance_gallery_size: int = setting(
        16, "descriptors kept per track for re-identification", ge=1, le=256
    )
    appearance_gallery_interval_s: float = setting(
        0.5, "least time between gallery descriptors (s)", ge=0, le=600
    )
    reid_window_s: float = setting(
        10.0, "lost tracks can be re-identified this long (s)", ge=0, le=3600
    )
    reid_max_appearance_distance: float = setting(
        0.1, "gate of re-identification (appearance cosine distance)", gt=0, le=2
    )
    reid_max_speed_m_s: float = setting(
        2.0, "fastest walk between losing and re-identifying (m/s)", ge=0, le=100
    )
    second_stage: bool = setting(True, "match less confident detections to leftover tracks")
    association: AssociationMode = AssociationMode.FREE
    smoothing: SmoothingConfig = field(default_factory=SmoothingConfig)

    def __post_init__(self) -> None:
        check_settings(self)
        _require(
            self.max_gate_m >= self.max_pose_distance_m,
            f"max_gate_m ({self.max_gate_m}) must be >= max_pose_distance_m "
            f"({self.max_pose_distance_m})",
        )
        _require(
            self.low_score_threshold <= self.high_score_threshold,
            f"expected low_score_threshold <= high_score_threshold, got "
            f"{self.low_score_threshold}, {self.high_score_threshold}",
        )
        _require(
            isinstance(self.association, AssociationMode),
            f"association must be an AssociationMode, got {self.association!r}",
        )
        _require(
            isinstance(self.smoothing, SmoothingConfig),
            f"smoothing must be a SmoothingConfig, got {self.smoothing!r}",
        )

    def gate_m(self, unseen_s: float) -> float:
        """Gate (metres) of a track last seen ``unseen_s`` seconds ago."""
        return min(self.max_pose_distance_m + self.gate_growth_m_per_s * unseen_s, self.max_gate_m)

    def image_gate(self, unseen_s: float) -> float:
        """Gate of the 2D joint distance (track sizes) of a track unseen ``unseen_s`` s."""
        return self.max_image_distance + self.image_gate_growth_per_s * unseen_s

    def ground_gate_m(self, unseen_s: float) -> float:
        """Gate of the ground distance (m) of a track unseen ``unseen_s`` s."""
        return self.max_ground_distance_m + self.ground_gate_growth_m_per_s * unseen_s
