"""FastAPI dependencies, as ``Annotated`` aliases used by the routers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends
from starlette.requests import HTTPConnection

from posecast.service.auth import check_api_key
from posecast.service.engines import PoseEngines
from posecast.service.metrics import ServiceMetrics
from posecast.service.settings import ServiceSettings
from posecast.service.state import ServiceState


def get_state(connection: HTTPConnection) -> ServiceState:
    return connection.app.state.service


def get_settings(connection: HTTPConnection) -> ServiceSettings:
    return get_state(connection).settings


def get_metrics(connection: HTTPConnection) -> ServiceMetrics:
    return get_state(connection).metrics


def get_ready_engines(connection: HTTPConnection) -> PoseEngines:
    """The engines; 503 while loading or draining."""
    return get_state(connection).require_ready()


async def image_request_slot(connection: HTTPConnection) -> AsyncIterator[None]:
    """Hold one of the ``max_image_requests`` slots while the request runs; 503 when none
    is free (before the body is read). Async, so the count changes on the event loop only."""
    with get_state(connection).image_requests.take():
        yield


def require_api_key(connection: HTTPConnection) -> None:
    """401 unless the request has a configured key (no-op without keys)."""
    check_api_key(connection, get_settings(connection).api_keys)


StateDep = Annotated[ServiceState, Depends(get_state)]
SettingsDep = Annotated[ServiceSettings, Depends(get_settings)]
MetricsDep = Annotated[ServiceMetrics, Depends(get_metrics)]
EnginesDep = Annotated[PoseEngines, Depends(get_ready_engines)]
AUTH = Depends(require_api_key)
IMAGE_SLOT = Depends(image_request_slot)
"""Router-level dependency of every authenticated router."""
