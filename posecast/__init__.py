"""posecast: real-time multi-person 3D human pose tracking.

One import namespace over the repository's top-level folders (mapped by setuptools'
``package-dir``, see docs/layout.md):

* ``posecast.engines``: one frame to per-person metric 3D skeletons (runtimes, models, geometry).
* ``posecast.tracker``: per-frame skeletons to tracks with stable identities (numpy/scipy only).
* ``posecast.pipeline``: the per-frame pipeline (detect, pose, place, track), synchronous.
* ``posecast.service``: the HTTP/WebSocket service around the pipeline.
* ``posecast.wire``: the wire schema (per-frame and protocol messages), pydantic and numpy only.
* ``posecast.clients``: Python clients and the ``posecast`` command line.

Importing ``posecast`` itself loads nothing heavy.
"""

__version__ = "0.1.0"
