"""The browser viewer's static files at ``/viewer/`` (docs/viewer.md); no auth.

The page holds no data: it streams the user's frames to ``/v1/stream``, which needs the key
(``?token=`` on the handshake), and reads ``/v1/skeletons`` with ``Authorization: Bearer``.
The files (HTML, ES modules, the vendored three.js) are package data of
``posecast.service``, served as they are: no build step at run time.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

VIEWER_PATH = "/viewer"
VIEWER_DIR = Path(__file__).resolve().parent.parent / "viewer"


def mount_viewer(app: FastAPI) -> None:
    """Serve ``service/viewer/`` at ``/viewer/`` (``/viewer`` redirects there)."""
    app.mount(VIEWER_PATH, StaticFiles(directory=VIEWER_DIR, html=True), name="viewer")
