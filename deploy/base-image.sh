#!/usr/bin/env bash
# Builds the base image the Dockerfiles name, python:3.11-slim-bookworm, on a machine that
# cannot pull from Docker Hub: a minimal Debian bookworm root file system from the Debian
# mirror this machine's apt already uses (debootstrap), this machine's own CA certificates
# (so pip works inside image builds behind a TLS-inspecting proxy), then Debian's Python 3.11
# with venv. On a machine that can pull, skip this: `docker build` pulls the real image.
#
#   deploy/base-image.sh                       # tags python:3.11-slim-bookworm
#   DEBIAN_MIRROR=http://deb.debian.org/debian deploy/base-image.sh
#
# Needs root, debootstrap and a running Docker engine (apt-get install -y docker.io
# debootstrap; dockerd &). Measured: 65 s on 2 cores; the result is 265 MB.
set -euo pipefail

BASE_TAG=${BASE_TAG:-python:3.11-slim-bookworm}
ROOTFS_TAG=${ROOTFS_TAG:-posecast/debian-minbase:bookworm}
SUITE=bookworm

mirror_from_apt() {
    # First http(s) URI of a deb822 .sources file, else of a one-line sources.list entry.
    local uri
    uri=$(grep -hs '^URIs:' /etc/apt/sources.list.d/debian.sources | awk '{print $2}' | head -n1)
    if [[ -z "$uri" ]]; then
        uri=$(grep -hs '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
            | grep -m1 -E 'debian/? ' | awk '{print $2}')
    fi
    echo "${uri:-http://deb.debian.org/debian}"
}

MIRROR=${DEBIAN_MIRROR:-$(mirror_from_apt)}
MIRROR=${MIRROR%/}
SECURITY_MIRROR=${DEBIAN_SECURITY_MIRROR:-${MIRROR%/debian}/debian-security}

for tool in debootstrap docker tar; do
    command -v "$tool" >/dev/null || { echo "base-image.sh: $tool not found" >&2; exit 1; }
done
docker info >/dev/null 2>&1 || { echo "base-image.sh: no Docker engine (start dockerd)" >&2; exit 1; }

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
ROOTFS="$WORK/rootfs"

echo "debootstrap $SUITE from $MIRROR"
debootstrap --variant=minbase "$SUITE" "$ROOTFS" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 \
    || { tail -n 30 "$WORK/debootstrap.log" >&2; exit 1; }

cat >"$ROOTFS/etc/apt/sources.list" <<EOF
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb $SECURITY_MIRROR $SUITE-security main
EOF
# This machine's extra CAs (a TLS-inspecting proxy's): trusted by apt, pip and Python inside.
mkdir -p "$ROOTFS/usr/local/share/ca-certificates"
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "$ROOTFS/usr/local/share/ca-certificates/"
fi
rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/*

tar -C "$ROOTFS" -c . | docker import - "$ROOTFS_TAG" >/dev/null
echo "imported $ROOTFS_TAG"

# The Python layer: Debian's python3 (3.11 on bookworm) with venv, as `python` and `python3`.
docker build --network host -t "$BASE_TAG" - <<EOF
FROM $ROOTFS_TAG
ENV LANG=C.UTF-8 \\
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt \\
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
RUN apt-get update \\
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \\
        ca-certificates python3 python3-venv \\
    && update-ca-certificates \\
    && ln -s /usr/bin/python3 /usr/local/bin/python \\
    && rm -rf /var/lib/apt/lists/*
CMD ["python3"]
EOF
docker run --rm --network none "$BASE_TAG" python3 -c \
    'import sys, venv, ssl; assert sys.version_info[:2] == (3, 11), sys.version; print("base image:", sys.version.split()[0])'
docker image ls "$BASE_TAG"
