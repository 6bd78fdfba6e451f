"""Prometheus metrics at ``/metrics`` (authenticated when API keys are set)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST

from posecast.service.deps import AUTH, MetricsDep

router = APIRouter(tags=["metrics"], dependencies=[AUTH])


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "text exposition format"}},
)
async def metrics(metrics: MetricsDep) -> Response:
    """Every ``posecast_`` metric of this server."""
    return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
