"""Loader of the single-image sets under ``ROOT/images/``: person boxes and 2D keypoints.

Each folder's annotation json differs a little (checked file by file):

- COCO-style (``images``, ``annotations``, ``categories[0].keypoints``): coco, crowdpose,
  ochuman, aic, mhp, exlpose, humanart, posetrack18. Keypoints are ``x, y, v`` triples,
  ``v > 0`` labelled (AIC and PoseTrack use v = 1 for every labelled point).
- Human-Art lists 21 names in its category but its ``keypoints`` hold the 17 COCO ones
  (the 21 are in ``keypoints_21``); its file names start with ``HumanArt/images/`` and only the
  ``real_human`` image is kept here: images not on disk are skipped.
- PoseTrack18 (``annotations/test_posetrack18_val.json``): file names relative to the
  folder, boxes that can start above the image, polygon ``ignore_regions_x/y`` per image
  (predictions centred inside them are ignored) and ``bbox_head``.
- crowd annotations (``iscrowd``) are don't-care boxes.
- MPII (``test_mpii.json``): a list of persons (``joints`` (16, 2), ``joints_vis``,
  ``center``, ``scale``) without boxes and with one person labelled per image (others in
  the picture are not), so it serves keypoints only.

Names are made canonical (lower case, ``_`` separators, ``r_``/``l_`` spelled out, per-set
aliases such as CrowdPose's ``head`` = ``head_top``) so one joint mapping serves all sets
(``realdata.keypoints``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from realdata.boxes import xywh_to_xyxy
from realdata.keypoints import head_size_px
from realdata.mot import Detections

MPII_NAMES = (
    "right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle",
    "pelvis", "thorax", "upper_neck", "head_top", "right_wrist", "right_elbow",
    "right_shoulder", "left_shoulder", "left_elbow", "left_wrist",
)  # fmt: skip


@dataclass(frozen=True)
class ImageSetSpec:
    """Where one image set's files are and how its names read."""

    folder: str
    annotations: str
    aliases: dict[str, str] = field(default_factory=dict)
    detections: str | None = None
    image_prefix: str = ""  # stripped from file names
    normalizer: str = "torso"  # PCK: "torso" or "head"


IMAGE_SETS: dict[str, ImageSetSpec] = {
    "coco": ImageSetSpec("coco", "test_coco.json", detections="test_coco_det_AP_H_56.json"),
    "crowdpose": ImageSetSpec(
        "crowdpose",
        "test_crowdpose.json",
        aliases={"head": "head_top"},
        detections="test_crowdpose_det_AP_40.json",
    ),
    "ochuman": ImageSetSpec("ochuman", "test_ochuman.json"),
    "aic": ImageSetSpec("aic", "test_aic.json"),
    "mpii": ImageSetSpec("mpii", "test_mpii.json", normalizer="head"),
    "mhp": ImageSetSpec("mhp", "test_mhp.json"),
    "posetrack18": ImageSetSpec(
        "posetrack18",
        "annotations/test_posetrack18_val.json",
        detections="annotations/test_posetrack18_human_detections.json",
    ),
    "humanart": ImageSetSpec("humanart", "test_humanart.json", image_prefix="HumanArt/images/"),
    "exlpose": ImageSetSpec("exlpose", "test_exlpose.json", aliases={"head": "head_top"}),
}
"""The image sets of ``ROOT/images/``, by name."""


@dataclass(frozen=True)
class ImageTruth:
    """One labelled image.

    Attributes:
        dataset: image set name. image_path: the file.
        has_boxes: False where the set labels no person boxes (MPII).
        boxes_xyxy: (G, 4) person boxes, pixels (keypoint extents where ``has_boxes`` is
            False).
        keypoint_names: (K,) canonical names. keypoints_px: (G, K, 2). is_labelled: (G, K).
        dont_care_xyxy: (D, 4) crowd boxes.
        ignore_polygons: (V, 2) polygons, pixels, whose predictions are ignored.
        head_size_px: (G,) head size for PCKh where the set defines it, else NaN.
        normalizer: ``torso`` or ``head``, the PCK convention of the set.
        detections: the set's reference detector boxes, or None.
    """

    dataset: str
    image_path: Path
    has_boxes: bool
    boxes_xyxy: np.ndarray
    keypoint_names: tuple[str, ...]
    keypoints_px: np.ndarray
    is_labelled: np.ndarray
    dont_care_xyxy: np.ndarray
    ignore_polygons: tuple[np.ndarray, ...]
    head_size_px: np.ndarray
    normalizer: str
    detections: Detections | None = None


def canonical_name(name: str, aliases: dict[str, str] | None = None) -> str:
    """``"Right-shoulder"``, ``"Right Shoulder"``, ``"r_shoulder"`` -> ``"right_shoulder"``."""
    name = name.strip().lower().replace("-", "_").replace(" ", "_")
    for short, long in (("r_", "right_"), ("l_", "left_")):
        if name.startswith(short):
            name = long + name[len(short) :]
    return (aliases or {}).get(name, name)


def _keypoint_triples(values: list[float], num_keypoints: int) -> tuple[np.ndarray, np.ndarray]:
    triples = np.asarray(values, np.float64).reshape(-1, 3)
    if len(triples) != num_keypoints:
        raise ValueError(f"expected {num_keypoints} keypoints, got {len(triples)}")
    return triples[:, :2], triples[:, 2] > 0


def _polygons(image: dict[str, Any]) -> tuple[np.ndarray, ...]:
    xs, ys = image.get("ignore_regions_x") or [], image.get("ignore_regions_y") or []
    return tuple(np.stack([x, y], axis=1).astype(np.float64) for x, y in zip(xs, ys, strict=True))


