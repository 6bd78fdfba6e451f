"""posecast service: FastAPI app over HTTP and WebSocket, per-stream sessions, settings, metrics."""
