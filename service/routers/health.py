"""Liveness and readiness (no auth): ``/v2/health/live`` and ``/v2/health/ready``."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from posecast.service.deps import StateDep

router = APIRouter(prefix="/v2/health", tags=["health"])


class HealthStatus(BaseModel):
    status: str


@router.get("/live", response_model=HealthStatus)
async def live() -> HealthStatus:
    """200 while the process serves requests."""
    return HealthStatus(status="live")


@router.get(
    "/ready",
    response_model=HealthStatus,
    responses={
        503: {
            "model": HealthStatus,
            "description": "loading, shutting down, or the model server (provider triton) "
            "unreachable",
        }
    },
)
async def ready(state: StateDep) -> HealthStatus | JSONResponse:
    """200 once the models are loaded and warmed up; 503 before, from shutdown start, and
    while the Triton server of provider triton cannot serve (``backend_unavailable``)."""
    if state.is_ready:
        problem = await state.backend_problem()
        if problem is None:
            return HealthStatus(status="ready")
        return JSONResponse({"status": "backend_unavailable", "detail": problem}, status_code=503)
    status = "shutting_down" if state.is_draining else "loading"
    return JSONResponse({"status": status}, status_code=503)
