"""posecast clients: Python clients of a server, the ``posecast`` command line, offline runs.

Importing this package loads the thin clients only (httpx, websockets, pydantic): no OpenCV,
onnxruntime, SciPy or web framework. The command line (``posecast.clients.cli``) imports what
each subcommand needs when it runs.

Usage::

    from posecast.clients import PosecastClient

    with PosecastClient("http://127.0.0.1:8000") as client:
        message = client.poses("people.jpg", skeleton="smpl_24")
"""

from posecast.clients.client import (
    AsyncPosecastClient,
    AsyncStream,
    PosecastClient,
    ServerError,
    StreamClosedError,
    SyncStream,
)

__all__ = [
    "AsyncPosecastClient",
    "AsyncStream",
    "PosecastClient",
    "ServerError",
    "StreamClosedError",
    "SyncStream",
]
