"""MeTRAbs joint sets as posecast skeleton formats.

A MeTRAbs model names its joints with short codes, a side letter and an optional dataset
suffix (``lsho_smpl``, ``htop_mpi_inf_3dhp``, ``nose_coco``; the suffix tells which
dataset's definition of the joint it is) and offers named subsets (``smpl_24``,
``coco_19``, ``h36m_17``, ``smpl+head_30``, ...; docs/API.md of isarandi/metrabs, "Skeleton
Conventions"). posecast shows them in its own style (``left_shoulder``; the suffix is kept
only where two joints of one format would otherwise share a name) so that every part that
looks joints up by name (appearance descriptors, drawing) finds them, and registers:

- ``metrabs_<J>``: all J joints of the model, the engine's native format;
- ``metrabs_<name>``: each named subset that is not a posecast format;
- conversions from ``metrabs_<J>`` to each of them, and to posecast's ``smpl_24``,
  ``h36m_17`` (the model's subsets of those names, same standard joint order) and
  ``coco_17`` (the COCO joints of the model's ``coco_19``, by name).

Every conversion selects joints (rows of the identity), so it is exact.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from posecast.engines.geometry.skeletons import (
    COCO_17,
    SKELETONS,
    SkeletonFormat,
    register_conversion,
    register_skeleton,
)
from posecast.errors import InvalidInputError

SIDED_STEMS = {
    "sho": "shoulder",
    "elb": "elbow",
    "wri": "wrist",
    "han": "hand",
    "cla": "collar",
    "hip": "hip",
    "kne": "knee",
    "ank": "ankle",
    "hee": "heel",
    "foo": "foot",
    "toe": "toe",
    "eye": "eye",
    "ear": "ear",
}
"""Three-letter codes of joints that come in left/right pairs (``l`` or ``r`` in front)."""
CENTRAL_STEMS = {
    "pelv": "pelvis",
    "bell": "belly",
    "spin": "spine",
    "spi2": "spine2",
    "spi4": "spine4",
    "thor": "thorax",
    "neck": "neck",
    "head": "head",
    "htop": "head_top",
    "nose": "nose",
}
"""Four-letter codes of joints on the body's midline."""
SUFFIX_PRIORITY = ("", "smpl", "coco", "h36m")
"""Which dataset's joint gets the plain name when several define it (the others keep their
suffix): an unsuffixed one, then SMPL's, COCO's, Human3.6M's, then the first in order."""
POSECAST_BY_INDEX = ("smpl_24", "h36m_17")
"""posecast formats a model subset of the same name and size gives joint for joint (both are
the standard orders of their datasets)."""


@dataclass(frozen=True)
class ParsedJoint:
    """A MeTRAbs joint name taken apart: side (``left``, ``right`` or ``""``), the posecast
    name of the joint without side, and the dataset suffix (``""`` if none)."""

    side: str
    stem: str
    suffix: str

    @property
    def plain_name(self) -> str:
        return f"{self.side}_{self.stem}" if self.side else self.stem

    @property
    def suffixed_name(self) -> str:
        return f"{self.plain_name}_{self.suffix}" if self.suffix else self.plain_name


def parse_joint_name(name: str, names: Sequence[str] = ()) -> ParsedJoint:
    """A MeTRAbs joint name in posecast terms.

    Args:
        name: e.g. ``lsho_smpl``, ``htop_mpi_inf_3dhp``, ``neck``.
        names: every joint name of the set: an unknown code whose first letter is ``l`` or
            ``r`` counts as sided when its mirror (first letter swapped) is in the set, as in
            MeTRAbs' own mirror mapping.

    Returns:
        The parsed name; unknown codes keep their letters as the stem.
    """
    code, _, suffix = name.partition("_")
    if not suffix and len(code) > 4 and (code[:4] in CENTRAL_STEMS or code[1:4] in SIDED_STEMS):
        code, suffix = code[:4], code[4:]  # e.g. "learcoco" written without the underscore
    sides = {"l": "left", "r": "right"}
    if len(code) == 4 and code[0] in sides and code[1:] in SIDED_STEMS:
        return ParsedJoint(sides[code[0]], SIDED_STEMS[code[1:]], suffix)
    if code in CENTRAL_STEMS:
        return ParsedJoint("", CENTRAL_STEMS[code], suffix)
    if code[:1] in sides and _mirror_code(name) in names:
        return ParsedJoint(sides[code[0]], code[1:].lower(), suffix)
    return ParsedJoint("", code.lower(), suffix)


def _mirror_code(name: str) -> str:
    swapped = {"l": "r", "r": "l"}
    return swapped.get(name[:1], name[:1]) + name[1:]


def posecast_joint_names(names: Sequence[str]) -> tuple[str, ...]:
    """posecast-style names for a MeTRAbs joint set, unique within it.

    Where several joints share a side and stem (a dataset's own definition of the same
    joint), the one of the highest ``SUFFIX_PRIORITY`` gets the plain name and the others
    keep their dataset suffix; any name still taken twice falls back to the raw name.
    """
    parsed = [parse_joint_name(name, names) for name in names]
    chosen: dict[str, int] = {}
    for index, joint in enumerate(parsed):
        best = chosen.get(joint.plain_name)
        if best is None or _priority(joint.suffix) < _priority(parsed[best].suffix):
            chosen[joint.plain_name] = index
    result = [
        joint.plain_name if chosen[joint.plain_name] == index else joint.suffixed_name
        for index, joint in enumerate(parsed)
    ]
    counts: dict[str, int] = {}
    for name in result:
        counts[name] = counts.get(name, 0) + 1
    return tuple(new if counts[new] == 1 else raw for new, raw in zip(result, names, strict=True))