def _reference_detections(path: Path | None) -> dict[Any, Detections]:
    if path is None or not path.exists():
        return {}
    rows = json.loads(path.read_text())
    by_image: dict[Any, list[dict[str, Any]]] = {}
    for row in rows:
        by_image.setdefault(row["image_id"], []).append(row)
    return {
        image_id: Detections(
            xywh_to_xyxy([r["bbox"] for r in found]), np.array([r["score"] for r in found])
        )
        for image_id, found in by_image.items()
    }


def _head_size_from_box(annotation: dict[str, Any]) -> float:
    """PCKh head size from a head box: 0.6 x its diagonal (the MPII / PoseTrack rule)."""
    box = annotation.get("bbox_head")
    return 0.6 * float(np.hypot(box[2], box[3])) if box else float("nan")


def load_coco_style(root: Path, name: str, spec: ImageSetSpec) -> list[ImageTruth]:
    """Images of one COCO-style set that exist on disk, in json order."""
    folder = Path(root) / "images" / spec.folder
    data = json.loads((folder / spec.annotations).read_text())
    category_names = data["categories"][0]["keypoints"]
    detections = _reference_detections(folder / spec.detections if spec.detections else None)
    annotations: dict[Any, list[dict[str, Any]]] = {}
    for annotation in data["annotations"]:
        annotations.setdefault(annotation["image_id"], []).append(annotation)
    images = []
    for image in data["images"]:
        path = folder / image["file_name"].removeprefix(spec.image_prefix)
        if not path.exists():
            continue
        found = annotations.get(image["id"], [])
        num_keypoints = len(found[0]["keypoints"]) // 3 if found else len(category_names)
        names = tuple(canonical_name(n, spec.aliases) for n in category_names[:num_keypoints])
        persons = [a for a in found if not a.get("iscrowd")]
        crowds = [a for a in found if a.get("iscrowd")]
        triples = [_keypoint_triples(a["keypoints"], num_keypoints) for a in persons]
        images.append(
            ImageTruth(
                dataset=name,
                image_path=path,
                has_boxes=True,
                boxes_xyxy=xywh_to_xyxy([a["bbox"] for a in persons]),
                keypoint_names=names,
                keypoints_px=np.array([t[0] for t in triples]).reshape(-1, num_keypoints, 2),
                is_labelled=np.array([t[1] for t in triples], bool).reshape(-1, num_keypoints),
                dont_care_xyxy=xywh_to_xyxy([a["bbox"] for a in crowds]),
                ignore_polygons=_polygons(image),
                head_size_px=np.array([_head_size_from_box(a) for a in persons]),
                normalizer=spec.normalizer,
                detections=detections.get(image["id"]) if detections else None,
            )
        )
    return images


def load_mpii(root: Path, spec: ImageSetSpec = IMAGE_SETS["mpii"]) -> list[ImageTruth]:
    """MPII's list-of-persons json: keypoints only (one labelled person per image)."""
    folder = Path(root) / "images" / spec.folder
    persons_by_image: dict[str, list[dict[str, Any]]] = {}
    for person in json.loads((folder / spec.annotations).read_text()):
        persons_by_image.setdefault(person["image"], []).append(person)
    images = []
    for file_name, persons in persons_by_image.items():
        keypoints = np.array([p["joints"] for p in persons], np.float64).reshape(-1, 16, 2)
        labelled = np.array([p["joints_vis"] for p in persons]).reshape(-1, 16) > 0
        head = head_size_px(keypoints, labelled, MPII_NAMES)
        extents = np.where(labelled[..., None], keypoints, np.nan)
        images.append(
            ImageTruth(
                dataset="mpii",
                image_path=folder / file_name,
                has_boxes=False,
                boxes_xyxy=np.concatenate(
                    [np.nanmin(extents, axis=1), np.nanmax(extents, axis=1)], axis=1
                ),
                keypoint_names=MPII_NAMES,
                keypoints_px=keypoints,
                is_labelled=labelled,
                dont_care_xyxy=np.zeros((0, 4)),
                ignore_polygons=(),
                head_size_px=head,
                normalizer=spec.normalizer,
            )
        )
    return images


def load_image_sets(
    root: Path, names: tuple[str, ...] | None = None
) -> dict[str, list[ImageTruth]]:
    """The labelled images of every set in :data:`IMAGE_SETS` (or the named ones)."""
    result = {}
    for name in names or tuple(IMAGE_SETS):
        spec = IMAGE_SETS[name]
        result[name] = (
            load_mpii(root, spec) if name == "mpii" else load_coco_style(root, name, spec)
        )
    return result


def points_in_polygons(points_px: np.ndarray, polygons: tuple[np.ndarray, ...]) -> np.ndarray:
    """(N,) bool: which of (N, 2) points lie inside any (V, 2) polygon (even-odd rule)."""
    points_px = np.asarray(points_px, np.float64).reshape(-1, 2)
    inside = np.zeros(len(points_px), bool)
    x, y = points_px[:, 0:1], points_px[:, 1:2]  # (N, 1)
    for polygon in polygons:
        x1, y1 = polygon[:, 0], polygon[:, 1]
        x2, y2 = np.roll(x1, -1), np.roll(y1, -1)
        crosses = (y1 > y) != (y2 > y)  # (N, V): edge spans the point's row
        with np.errstate(divide="ignore", invalid="ignore"):
            at_x = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
        inside |= (crosses & (x < at_x)).sum(axis=1) % 2 == 1
    return inside
