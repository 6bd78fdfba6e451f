"""Reading the 3DPW dataset layout.

A 3DPW root holds ``sequenceFiles/{split}/{name}.pkl`` (one pickle per sequence, written by
Python 2, loaded with ``encoding="latin1"``) and ``imageFiles/{name}/image_{i:05d}.jpg``
(frame ``i`` of the sequence). The per-person fields of a sequence pickle are lists with one
entry per person P; N is the number of image frames:

- ``sequence``: the sequence name (str)
- ``poses2d``: P arrays (N, 3, 18): 2D keypoints (x, y, confidence) in image pixels,
  OpenPose-COCO 18 joints; all zeros in frames where fewer than 6 joints were detected
- ``jointPositions``: P arrays (N, 72): the 24 SMPL joints, world frame, metres
- ``campose_valid``: P arrays (N,): whether the camera pose of that frame is aligned to the image
- ``cam_poses``: (N, 4, 4): camera-from-world rigid transforms (x_cam = T @ [x_world, 1])
- ``cam_intrinsics``: (3, 3): K in pixels
- ``genders``, ``betas``, ``poses``, ``trans``, ``img_frame_ids``, ``v_template_clothed``,
  ``texture_maps``, ...: read if needed, not used by posecast.
"""

from __future__ import annotations

import io
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from posecast.errors import InvalidInputError

SPLITS = ("train", "validation", "test")
"""The splits of 3DPW, as directory names under ``sequenceFiles``."""

SMPL_JOINT_COUNT = 24
POSES2D_JOINT_COUNT = 18

_ALLOWED_PICKLE_GLOBALS = frozenset(
    {
        # What pickled numpy arrays and scalars need (numpy 1 and numpy 2 module names).
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"),
        # Python 3 writes bytes in protocol 2 as _codecs.encode(text, "latin1").
        ("_codecs", "encode"),
        ("copyreg", "_reconstructor"),
        ("builtins", "object"),
    }
)


class _ArrayUnpickler(pickle.Unpickler):
    """An unpickler that builds only plain containers and numpy arrays.

    Pickles can run arbitrary code when loaded; dataset and prediction files come from
    elsewhere, so every global they name must be on a short allow-list.
    """

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED_PICKLE_GLOBALS:
            raise pickle.UnpicklingError(f"refusing to load global {module}.{name}")
        return super().find_class(module, name)


