"""Joint names and edges of every skeleton format: ``GET /v1/skeletons``."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from posecast.engines.geometry.skeletons import SKELETONS
from posecast.service.deps import AUTH

router = APIRouter(prefix="/v1", tags=["skeletons"], dependencies=[AUTH])


class SkeletonInfo(BaseModel):
    name: str
    num_joints: int
    joints: list[str]
    edges: list[tuple[int, int]]


class SkeletonList(BaseModel):
    skeletons: dict[str, SkeletonInfo]


@router.get("/skeletons", response_model=SkeletonList)
async def skeletons() -> SkeletonList:
    """Every output joint set: joint names in output order, and bones as index pairs."""
    return SkeletonList(
        skeletons={
            name: SkeletonInfo(
                name=name,
                num_joints=skeleton.num_joints,
                joints=list(skeleton.joint_names),
                edges=[(int(a), int(b)) for a, b in skeleton.edges],
            )
            for name, skeleton in sorted(SKELETONS.items())
        }
    )
