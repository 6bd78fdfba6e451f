"""Constant-velocity motion of a 3D pose; stateless: every function returns a new state.

The whole pose moves with one velocity (that of its confidently seen joints): walking people
translate far more than their limbs move relative to the body, and one velocity from many
joints is much less noisy than one per joint.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np


@dataclass(frozen=True)
class MotionState:
    """A pose and its velocity at one time.

    Attributes:
        joints_cam_m: (J, 3) joints, camera frame, metres.
        joint_scores: (J,) confidence of each joint's last observation.
        velocity_m_s: (3,) velocity of the whole pose, metres per second.
        timestamp_s: time of ``joints_cam_m``.
        has_velocity: False until two observations gave a velocity.
    """

    joints_cam_m: np.ndarray
    joint_scores: np.ndarray
    velocity_m_s: np.ndarray
    timestamp_s: float
    has_velocity: bool = False


def initial_state(
    joints_cam_m: np.ndarray, joint_scores: np.ndarray, timestamp_s: float
) -> MotionState:
    """State of a first observation: at rest until a second one gives a velocity."""
    return MotionState(
        joints_cam_m=np.asarray(joints_cam_m, np.float64).copy(),
        joint_scores=np.asarray(joint_scores, np.float64).copy(),
        velocity_m_s=np.zeros(3),
        timestamp_s=float(timestamp_s),
    )


def predict(state: MotionState, timestamp_s: float) -> MotionState:
    """The pose moved at constant velocity to ``timestamp_s`` (which may be earlier)."""
    elapsed_s = timestamp_s - state.timestamp_s
    return replace(
        state,
        joints_cam_m=state.joints_cam_m + state.velocity_m_s * elapsed_s,
        timestamp_s=float(timestamp_s),
    )


def _mean_displacement_m(
    before: MotionState, joints_cam_m: np.ndarray, joint_scores: np.ndarray, min_confidence: float
) -> np.ndarray | None:
    """(3,) mean displacement of the joints confident in both, None if there are none."""
    common = (before.joint_scores >= min_confidence) & (joint_scores >= min_confidence)
    if not common.any():
        return None
    return (joints_cam_m[common] - before.joints_cam_m[common]).mean(axis=0)


def _unit_ray(state: MotionState, joint_scores: np.ndarray, min_confidence: float) -> np.ndarray:
    """(3,) unit vector from the camera to the centroid of the joints confident in both."""
    common = (state.joint_scores >= min_confidence) & (joint_scores >= min_confidence)
    centroid_m = state.joints_cam_m[common].mean(axis=0)
    norm_m = np.linalg.norm(centroid_m)
    return centroid_m / norm_m if norm_m > 0 else np.zeros(3)


def _merge_joints(
    predicted: MotionState,
    joints_cam_m: np.ndarray,
    joint_scores: np.ndarray,
    min_confidence: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Observed joints where confident, predicted ones (and their old scores) elsewhere."""
    observed = joint_scores >= min_confidence
    joints = np.where(observed[:, None], joints_cam_m, predicted.joints_cam_m)
    scores = np.where(observed, joint_scores, predicted.joint_scores)
    return joints, scores


def update(
    state: MotionState,
    joints_cam_m: np.ndarray,
    joint_scores: np.ndarray,
    timestamp_s: float,
    velocity_time_constant_s: float,
    min_confidence: float,
    depth_velocity_time_constant_s: float | None = None,
) -> MotionState:
    """Fold in an observation that follows ``state`` without a gap.

    The velocity is an exponential average of frame-to-frame velocities whose weight follows
    the real time step, so dropped frames and jittered timestamps are handled. Its depth part
    (along the ray to the pose's centroid) may be averaged over a longer time: monocular depth
    jitters far more than the lateral position, and a velocity from frame-to-frame depth
    differences would throw predictions metres off. The depth part starts from rest.

    Args:
        state: the last observed state.
        joints_cam_m: (J, 3) observed joints, metres.
        joint_scores: (J,) their confidence.
        timestamp_s: time of the observation, after ``state.timestamp_s``.
        velocity_time_constant_s: time constant of the velocity average.
        min_confidence: joints below it are not observed.
        depth_velocity_time_constant_s: time constant of the depth part's average; None:
            ``velocity_time_constant_s``.
    """
    elapsed_s = timestamp_s - state.timestamp_s
    displacement_m = _mean_displacement_m(state, joints_cam_m, joint_scores, min_confidence)
    velocity_m_s, has_velocity = state.velocity_m_s, state.has_velocity
    if displacement_m is not None and elapsed_s > 0:
        # The first velocity takes the measured lateral part whole, but its depth part only
        # with the depth weight, as if averaged from rest: one frame-to-frame depth
        # difference is mostly noise.
        change_m_s = displacement_m / elapsed_s - velocity_m_s
        ray = _unit_ray(state, joint_scores, min_confidence)
        depth_change_m_s = (change_m_s @ ray) * ray
        lateral_weight = (
            1.0 - np.exp(-elapsed_s / velocity_time_constant_s) if has_velocity else 1.0
        )
        depth_weight = 1.0 - np.exp(
            -elapsed_s / (depth_velocity_time_constant_s or velocity_time_constant_s)
        )
        velocity_m_s = velocity_m_s + (
            lateral_weight * (change_m_s - depth_change_m_s) + depth_weight * depth_change_m_s
        )
        has_velocity = True
    predicted = replace(predict(state, timestamp_s), velocity_m_s=velocity_m_s)
    joints, scores = _merge_joints(predicted, joints_cam_m, joint_scores, min_confidence)
    return replace(predicted, joints_cam_m=joints, joint_scores=scores, has_velocity=has_velocity)