def load_pickle(path: Path) -> dict[str, Any]:
    """Load a 3DPW-style pickle (a dict of arrays and lists), Python 2 pickles included.

    Raises:
        InvalidInputError: the file is missing, is not a pickle, names a global other than
            numpy's array machinery, or does not hold a dict.
    """
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"{path}: no such file")
    try:
        data = _ArrayUnpickler(io.BytesIO(path.read_bytes()), encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as error:
        raise InvalidInputError(f"{path}: not a readable 3DPW pickle: {error}") from error
    if not isinstance(data, dict):
        raise InvalidInputError(f"{path}: expected a dict, got {type(data).__name__}")
    return data


@dataclass(frozen=True)
class Sequence3DPW:
    """One 3DPW sequence: what the pipeline and the evaluation need, typed and checked.

    Attributes:
        name: sequence name (the file name), e.g. ``downtown_walking_00``.
        split: ``train``, ``validation`` or ``test``.
        image_paths: N paths ``imageFiles/{name}/image_{i:05d}.jpg`` (they need not exist:
            evaluation reads only the sequence file).
        intrinsics: (3, 3) camera matrix K, pixels.
        cam_poses: (N, 4, 4) camera-from-world transforms, metres.
        poses2d_px: (P, N, 18, 3) 2D keypoints as (x_px, y_px, confidence); all zeros where
            the person was not detected (the stored layout (P, N, 3, 18) is transposed here).
        joints_world_m: (P, N, 24, 3) SMPL joints in the world frame, metres. Like
            ``cam_poses``, only checked to be finite in scored frames (by the evaluation).
        campose_valid: (P, N) bool, whether the camera pose of the frame is aligned.
        genders: P strings (``m``/``f``), empty strings if the file has none.
    """

    name: str
    split: str
    image_paths: tuple[Path, ...]
    intrinsics: np.ndarray
    cam_poses: np.ndarray
    poses2d_px: np.ndarray
    joints_world_m: np.ndarray
    campose_valid: np.ndarray
    genders: tuple[str, ...]

    def __post_init__(self) -> None:
        persons, frames = self.campose_valid.shape
        expected = {
            "intrinsics": (self.intrinsics, (3, 3)),
            "cam_poses": (self.cam_poses, (frames, 4, 4)),
            "poses2d_px": (self.poses2d_px, (persons, frames, POSES2D_JOINT_COUNT, 3)),
            "joints_world_m": (self.joints_world_m, (persons, frames, SMPL_JOINT_COUNT, 3)),
        }
        for field_name, (array, shape) in expected.items():
            if array.shape != shape:
                raise InvalidInputError(
                    f"sequence {self.name}: {field_name} expected {shape}, got {array.shape}"
                )
        if len(self.image_paths) != frames:
            raise InvalidInputError(
                f"sequence {self.name}: expected {frames} image paths, got {len(self.image_paths)}"
            )
        if len(self.genders) != persons:
            raise InvalidInputError(
                f"sequence {self.name}: expected {persons} genders, got {len(self.genders)}"
            )

    @property
    def num_persons(self) -> int:
        return int(self.campose_valid.shape[0])

    @property
    def num_frames(self) -> int:
        return int(self.campose_valid.shape[1])

    @property
    def joints_cam_m(self) -> np.ndarray:
        """(P, N, 24, 3) ground-truth SMPL joints in each frame's camera frame, metres."""
        return world_to_camera(self.joints_world_m, self.cam_poses)


def world_to_camera(points_world: np.ndarray, cam_poses: np.ndarray) -> np.ndarray:
    """Move per-frame points into the camera frame: x_cam = R x_world + t.

    This is what the official evaluation does with ``cam_poses`` (homogeneous points times
    the transposed 4x4 matrix).

    Args:
        points_world: (..., N, J, 3) points, metres; N frames.
        cam_poses: (N, 4, 4) camera-from-world transforms.

    Returns:
        (..., N, J, 3) points in the camera frame, metres.
    """
    rotations = cam_poses[:, :3, :3]  # (N, 3, 3)
    translations = cam_poses[:, :3, 3]  # (N, 3)
    return np.einsum("nij,...nkj->...nki", rotations, points_world) + translations[:, None, :]


def sequence_file_path(root: Path, split: str, name: str) -> Path:
    return Path(root) / "sequenceFiles" / split / f"{name}.pkl"


def image_path(root: Path, name: str, frame_index: int) -> Path:
    """Path of frame ``frame_index`` of sequence ``name``: ``imageFiles/{name}/image_XXXXX.jpg``."""
    return Path(root) / "imageFiles" / name / f"image_{frame_index:05d}.jpg"


def list_sequences(root: Path, split: str) -> list[str]:
    """Sorted names of the sequences of one split (``sequenceFiles/{split}/*.pkl``).

    Raises:
        InvalidInputError: unknown split, or the root or the split directory is missing.
    """
    root = Path(root)
    if split not in SPLITS:
        raise InvalidInputError(f"unknown 3DPW split {split!r}; expected one of {SPLITS}")
    if not root.is_dir():
        raise InvalidInputError(f"3DPW root {root} is not a directory")
    split_dir = root / "sequenceFiles" / split
    if not split_dir.is_dir():
        raise InvalidInputError(f"3DPW root {root} has no split directory {split_dir}")
    return sorted(path.stem for path in split_dir.glob("*.pkl"))


def load_sequence(root: Path, split: str, name: str) -> Sequence3DPW:
    """Read one sequence of a 3DPW root.

    Raises:
        InvalidInputError: the sequence file is missing or malformed (the message names the
            file and the offending key).
    """
    path = sequence_file_path(root, split, name)
    if not path.is_file():
        raise InvalidInputError(f"3DPW sequence {name!r} not found in split {split}: no {path}")
    return parse_sequence(load_pickle(path), path, Path(root), split)


def parse_sequence(data: dict[str, Any], path: Path, root: Path, split: str) -> Sequence3DPW:
    """Build a `Sequence3DPW` from a loaded sequence pickle; ``path`` is named in errors."""
    for key in ("poses2d", "jointPositions", "campose_valid", "cam_poses", "cam_intrinsics"):
        if key not in data:
            raise InvalidInputError(f"{path}: missing key {key!r}")
    # The file name is the sequence's name everywhere (image directory, prediction file);
    # in 3DPW it equals the pickle's own "sequence" entry.
    name = path.stem
    # Only the intrinsics must be finite here: camera poses and joints matter in the frames
    # that are scored, which the evaluation checks (unscored frames may hold anything).
    cam_poses = _float_array(data, "cam_poses", path, require_finite=False)
    if cam_poses.ndim != 3 or cam_poses.shape[0] == 0 or cam_poses.shape[1:] != (4, 4):
        raise InvalidInputError(
            f"{path}: key 'cam_poses' expected shape (N, 4, 4), N > 0, got {cam_poses.shape}"
        )
    frames = cam_poses.shape[0]
    intrinsics = _float_array(data, "cam_intrinsics", path)
    if intrinsics.shape != (3, 3):
        raise InvalidInputError(
            f"{path}: key 'cam_intrinsics' expected shape (3, 3), got {intrinsics.shape}"
        )

    persons = _person_count(data, "jointPositions", path)
    poses2d = _per_person(
        data, "poses2d", persons, (frames, 3, POSES2D_JOINT_COUNT), path, require_finite=False
    )
    joints = _per_person(
        data, "jointPositions", persons, (frames, SMPL_JOINT_COUNT * 3), path, require_finite=False
    )
    valid = _per_person(data, "campose_valid", persons, (frames,), path)
    genders = tuple(str(gender) for gender in data.get("genders", [""] * persons))
    if len(genders) != persons:
        raise InvalidInputError(f"{path}: key 'genders' has {len(genders)} entries, not {persons}")
    return Sequence3DPW(
        name=name,
        split=split,
        image_paths=tuple(image_path(root, name, index) for index in range(frames)),
        intrinsics=intrinsics,
        cam_poses=cam_poses,
        poses2d_px=poses2d.transpose(0, 1, 3, 2),
        joints_world_m=joints.reshape(persons, frames, SMPL_JOINT_COUNT, 3),
        campose_valid=valid.astype(bool),
        genders=genders,
    )


def _float_array(
    data: dict[str, Any], key: str, path: Path, *, require_finite: bool = True
) -> np.ndarray:
    try:
        array = np.asarray(data[key], dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise InvalidInputError(f"{path}: key {key!r} is not a numeric array: {error}") from error
    if require_finite and not np.all(np.isfinite(array)):
        raise InvalidInputError(f"{path}: key {key!r} has non-finite values")
    return array


def _person_count(data: dict[str, Any], key: str, path: Path) -> int:
    value = data[key]
    if not isinstance(value, (list, tuple, np.ndarray)) or len(value) == 0:
        raise InvalidInputError(f"{path}: key {key!r} should list at least one person")
    return len(value)


def _per_person(
    data: dict[str, Any],
    key: str,
    persons: int,
    shape: tuple[int, ...],
    path: Path,
    *,
    require_finite: bool = True,
) -> np.ndarray:
    """Stack a per-person list into one (P, *shape) array, checking every entry."""
    value = data[key]
    if not isinstance(value, (list, tuple, np.ndarray)) or len(value) != persons:
        count = len(value) if hasattr(value, "__len__") else "no"
        raise InvalidInputError(f"{path}: key {key!r} has {count} persons, expected {persons}")
    arrays = []
    for person, entry in enumerate(value):
        array = _float_array({key: entry}, key, path, require_finite=require_finite)
        if array.shape != shape:
            raise InvalidInputError(
                f"{path}: key {key!r} person {person}: expected shape {shape}, got {array.shape}"
            )
        arrays.append(array)
    return np.stack(arrays)
