"""The wire schema: what posecast's service and clients say to each other.

``messages``: the per-frame message (WebSocket output, HTTP response, one JSONL line of an
offline run) and the other server messages. ``protocol``: what a client sends on the
WebSocket stream (config, frame header, end) and how frames are framed. Pydantic, numpy and
msgpack only, so a client needs none of the server's stack.
"""
