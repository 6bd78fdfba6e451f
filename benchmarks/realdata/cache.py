"""The estimator's per-frame output on disk, so that scores can be recomputed without
running the models again (one ``.npz``: persons of all frames concatenated, plus a JSON
header with the frame keys, timings and the run's metadata; the estimator's traces too where
every frame has one)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from posecast.engines.estimator import EstimateTrace
from posecast.engines.frames import FramePoses


@dataclass(frozen=True)
class FrameRecord:
    """What the estimator made of one image.

    Attributes:
        poses: the untracked persons (posecast's native skeleton).
        timing_ms: the estimator's own timings (``detect``, ``pose``, ``geometry``, ``total``).
        detector_xyxy: (D, 4) the raw person detector's boxes, pixels (empty if not run).
        detector_scores: (D,) their scores.
        detector_ms: time of the raw detector call alone (NaN if not run).
        trace: what became of every proposal (``estimate(..., with_trace=True)``), or None.
    """

    poses: FramePoses
    timing_ms: dict[str, float]
    detector_xyxy: np.ndarray
    detector_scores: np.ndarray
    detector_ms: float = float("nan")
    trace: EstimateTrace | None = None


_POSE_FIELDS = ("boxes_xyxy", "scores", "joints2d_px", "joints_cam_m", "joint_scores")
_TRACE_DETECTED_FIELDS = ("detected_xyxy", "detected_scores")
_TRACE_ROW_FIELDS = tuple(
    field.name
    for field in dataclasses.fields(EstimateTrace)
    if field.name not in _TRACE_DETECTED_FIELDS
)


def _trace_arrays(records: list[FrameRecord]) -> dict[str, np.ndarray]:
    """The traces of all frames concatenated (``trace_*``), with per-frame counts; nothing
    unless every frame has one."""
    traces = [record.trace for record in records if record.trace is not None]
    if not traces or len(traces) != len(records):
        return {}
    arrays = {
        f"trace_{name}": np.concatenate([getattr(trace, name) for trace in traces])
        for name in (*_TRACE_DETECTED_FIELDS, *_TRACE_ROW_FIELDS)
    }
    arrays["trace_row_counts"] = np.array([len(trace.sources) for trace in traces])
    arrays["trace_detected_counts"] = np.array([len(trace.detected_scores) for trace in traces])
    return arrays


def _split_traces(data: Any, num_frames: int) -> list[EstimateTrace | None]:
    if "trace_row_counts" not in data:
        return [None] * num_frames
    row_ends = np.cumsum(data["trace_row_counts"])
    detected_ends = np.cumsum(data["trace_detected_counts"])
    traces: list[EstimateTrace | None] = []
    for index in range(num_frames):
        rows = slice(row_ends[index - 1] if index else 0, row_ends[index])
        detected = slice(detected_ends[index - 1] if index else 0, detected_ends[index])
        values = {name: data[f"trace_{name}"][detected] for name in _TRACE_DETECTED_FIELDS}
        values |= {name: data[f"trace_{name}"][rows] for name in _TRACE_ROW_FIELDS}
        traces.append(EstimateTrace(**values))
    return traces


def save_records(path: Path, records: Mapping[str, FrameRecord], metadata: dict[str, Any]) -> None:
    """Write ``records`` (frame key -> record) and ``metadata`` (JSON-able) to ``path``."""
    if not records:
        raise ValueError("save_records: nothing to save")
    keys = list(records)
    first = records[keys[0]].poses
    header = {
        "metadata": metadata,
        "keys": keys,
        "skeleton": first.skeleton,
        "num_joints": first.num_joints,
        "timing_ms": [records[k].timing_ms for k in keys],
        "detector_ms": [records[k].detector_ms for k in keys],
    }
    arrays = {
        name: np.concatenate([getattr(records[k].poses, name) for k in keys])
        for name in _POSE_FIELDS
    }
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        path,
        header=np.array(json.dumps(header)),
        person_counts=np.array([len(records[k].poses) for k in keys]),
        detector_counts=np.array([len(records[k].detector_scores) for k in keys]),
        detector_xyxy=np.concatenate([records[k].detector_xyxy.reshape(-1, 4) for k in keys]),
        detector_scores=np.concatenate([records[k].detector_scores for k in keys]),
        **arrays,
        **_trace_arrays([records[k] for k in keys]),
    )


def load_records(path: Path) -> tuple[dict[str, FrameRecord], dict[str, Any]]:
    """The records and metadata written by :func:`save_records`."""
    with np.load(path) as data:
        header = json.loads(str(data["header"]))
        person_ends = np.cumsum(data["person_counts"])
        detector_ends = np.cumsum(data["detector_counts"])
        arrays = {name: data[name] for name in _POSE_FIELDS}
        detector_xyxy, detector_scores = data["detector_xyxy"], data["detector_scores"]
        traces = _split_traces(data, len(header["keys"]))
    records = {}
    for index, key in enumerate(header["keys"]):
        persons = slice(person_ends[index - 1] if index else 0, person_ends[index])
        detected = slice(detector_ends[index - 1] if index else 0, detector_ends[index])
        poses = FramePoses(
            skeleton=header["skeleton"], **{name: arrays[name][persons] for name in _POSE_FIELDS}
        )
        records[key] = FrameRecord(
            poses=poses,
            timing_ms=header["timing_ms"][index],
            detector_xyxy=detector_xyxy[detected],
            detector_scores=detector_scores[detected],
            detector_ms=float(header["detector_ms"][index]),
            trace=traces[index],
        )
    return records, header["metadata"]
