"""Reference 2D poses with ids (3DPW's association modes), and their JSONL file format.

File format (one JSON object per line, blank lines ignored)::

    {"frame": 0, "references": [
        {"id": 7, "joints2d": [[u, v], ...], "confidence": [c, ...]}, ...]}

``frame`` is the frame number of the detections' messages the references belong to; ``id``
an integer identity that the matching track carries; ``joints2d`` (J, 2) image pixels in the
same joint set as the detections' ``joints2d``; ``confidence`` (J,) with 0 for joints the
reference lacks. Converting other joint sets (e.g. OpenPose-18) is the caller's job.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from posecast.errors import InvalidInputError


@dataclass(frozen=True)
class ReferencePoses:
    """Reference 2D poses of one frame.

    Attributes:
        ids: (R,) int64 identities, unique.
        joints2d_px: (R, J, 2) joints in image pixels (same joint set as the detections).
        joint_scores: (R, J) per-joint confidence, 0 where the reference lacks the joint.
    """

    ids: np.ndarray
    joints2d_px: np.ndarray
    joint_scores: np.ndarray

    def __post_init__(self) -> None:
        num = len(self.ids)
        num_joints = self.joint_scores.shape[1] if self.joint_scores.ndim == 2 else -1
        for name, shape in (
            ("ids", (num,)),
            ("joints2d_px", (num, num_joints, 2)),
            ("joint_scores", (num, num_joints)),
        ):
            actual = getattr(self, name).shape
            if actual != shape:
                raise InvalidInputError(
                    f"ReferencePoses.{name}: expected shape {shape}, got {actual}"
                )
        if len(np.unique(self.ids)) != num:
            raise InvalidInputError(f"ReferencePoses.ids must be unique, got {self.ids.tolist()}")

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def num_joints(self) -> int:
        return int(self.joint_scores.shape[1])


def _parse_references(entries: object, where: str) -> ReferencePoses:
    if not isinstance(entries, list):
        raise InvalidInputError(f"{where}: 'references' must be a list")
    ids, joints, scores = [], [], []
    for entry in entries:
        if not isinstance(entry, dict) or set(entry) != {"id", "joints2d", "confidence"}:
            raise InvalidInputError(
                f"{where}: every reference needs exactly 'id', 'joints2d' and 'confidence'"
            )
        if not isinstance(entry["id"], int) or isinstance(entry["id"], bool):
            raise InvalidInputError(
                f"{where}: reference id must be an integer, got {entry['id']!r}"
            )
        try:
            entry_joints = np.asarray(entry["joints2d"], np.float64)
            entry_scores = np.asarray(entry["confidence"], np.float64)
        except (TypeError, ValueError) as error:
            raise InvalidInputError(f"{where}: reference {entry['id']}: {error}") from error
        num_joints = len(entry_scores)
        if entry_joints.shape != (num_joints, 2) or entry_scores.shape != (num_joints,):
            raise InvalidInputError(
                f"{where}: reference {entry['id']}: expected joints2d (J, 2) and confidence "
                f"(J,), got {entry_joints.shape} and {entry_scores.shape}"
            )
        if not (np.isfinite(entry_joints).all() and np.isfinite(entry_scores).all()):
            raise InvalidInputError(f"{where}: reference {entry['id']} holds non-finite values")
        ids.append(entry["id"])
        joints.append(entry_joints)
        scores.append(entry_scores)
    if len({len(s) for s in scores}) > 1:
        raise InvalidInputError(f"{where}: references have different joint counts")
    num_joints = len(scores[0]) if scores else 0
    return ReferencePoses(
        ids=np.asarray(ids, np.int64),
        joints2d_px=np.asarray(joints, np.float64).reshape(len(ids), num_joints, 2),
        joint_scores=np.asarray(scores, np.float64).reshape(len(ids), num_joints),
    )


def read_reference_file(path: str | Path) -> dict[int, ReferencePoses]:
    """Reference poses per frame number, in file order.

    Raises:
        InvalidInputError: unreadable file, malformed line (named as ``path:line``), or a
            frame number given twice.
    """
    path = Path(path)
    references: dict[int, ReferencePoses] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidInputError(f"cannot read reference file {path}: {error}") from error
    for line_number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{line_number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise InvalidInputError(f"{where}: invalid JSON: {error}") from error
        if not isinstance(record, dict) or set(record) != {"frame", "references"}:
            raise InvalidInputError(f"{where}: expected an object with 'frame' and 'references'")
        frame = record["frame"]
        if not isinstance(frame, int) or isinstance(frame, bool) or frame < 0:
            raise InvalidInputError(f"{where}: 'frame' must be an integer >= 0, got {frame!r}")
        if frame in references:
            raise InvalidInputError(f"{where}: frame {frame} given twice")
        references[frame] = _parse_references(record["references"], where)
    return references
