"""Loaders of the MOTChallenge-format data: MOT17 sequences and PETS09-S2L1 (pets09-dev).

Both take the data root (the folder holding ``mot17/`` and ``pets09-dev/``) and read only
below it (PETS09's video lies next to it, ``ROOT/../vtest.avi``, unless given).

MOTChallenge rows: ``frame, id, x, y, w, h, consider, class, visibility`` (1-based frames,
pixels, box top-left and size). MOT17 counts ``consider == 1 and class == 1``; classes 2, 7,
8, 12 (person on vehicle, static person, distractor, reflection) are don't-care, the other
classes (vehicles, occluders) are neither targets nor don't-care. PETS09's class and
visibility columns are -1; its ``consider == 0`` rows (distant people) are don't-care.
"""

from __future__ import annotations

import configparser
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from realdata.boxes import xywh_to_xyxy

MOT17_PEDESTRIAN = 1
MOT17_DONT_CARE_CLASSES = (2, 7, 8, 12)
VISIBLE = 0.5
"""A target with visibility >= 0.5 counts as visible."""
PETS09_FRAME_RATE_HZ = 7.0
PETS09_SIZE_WH = (768, 576)


@dataclass(frozen=True)
class FrameTruth:
    """One frame's labels.

    Attributes:
        target_ids: (G,) ids of the persons that count.
        target_xyxy: (G, 4) their boxes, pixels.
        target_visibility: (G,) visible fraction in [0, 1]; NaN where not labelled.
        dont_care_xyxy: (D, 4) boxes whose matching predictions are neither right nor wrong.
    """

    target_ids: np.ndarray
    target_xyxy: np.ndarray
    target_visibility: np.ndarray
    dont_care_xyxy: np.ndarray

    @property
    def is_visible(self) -> np.ndarray:
        """(G,) visibility labelled and >= 0.5 (all False where it is not labelled)."""
        return self.target_visibility >= VISIBLE


@dataclass(frozen=True)
class Detections:
    """A detector's boxes of one frame: ``boxes_xyxy`` (N, 4) pixels, ``scores`` (N,)."""

    boxes_xyxy: np.ndarray
    scores: np.ndarray


@dataclass(frozen=True)
class MotSequence:
    """A labelled sequence.

    Attributes:
        name: e.g. ``MOT17-09-FRCNN`` or ``PETS09-S2L1``.
        frame_rate_hz: native rate.
        image_size_wh: (width, height) in pixels.
        frames: the labelled MOT frame numbers (1-based), ascending.
        truth: labels per frame number.
        image_paths: image file per frame number (MOT17), or None (read from ``video_path``).
        video_path: the video (PETS09), or None.
        video_frame_offset: video frame index = MOT frame number + this (-1 for PETS09).
        detections: the public detections per frame number (MOT17's det.txt), or None.
    """

    name: str
    frame_rate_hz: float
    image_size_wh: tuple[int, int]
    frames: tuple[int, ...]
    truth: dict[int, FrameTruth]
    image_paths: dict[int, Path] | None = None
    video_path: Path | None = None
    video_frame_offset: int = 0
    detections: dict[int, Detections] | None = None


def read_mot_rows(path: Path, num_columns: int) -> np.ndarray:
    """(R, num_columns) float rows of a MOTChallenge text file (extra columns dropped)."""
    rows = np.loadtxt(path, delimiter=",", ndmin=2)
    if rows.size == 0:
        return np.zeros((0, num_columns))
    if rows.shape[1] < num_columns:
        raise ValueError(f"{path}: expected at least {num_columns} columns, got {rows.shape[1]}")
    return rows[:, :num_columns]


def _frame_truth(rows: np.ndarray, is_target: np.ndarray, is_dont_care: np.ndarray) -> FrameTruth:
    visibility = rows[:, 8] if rows.shape[1] > 8 else np.full(len(rows), -1.0)
    return FrameTruth(
        target_ids=rows[is_target, 1].astype(np.int64),
        target_xyxy=xywh_to_xyxy(rows[is_target, 2:6]),
        target_visibility=np.where(visibility[is_target] >= 0, visibility[is_target], np.nan),
        dont_care_xyxy=xywh_to_xyxy(rows[is_dont_care, 2:6]),
    )


