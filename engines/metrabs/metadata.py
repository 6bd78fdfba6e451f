"""What a converted MeTRAbs model needs besides its ONNX graph: joints, subsets, decoding.

``tools/convert_metrabs.py`` writes it (``metrabs.json`` beside the ONNX file, listed with
its sha256 in the model folder's manifest); the engine reads it here. Every value that
changes the decoding was read from the SavedModel or fitted against its own outputs and
checked there (the manifest's ``verification``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from posecast.engines.metrabs.joints import MetrabsFormats, ModelSkeleton, metrabs_formats
from posecast.errors import ModelError

METADATA_FORMAT = "posecast-metrabs-1"
IMAGE_INPUT = "image"
POINTS_2D_OUTPUT = "points2d_crop_px"
POINTS_3D_OUTPUT = "points3d_rel_crop_m"


@dataclass(frozen=True, eq=False)
class MetrabsMetadata:
    """A converted MeTRAbs crop model's joints and decoding constants.

    Attributes:
        input_size_px: side S of the square crops it takes.
        joint_names: (J,) the model's own joint names.
        joint_edges: (E, 2) its bones over all joints.
        skeletons: its named joint subsets (``smpl_24``, ``coco_19``, ...).
        points_to_joints: (J, P) matrix taking the P points its heads predict to its J
            joints (identity when the heads predict the joints themselves; a latent-point
            head's recombination weights otherwise). Applied to absolute 3D points.
        mix_3d_inside_fov: weight of the 3D-based position of a point inside the crop's
            field of view; 1 minus it goes to the back-projection of its 2D prediction
            (MeTRAbs' ``reconstruct_absolute``). Points outside use the 3D-based one only.
        fov_min_px, fov_max_px: a 2D prediction inside [min, max] on both axes counts as
            inside the crop's field of view (MeTRAbs' ``is_within_fov``: 0.75 strides in).
        outside_fov_weight: reconstruction weight of a point outside (inside: 1).
        stride_px, centered_stride, box_size_m, depth_bins: the heatmap decoding the ONNX
            graph applies (recorded for reference; the graph holds them).
        source: where the weights came from (file name, sha256, release name if known).
    """

    input_size_px: int
    joint_names: tuple[str, ...]
    joint_edges: np.ndarray
    skeletons: tuple[ModelSkeleton, ...]
    points_to_joints: np.ndarray
    mix_3d_inside_fov: float
    fov_min_px: float
    fov_max_px: float
    outside_fov_weight: float
    stride_px: int
    centered_stride: bool
    box_size_m: float
    depth_bins: int
    source: dict[str, Any]

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)

    @property
    def num_points(self) -> int:
        return int(self.points_to_joints.shape[1])

    def formats(self) -> MetrabsFormats:
        """The skeleton formats this model adds (``posecast.engines.metrabs.joints``)."""
        return metrabs_formats(self.joint_names, self.joint_edges, self.skeletons)

    def to_dict(self) -> dict[str, Any]:
        """The JSON document ``from_dict`` reads."""
        is_identity = self.points_to_joints.shape[0] == self.points_to_joints.shape[1] and (
            np.array_equal(self.points_to_joints, np.eye(self.num_joints))
        )
        return {
            "format": METADATA_FORMAT,
            "input_size_px": self.input_size_px,
            "joint_names": list(self.joint_names),
            "joint_edges": self.joint_edges.tolist(),
            "skeletons": {
                skeleton.name: {
                    "indices": skeleton.indices.tolist(),
                    "edges": skeleton.edges.tolist(),
                }
                for skeleton in self.skeletons
            },
            "points_to_joints": None if is_identity else self.points_to_joints.tolist(),
            "decoding": {
                "mix_3d_inside_fov": self.mix_3d_inside_fov,
                "fov_min_px": self.fov_min_px,
                "fov_max_px": self.fov_max_px,
                "outside_fov_weight": self.outside_fov_weight,
                "stride_px": self.stride_px,
                "centered_stride": self.centered_stride,
                "box_size_m": self.box_size_m,
                "depth_bins": self.depth_bins,
            },
            "tensors": {
                "input": IMAGE_INPUT,
                "outputs": [POINTS_2D_OUTPUT, POINTS_3D_OUTPUT],
            },
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MetrabsMetadata:
        """Metadata from its JSON document.

        Raises:
            ModelError: another format, or missing or inconsistent fields.
        """
        if data.get("format") != METADATA_FORMAT:
            raise ModelError(
                f"MeTRAbs metadata: expected format {METADATA_FORMAT!r}, got "
                f"{data.get('format')!r}; convert the model again with tools/convert_metrabs.py"
            )
        try:
            names = tuple(str(name) for name in data["joint_names"])
            decoding = data["decoding"]
            matrix = data.get("points_to_joints")
            points_to_joints = (
                np.eye(len(names)) if matrix is None else np.asarray(matrix, dtype=np.float64)
            )
            skeletons = tuple(
                ModelSkeleton(
                    name,
                    np.asarray(entry["indices"], dtype=np.int64),
                    np.asarray(entry["edges"], dtype=np.int64).reshape(-1, 2),
                )
                for name, entry in data["skeletons"].items()
            )
            metadata = cls(
                input_size_px=int(data["input_size_px"]),
                joint_names=names,
                joint_edges=np.asarray(data["joint_edges"], dtype=np.int64).reshape(-1, 2),
                skeletons=skeletons,
                points_to_joints=points_to_joints,
                mix_3d_inside_fov=float(decoding["mix_3d_inside_fov"]),
                fov_min_px=float(decoding["fov_min_px"]),
                fov_max_px=float(decoding["fov_max_px"]),
                outside_fov_weight=float(decoding["outside_fov_weight"]),
                stride_px=int(decoding["stride_px"]),
                centered_stride=bool(decoding["centered_stride"]),
                box_size_m=float(decoding["box_size_m"]),
                depth_bins=int(decoding["depth_bins"]),
                source=dict(data.get("source", {})),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise ModelError(f"MeTRAbs metadata is malformed: {error!r}") from error
        metadata.check()
        return metadata

    @classmethod
    def from_json(cls, path: Path) -> MetrabsMetadata:
        """Metadata from a file.

        Raises:
            ModelError: unreadable, not JSON, or malformed.
        """
        try:
            return cls.from_dict(json.loads(Path(path).read_text()))
        except (OSError, json.JSONDecodeError) as error:
            raise ModelError(f"MeTRAbs metadata {path}: {error}") from error

    def check(self) -> None:
        """Raise ModelError on values that cannot decode a model."""
        if self.points_to_joints.shape[0] != self.num_joints:
            raise ModelError(
                f"MeTRAbs metadata: points_to_joints has {self.points_to_joints.shape[0]} rows "
                f"for {self.num_joints} joints"
            )
        if not np.allclose(self.points_to_joints.sum(axis=1), 1.0, atol=1e-3):
            raise ModelError("MeTRAbs metadata: points_to_joints rows must sum to 1")
        if not 0.0 <= self.mix_3d_inside_fov <= 1.0 or self.outside_fov_weight < 0:
            raise ModelError(
                "MeTRAbs metadata: mix_3d_inside_fov or outside_fov_weight out of range"
            )
        if not 0 <= self.fov_min_px < self.fov_max_px <= self.input_size_px:
            raise ModelError("MeTRAbs metadata: the field of view bounds are not inside the crop")
