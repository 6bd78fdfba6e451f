"""The scene of a fixed camera: the camera, the ground plane, their uncertainty and state.

A scene file (JSON) is a camera file (``Camera.from_dict``: ``K``, ``distortion``,
``world_from_camera`` or ``R`` + ``t``) with optional scene keys::

    {
      "K": [[fx, 0, cx], [0, fy, cy], [0, 0, 1]],
      "image_size": [768, 576],
      "ground": {"camera_height_m": 7.2, "pitch_deg": 14.9, "roll_deg": -2.2},
      "calibration": {"state": "calibrated", "focal_px_sd": 160.0, "camera_height_m_sd": 0.2,
                      "pitch_deg_sd": 1.6, "roll_deg_sd": 0.8, "people": 43,
                      "observations": 3804, "source": "posecast calibrate vtest.avi"}
    }

``ground`` is the ground plane in the camera frame (``ground.GroundPlane``; pitch and roll
as defined there), ``null`` to say there is none. Without ``ground``, extrinsics imply one:
posecast's world frame is z up with the ground at z = 0. ``image_size`` is the image size K
belongs to (checked against the frames when given). ``calibration`` records how a
calibrated file was made; a loaded file's values are used as given, never re-estimated.

States (``SceneState``): ``given`` (the ground, or extrinsics, came from the user),
``calibrated`` (estimated and converged), ``calibrating`` (evidence is being collected or
the estimate is still too uncertain), ``uncalibrated`` (nothing known, nothing estimated).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np

from posecast.engines.geometry.camera import Camera
from posecast.engines.geometry.ground import (
    GroundPlane,
    ground_plane_from_world,
    world_from_ground_plane,
)
from posecast.errors import InvalidInputError


class SceneState(Enum):
    """How much of the scene is known (module docstring)."""

    UNCALIBRATED = "uncalibrated"
    CALIBRATING = "calibrating"
    CALIBRATED = "calibrated"
    GIVEN = "given"


@dataclass(frozen=True)
class SceneUncertainty:
    """Standard deviations of a calibration (0 for given values, inf for undetermined ones)
    and the evidence behind it."""

    focal_px_sd: float = 0.0
    camera_height_m_sd: float = 0.0
    pitch_deg_sd: float = 0.0
    roll_deg_sd: float = 0.0
    people: int = 0
    observations: int = 0

    def to_dict(self) -> dict[str, Any]:
        def number(value: float) -> float | None:
            return round(value, 6) if math.isfinite(value) else None

        return {
            "focal_px_sd": number(self.focal_px_sd),
            "camera_height_m_sd": number(self.camera_height_m_sd),
            "pitch_deg_sd": number(self.pitch_deg_sd),
            "roll_deg_sd": number(self.roll_deg_sd),
            "people": self.people,
            "observations": self.observations,
        }


_CAMERA_KEYS = {"K", "distortion", "world_from_camera", "R", "t"}
_SCENE_KEYS = {"image_size", "ground", "calibration"}
_GROUND_KEYS = {"camera_height_m", "pitch_deg", "roll_deg"}
_CALIBRATION_KEYS = {
    "state",
    "focal_px_sd",
    "camera_height_m_sd",
    "pitch_deg_sd",
    "roll_deg_sd",
    "people",
    "observations",
    "source",
}


@dataclass(frozen=True, eq=False)
class Scene:
    """A camera and what is known of its ground.

    Attributes:
        camera: intrinsics, distortion, optional extrinsics.
        ground: the ground plane in the camera frame, or None when unknown.
        state: see :class:`SceneState`.
        uncertainty: of an estimated scene (or the one a loaded file recorded), else None.
        image_size_wh: the image size K belongs to, when known.
        source: how the scene was made (free text, e.g. the calibrating command).
    """

    camera: Camera
    ground: GroundPlane | None = None
    state: SceneState = SceneState.UNCALIBRATED
    uncertainty: SceneUncertainty | None = None
    image_size_wh: tuple[int, int] | None = None
    source: str = field(default="")

    @property
    def world_from_camera(self) -> np.ndarray | None:
        """(4, 4) world_from_camera: the user's extrinsics, else the ground plane's world
        frame (``ground.world_from_ground_plane``), else None."""
        if self.camera.world_from_camera is not None:
            return self.camera.world_from_camera
        if self.ground is not None:
            return world_from_ground_plane(self.ground)
        return None

    def check_image_size(self, width: int, height: int) -> None:
        """Raises InvalidInputError when the frames' size is not the one K belongs to."""
        if self.image_size_wh is not None and tuple(self.image_size_wh) != (width, height):
            raise InvalidInputError(
                f"the scene's K is for {self.image_size_wh[0]} x {self.image_size_wh[1]} "
                f"images, got {width} x {height}"
            )

    @classmethod
    def from_dict(cls, data: Any) -> Scene:
        """A scene from the JSON-style mapping of the module docstring.

        Raises:
            InvalidInputError: unknown keys, malformed values, or extrinsics that put the
                camera below the ground they imply.
        """
        if not isinstance(data, dict):
            raise InvalidInputError(f"scene: expected a JSON object, got {type(data).__name__}")
        unknown = sorted(set(data) - _CAMERA_KEYS - _SCENE_KEYS)
        if unknown:
            valid = sorted(_CAMERA_KEYS | _SCENE_KEYS)
            raise InvalidInputError(f"scene: unknown keys {unknown}; valid: {valid}")
        camera = Camera.from_dict({key: data[key] for key in _CAMERA_KEYS if key in data})
        image_size = _image_size(data.get("image_size"))
        if "ground" in data:
            ground = None if data["ground"] is None else _ground(data["ground"])
        elif camera.world_from_camera is not None:
            ground = _ground_of_extrinsics(camera.world_from_camera)
        else:
            ground = None
        calibration = data.get("calibration")
        uncertainty, source = (None, "") if calibration is None else _calibration(calibration)
        has_given = ground is not None or camera.world_from_camera is not None
        return cls(
            camera=camera,
            ground=ground,
            state=SceneState.GIVEN if has_given else SceneState.UNCALIBRATED,
            uncertainty=uncertainty,
            image_size_wh=image_size,
            source=source,
        )

    @classmethod
    def from_json(cls, path: str | Path) -> Scene:
        """A scene (or plain camera) file.

        Raises:
            InvalidInputError: unreadable file, invalid JSON or a malformed scene; the
                message names the file.
        """
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise InvalidInputError(f"scene file {path}: {error}") from error
        try:
            return cls.from_dict(data)
        except InvalidInputError as error:
            raise InvalidInputError(f"scene file {path}: {error}") from error

    def to_dict(self) -> dict[str, Any]:
        """The mapping :meth:`from_dict` reads (state and uncertainty under
        ``calibration``)."""
        data = self.camera.to_dict()
        if self.image_size_wh is not None:
            data["image_size"] = list(self.image_size_wh)
        if self.ground is not None:
            data["ground"] = self.ground.to_dict()
        if self.uncertainty is not None or self.source:
            calibration: dict[str, Any] = {"state": self.state.value}
            if self.uncertainty is not None:
                calibration.update(self.uncertainty.to_dict())
            if self.source:
                calibration["source"] = self.source
            data["calibration"] = calibration
        return data

    def to_json(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInputError(f"{name}: expected a finite number, got {value!r}")
    return float(value)


def _image_size(value: Any) -> tuple[int, int] | None:
    if value is None:
        return None
    if (
        not isinstance(value, list | tuple)
        or len(value) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)
    ):
        raise InvalidInputError(f"image_size: expected [width, height] > 0, got {value!r}")
    return int(value[0]), int(value[1])


