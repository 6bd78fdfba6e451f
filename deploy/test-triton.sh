#!/usr/bin/env bash
# Runs the triton runtime's tests against a real Triton Inference Server (PyTriton's bundled
# tritonserver, on the CPU, loopback ports): same outputs as onnxruntime for every shipped
# model, dynamic batching in Triton's metrics, a front end streaming the sample clip through
# Triton like the in-process pipeline, a dead or stalled server as a clear error and a
# not-ready front end. Not part of the default test run (PyTriton's own virtual environment,
# 450 MB, made on first use in .venv-pytriton; about 4 minutes on 2 cores).
#
#   deploy/test-triton.sh [PYTEST ARGS]
set -euo pipefail
cd "$(dirname "$0")/.."
POSECAST_TRITON_TESTS=1 .venv/bin/python -m pytest tests/deploy/test_triton_server.py \
    -v -s -p no:cacheprovider --durations=0 "$@"
