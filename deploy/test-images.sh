#!/usr/bin/env bash
# Builds the images and runs the tests that need them (pytest -m docker,
# tests/deploy/test_deploy_images.py): docker-compose up to healthy, the sample clip streamed
# through the container against the in-process pipeline, non-root and baked-in models, the
# CPU image on a read-only root, the GPU image's libraries. Not part of the default test run
# (Docker engine, minutes).
#
#   deploy/test-images.sh                         # CPU and GPU images
#   POSECAST_SKIP_GPU=1 deploy/test-images.sh     # CPU image only
#   POSECAST_BUILD_TENSORRT=1 deploy/test-images.sh   # GPU image with TensorRT (needs
#                                                     # https://pypi.nvidia.com)
#
# Needs: a running Docker engine, docker-compose (Debian's 1.29), the venv of README's test
# command (.venv), and the base image python:3.11-slim-bookworm (pulled, or built by
# deploy/base-image.sh where Docker Hub cannot be reached). Measured on 2 cores: about 4
# minutes with warm layers; cold builds add about 1 minute (CPU) and 4-5 minutes (GPU, 6.9 GB).
set -euo pipefail
cd "$(dirname "$0")/.."

docker info >/dev/null 2>&1 || { echo "test-images.sh: no Docker engine (start dockerd)" >&2; exit 1; }
if ! docker image inspect python:3.11-slim-bookworm >/dev/null 2>&1; then
    docker pull python:3.11-slim-bookworm || deploy/base-image.sh
fi

compose=(docker-compose -f deploy/docker-compose.yml)
SECONDS=0
nice -n 10 "${compose[@]}" build
echo "CPU image built in ${SECONDS} s: $(docker image inspect --format '{{.Size}}' posecast:cpu) bytes"
if [[ "${POSECAST_SKIP_GPU:-0}" != 1 ]]; then
    SECONDS=0
    POSECAST_BUILD_TENSORRT=${POSECAST_BUILD_TENSORRT:-0} \
        nice -n 10 "${compose[@]}" -f deploy/docker-compose.gpu.yml build
    echo "GPU image built in ${SECONDS} s: $(docker image inspect --format '{{.Size}}' posecast:gpu) bytes"
fi

SECONDS=0
POSECAST_DOCKER_TESTS=1 .venv/bin/python -m pytest -m docker tests/deploy -v -s -p no:cacheprovider "$@"
echo "image tests: ${SECONDS} s"