def _split_frames(
    rows: np.ndarray, frames: tuple[int, ...], is_target: np.ndarray, is_dont_care: np.ndarray
) -> dict[int, FrameTruth]:
    truth = {}
    for frame in frames:
        in_frame = rows[:, 0] == frame
        truth[frame] = _frame_truth(rows[in_frame], is_target[in_frame], is_dont_care[in_frame])
    return truth


def mot17_truth(rows: np.ndarray, frames: tuple[int, ...]) -> dict[int, FrameTruth]:
    """Per-frame labels from (R, 9) MOT17 gt rows (targets: consider 1, class 1)."""
    is_target = (rows[:, 6] == 1) & (rows[:, 7] == MOT17_PEDESTRIAN)
    is_dont_care = np.isin(rows[:, 7], MOT17_DONT_CARE_CLASSES)
    return _split_frames(rows, frames, is_target, is_dont_care)


def pets09_truth(rows: np.ndarray, frames: tuple[int, ...]) -> dict[int, FrameTruth]:
    """Per-frame labels from (R, >= 7) PETS09 gt rows (``consider == 0``: don't care)."""
    is_target = rows[:, 6] == 1
    return _split_frames(rows[:, :7], frames, is_target, ~is_target)


def _detections(rows: np.ndarray, frames: tuple[int, ...]) -> dict[int, Detections]:
    return {
        frame: Detections(
            xywh_to_xyxy(rows[rows[:, 0] == frame, 2:6]), rows[rows[:, 0] == frame, 6]
        )
        for frame in frames
    }


def load_mot17_sequence(folder: Path) -> MotSequence:
    """One ``MOT17-*`` folder: seqinfo.ini, img1/ frames, gt/gt.txt, det/det.txt (optional).

    Only frames with an image are kept (the excerpt holds the first few of each sequence).
    """
    info = configparser.ConfigParser()
    info.read(folder / "seqinfo.ini")
    sequence = info["Sequence"]
    image_dir = folder / sequence.get("imDir", "img1")
    extension = sequence.get("imExt", ".jpg")
    image_paths = {int(path.stem): path for path in sorted(image_dir.glob(f"*{extension}"))}
    frames = tuple(sorted(image_paths))
    detections = None
    if (folder / "det" / "det.txt").exists():
        detections = _detections(read_mot_rows(folder / "det" / "det.txt", 7), frames)
    return MotSequence(
        name=sequence.get("name", folder.name),
        frame_rate_hz=float(sequence["frameRate"]),
        image_size_wh=(int(sequence["imWidth"]), int(sequence["imHeight"])),
        frames=frames,
        truth=mot17_truth(read_mot_rows(folder / "gt" / "gt.txt", 9), frames),
        image_paths=image_paths,
        detections=detections,
    )


def load_mot17(root: Path) -> list[MotSequence]:
    """Every ``ROOT/mot17/MOT17-*`` sequence, sorted by name."""
    folders = sorted(path for path in (Path(root) / "mot17").glob("MOT17-*") if path.is_dir())
    if not folders:
        raise FileNotFoundError(f"no MOT17-* sequence under {Path(root) / 'mot17'}")
    return [load_mot17_sequence(folder) for folder in folders]


def load_pets09(root: Path, video_path: Path | None = None) -> MotSequence:
    """PETS09-S2L1 frames 1-250: ``ROOT/pets09-dev/gt.txt`` and the video (default
    ``ROOT/../vtest.avi``; MOT frame N is video frame N - 1)."""
    rows = read_mot_rows(Path(root) / "pets09-dev" / "gt.txt", 7)
    first, last = int(rows[:, 0].min()), int(rows[:, 0].max())
    frames = tuple(range(first, last + 1))
    return MotSequence(
        name="PETS09-S2L1",
        frame_rate_hz=PETS09_FRAME_RATE_HZ,
        image_size_wh=PETS09_SIZE_WH,
        frames=frames,
        truth=pets09_truth(rows, frames),
        video_path=Path(video_path) if video_path else Path(root).parent / "vtest.avi",
        video_frame_offset=-1,
    )
