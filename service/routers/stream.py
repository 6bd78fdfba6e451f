"""The real-time stream ``WebSocket /v1/stream`` (protocol: ``posecast.wire``, docs/service.md)."""

from __future__ import annotations

from fastapi import APIRouter, WebSocket

from posecast.service.deps import StateDep
from posecast.service.streaming import StreamHandler

router = APIRouter(tags=["stream"])


@router.websocket("/v1/stream")
async def stream(websocket: WebSocket, state: StateDep) -> None:
    """Frames in (binary JPEG/PNG, optional header), per-frame messages out.

    Auth (``Authorization: Bearer`` or ``?token=``), the stream limit and readiness are checked
    after the handshake, so refusals arrive as close codes browsers can read.
    """
    await StreamHandler(websocket, state).run()