def _priority(suffix: str) -> int:
    return SUFFIX_PRIORITY.index(suffix) if suffix in SUFFIX_PRIORITY else len(SUFFIX_PRIORITY)


def mirror_permutation(names: Sequence[str]) -> np.ndarray:
    """(J,) index of each joint's left/right mirror (itself for midline joints), by the
    ``left``/``right`` tokens of posecast-style names."""
    index = {name: i for i, name in enumerate(names)}
    swapped = {"left": "right", "right": "left"}
    permutation = np.arange(len(names))
    for i, name in enumerate(names):
        mirrored = "_".join(swapped.get(token, token) for token in name.split("_"))
        permutation[i] = index.get(mirrored, i)
    return permutation


def skeleton_format(name: str, joint_names: Sequence[str], edges: np.ndarray) -> SkeletonFormat:
    """A posecast format of posecast-style joint names (unpaired sided joints mirror onto
    themselves instead of failing)."""
    edge_array = np.asarray(edges, dtype=np.int64).reshape(-1, 2).copy()
    if edge_array.size and (edge_array.min() < 0 or edge_array.max() >= len(joint_names)):
        raise InvalidInputError(f"skeleton {name}: an edge refers to a joint it does not have")
    permutation = mirror_permutation(joint_names)
    edge_array.flags.writeable = False
    permutation.flags.writeable = False
    return SkeletonFormat(name, tuple(joint_names), edge_array, permutation)


@dataclass(frozen=True)
class ModelSkeleton:
    """One named joint subset a MeTRAbs model offers.

    Attributes:
        name: the model's name for it (``smpl_24``, ``coco_19``, ...).
        indices: (K,) its joints among the model's J joints.
        edges: (E, 2) bones, as indices into the subset.
    """

    name: str
    indices: np.ndarray
    edges: np.ndarray


@dataclass(frozen=True)
class MetrabsFormats:
    """The formats a MeTRAbs model adds: its native one and what it converts to.

    Attributes:
        native: ``metrabs_<J>``, all joints (what the engine outputs before conversion).
        selections: output format name -> (K,) indices of its joints in the native format;
            the model's own subsets (``metrabs_<name>``) and the posecast formats it gives.
        formats: the formats to register (native and each ``metrabs_<name>``).
    """

    native: SkeletonFormat
    selections: Mapping[str, np.ndarray]
    formats: tuple[SkeletonFormat, ...]

    def register(self) -> None:
        """Register every format and conversion (idempotent; see ``register_skeleton``).

        Raises:
            InvalidInputError: another model already registered a different format of the
                same name.
        """
        for skeleton in self.formats:
            register_skeleton(skeleton)
        num_joints = self.native.num_joints
        for name, indices in self.selections.items():
            matrix = np.zeros((len(indices), num_joints))
            matrix[np.arange(len(indices)), indices] = 1.0
            register_conversion(self.native.name, name, matrix)


def metrabs_formats(
    raw_joint_names: Sequence[str],
    joint_edges: np.ndarray,
    skeletons: Sequence[ModelSkeleton],
) -> MetrabsFormats:
    """The formats of a MeTRAbs model from its joint metadata.

    Args:
        raw_joint_names: (J,) the model's joint names.
        joint_edges: (E, 2) bones over all joints.
        skeletons: the model's named subsets (its ``''`` "all joints" set excluded).

    Raises:
        InvalidInputError: an index or edge outside the joint set.
    """
    names = posecast_joint_names(raw_joint_names)
    native = skeleton_format(f"metrabs_{len(names)}", names, joint_edges)
    selections: dict[str, np.ndarray] = {}
    formats = [native]
    for subset in skeletons:
        indices = np.asarray(subset.indices, dtype=np.int64)
        if indices.size and (indices.min() < 0 or indices.max() >= len(names)):
            raise InvalidInputError(f"skeleton {subset.name}: an index outside the joint set")
        builtin = SKELETONS.get(subset.name)
        is_posecast_format = subset.name in POSECAST_BY_INDEX and builtin is not None
        if is_posecast_format and builtin.num_joints == len(indices):
            selections[subset.name] = indices
            continue
        subset_names = posecast_joint_names([raw_joint_names[i] for i in indices])
        skeleton = skeleton_format(f"metrabs_{subset.name}", subset_names, subset.edges)
        formats.append(skeleton)
        selections[skeleton.name] = indices
    coco = _coco_17_indices(raw_joint_names, skeletons)
    if coco is not None:
        selections[COCO_17.name] = coco
    return MetrabsFormats(native, selections, tuple(formats))


def _coco_17_indices(
    raw_joint_names: Sequence[str], skeletons: Sequence[ModelSkeleton]
) -> np.ndarray | None:
    """posecast's ``coco_17`` joints among the model's ``coco_19`` joints, by name."""
    subset = next((s for s in skeletons if s.name == "coco_19"), None)
    if subset is None:
        return None
    subset_raw = [raw_joint_names[i] for i in subset.indices]
    plain = [parse_joint_name(name, subset_raw).plain_name for name in subset_raw]
    if not set(COCO_17.joint_names) <= set(plain):
        return None
    return np.array([subset.indices[plain.index(name)] for name in COCO_17.joint_names])