def _ground(value: Any) -> GroundPlane:
    if not isinstance(value, dict):
        raise InvalidInputError(f"ground: expected an object, got {type(value).__name__}")
    unknown = sorted(set(value) - _GROUND_KEYS)
    missing = sorted(_GROUND_KEYS - set(value))
    if unknown or missing:
        raise InvalidInputError(
            f"ground: expected keys {sorted(_GROUND_KEYS)}; unknown {unknown}, missing {missing}"
        )
    height = _number(value["camera_height_m"], "ground.camera_height_m")
    pitch = _number(value["pitch_deg"], "ground.pitch_deg")
    roll = _number(value["roll_deg"], "ground.roll_deg")
    if not height > 0:
        raise InvalidInputError(f"ground.camera_height_m must be positive, got {height}")
    if not -90.0 <= pitch <= 90.0:
        raise InvalidInputError(f"ground.pitch_deg must be in [-90, 90], got {pitch}")
    if not -180.0 <= roll <= 180.0:
        raise InvalidInputError(f"ground.roll_deg must be in [-180, 180], got {roll}")
    return GroundPlane.from_angles(math.radians(pitch), math.radians(roll), height)


def _ground_of_extrinsics(world_from_camera: np.ndarray) -> GroundPlane:
    try:
        return ground_plane_from_world(world_from_camera)
    except InvalidInputError as error:
        raise InvalidInputError(
            f"{error}: without a 'ground' key the extrinsics define it (posecast's world "
            "frame: z up, ground at z = 0); give 'ground' explicitly, or 'ground': null "
            "for none"
        ) from None


def _calibration(value: Any) -> tuple[SceneUncertainty, str]:
    if not isinstance(value, dict):
        raise InvalidInputError(f"calibration: expected an object, got {type(value).__name__}")
    unknown = sorted(set(value) - _CALIBRATION_KEYS)
    if unknown:
        raise InvalidInputError(
            f"calibration: unknown keys {unknown}; valid: {sorted(_CALIBRATION_KEYS)}"
        )
    states = [state.value for state in SceneState]
    if value.get("state", "calibrated") not in states:
        raise InvalidInputError(f"calibration.state: expected one of {states}")
    sds = {}
    for key in ("focal_px_sd", "camera_height_m_sd", "pitch_deg_sd", "roll_deg_sd"):
        raw = value.get(key, 0.0)
        sds[key] = math.inf if raw is None else _number(raw, f"calibration.{key}")
        if sds[key] < 0:
            raise InvalidInputError(f"calibration.{key} must not be negative")
    counts = {}
    for key in ("people", "observations"):
        raw = value.get(key, 0)
        if isinstance(raw, bool) or not isinstance(raw, int) or raw < 0:
            raise InvalidInputError(f"calibration.{key}: expected a count, got {raw!r}")
        counts[key] = raw
    source = value.get("source", "")
    if not isinstance(source, str):
        raise InvalidInputError("calibration.source: expected text")
    return SceneUncertainty(**sds, **counts), source
