"""The FastAPI app factory: ``create_app(settings) -> FastAPI``.

The lifespan loads the models off the event loop (``build_pose_engines``), starts their
batchers (which first run every batch size each model will see, so no request pays for a
first run), and hands engines, metrics and the stream registry on as ``app.state.service``
(a ``ServiceState``); readiness turns true only then. Every app has its own metrics registry.

Usage::

    settings = load_settings()
    app = create_app(settings)
    PosecastServer(uvicorn_config(app, settings)).run()
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from posecast.engines.batcher import BatcherObserver
from posecast.service.engines import PoseEngines
from posecast.service.engines_factory import backend_check, build_pose_engines
from posecast.service.errors import install_error_handlers
from posecast.service.metrics import ServiceMetrics
from posecast.service.routers import health, metrics, poses, skeletons, stream
from posecast.service.routers.viewer import mount_viewer
from posecast.service.settings import ServiceSettings
from posecast.service.state import ServiceState

logger = logging.getLogger(__name__)

EnginesBuilder = Callable[[ServiceSettings, BatcherObserver], PoseEngines]


def create_app(
    settings: ServiceSettings, engines_builder: EnginesBuilder = build_pose_engines
) -> FastAPI:
    """The posecast app.

    Args:
        settings: every setting (see ``service.settings``).
        engines_builder: builds the shared engines from the settings and the metrics'
            batch observer; blocking, run on a worker thread. Tests pass fakes here.
    """
    state = ServiceState(
        settings=settings, metrics=ServiceMetrics(), backend_check=backend_check(settings)
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        logger.info(
            "loading models: pose_model=%s provider=%s", settings.pose_model, settings.provider
        )
        state.engines = await asyncio.to_thread(engines_builder, settings, state.metrics)
        await state.engines.start()
        state.is_loaded = True
        logger.info("ready")
        try:
            yield
        finally:
            state.begin_drain()
            await state.engines.stop(settings.drain_timeout_s)

    app = FastAPI(
        title="posecast",
        summary="Real-time multi-person 3D human pose tracking.",
        description="HTTP API of posecast. The WebSocket stream `/v1/stream` is described in "
        "docs/service.md.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.service = state
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
        )
    install_error_handlers(app)
    for module in (health, metrics, skeletons, poses, stream):
        app.include_router(module.router)
    mount_viewer(app)
    return app