def reestimate_after_gap(
    last_observed: MotionState,
    joints_cam_m: np.ndarray,
    joint_scores: np.ndarray,
    timestamp_s: float,
    min_confidence: float,
) -> MotionState:
    """Re-acquisition after a gap (OC-SORT's observation-centric re-update).

    The velocity becomes the mean velocity between the last real observation before the gap
    and this one; the constant-velocity prediction that drifted during the gap is discarded.

    Args:
        last_observed: the state of the last observation before the gap (not a prediction).
        joints_cam_m: (J, 3) the new observation, metres.
        joint_scores: (J,) its confidence.
        timestamp_s: its time.
        min_confidence: joints below it are not observed.
    """
    elapsed_s = timestamp_s - last_observed.timestamp_s
    displacement_m = _mean_displacement_m(last_observed, joints_cam_m, joint_scores, min_confidence)
    if displacement_m is None or elapsed_s <= 0:
        velocity_m_s, has_velocity = np.zeros(3), False
    else:
        velocity_m_s, has_velocity = displacement_m / elapsed_s, True
    anchor = MotionState(
        joints_cam_m=last_observed.joints_cam_m,
        joint_scores=last_observed.joint_scores,
        velocity_m_s=velocity_m_s,
        timestamp_s=last_observed.timestamp_s,
    )
    joints, scores = _merge_joints(
        predict(anchor, timestamp_s), joints_cam_m, joint_scores, min_confidence
    )
    return MotionState(joints, scores, velocity_m_s, float(timestamp_s), has_velocity)


@dataclass(frozen=True)
class PointMotion:
    """A point moving at constant velocity: a track's box centre in the image (pixels) or its
    position on the ground (metres).

    Attributes:
        position: (K,) the point at ``timestamp_s``.
        velocity_per_s: (K,) its velocity, units per second.
        timestamp_s: time of ``position``.
        has_velocity: False until two observations gave a velocity.
    """

    position: np.ndarray
    velocity_per_s: np.ndarray
    timestamp_s: float
    has_velocity: bool = False


def point_initial_state(position: np.ndarray, timestamp_s: float) -> PointMotion:
    """State of a first observation: at rest."""
    position = np.asarray(position, np.float64).copy()
    return PointMotion(position, np.zeros_like(position), float(timestamp_s))


def point_predict(state: PointMotion, timestamp_s: float) -> np.ndarray:
    """(K,) the point moved at constant velocity to ``timestamp_s``."""
    return state.position + state.velocity_per_s * (timestamp_s - state.timestamp_s)


def point_update(
    state: PointMotion,
    position: np.ndarray,
    timestamp_s: float,
    velocity_time_constant_s: float,
    is_after_gap: bool = False,
) -> PointMotion:
    """Fold in an observation: the velocity is an exponential average of observed velocities
    (weight from the real time step); after a gap (``is_after_gap``) it becomes the mean
    velocity over the gap (OC-SORT's observation-centric re-update).
    """
    position = np.asarray(position, np.float64)
    elapsed_s = timestamp_s - state.timestamp_s
    if elapsed_s <= 0:
        return replace(state, position=position.copy(), timestamp_s=float(timestamp_s))
    observed = (position - state.position) / elapsed_s
    if is_after_gap or not state.has_velocity:
        velocity = observed
    else:
        weight = 1.0 - np.exp(-elapsed_s / velocity_time_constant_s)
        velocity = state.velocity_per_s + weight * (observed - state.velocity_per_s)
    return PointMotion(position.copy(), velocity, float(timestamp_s), True)
